"""OMP_NUM_THREADS, read once for every part of accel that honours it.

accel's CPU kernels (csrc/cpu/pool.h) and numexpr (accel.function's CPU fusion) both read it. A
value that is not a positive integer is ignored, and said once: numexpr's own import would raise
on it (so it is imported without the variable, see `import_numexpr`), and the kernels use the
usable cores instead.
"""

from __future__ import annotations

import contextlib
import os
import warnings

__all__ = ["omp_num_threads", "import_numexpr"]

_warned = False


def omp_num_threads() -> int | None:
    """OMP_NUM_THREADS as a positive int, or None when unset or unusable (warned about once)."""
    global _warned
    value = os.environ.get("OMP_NUM_THREADS")
    if value is None or value.strip() == "":
        return None
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n > 0:
        return n
    if not _warned:
        _warned = True
        warnings.warn(f"OMP_NUM_THREADS={value!r} is not a positive integer: accel ignores it (its CPU "
                      "kernels and numexpr use the usable cores)", RuntimeWarning, stacklevel=2)
    return None


@contextlib.contextmanager
def _without_bad_omp_value():
    value = os.environ.get("OMP_NUM_THREADS")
    if value is None or omp_num_threads() is not None:
        yield
        return
    del os.environ["OMP_NUM_THREADS"]
    try:
        yield
    finally:
        os.environ["OMP_NUM_THREADS"] = value


def import_numexpr():
    """numexpr, imported on first use (it costs `import accel` its start-up time otherwise), or None
    when it is not installed."""
    try:
        with _without_bad_omp_value():
            import numexpr
    except ImportError:  # pragma: no cover  (a dependency; without it chains run unfused)
        return None
    return numexpr
