"""Indexing: x[index], gather, and the scatter-add that is their gradient; one_hot.

`getitem` takes what NumPy's indexing takes: ints, slices, None, Ellipsis, integer arrays (lists,
NumPy arrays or integer tensors on x's device) and boolean masks. Its VJP scatters the gradient
into zeros of x's shape, adding where an element was picked more than once; scatter's own VJP is
getitem again, so every order of derivative is exact.

A VJP here reads the index AS THE CALLER GAVE IT (index tensors as tensors), never the arrays the
forward made of it: inside accel.function an index tensor is a traced value that changes from call
to call, and an array computed from it during the trace would be replayed as a constant (the
backward would scatter into the first call's rows forever). The trace checks this rule
(`Trace.check_node`).
"""

from __future__ import annotations

import numpy

from ..autodiff.complex_grads import linear
from ..tensor import Tensor, convert, is_device_array
from ..variable import Variable
from ._core import defop, make, tensor_arg
from .creation import zeros_like
from .row_sums import rows_added


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


def normalize_index(index, device, where="getitem"):
    """`index` as the array module of `device` takes it (index tensors and arrays on it)."""
    if isinstance(index, tuple):
        return tuple(_index_part(p, device, where) for p in index)
    return _index_part(index, device, where)


def _is_basic(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, (int, numpy.integer, slice)) for p in parts)


@linear
def _getitem_vjp(g, ans, x, index):
    rows = _row_index(index, x)
    if rows is not None:  # x[ids] on axis 0: the rows of x it read (TensorFlow's gather gradient)
        from ..indexed_slices import IndexedSlices
        from .shape import reshape

        return IndexedSlices(reshape(g, (-1,) + tuple(x.shape[1:])), rows, tuple(x.shape))
    return scatter_add(g, index, x.shape)


def _row_index(index, x):
    """When `index` picks whole rows of x by one integer array (x[ids], x[(ids,)]: gather and
    embedding_lookup on axis 0), those rows as a flat integer tensor with negative ids counted
    from the end (one op on a traced index tensor, never a test of its values); else None."""
    if isinstance(index, tuple):
        if len(index) != 1:
            return None
        index = index[0]
    if x.ndim == 0:
        return None
    if isinstance(index, Tensor) or is_device_array(index):
        index = convert(index)
        if index.dtype.kind not in "iu":
            return None
        from .elementwise import mod
        from .shape import reshape

        flat = reshape(index, (-1,))
        return mod(flat, x.shape[0]) if flat.dtype.kind == "i" else flat
    if isinstance(index, (list, numpy.ndarray)):
        try:
            array = numpy.asarray(index)
        except ValueError:  # ragged lists: not an index array
            return None
        if array.dtype.kind not in "iu" or array.size == 0:
            return None
        flat = numpy.where(array < 0, array + x.shape[0], array).reshape(-1)
        return convert(flat.astype(numpy.int64), device=x.device)
    return None


def _index(x, index, where):
    try:
        out = x._data[index]
    except IndexError as exc:
        raise IndexError(f"{where}: {exc} (tensor shape {tuple(x.shape)})") from None
    # Basic indexing returns a view; a Variable's view would change with later assignments.
    return out.copy() if isinstance(x, Variable) and _is_basic(index) else out


def _has_tensor_mask(args, kwargs) -> bool:
    """Whether getitem's index holds a boolean tensor: the result's shape then depends on its
    values (accel.function checks that shape on every run: trace.Step.guard)."""
    index = args[1] if len(args) > 1 else kwargs.get("index")
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, Tensor) and p.dtype == numpy.bool_ for p in parts)


@defop("indexing", methods=("__getitem__",), shape_from_values=_has_tensor_mask)
def getitem(x, index):
    """x[index] with NumPy's indexing rules."""
    x = tensor_arg(x)
    out = _index(x, normalize_index(index, x._device), "getitem")
    return make(out, x._device, (x,), (_getitem_vjp,), {"index": index})


@linear
def _scatter_vjp(g, ans, updates, index, shape):
    return getitem(g, index)


