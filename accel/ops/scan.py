"""Scans: running sums and products along an axis (tf.math.cumsum, tf.math.cumprod; the Array
API's cumulative_sum / cumulative_prod). The VJP of a sum scan is the scan the other way (reverse
flipped), so every order of derivative is exact; a product scan's is TensorFlow's, a reverse
cumulative sum of g * out divided by x (not finite where x is 0, as TensorFlow's)."""

from __future__ import annotations

import numpy

from ..autodiff.complex_grads import holomorphic, linear
from ._core import bool_arg, defop, make, normalize_axis, tensor_arg


def _shifted(xp, out, axis):
    """out moved one step along `axis`, a zero slice entering first (the exclusive scan)."""
    lead = (slice(None),) * axis
    first = xp.zeros_like(out[lead + (slice(0, 1),)])
    return xp.concatenate([first, out[lead + (slice(0, -1),)]], axis=axis)


def _cumsum_array(xp, x, axis=0, exclusive=False, reverse=False):
    if x.ndim == 0:
        return x.copy()
    (axis,) = normalize_axis(axis, x.ndim, "cumsum")
    if reverse:
        x = xp.flip(x, axis)
    out = xp.cumsum(x, axis=axis, dtype=x.dtype)  # integers keep their width, as TensorFlow's
    if exclusive and out.shape[axis]:
        out = _shifted(xp, out, axis)
    if reverse:
        out = xp.ascontiguousarray(xp.flip(out, axis))
    return out


@linear
def _cumsum_vjp(g, ans, x, axis, exclusive, reverse):
    return cumsum(g, axis, exclusive, not reverse)


@defop("scan", kernel=_cumsum_array)
def cumsum(x, axis=0, exclusive=False, reverse=False):
    """The running sum along `axis` (tf.math.cumsum): out[i] = x[0] + ... + x[i]; exclusive:
    x[0] + ... + x[i-1] (0 first); reverse: summed from the end. Integers keep their dtype."""
    x = tensor_arg(x)
    if x.dtype.kind == "b":
        raise TypeError("cumsum: x must be numbers, got bool (cast it first)")
    if isinstance(axis, (bool, numpy.bool_)) or not isinstance(axis, (int, numpy.integer)):
        raise TypeError(f"cumsum: axis must be an int, got {axis!r}")
    exclusive, reverse = bool_arg(exclusive, "cumsum", "exclusive"), bool_arg(reverse, "cumsum", "reverse")
    axis = normalize_axis(axis, max(x.ndim, 1), "cumsum")[0]
    out = _cumsum_array(x._device.xp, x._data, axis, exclusive, reverse)
    return make(out, x._device, (x,), (_cumsum_vjp,), {"axis": axis, "exclusive": exclusive, "reverse": reverse})


def _cumulative(x, axis, dtype, include_initial, scan, first, op):
    """The standard's cumulative_sum / cumulative_prod: `scan` (cumsum or cumprod) along `axis`
    (required unless x is 1-D) in `dtype` (None: x's, integers narrower than 64 bits widened as
    the standard says), `first` (zeros or ones) prepended with include_initial."""
    from ..dtypes import sum_dtype
    from .conversion import cast
    from .shape import concat

    x = tensor_arg(x)
    if axis is None:
        if x.ndim != 1:
            raise ValueError(f"{op}: axis is required for a tensor of rank {x.ndim}")
        axis = 0
    dtype = sum_dtype(x.dtype) if dtype is None else dtype
    if dtype is not None:
        x = cast(x, dtype)
    out = scan(x, axis)
    if not bool_arg(include_initial, op, "include_initial"):
        return out
    axis = normalize_axis(axis, x.ndim, op)[0]
    return concat([first(x.shape[:axis] + (1,) + x.shape[axis + 1:], dtype=x.dtype, device=x.device), out],
                  axis=axis)


@defop("scan", kind="composite")
def cumulative_sum(x, axis=None, dtype=None, include_initial=False):
    """The running sum along `axis` (the standard's cumulative_sum; axis may be omitted only for
    a 1-D x): include_initial puts the empty sum (0) first, so the result is one longer. `dtype`:
    the sum's dtype (None: x's, but integers narrower than 64 bits sum in int64 / uint64, as the
    standard says; TensorFlow's cumsum keeps their dtype)."""
    from .creation import zeros

    return _cumulative(x, axis, dtype, include_initial, cumsum, zeros, "cumulative_sum")


def _cumprod_array(xp, x, axis=0):
    return xp.cumprod(x, axis=axis, dtype=x.dtype) if x.ndim else x.copy()


@holomorphic  # running products: the complex gradient is the real one at the conjugates
def _cumprod_vjp(g, ans, x, axis):
    # d out_j / d x_i = out_j / x_i for j >= i: the reverse running sum of g * out, over x
    return cumsum(g * ans, axis, False, True) / x


@defop("scan", kernel=_cumprod_array)
def cumprod(x, axis=0):
    """The running product along `axis` (tf.math.cumprod): out[i] = x[0] * ... * x[i]; integers
    keep their dtype. Its gradient divides by x (TensorFlow's: not finite where x is 0)."""
    x = tensor_arg(x)
    if x.dtype.kind == "b":
        raise TypeError("cumprod: x must be numbers, got bool (cast it first)")
    if isinstance(axis, (bool, numpy.bool_)) or not isinstance(axis, (int, numpy.integer)):
        raise TypeError(f"cumprod: axis must be an int, got {axis!r}")
    axis = normalize_axis(axis, max(x.ndim, 1), "cumprod")[0]
    return make(_cumprod_array(x._device.xp, x._data, axis), x._device, (x,), (_cumprod_vjp,), {"axis": axis})


@defop("scan", kind="composite")
def cumulative_prod(x, axis=None, dtype=None, include_initial=False):
    """The running product along `axis` (the standard's cumulative_prod; axis may be omitted only
    for a 1-D x): include_initial puts the empty product (1) first. `dtype` as cumulative_sum's."""
    from .creation import ones

    return _cumulative(x, axis, dtype, include_initial, cumprod, ones, "cumulative_prod")
