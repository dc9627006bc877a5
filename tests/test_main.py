import subprocess
import sys


def test_python_m_accel_prints_a_bug_report():
    result = subprocess.run([sys.executable, "-m", "accel"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for needle in ("accel 0.1.0", "NumPy ", "devices: cpu", "default device:", "accel._cpu:", "thread pool",
                   "instruction set", "kernel sources:", "CUDA kernel cache (CuPy):"):
        assert needle in out, (needle, out)
    assert "CuPy" in out  # its version, or why it is not available