@defop("indexing")
def scatter_add(updates, index, shape):
    """zeros(shape) with `updates` added at `index` (repeated positions accumulate)."""
    updates = tensor_arg(updates, "updates")
    xp = updates._device.xp
    raw = normalize_index(index, updates._device, "scatter_add")
    out = xp.zeros(tuple(shape), dtype=updates.dtype)
    if _is_basic(raw):
        out[raw] = updates._data
    elif not rows_added(xp, out, raw, updates._data):
        _add_at(xp, out, raw, updates._data)
    return make(out, updates._device, (updates,), (_scatter_vjp,), {"index": index, "shape": tuple(shape)})


def _add_at(xp, out, index, values):
    """out[index] += values, repeated positions accumulating."""
    if hasattr(xp.add, "at"):
        xp.add.at(out, index, values)
    else:  # older CuPy
        import cupyx

        cupyx.scatter_add(out, index, values)


@defop("indexing")
def gather(params, indices, axis: int = 0):
    """The slices of `params` at `indices` along `axis`:
    result shape = params.shape[:axis] + indices.shape + params.shape[axis+1:].
    Every index must lie in [0, params.shape[axis]); the gradient adds up repeated indices."""
    params = tensor_arg(params, "params")
    if not -params.ndim <= axis < params.ndim:
        raise ValueError(f"gather: axis {axis} is out of range for params of rank {params.ndim}")
    axis %= params.ndim
    if isinstance(indices, Tensor):
        checked = indices
    elif is_device_array(indices):  # a CuPy array: its own device, its own integer dtype
        checked = indices = convert(indices)
    else:
        raw = numpy.asarray(indices)
        if raw.size and raw.dtype.kind not in "iu":
            raise TypeError(f"gather: indices must be integers, got {raw.dtype.name} values")
        # checked as a tensor; getitem (and its VJP) takes the caller's object (see the module doc)
        checked = convert(raw.astype(numpy.int64), device=params.device)
    if checked.device != params.device:
        raise ValueError(f"gather: indices are on {checked.device} but params on {params.device}")
    if checked.dtype.kind not in "iu":
        raise TypeError(f"gather: indices must be integers, got {checked.dtype.name}")
    if checked.size:
        lo, hi = int(checked._data.min()), int(checked._data.max())
        if lo < 0 or hi >= params.shape[axis]:
            raise IndexError(
                f"gather: indices must be in [0, {params.shape[axis]}) for axis {axis}, got "
                f"values in [{lo}, {hi}]")
    return getitem(params, (slice(None),) * axis + (indices,))


@defop("indexing")
def embedding_lookup(params, ids, max_norm=None):
    """params[ids] along axis 0 (tf.nn.embedding_lookup): result shape ids.shape + params.shape[1:];
    its gradient adds up repeated ids. `params` may be a list of shards of one table split along
    axis 0 (TensorFlow's "div" strategy: the shards in order are the table). `max_norm`: each
    looked-up row whose L2 norm exceeds it is scaled down to that norm. An id outside the table is
    an error naming the first one (TensorFlow's CPU kernel), before anything is computed."""
    from .shape import concat

    if isinstance(params, (list, tuple)):
        if not params:
            raise ValueError("embedding_lookup: params is an empty list of shards")
        params = params[0] if len(params) == 1 else concat(list(params), axis=0)
    params = tensor_arg(params, "params")
    if params.ndim == 0:
        raise ValueError("embedding_lookup: params must have at least 1 dimension (the table's rows)")
    ids = tensor_arg(ids, "ids") if isinstance(ids, Tensor) or is_device_array(ids) else ids
    raw = ids._data if isinstance(ids, Tensor) else numpy.asarray(ids)
    if raw.size and raw.dtype.kind not in "iu":
        raise TypeError(f"embedding_lookup: ids must be integers, got {raw.dtype.name}")
    rows = params.shape[0]
    if raw.size:
        bad = (raw < 0) | (raw >= rows)
        if bool(bad.any()):
            flat = bad.reshape(-1)
            first = int(flat.argmax())
            position = tuple(int(i) for i in numpy.unravel_index(first, raw.shape))
            raise IndexError(f"embedding_lookup: ids{list(position)} = {int(raw.reshape(-1)[first])} is not in "
                             f"[0, {rows})")
    out = gather(params, ids, axis=0)
    if max_norm is None:
        return out
    if isinstance(max_norm, bool) or not isinstance(max_norm, (int, float, numpy.integer, numpy.floating)) \
            or not max_norm > 0:
        raise ValueError(f"embedding_lookup: max_norm must be a positive number or None, got {max_norm!r}")
    from .elementwise import greater, maximum, sqrt, where
    from .reduce import sum as reduce_sum

    # clip_by_norm over each row (the trailing params.ndim - 1 axes), as TensorFlow's: a zero row
    # takes the square root of 1 instead of 0, so its gradient stays finite
    squares = reduce_sum(out * out, tuple(range(_ids_ndim(out, params), out.ndim)), keepdims=True)
    nonzero = greater(squares, 0)
    norm = where(nonzero, sqrt(where(nonzero, squares, 1.0)), squares)
    return out * (max_norm / maximum(norm, max_norm))


