"""examples/optimizers_convergence.py runs and reproduces the TF Core tutorial's outcomes."""

import pathlib
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # CI runs them; a developer can skip them with -m 'not slow'

ROOT = pathlib.Path(__file__).resolve().parents[2]

pytest.importorskip("matplotlib")


def test_optimizers_convergence_example(tmp_path):
    # By default the example writes into a folder of its own under the working directory.
    out = tmp_path / "accel_examples" / "optimizers_convergence" / "optimizer_paths.png"
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "optimizers_convergence.py")],
                            capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(": ", 1) for line in result.stdout.splitlines() if ", learning rate" in line)
    assert len(lines) == 9
    # Plain gradient descent stalls at the saddle x = 0 or explodes; momentum and Adam (0.1)
    # reach the minimum x = -9/8.
    assert lines["Gradient descent, learning rate 0.1"].startswith("gradient exploded at iteration")
    assert lines["Gradient descent, learning rate 0.001"].startswith("did not converge in 2000 iterations")
    for key in ("Momentum (0.95), learning rate 0.001", "Momentum (0.95), learning rate 0.01",
                "Adam, learning rate 0.1"):
        assert lines[key].startswith("converged in"), (key, lines[key])
        assert abs(float(re.search(r"x = (\S+)", lines[key]).group(1)) + 1.125) < 1e-3
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
