"""NumPy's OpenBLAS told, once at import, to spin its idle threads ~0.1 ms instead of ~0.1 s (Linux).

Why: after a matrix product OpenBLAS keeps its worker threads spinning for 2^28 cycles (about
0.1 s) waiting for the next one, and a training step runs a product every few milliseconds, so on
a machine with as many cores as OpenBLAS has threads a worker spins all the time. accel's own CPU
kernels (im2col, the row kernels, the fused optimizer updates) run on accel's thread pool
(csrc/cpu/pool.h); when the OS puts a pool thread on the core a worker spins on, the kernel waits
for it. Measured on a 2-core host: a conv2d forward + backward at batch 32 took 12-15 ms in some
processes and 35-45 ms in others.

What: OPENBLAS_THREAD_TIMEOUT=18 (workers spin 2^18 cycles, about 0.1 ms, then sleep) read into
OpenBLAS (`openblas_read_env`) and its threads stopped (`blas_thread_shutdown_`); the next product
starts them with the new timeout. Back-to-back products (an MLP's) still find their workers awake;
a kernel of accel's between them no longer competes with a spinning one. Medians of 5 alternating
processes against OpenBLAS's default: the conv2d step 0.85x, an MLP 784-256-256-10 forward +
backward at batch 128 1.02x (timeout 4, no spinning at all: 0.82x and 1.10x, the products then
waking their workers every time). Only an OpenBLAS already loaded into the process (NumPy's) is
touched, through symbols OpenBLAS exports; the environment is left as it was.

Opting out: ACCEL_BLAS=system leaves OpenBLAS alone, and so does OPENBLAS_THREAD_TIMEOUT or
GOTO_THREAD_TIMEOUT set by the user (OpenBLAS reads them itself). `state` says what was done and
why.
"""

from __future__ import annotations

import ctypes
import os

from ._tuning import opted_out

__all__ = ["THREAD_TIMEOUT", "state", "tune"]

THREAD_TIMEOUT = 18  # workers spin 2^18 cycles (~0.1 ms), then sleep (OpenBLAS takes 4 to 30)
_USER_SETTINGS = ("OPENBLAS_THREAD_TIMEOUT", "GOTO_THREAD_TIMEOUT")
_SYMBOLS = ("openblas_read_env", "openblas_thread_timeout", "blas_thread_shutdown_")
state = {"tuned": False, "reason": "not tuned yet", "library": None}


def _loaded_openblas() -> list:
    """Paths of the OpenBLAS libraries mapped into this process (from /proc/self/maps)."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split(None, 5)[5].strip() for line in maps if len(line.split(None, 5)) == 6}
    except OSError:
        return []
    return sorted(p for p in paths if "openblas" in os.path.basename(p).lower() and ".so" in p)


def tune() -> dict:
    """Sets OpenBLAS's thread timeout once (see the module docstring); returns `state`."""
    if state["reason"] != "not tuned yet":
        return state
    reason = opted_out("ACCEL_BLAS", _USER_SETTINGS)
    if reason:
        state["reason"] = reason
    else:
        state["reason"] = "no OpenBLAS loaded"
        for path in _loaded_openblas():
            try:
                library = ctypes.CDLL(path, mode=os.RTLD_NOLOAD | os.RTLD_LAZY)
                functions = [getattr(library, name) for name in _SYMBOLS]
            except (OSError, AttributeError):
                continue
            read_env, timeout, shutdown = functions
            timeout.restype = ctypes.c_int
            os.environ["OPENBLAS_THREAD_TIMEOUT"] = str(THREAD_TIMEOUT)
            try:
                read_env()
            finally:
                del os.environ["OPENBLAS_THREAD_TIMEOUT"]
            if timeout() != THREAD_TIMEOUT:
                state["reason"] = f"{os.path.basename(path)} did not take the timeout"
                continue
            shutdown()  # the next product starts the workers with it
            state.update(tuned=True, library=path,
                         reason="set at import (ACCEL_BLAS=system to leave OpenBLAS's defaults)")
            break
    return state
