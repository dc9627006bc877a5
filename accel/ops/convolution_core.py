"""The three ops every convolution is: `conv` (NHWC x, HWIO filters -> y), and its two
gradients `conv_input_grad` (g, filters -> dx: conv2d_transpose) and `conv_filter_grad` (x, g ->
dfilters). Each is bilinear and each one's VJPs are the other two, so gradients of every order
stay these three ops:

    y  = conv(x, f)                 dx = conv_input_grad(g, f)        df = conv_filter_grad(x, g)
    d conv_input_grad:  g <- conv(gg, f),              f <- conv_filter_grad(gg, g)
    d conv_filter_grad: x <- conv_input_grad(g, gg),   g <- conv(x, gg)

Each is one im2col / col2im (windows.py: extract / fold) and ONE GEMM per group (batched over
the G groups when grouped; output channel o in group o // (O / G)):

    conv:             cols = extract(x) (G, P, K)        y  = cols @ f as (G, K, O / G)
    conv_input_grad:  dcols = g @ f^T (G, P, K)          dx = fold(dcols)
    conv_filter_grad: cols = extract(x)                  df = cols^T @ g

with K = KH * KW * Cg and P = N * OH * OW. On the CPU they run over tiles of a few images (about
4 MiB of cols each, so the matrix is multiplied while it is cached), the filter gradient summed
over the tiles. cols and dcols never leave the op: on the CPU they are written into a per-thread
workspace reused from call to call, so conv_filter_grad extracts again instead of keeping the
forward's cols (no memory held between forward and backward). On a CUDA device a tile is the
whole batch and CuPy's memory pool plays the workspace's part.
"""

from __future__ import annotations

import threading

import numpy

from ._core import defop, make, tensor_arg
from .linalg import _product
from .windows import _extract_array, _fold_array

_local = threading.local()


def _workspace(xp, shape, dtype):
    """A scratch array of `shape` for this thread, reused by the next call (CPU); CuPy's pool
    recycles a plain allocation on a device."""
    if xp is not numpy:
        return xp.empty(shape, dtype)
    size = int(numpy.prod(shape))
    buffers = getattr(_local, "buffers", None)
    if buffers is None:
        buffers = _local.buffers = {}
    buffer = buffers.get(dtype)
    if buffer is None or buffer.size < size:
        buffer = buffers[dtype] = numpy.empty(size, dtype)
    return buffer[:size].reshape(shape)


