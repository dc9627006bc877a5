"""Indexing: x[index], gather, and the scatter-add that is their gradient; one_hot.

`getitem` takes what NumPy's indexing takes: ints, slices, None, Ellipsis, integer arrays (lists,
NumPy arrays or integer tensors on x's device) and boolean masks. Its VJP scatters the gradient
into zeros of x's shape, adding where an element was picked more than once; scatter's own VJP is
getitem again, so every order of derivative is exact.
"""

from __future__ import annotations

import numpy

from ..tensor import Tensor, Variable, convert, is_device_array
from ._core import make, on_device, tensor_arg

__all__ = ["getitem", "gather", "one_hot", "scatter_add"]


def _index_part(part, device, where: str):
    if isinstance(part, Tensor):
        if part._device != device:
            raise ValueError(f"{where}: index is on {part._device} but the tensor is on {device}")
        if part.dtype.kind not in "biu":
            raise TypeError(f"{where}: index tensors must be integer or bool, got {part.dtype.name}")
        return part._data
    if is_device_array(part):  # a CuPy array of indices
        part = convert(part)
        if part._device != device:
            raise ValueError(f"{where}: index is on {part._device} but the tensor is on {device}")
        if part.dtype.kind not in "biu":
            raise TypeError(f"{where}: index arrays must be integer or bool, got {part.dtype.name}")
        return part._data
    if isinstance(part, (list, numpy.ndarray)):
        array = numpy.asarray(part)
        if array.size == 0:
            array = array.astype(numpy.int64)
        if array.dtype.kind not in "biu":
            raise TypeError(f"{where}: index arrays must be integer or bool, got {array.dtype}")
        return device.send(array)
    if part is None or part is Ellipsis or isinstance(part, (int, numpy.integer, slice)):
        return part
    raise TypeError(f"{where}: unsupported index {part!r}")


def _normalize_index(index, device, where="getitem"):
    if isinstance(index, tuple):
        return tuple(_index_part(p, device, where) for p in index)
    return _index_part(index, device, where)


def _is_basic(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, (int, numpy.integer, slice)) for p in parts)


def _getitem_vjp(g, ans, x, index):
    return scatter_add(g, index, x.shape)


def _index(x, index, where):
    try:
        out = x._data[index]
    except IndexError as exc:
        raise IndexError(f"{where}: {exc} (tensor shape {tuple(x.shape)})") from None
    # Basic indexing returns a view; a Variable's view would change with later assignments.
    return out.copy() if isinstance(x, Variable) and _is_basic(index) else out


@on_device
def getitem(x, index):
    """x[index] with NumPy's indexing rules."""
    x = tensor_arg(x)
    index = _normalize_index(index, x._device)
    out = _index(x, index, "getitem")
    return make(out, x._device, (x,), (_getitem_vjp,), {"index": index})


def _scatter_vjp(g, ans, updates, index, shape):
    return getitem(g, index)


@on_device
def scatter_add(updates, index, shape):
    """zeros(shape) with `updates` added at `index` (repeated positions accumulate)."""
    updates = tensor_arg(updates, "updates")
    xp = updates._device.xp
    index = _normalize_index(index, updates._device, "scatter_add")
    out = xp.zeros(tuple(shape), dtype=updates.dtype)
    if _is_basic(index):
        out[index] = updates._data
    elif hasattr(xp.add, "at"):
        xp.add.at(out, index, updates._data)
    else:  # older CuPy
        import cupyx

        cupyx.scatter_add(out, index, updates._data)
    return make(out, updates._device, (updates,), (_scatter_vjp,), {"index": index, "shape": tuple(shape)})


@on_device
def gather(params, indices, axis: int = 0):
    """The slices of `params` at `indices` along `axis`:
    result shape = params.shape[:axis] + indices.shape + params.shape[axis+1:].
    Every index must lie in [0, params.shape[axis]); the gradient adds up repeated indices."""
    params = tensor_arg(params, "params")
    if not -params.ndim <= axis < params.ndim:
        raise ValueError(f"gather: axis {axis} is out of range for params of rank {params.ndim}")
    axis %= params.ndim
    if isinstance(indices, Tensor):
        pass
    elif is_device_array(indices):  # a CuPy array: its own device, its own integer dtype
        indices = convert(indices)
    else:
        raw = numpy.asarray(indices)
        if raw.size and raw.dtype.kind not in "iu":
            raise TypeError(f"gather: indices must be integers, got {raw.dtype.name} values")
        indices = convert(raw.astype(numpy.int64), device=params.device)
    if indices.device != params.device:
        raise ValueError(f"gather: indices are on {indices.device} but params on {params.device}")
    if indices.dtype.kind not in "iu":
        raise TypeError(f"gather: indices must be integers, got {indices.dtype.name}")
    if indices.size:
        lo, hi = int(indices._data.min()), int(indices._data.max())
        if lo < 0 or hi >= params.shape[axis]:
            raise IndexError(
                f"gather: indices must be in [0, {params.shape[axis]}) for axis {axis}, got "
                f"values in [{lo}, {hi}]")
    return getitem(params, (slice(None),) * axis + (indices,))


@on_device
def one_hot(indices, depth: int, on_value=1.0, off_value=0.0, axis: int = -1, dtype="float32"):
    """A new axis of length `depth` with `on_value` at each index and `off_value` elsewhere;
    an index outside [0, depth) gives an all-`off_value` row (TensorFlow's rule)."""
    from .. import dtypes

    indices = tensor_arg(indices, "indices")
    if indices.dtype.kind not in "iu":
        raise TypeError(f"one_hot: indices must be integers, got {indices.dtype.name}")
    if isinstance(depth, bool) or not isinstance(depth, (int, numpy.integer)):
        raise TypeError(f"one_hot: depth must be an int, got {depth!r}")
    if depth < 0:
        raise ValueError(f"one_hot: depth must be >= 0, got {depth}")
    dt = dtypes.as_dtype(dtype)
    xp = indices._device.xp
    hot = indices._data[..., None] == xp.arange(depth)
    out = xp.where(hot, xp.asarray(on_value, dtype=dt), xp.asarray(off_value, dtype=dt))
    if axis != -1:
        out = xp.moveaxis(out, -1, axis)
    return make(out, indices._device)
