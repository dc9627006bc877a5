"""Elementwise math that NumPy and CuPy's array module lack (erf), as one CUDA kernel per function
and dtype: a grid-stride loop calling CUDA's math library for float64 (erf) and, for float32, the
rational form of csrc/rules/erf32.h (its text is prepended to the source), which the CPU's loop
uses too, so both devices give the same float32 values. Compiled by CuPy (NVRTC) on first use and
cached per device. The CPU computes the same functions in accel._cpu (std::erf for float64).
Under tests/cuda_emu the same source runs, compiled by g++."""

from __future__ import annotations

import numpy

__all__ = ["FUNCTIONS", "source", "kernel_name", "apply"]

FUNCTIONS = ("erf",)
_THREADS = 256
_MAX_BLOCKS = 65535
_C = {numpy.dtype("float32"): ("float", "f"), numpy.dtype("float64"): ("double", "")}
_cache: dict = {}  # (array module, device id, function, dtype) -> compiled kernel


def kernel_name(function: str, dtype) -> str:
    return f"accel_{function}_{numpy.dtype(dtype).name}"


def source(function: str, dtype) -> str:
    """out[i] = function(x[i]) for a contiguous float32 / float64 array of n elements."""
    c_type, suffix = _C[numpy.dtype(dtype)]
    call = f"{function}{suffix}(x[i])"
    prelude = ""
    if function == "erf" and numpy.dtype(dtype) == numpy.float32:
        from ..kernels import sources_dir
        prelude = (sources_dir() / "rules" / "erf32.h").read_text() + "\n"
        call = "accel_erf32(x[i])"
    return prelude + (
        f'extern "C" __global__ void {kernel_name(function, dtype)}(const {c_type}* __restrict__ x, '
        f"{c_type}* __restrict__ out, const long long n) {{\n"
        "  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;\n"
        "       i += (long long)blockDim.x * gridDim.x) {\n"
        f"    out[i] = {call};\n"
        "  }\n"
        "}\n")


def apply(xp, function: str, x):
    """function(x) on the current CUDA device (float16 computed in float32, rounded once)."""
    work = x.astype(numpy.float32) if x.dtype == numpy.float16 else xp.ascontiguousarray(x)
    key = (xp, xp.cuda.Device().id, function, work.dtype)  # xp: each emulator is its own set of devices
    kernel = _cache.get(key)
    if kernel is None:
        name = kernel_name(function, work.dtype)
        module = xp.RawModule(code=source(function, work.dtype), options=("-std=c++17",), name_expressions=[name])
        kernel = module.get_function(name)
        _cache[key] = kernel
    out = xp.empty(work.shape, work.dtype)
    n = out.size
    if n:
        blocks = max(1, min(-(-n // _THREADS), _MAX_BLOCKS))
        kernel((blocks,), (_THREADS,), (work, out, numpy.int64(n)))
    return out.astype(x.dtype, copy=False)
