"""accel.blas: NumPy's OpenBLAS told at import to let its idle threads sleep after ~0.1 ms (they
spun ~0.1 s after each product, on the cores accel's own kernels run on), and the opt-outs leave
it alone."""

import os
import subprocess
import sys

import pytest

PROBE = r"""
import ctypes, os, numpy
numpy.ones((300, 300)) @ numpy.ones((300, 300))  # OpenBLAS's threads started with its defaults
import accel
state = accel.blas.state
library = ctypes.CDLL(accel.blas._loaded_openblas()[0], mode=os.RTLD_NOLOAD | os.RTLD_LAZY)
library.openblas_thread_timeout.restype = ctypes.c_int
timeout = library.openblas_thread_timeout()
product = (numpy.arange(6.0).reshape(2, 3) @ numpy.ones((3, 200)))[:, 0].tolist()  # threads restart
print(state["tuned"], timeout, "OPENBLAS_THREAD_TIMEOUT" in os.environ, product)
"""


def _probe(**env):
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("ACCEL_BLAS", "OPENBLAS_THREAD_TIMEOUT", "GOTO_THREAD_TIMEOUT")}
    environment.update(env)
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=environment, timeout=120)
    assert out.returncode == 0, out.stderr
    tuned, timeout, in_environment, product = out.stdout.split(maxsplit=3)
    assert product.strip() == "[3.0, 12.0]"
    return tuned == "True", timeout, in_environment == "True"


def _numpy_uses_openblas() -> bool:
    import numpy
    config = numpy.show_config(mode="dicts") or {}
    return "openblas" in str(config.get("Build Dependencies", {}).get("blas", {})).lower()


@pytest.mark.skipif(not sys.platform.startswith("linux") or not _numpy_uses_openblas(),
                    reason="NumPy's OpenBLAS on Linux")
def test_openblas_threads_sleep_at_once_unless_the_user_says_otherwise():
    assert _probe() == (True, "18", False)  # 2^18 cycles; the environment left as it was
    tuned, timeout, _ = _probe(ACCEL_BLAS="system")
    assert not tuned and timeout != "18"
    tuned, timeout, _ = _probe(OPENBLAS_THREAD_TIMEOUT="12")
    assert not tuned and timeout == "12"  # the user's own setting wins (OpenBLAS read it itself)
