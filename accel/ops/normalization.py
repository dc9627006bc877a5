"""Normalization (tf.nn.moments, tf.nn.batch_normalization): compositions of accel ops, as
TensorFlow writes them (`composite` records: their parts trace and record one by one), so their
gradients (every order) are their parts'. float16 statistics are
computed in float32 and rounded once, as TensorFlow's moments does.

layer_norm (internal: the LayerNormalization layer's normalisation over the last axis) is one op
with a VJP op of its own (one pass per row each on the CPU, csrc/cpu/normalization.cpp), whose
VJPs are written in accel ops, so every order of derivative stays exact."""

from __future__ import annotations

import numpy

from ..dtypes import is_floating
from .. import _cpu
from ._core import bool_arg, defop, make, normalize_axis, tensor_arg
from .conversion import cast
from . import reduce
from .elementwise import rsqrt
from .reduce import mean as reduce_mean

_FLOAT16 = numpy.dtype(numpy.float16)


@defop("normalization", kind="composite")
def moments(x, axes, keepdims=False):
    """(mean, variance) of x over `axes` (tf.nn.moments): variance = mean((x - mean)^2), the
    population variance, computed in two passes (the deviations first). Its gradient is
    2 (x - mean) / n, TensorFlow's (which stops the gradient at the mean inside the variance,
    where the exact derivative is zero); second derivatives are exact."""
    x = tensor_arg(x)
    if not is_floating(x.dtype):
        raise TypeError(f"moments: x must be floating point, got {x.dtype.name}")
    if axes is None:
        raise TypeError("moments: axes must be an int or a sequence of ints, got None")
    axes = normalize_axis(axes, x.ndim, "moments")
    keepdims = bool_arg(keepdims, "moments", "keepdims")
    y = cast(x, "float32") if x.dtype == _FLOAT16 else x
    m, variance = reduce_mean(y, axes, keepdims), reduce.variance(y, axes, keepdims)
    if x.dtype == _FLOAT16:
        m, variance = cast(m, x.dtype), cast(variance, x.dtype)
    return m, variance


@defop("normalization", kind="composite")
def batch_normalization(x, mean, variance, offset, scale, variance_epsilon):
    """(x - mean) * rsqrt(variance + variance_epsilon) * scale + offset (tf.nn.batch_normalization);
    offset / scale may be None. The statistics broadcast against x."""
    x = tensor_arg(x)
    if not is_floating(x.dtype):
        raise TypeError(f"batch_normalization: x must be floating point, got {x.dtype.name}")
    if isinstance(variance_epsilon, bool) or not isinstance(variance_epsilon, (int, float, numpy.number)) \
            or not variance_epsilon >= 0:
        raise ValueError(f"batch_normalization: variance_epsilon must be a number >= 0, got {variance_epsilon!r}")
    mean, variance = tensor_arg(mean, "mean"), tensor_arg(variance, "variance")
    inv = rsqrt(variance + variance_epsilon)
    if scale is not None:
        inv = inv * tensor_arg(scale, "scale")
    shift = -mean * inv if offset is None else tensor_arg(offset, "offset") - mean * inv
    return x * cast(inv, x.dtype) + cast(shift, x.dtype)


_ROWS = (numpy.dtype(numpy.float32), numpy.dtype(numpy.float64))  # accel._cpu's row loops


def _rows(xp, x) -> bool:
    return xp is numpy and x.dtype in _ROWS and x.ndim > 0 and x.size > 0


def _statistics(xp, x, epsilon):
    """(xhat, r) of the rows of x in float32 at least: r = 1 / sqrt(var + epsilon)."""
    work = x.astype(numpy.float32) if x.dtype == _FLOAT16 else x
    d = work - work.mean(axis=-1, keepdims=True)
    r = 1 / xp.sqrt((d * d).mean(axis=-1, keepdims=True) + epsilon)
    return d * r, r


def _layer_norm_array(xp, x, epsilon):
    if _rows(xp, x):
        x = numpy.ascontiguousarray(x)
        out = numpy.empty_like(x)
        _cpu.layer_norm(x.reshape(-1, x.shape[-1]), out.reshape(-1, x.shape[-1]), epsilon)
        return out
    return _statistics(xp, x, epsilon)[0].astype(x.dtype, copy=False)


def _layer_norm_grad_array(xp, g, x, epsilon):
    if _rows(xp, x) and g.dtype == x.dtype and g.shape == x.shape:
        out = numpy.empty(x.shape, x.dtype)
        _cpu.layer_norm_grad(numpy.ascontiguousarray(g).reshape(-1, x.shape[-1]),
                             numpy.ascontiguousarray(x).reshape(-1, x.shape[-1]), out.reshape(-1, x.shape[-1]), epsilon)
        return out
    xhat, r = _statistics(xp, x, epsilon)
    work = g.astype(xhat.dtype, copy=False)
    out = r * (work - work.mean(axis=-1, keepdims=True) - xhat * (work * xhat).mean(axis=-1, keepdims=True))
    return out.astype(x.dtype, copy=False)


def _row_statistics(x, epsilon):
    """(xhat, r) of the rows of x in accel ops (the VJPs' form)."""
    d = x - reduce_mean(x, -1, True)
    r = rsqrt(reduce_mean(d * d, -1, True) + epsilon)
    return d * r, r


# layer_norm_grad(g, x) = r * P g, P = I - 1 1^T / n - xhat xhat^T / n (symmetric): its VJP in g
# is itself; in x (a the upstream gradient, F the op's output, m = mean(g * xhat)):
#   -r * (xhat * mean(F * a) + F * mean(xhat * a)) - r^2 * m * (a - mean(a) - xhat * mean(xhat * a))
def _layer_norm_grad_vjp_g(gg, ans, g, x, epsilon):
    return layer_norm_grad(gg, x, epsilon)


def _layer_norm_grad_vjp_x(gg, ans, g, x, epsilon):
    xhat, r = _row_statistics(x, epsilon)
    m, xa = reduce_mean(g * xhat, -1, True), reduce_mean(xhat * gg, -1, True)
    projected = gg - reduce_mean(gg, -1, True) - xhat * xa
    return -r * (xhat * reduce_mean(ans * gg, -1, True) + ans * xa) - r * r * m * projected


@defop("normalization", namespace="internal", kernel=_layer_norm_grad_array)
def layer_norm_grad(g, x, epsilon: float):
    """The VJP of layer_norm as one op: r * (g - mean(g) - xhat * mean(g * xhat)) over the last axis."""
    out = _layer_norm_grad_array(x._device.xp, g._data, x._data, epsilon)
    return make(out, x._device, (g, x), (_layer_norm_grad_vjp_g, _layer_norm_grad_vjp_x), {"epsilon": epsilon})


def _layer_norm_vjp(g, ans, x, epsilon):
    return layer_norm_grad(g, x, epsilon)


@defop("normalization", namespace="internal", kernel=_layer_norm_array)
def layer_norm(x, epsilon: float):
    """(x - mean) / sqrt(var + epsilon) over the last axis (var the population variance; float16
    computed in float32 and rounded once): LayerNormalization's normalisation in one op."""
    out = _layer_norm_array(x._device.xp, x._data, float(epsilon))
    return make(out, x._device, (x,), (_layer_norm_vjp,), {"epsilon": float(epsilon)})
