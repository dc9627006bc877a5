import os
import subprocess
import sys

import accel._cpu


def test_compiled_module_reports_how_it_was_built():
    info = accel._cpu.build_info()
    assert set(info) == {"threads", "compiler", "isa", "supported_isas"}
    assert info["threads"] >= 1
    assert info["supported_isas"][0] == "baseline" and info["isa"] == info["supported_isas"][-1]


def test_thread_count_follows_omp_num_threads():
    code = "import accel._cpu as c; print(c.get_num_threads())"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "3"})
    assert result.stdout.strip() == "3", result.stderr


def test_kernels_work_in_a_forked_child():
    """The pool's threads do not survive fork(); the child must get a working pool."""
    code = """
import os, numpy, accel.kernels as k
a, b = numpy.zeros(1 << 20, numpy.float32), numpy.ones(1 << 20, numpy.float32)
k.axpy(a, b, 1.0)  # start the parent's pool
pid = os.fork()
if pid == 0:
    k.axpy(a, b, 1.0)
    os._exit(0 if a[0] == 2.0 and a[-1] == 2.0 else 1)
_, status = os.waitpid(pid, 0)
print(os.WEXITSTATUS(status))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "0", result.stderr


def test_distribution_name_is_ours_and_the_version_is_one():
    """`accel` on PyPI is another project: ours installs as accel-tensors and imports as accel."""
    import pathlib
    import re

    import accel

    text = (pathlib.Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()  # tomllib: 3.11+
    assert re.search(r'^name = "([^"]+)"', text, re.M).group(1) == "accel-tensors"
    assert re.search(r'^version = "([^"]+)"', text, re.M).group(1) == accel.__version__
