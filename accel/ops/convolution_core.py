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

with K = KH * KW * Cg and P = N * OH * OW. cols and dcols never leave the op: on the CPU they are
written into a per-thread workspace that is reused from call to call (a fresh 20 MB buffer per
call cost more in page faults than its GEMM: 25 ms against 15 ms per conv step at batch 32), so
conv_filter_grad extracts again instead of keeping the forward's cols (1 ms, and no memory held
between forward and backward). On a CUDA device CuPy's memory pool plays that part.
"""

from __future__ import annotations

import threading

import numpy

from ._core import defop, make, tensor_arg
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


def _conv_array(xp, x, f, windows, groups):
    n = x.shape[0]
    out = f.shape[3]
    cols = _extract_array(xp, x, windows, groups, 0.0, _workspace)
    if groups == 1:
        y = cols[0] @ f.reshape(-1, out)
    else:
        y = xp.matmul(cols, _grouped_filters(f, groups)).transpose(1, 0, 2)  # (P, G, O / G)
    return xp.ascontiguousarray(y).reshape(n, windows.oh, windows.ow, out) if groups > 1 else \
        y.reshape(n, windows.oh, windows.ow, out)


def _conv_input_grad_array(xp, g, f, windows, groups, shape):
    n, oh, ow, out = g.shape
    p = n * oh * ow
    kh, kw, cg, _ = f.shape
    dcols = _workspace(xp, (groups, p, kh * kw * cg), g.dtype)
    if groups == 1:
        xp.matmul(g.reshape(p, out), f.reshape(-1, out).T, out=dcols[0])
    else:  # (G, P, O / G) @ (G, O / G, K)
        xp.matmul(g.reshape(p, groups, out // groups).transpose(1, 0, 2),
                  _grouped_filters(f, groups).transpose(0, 2, 1), out=dcols)
    return _fold_array(xp, dcols, windows, shape, groups)


def _conv_filter_grad_array(xp, x, g, windows, groups, shape):
    n, oh, ow, out = g.shape
    p = n * oh * ow
    kh, kw, cg, _ = shape
    cols = _extract_array(xp, x, windows, groups, 0.0, _workspace)
    if groups == 1:
        return (cols[0].T @ g.reshape(p, out)).reshape(shape)
    per_group = xp.matmul(cols.transpose(0, 2, 1), g.reshape(p, groups, out // groups).transpose(1, 0, 2))
    return xp.ascontiguousarray(per_group.transpose(1, 0, 2)).reshape(shape)  # (K, G, O / G) -> HWIO


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