def _grouped_filters(f, groups):
    """HWIO filters (KH, KW, Cg, O) as the GEMM operand (G, K, O / G)."""
    kh, kw, cg, out = f.shape
    return f.reshape(kh * kw * cg, groups, out // groups).transpose(1, 0, 2)


def _gemm(xp, a, b, out=None):
    """a @ b (into out): linalg's product, so float16 on the CPU goes through float32 BLAS (NumPy's
    own float16 loop is ~200x slower) and rounds once."""
    if xp is not numpy or a.dtype != numpy.float16:
        return xp.matmul(a, b, out=out)
    product = _product(xp, a, b)
    if out is None:
        return product
    out[...] = product
    return out


def _tiles(xp, n: int, per_image: int, itemsize: int):
    """Batch ranges [a, b) whose im2col matrix is about 4 MiB (the caches'): on the CPU the matrix
    of a few images is extracted and multiplied while it is still cached (a whole batch's went to
    memory and back; smaller tiles lose more in per-call overhead than they gain). A device runs
    the whole batch at once."""
    if xp is not numpy:
        return [(0, n)]
    step = max(1, min(n, _TILE_BYTES // max(1, per_image * itemsize)))
    return [(a, min(n, a + step)) for a in range(0, n, step)]


_TILE_BYTES = 4 << 20  # measured: 0.5 / 1 / 2 / 4 / 32 MiB tiles: 24 / 23 / 15 / 14 / 16 ms a conv step


def _conv_array(xp, x, f, windows, groups):
    n = x.shape[0]
    out = f.shape[3]
    hw = windows.oh * windows.ow
    k = windows.kh * windows.kw * (x.shape[3] // groups)
    y = xp.empty((n * hw, out), dtype=numpy.result_type(x.dtype, f.dtype))
    weights = f.reshape(-1, out) if groups == 1 else _grouped_filters(f, groups)
    for a, b in _tiles(xp, n, groups * hw * k, x.itemsize):
        cols = _extract_array(xp, x[a:b], windows, groups, 0.0, _workspace)  # (G, rows, K)
        rows = y[a * hw:b * hw]
        if groups == 1:
            _gemm(xp, cols[0], weights, out=rows)
        else:  # (G, rows, O / G) laid out as (rows, G, O / G)
            rows.reshape(-1, groups, out // groups)[...] = _gemm(xp, cols, weights).transpose(1, 0, 2)
    return y.reshape(n, windows.oh, windows.ow, out)


def _conv_input_grad_array(xp, g, f, windows, groups, shape):
    n, oh, ow, out = g.shape
    hw = oh * ow
    kh, kw, cg, _ = f.shape
    k = kh * kw * cg
    dx = xp.zeros(shape, g.dtype)
    weights_t = f.reshape(-1, out).T if groups == 1 else _grouped_filters(f, groups).transpose(0, 2, 1)
    for a, b in _tiles(xp, n, groups * hw * k, g.itemsize):
        rows = g[a:b].reshape((b - a) * hw, out)
        dcols = _workspace(xp, (groups, (b - a) * hw, k), g.dtype)
        if groups == 1:
            _gemm(xp, rows, weights_t, out=dcols[0])
        else:  # (G, rows, O / G) @ (G, O / G, K)
            _gemm(xp, rows.reshape(-1, groups, out // groups).transpose(1, 0, 2), weights_t, out=dcols)
        _fold_array(xp, dcols, windows, (b - a,) + tuple(shape[1:]), groups, out=dx[a:b])
    return dx


def _conv_filter_grad_array(xp, x, g, windows, groups, shape):
    n, oh, ow, out = g.shape
    hw = oh * ow
    kh, kw, cg, _ = shape
    k = kh * kw * cg
    total = None
    for a, b in _tiles(xp, n, groups * hw * k, x.itemsize):
        cols = _extract_array(xp, x[a:b], windows, groups, 0.0, _workspace)
        rows = g[a:b].reshape((b - a) * hw, out)
        if groups == 1:
            part = _gemm(xp, cols[0].T, rows)  # (K, O)
        else:  # (G, K, rows) @ (G, rows, O / G) -> (K, G, O / G)
            part = _gemm(xp, cols.transpose(0, 2, 1), rows.reshape(-1, groups, out // groups).transpose(1, 0, 2))
            part = part.transpose(1, 0, 2)
        if total is None:
            total = part.copy()  # the first tile's product (a transposed view when grouped)
        else:
            total += part
    return total.reshape(shape)


def _conv_vjp_x(g, ans, x, f, windows, groups):
    return conv_input_grad(g, f, windows, groups, tuple(x.shape))


def _conv_vjp_f(g, ans, x, f, windows, groups):
    return conv_filter_grad(x, g, windows, groups, tuple(f.shape))


@defop("nn", namespace="internal", kernel=_conv_array)
def conv(x, filters, windows, groups=1):
    """The NHWC convolution of x (N, H, W, C) with HWIO filters (KH, KW, C / G, O) over `windows`
    (windows.plan): (N, OH, OW, O). Arguments are checked by the public ops."""
    x, filters = tensor_arg(x), tensor_arg(filters, "filters")
    y = _conv_array(x._device.xp, x._data, filters._data, windows, groups)
    return make(y, x._device, (x, filters), (_conv_vjp_x, _conv_vjp_f), {"windows": windows, "groups": groups})


def _input_grad_vjp_g(gg, ans, g, f, windows, groups, shape):
    return conv(gg, f, windows, groups)


def _input_grad_vjp_f(gg, ans, g, f, windows, groups, shape):
    return conv_filter_grad(gg, g, windows, groups, tuple(f.shape))


@defop("nn", namespace="internal", kernel=_conv_input_grad_array)
def conv_input_grad(g, filters, windows, groups, shape):
    """conv's gradient with respect to x (of `shape`) for the output gradient g: col2im of
    g @ filters^T (conv2d_transpose)."""
    g, filters = tensor_arg(g), tensor_arg(filters, "filters")
    dx = _conv_input_grad_array(g._device.xp, g._data, filters._data, windows, groups, tuple(shape))
    return make(dx, g._device, (g, filters), (_input_grad_vjp_g, _input_grad_vjp_f),
                {"windows": windows, "groups": groups, "shape": tuple(shape)})


def _filter_grad_vjp_x(gg, ans, x, g, windows, groups, shape):
    return conv_input_grad(g, gg, windows, groups, tuple(x.shape))


def _filter_grad_vjp_g(gg, ans, x, g, windows, groups, shape):
    return conv(x, gg, windows, groups)


@defop("nn", namespace="internal", kernel=_conv_filter_grad_array)
def conv_filter_grad(x, g, windows, groups, shape):
    """conv's gradient with respect to its filters (of `shape`) for the output gradient g:
    im2col(x)^T @ g."""
    x, g = tensor_arg(x), tensor_arg(g, "g")
    df = _conv_filter_grad_array(x._device.xp, x._data, g._data, windows, groups, tuple(shape))
    return make(df, x._device, (x, g), (_filter_grad_vjp_x, _filter_grad_vjp_g),
                {"windows": windows, "groups": groups, "shape": tuple(shape)})
