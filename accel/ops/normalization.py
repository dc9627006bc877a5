"""Normalization (tf.nn.moments, tf.nn.batch_normalization): compositions of accel ops, as
TensorFlow writes them (`composite` records: their parts trace and record one by one), so their
gradients (every order) are their parts'. float16 statistics are
computed in float32 and rounded once, as TensorFlow's moments does."""

from __future__ import annotations

import numpy

from ..dtypes import is_floating
from ._core import bool_arg, defop, normalize_axis, tensor_arg
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