def _ids_ndim(out, params) -> int:
    """The rank of the ids of a lookup whose result is `out`."""
    return out.ndim - (params.ndim - 1)


@defop("indexing", differentiable=False, dtype="given")
def one_hot(indices, depth: int, on_value=1.0, off_value=0.0, axis: int = -1, dtype=None):
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
    dt = dtypes.as_dtype(dtype, default="float32")
    xp = indices._device.xp
    hot = indices._data[..., None] == xp.arange(depth)
    out = xp.where(hot, xp.asarray(on_value, dtype=dt), xp.asarray(off_value, dtype=dt))
    if axis != -1:
        out = xp.moveaxis(out, -1, axis)
    return make(out, indices._device)


def nd_index(indices, shape, device, where: str) -> tuple:
    """TensorFlow's `indices` (integers, shape [..., depth]: each row the first `depth`
    coordinates of one element or slice of a tensor of `shape` on `device`) as a NumPy index
    tuple, checked."""
    shape = tuple(shape)
    raw = indices._data if isinstance(indices, Tensor) else None
    if raw is None:
        raw = numpy.asarray(indices)
        if raw.size and raw.dtype.kind not in "iu":
            raise TypeError(f"{where}: indices must be integers, got {raw.dtype.name} values")
        raw = device.send(raw.astype(numpy.int64))
    elif indices.device != device:
        raise ValueError(f"{where}: indices are on {indices.device} but the tensor on {device}")
    elif raw.dtype.kind not in "iu":
        raise TypeError(f"{where}: indices must be integers, got {raw.dtype.name}")
    if raw.ndim == 0 or not 1 <= raw.shape[-1] <= len(shape):
        raise ValueError(f"{where}: indices must have shape [..., depth] with 1 <= depth <= {len(shape)} "
                         f"(the tensor's rank), got shape {tuple(raw.shape)}")
    depth = raw.shape[-1]
    if raw.size:
        for axis in range(depth):
            column = raw[..., axis]
            lo, hi = int(column.min()), int(column.max())
            if lo < 0 or hi >= shape[axis]:
                raise IndexError(f"{where}: indices[..., {axis}] must be in [0, {shape[axis]}), got values "
                                 f"in [{lo}, {hi}]")
    return tuple(raw[..., axis] for axis in range(depth))


@linear
def _gather_nd_vjp(g, ans, params, indices):
    return scatter_nd(indices, g, params.shape)


@defop("indexing")
def gather_nd(params, indices):
    """TensorFlow's gather_nd: the elements (or slices) of `params` at the rows of `indices`
    (shape [..., depth]); result shape indices.shape[:-1] + params.shape[depth:]. Its gradient
    is scatter_nd (repeated rows add up)."""
    params = tensor_arg(params, "params")
    out = _index(params, nd_index(indices, params.shape, params._device, "gather_nd"), "gather_nd")
    return make(out, params._device, (params,), (_gather_nd_vjp,), {"indices": indices})


