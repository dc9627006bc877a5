"""The sliding-window kernels of convolution and pooling on a CUDA device (windows.py holds the
CPU's NumPy form and the layout): `extract` (im2col) and `fold` (col2im, its adjoint), one CUDA
kernel per direction and dtype, compiled by CuPy (NVRTC) on first use and cached per device.
Under tests/cuda_emu the same source runs, compiled by g++.

Layout (NHWC input x of shape (N, H, W, C), G groups of Cg = C / G channels, windows of
KH x KW taps, output positions P = N * OH * OW): cols has shape (G, P, KH * KW * Cg), entry
[g, (n, oh, ow), (ky, kx, cg)] = x[n, oh * SH - PT + ky * DH, ow * SW - PL + kx * DW, g * Cg + cg],
or pad_value where that position is outside x.

`extract` runs one thread per entry of cols (a gather: reads may repeat, writes never collide).
`fold` runs one thread per element of x and sums the entries that copied it, so it needs no
atomics and gives the same sum in the same order on every run (deterministic gradients).
float16 is computed in float32 and rounded once.
"""

from __future__ import annotations

import numpy

__all__ = ["KERNELS", "source", "kernel_name", "extract", "fold"]

KERNELS = ("extract_windows", "fold_windows")
_THREADS = 256
_MAX_BLOCKS = 65535
_C = {numpy.dtype("float32"): "float", numpy.dtype("float64"): "double"}

# the geometry every kernel takes, in this order, as long long
_GEOMETRY = ("n", "h", "w", "c", "oh", "ow", "kh", "kw", "sh", "sw", "dh", "dw", "pt", "pl", "groups")
_cache: dict = {}  # (array module, device id, kernel, dtype) -> compiled kernel


def kernel_name(kernel: str, dtype) -> str:
    return f"accel_{kernel}_{numpy.dtype(dtype).name}"


def _signature(kernel: str, c_type: str, first: str, second: str) -> str:
    geometry = ", ".join(f"const long long {g}" for g in _GEOMETRY)
    extra = f", const {c_type} pad_value" if kernel == "extract_windows" else ""
    return (f'extern "C" __global__ void {kernel_name(kernel, "float32" if c_type == "float" else "float64")}('
            f"const {c_type}* __restrict__ {first}, {c_type}* __restrict__ {second}, {geometry}{extra}, "
            "const long long total)")


def source(kernel: str, dtype) -> str:
    """The CUDA C of one kernel for float32 / float64 contiguous arrays."""
    c_type = _C[numpy.dtype(dtype)]
    loop = ("  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < total;\n"
            "       i += (long long)blockDim.x * gridDim.x) {\n")
    if kernel == "extract_windows":
        # i -> (g, n, oy, ox, ky, kx, cg), cg fastest
        body = (
            "    const long long cg_count = c / groups;\n"
            "    long long r = i;\n"
            "    const long long cg = r % cg_count; r /= cg_count;\n"
            "    const long long kx = r % kw; r /= kw;\n"
            "    const long long ky = r % kh; r /= kh;\n"
            "    const long long ox = r % ow; r /= ow;\n"
            "    const long long oy = r % oh; r /= oh;\n"
            "    const long long b = r % n; r /= n;\n"
            "    const long long y = oy * sh - pt + ky * dh, xx = ox * sw - pl + kx * dw;\n"
            "    cols[i] = (y >= 0 && y < h && xx >= 0 && xx < w)\n"
            "        ? x[((b * h + y) * w + xx) * c + r * cg_count + cg] : pad_value;\n")
        return _signature(kernel, c_type, "x", "cols") + " {\n" + loop + body + "  }\n}\n"
    if kernel == "fold_windows":
        # i -> (b, y, xx, ch); the taps (ky, kx) whose window position lands on (y, xx)
        body = (
            "    const long long cg_count = c / groups;\n"
            "    long long r = i;\n"
            "    const long long ch = r % c; r /= c;\n"
            "    const long long xx = r % w; r /= w;\n"
            "    const long long y = r % h; r /= h;\n"
            "    const long long b = r;\n"
            "    const long long g = ch / cg_count, cg = ch % cg_count, p_count = n * oh * ow;\n"
            f"    {c_type} sum = 0;\n"
            "    for (long long ky = 0; ky < kh; ++ky) {\n"
            "      const long long ty = y + pt - ky * dh;\n"
            "      if (ty < 0 || ty % sh != 0 || ty / sh >= oh) continue;\n"
            "      for (long long kx = 0; kx < kw; ++kx) {\n"
            "        const long long tx = xx + pl - kx * dw;\n"
            "        if (tx < 0 || tx % sw != 0 || tx / sw >= ow) continue;\n"
            "        const long long p = (b * oh + ty / sh) * ow + tx / sw;\n"
            "        sum += cols[((g * p_count + p) * kh * kw + ky * kw + kx) * cg_count + cg];\n"
            "      }\n"
            "    }\n"
            "    x[i] = sum;\n")
        return _signature(kernel, c_type, "cols", "x") + " {\n" + loop + body + "  }\n}\n"
    raise ValueError(f"unknown window kernel {kernel!r}")


def _kernel(xp, kernel: str, dtype):
    key = (xp, xp.cuda.Device().id, kernel, dtype)  # xp: each emulator is its own set of devices
    compiled = _cache.get(key)
    if compiled is None:
        name = kernel_name(kernel, dtype)
        module = xp.RawModule(code=source(kernel, dtype), options=("-std=c++17",), name_expressions=[name])
        compiled = _cache[key] = module.get_function(name)
    return compiled


def _launch(xp, kernel, dtype, first, second, geometry, extra, total):
    if total:
        blocks = max(1, min(-(-total // _THREADS), _MAX_BLOCKS))
        args = (first, second, *(numpy.int64(v) for v in geometry), *extra, numpy.int64(total))
        _kernel(xp, kernel, dtype)((blocks,), (_THREADS,), args)


def windows_geometry(shape, windows, groups):
    """The geometry every kernel takes (_GEOMETRY's order)."""
    n, h, w, c = shape
    return (n, h, w, c, windows.oh, windows.ow, windows.kh, windows.kw, windows.sh, windows.sw, windows.dh,
            windows.dw, windows.pt, windows.pl, groups)


def extract(xp, x, windows, groups, pad_value):
    """cols (G, P, KH * KW * Cg) of the NHWC array x on the current CUDA device."""
    work = x.astype(numpy.float32) if x.dtype == numpy.float16 else xp.ascontiguousarray(x)
    n, _, _, c = x.shape
    out = xp.empty((groups, n * windows.oh * windows.ow, windows.kh * windows.kw * (c // groups)), work.dtype)
    _launch(xp, "extract_windows", work.dtype, work, out, windows_geometry(x.shape, windows, groups),
            (work.dtype.type(pad_value),), out.size)
    return out.astype(x.dtype, copy=False)


def fold(xp, cols, windows, shape, groups):
    """The NHWC array of `shape` whose every element is the sum of the entries of cols that
    copied it (the adjoint of extract with zero padding), on the current CUDA device."""
    work = cols.astype(numpy.float32) if cols.dtype == numpy.float16 else xp.ascontiguousarray(cols)
    out = xp.empty(tuple(shape), work.dtype)
    _launch(xp, "fold_windows", work.dtype, work, out, windows_geometry(shape, windows, groups), (), out.size)
    return out.astype(cols.dtype, copy=False)
