"""The Array API's searching and set functions accel lacked: nonzero, searchsorted, and the four
unique_* functions. None is differentiable (they return positions, counts or distinct values:
unique_values' values are picked elements, so take them with take / take_along_axis when a
gradient is needed); nonzero's and the unique functions' output shapes depend on the values
(`shape_from_values`: inside accel.function a replay checks them and retraces on a change).
"""

from __future__ import annotations

from collections import namedtuple

import numpy

from ._core import defop, make, tensor_arg

__all__ = ["isin", "nonzero", "searchsorted", "unique_all", "unique_counts", "unique_inverse", "unique_values"]

UniqueAllResult = namedtuple("UniqueAllResult", ["values", "indices", "inverse_indices", "counts"])
UniqueCountsResult = namedtuple("UniqueCountsResult", ["values", "counts"])
UniqueInverseResult = namedtuple("UniqueInverseResult", ["values", "inverse_indices"])


def _always(args, kwargs) -> bool:
    return True


@defop("searching", differentiable=False, dtype="int64", shape_from_values=_always, numpy="nonzero")
def nonzero(x):
    """The positions of x's non-zero (true) elements: a tuple of one int64 tensor per axis, in
    row-major order (NumPy's nonzero; a 0-d x is an error, as the standard says)."""
    x = tensor_arg(x)
    if x.ndim == 0:
        raise ValueError("nonzero: x must have at least 1 dimension (the standard leaves 0-d undefined)")
    device = x._device
    return tuple(make(index.astype(numpy.int64, copy=False), device) for index in device.xp.nonzero(x._data))


@defop("searching", differentiable=False, dtype="int64", numpy="searchsorted")
def searchsorted(x1, x2, side="left", sorter=None):
    """Where each element of x2 would go in the sorted 1-D x1 to keep it sorted: the first such
    place ("left") or the last ("right"); `sorter`: positions that sort x1 (argsort), when it is
    not sorted itself. int64."""
    x1, x2 = tensor_arg(x1, "x1"), tensor_arg(x2, "x2")
    if x1.ndim != 1:
        raise ValueError(f"searchsorted: x1 must be 1-D, got shape {tuple(x1.shape)}")
    if side not in ("left", "right"):
        raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
    if x1.device != x2.device:
        raise ValueError(f"searchsorted: x1 is on {x1.device}, x2 on {x2.device}")
    xp = x1._device.xp
    raw_sorter = None if sorter is None else tensor_arg(sorter, "sorter")._data
    out = xp.searchsorted(x1._data, x2._data, side=side, sorter=raw_sorter)
    return make(xp.asarray(out, dtype=numpy.int64), x1._device)


@defop("sets", differentiable=False, dtype="bool", numpy="isin")
def isin(x1, x2, invert=False):
    """Whether each element of x1 is among x2's elements (bool, x1's shape); invert: is not."""
    from ._core import bool_arg

    x1, x2 = tensor_arg(x1, "x1"), tensor_arg(x2, "x2")
    if x1.device != x2.device:
        raise ValueError(f"isin: x1 is on {x1.device}, x2 on {x2.device}")
    invert = bool_arg(invert, "isin", "invert")
    with x1._device.activate():
        out = x1._device.xp.isin(x1._data, x2._data, invert=invert)
    return make(out, x1._device)


def _unique(x, op):
    """(values, first indices, inverse indices, counts) of x's distinct elements, sorted, every
    NaN distinct (the standard's rule: NaN != NaN)."""
    x = tensor_arg(x)
    device = x._device
    xp = device.xp
    flat = x._data.reshape(-1)
    with device.activate():
        order = xp.argsort(flat, kind="stable") if xp is numpy else xp.argsort(flat)
        ordered = flat[order]
        if ordered.size:
            new = xp.concatenate((xp.ones(1, dtype=bool), ordered[1:] != ordered[:-1]))  # NaN != NaN: each its own
        else:
            new = xp.zeros(0, dtype=bool)
        starts = xp.flatnonzero(new)
        group = xp.cumsum(new) - 1
        inverse = xp.empty(flat.shape, dtype=numpy.int64)
        inverse[order] = group
        counts = xp.diff(xp.concatenate((starts, xp.asarray([flat.size])))) if starts.size else starts
    tensors = [make(ordered[starts], device), make(order[starts].astype(numpy.int64), device),
               make(inverse.reshape(x.shape), device), make(counts.astype(numpy.int64), device)]
    return tensors


@defop("sets", differentiable=False, shape_from_values=_always)
def unique_values(x):
    """x's distinct values, sorted (every NaN distinct)."""
    x = tensor_arg(x)
    xp = x._device.xp
    with x._device.activate():  # the values alone need no stable order: a plain sort (2.5x less)
        ordered = xp.sort(x._data.reshape(-1))
        if ordered.size:
            ordered = ordered[xp.concatenate((xp.ones(1, dtype=bool), ordered[1:] != ordered[:-1]))]
    return make(ordered, x._device)


@defop("sets", differentiable=False, shape_from_values=_always)
def unique_counts(x):
    """(values, counts): x's distinct values, sorted, and how often each occurs (int64)."""
    values, _, _, counts = _unique(x, "unique_counts")
    return UniqueCountsResult(values, counts)


@defop("sets", differentiable=False, shape_from_values=_always)
def unique_inverse(x):
    """(values, inverse_indices): x's distinct values, sorted, and for each element of x the
    position of its value among them (x's shape, int64): values[inverse_indices] is x."""
    values, _, inverse, _ = _unique(x, "unique_inverse")
    return UniqueInverseResult(values, inverse)


@defop("sets", differentiable=False, shape_from_values=_always)
def unique_all(x):
    """(values, indices, inverse_indices, counts): unique_counts and unique_inverse together, with
    the flat position of each value's first occurrence in x."""
    return UniqueAllResult(*_unique(x, "unique_all"))
