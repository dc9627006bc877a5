"""`python -m accel`: what a bug report needs: versions, devices (and why a GPU is not used), how
the CPU kernels were built, and where kernel sources and the CUDA kernel cache live."""

from __future__ import annotations

import os
import platform
import sys


def report() -> str:
    import numpy

    import accel
    import accel._cpu
    from accel import kernels
    from accel.device import cuda_unavailable_reason

    lines = [f"accel {accel.__version__}",
             f"Python {platform.python_version()} ({sys.executable}) on {platform.platform()}",
             f"NumPy {numpy.__version__}"]
    try:
        import cupy

        lines.append(f"CuPy {cupy.__version__}")
        try:
            runtime = cupy.cuda.runtime.runtimeGetVersion()
            driver = cupy.cuda.runtime.driverGetVersion()  # 0 when no driver is installed
            lines.append(f"CUDA runtime {_version(runtime)}, "
                         + (f"driver {_version(driver)}" if driver > 0 else "no CUDA driver"))
        except Exception as exc:  # no driver: report it, do not fail
            lines.append(f"CUDA: unavailable ({exc})")
    except Exception as exc:
        lines.append(f"CuPy: not available ({type(exc).__name__}: {exc})")
    devices = accel.devices()
    lines.append("devices: " + ", ".join(str(d) for d in devices))
    reason = cuda_unavailable_reason()
    if reason:
        lines.append(f"no GPU used: {reason}")
    lines.append(f"default device: {_default()}")
    info = accel._cpu.build_info()
    lines.append(f"accel._cpu: {info['threads']} threads (thread pool), instruction set {info['isa']} "
                 f"(supported: {', '.join(info['supported_isas'])}), built with {info['compiler']}")
    lines.append(f"kernel sources: {kernels.sources_dir()}")
    cache = os.environ.get("CUPY_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cupy", "kernel_cache")
    lines.append(f"CUDA kernel cache (CuPy): {cache}")
    return "\n".join(lines)


def _version(number: int) -> str:
    """CUDA's encoded version (1000 * major + 10 * minor) as major.minor."""
    return f"{number // 1000}.{number % 1000 // 10}"


def _default() -> str:
    import accel

    try:
        return str(accel.default_device())
    except Exception as exc:  # e.g. ACCEL_DEVICE names a missing GPU
        return f"unavailable ({exc})"


if __name__ == "__main__":
    print(report())