@linear
def _scatter_nd_vjp(g, ans, updates, indices, shape):
    return gather_nd(g, indices)


@defop("indexing")
def scatter_nd(indices, updates, shape):
    """TensorFlow's scatter_nd: zeros of `shape` with `updates` added at the rows of `indices`
    (shape [..., depth]; updates shape indices.shape[:-1] + shape[depth:]; repeated rows add up).
    Differentiable in updates (its gradient is gather_nd)."""
    updates = tensor_arg(updates, "updates")
    shape = tuple(int(n) for n in shape)
    index = nd_index(indices, shape, updates._device, "scatter_nd")
    _check_updates_shape(shape, index, updates, "scatter_nd")
    out = updates._device.xp.zeros(shape, dtype=updates.dtype)
    _add_at(updates._device.xp, out, index, updates._data)
    return make(out, updates._device, (updates,), (_scatter_nd_vjp,), {"indices": indices, "shape": shape})


def _check_updates_shape(shape, index, updates, where):
    expected = tuple(index[0].shape) + tuple(shape[len(index):])
    if tuple(updates.shape) != expected:
        raise ValueError(f"{where}: updates must have shape indices.shape[:-1] + tensor.shape[depth:] = "
                         f"{expected}, got {tuple(updates.shape)}")


def _checked_updates(tensor, index, updates, where):
    updates = updates if isinstance(updates, Tensor) else convert(updates, dtype=tensor.dtype, device=tensor.device)
    if updates.device != tensor.device:
        raise ValueError(f"{where}: updates are on {updates.device} but the tensor on {tensor.device}")
    _check_updates_shape(tensor.shape, index, updates, where)
    if updates.dtype != tensor.dtype:
        raise TypeError(f"{where}: updates have dtype {updates.dtype.name}, the tensor {tensor.dtype.name}")
    return updates


# The value at an updated position comes from `updates`: the tensor's gradient is 0 there
# (TensorFlow's: the gradient with zeros scattered in), the updates' is the gradient there.
_SCATTER_UPDATE_VJPS = linear(
    lambda g, ans, tensor, updates, indices: tensor_scatter_nd_update(g, indices, zeros_like(updates)),
    lambda g, ans, tensor, updates, indices: gather_nd(g, indices))
_SCATTER_ADD_VJPS = linear(lambda g, ans, tensor, updates, indices: g,
                     lambda g, ans, tensor, updates, indices: gather_nd(g, indices))


@defop("indexing")
def tensor_scatter_nd_update(tensor, indices, updates):
    """TensorFlow's tensor_scatter_nd_update: a copy of `tensor` with `updates` written at the
    rows of `indices` (shape [..., depth]; updates shape indices.shape[:-1] + tensor.shape[depth:];
    for a repeated index the last update wins). Differentiable in tensor and updates."""
    tensor = tensor_arg(tensor, "tensor")
    index = nd_index(indices, tensor.shape, tensor._device, "tensor_scatter_nd_update")
    updates = _checked_updates(tensor, index, updates, "tensor_scatter_nd_update")
    out = tensor._data.copy()
    out[index] = updates._data
    return make(out, tensor._device, (tensor, updates), _SCATTER_UPDATE_VJPS, {"indices": indices})


@defop("indexing")
def tensor_scatter_nd_add(tensor, indices, updates):
    """TensorFlow's tensor_scatter_nd_add: a copy of `tensor` with `updates` added at the rows of
    `indices` (repeated indices add up). Differentiable in tensor and updates."""
    tensor = tensor_arg(tensor, "tensor")
    index = nd_index(indices, tensor.shape, tensor._device, "tensor_scatter_nd_add")
    updates = _checked_updates(tensor, index, updates, "tensor_scatter_nd_add")
    out = tensor._data.copy()
    _add_at(tensor._device.xp, out, index, updates._data)
    return make(out, tensor._device, (tensor, updates), _SCATTER_ADD_VJPS, {"indices": indices})
