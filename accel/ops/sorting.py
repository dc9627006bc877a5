"""top_k (tf.math.top_k): the k largest entries along the last axis and where they are.

Three records: `top_k_indices` (which entries, not differentiable), `take_along_last` (those
entries, whose VJP puts the gradient back with `put_along_last`, and that one's VJP takes it
again), and `top_k`, the composite of the two, so a trace replays the selection on every call.
"""

from __future__ import annotations

import numpy

from ..dtypes import is_floating
from ._core import bool_arg, defop, make, tensor_arg


def _top_k_indices_array(xp, x, k):
    # a stable ascending sort of a decreasing key: among equal values the lower index comes first
    # (TensorFlow's order). Integers: ~x (-x - 1, no overflow at the extremes); floats: -x with
    # NaN as the largest, as TensorFlow's kernel orders it
    key = xp.where(xp.isnan(x), -xp.inf, -x) if is_floating(x.dtype) else ~x
    return xp.argsort(key, axis=-1, kind="stable")[..., :k].astype(numpy.int32)


def _check_k(x, k, op):
    if isinstance(k, (bool, numpy.bool_)) or not isinstance(k, (int, numpy.integer)):
        raise TypeError(f"{op}: k must be an int, got {k!r}")
    if x.ndim == 0:
        raise ValueError(f"{op}: input must have at least 1 dimension")
    if not 0 <= k <= x.shape[-1]:
        raise ValueError(f"{op}: k must be in [0, {x.shape[-1]}] (the last axis), got {k}")
    return int(k)


@defop("sorting", differentiable=False, dtype="given", kernel=_top_k_indices_array)
def top_k_indices(input, k=1):  # noqa: A002 (TensorFlow's name)
    """The positions (int32) of the k largest entries along the last axis, largest first; equal
    entries in index order."""
    x = tensor_arg(input, "input")
    if x.dtype.kind == "b":
        raise TypeError("top_k: input must be numbers, got bool")
    k = _check_k(x, k, "top_k")
    return make(_top_k_indices_array(x._device.xp, x._data, k), x._device)


def _take_array(xp, x, indices):
    return xp.take_along_axis(x, indices.astype(numpy.int64), axis=-1)


def _put_array(xp, g, indices, n):
    out = xp.zeros(g.shape[:-1] + (n,), g.dtype)
    xp.put_along_axis(out, indices.astype(numpy.int64), g, axis=-1)  # positions are distinct
    return out


def _take_vjp(g, ans, x, indices):
    return put_along_last(g, indices, x.shape[-1])


@defop("sorting", namespace="internal", kernel=_take_array)
def take_along_last(x, indices):
    """x's entries at `indices` (distinct positions per row) along the last axis."""
    x, indices = tensor_arg(x), tensor_arg(indices, "indices")
    return make(_take_array(x._device.xp, x._data, indices._data), x._device, (x, indices), (_take_vjp, None))


def _put_vjp(gg, ans, g, indices, n):
    return take_along_last(gg, indices)


@defop("sorting", namespace="internal", kernel=_put_array)
def put_along_last(g, indices, n):
    """Zeros of last axis n with g at `indices` (distinct per row): take_along_last's VJP."""
    g, indices = tensor_arg(g), tensor_arg(indices, "indices")
    return make(_put_array(g._device.xp, g._data, indices._data, n), g._device, (g, indices), (_put_vjp, None),
                {"n": n})


@defop("sorting", kind="composite")
def top_k(input, k=1, sorted=True):  # noqa: A002 (TensorFlow's names)
    """(values, indices): the k largest entries along the last axis, largest first, and their
    int32 positions (tf.math.top_k; equal entries in index order; sorted=False gives the same
    order). The gradient goes to the chosen entries."""
    bool_arg(sorted, "top_k", "sorted")
    x = tensor_arg(input, "input")
    indices = top_k_indices(x, k)
    return take_along_last(x, indices), indices


def _argsort_array(xp, x, axis=-1, descending=False, stable=True):
    """Ascending: a stable argsort. Descending (equal elements keep their order, as the standard
    asks of a stable sort): the ascending order of x reversed along the axis, read back to front."""
    if not descending:
        return xp.argsort(x, axis=axis, kind="stable") if xp is numpy else xp.argsort(x, axis=axis)
    n = x.shape[axis]
    flipped = xp.flip(x, axis=axis)
    order = xp.argsort(flipped, axis=axis, kind="stable") if xp is numpy else xp.argsort(flipped, axis=axis)
    return (n - 1) - xp.flip(order, axis=axis)


def _sort_axis(x, axis, op):
    if isinstance(axis, (bool, numpy.bool_)) or not isinstance(axis, (int, numpy.integer)):
        raise TypeError(f"{op}: axis must be an int, got {axis!r}")
    if x.ndim == 0 or not -x.ndim <= axis < x.ndim:
        raise numpy.exceptions.AxisError(f"{op}: axis {axis} is out of range for a tensor of rank {x.ndim}")
    return int(axis) % x.ndim


@defop("sorting", differentiable=False, dtype="int64", kernel=_argsort_array, numpy="argsort",
       numpy_keywords=frozenset({"axis"}))
def argsort(x, axis=-1, descending=False, stable=True):
    """The positions (int64) that sort x along `axis`, ascending (or descending); equal elements
    keep their order (stable; NaNs last, NumPy's order)."""
    x = tensor_arg(x)
    axis = _sort_axis(x, axis, "argsort")
    descending, stable = bool_arg(descending, "argsort", "descending"), bool_arg(stable, "argsort", "stable")
    xp = x._device.xp
    return make(_argsort_array(xp, x._data, axis, descending, stable).astype(numpy.int64), x._device)


def _sort_array(xp, x, axis=-1, descending=False, stable=True):
    """The values of take_along_axis(x, argsort(x)) (NaNs last ascending, first descending), by
    the array module's sort: equal values are interchangeable, so no stable argsort is needed (it
    cost 2.4x NumPy's sort on a million elements)."""
    out = xp.sort(x, axis=axis)
    return xp.flip(out, axis=axis) if descending else out


def _sort_vjp(g, ans, x, axis, descending, stable):
    # each sorted value's gradient goes back to the place it came from: the stable order of x
    # (equal values: in their order), g read through its inverse permutation
    from .manipulation import take_along_axis

    order = argsort(x, axis, descending, True)
    return take_along_axis(g, argsort(order, axis), axis)


@defop("sorting", numpy="sort", numpy_keywords=frozenset({"axis"}), kernel=_sort_array)
def sort(x, axis=-1, descending=False, stable=True):
    """x sorted along `axis` (ascending, or descending; NaNs last ascending): its gradient goes
    back to each element's place (equal elements in their order, as a stable sort puts them)."""
    x = tensor_arg(x)
    axis = _sort_axis(x, axis, "sort")
    descending, stable = bool_arg(descending, "sort", "descending"), bool_arg(stable, "sort", "stable")
    out = _sort_array(x._device.xp, x._data, axis, descending, stable)
    return make(out, x._device, (x,), (_sort_vjp,), {"axis": axis, "descending": descending, "stable": stable})
