"""Shape ops: reshape, transpose, expand_dims, squeeze, broadcast_to, sum_to, concat, stack,
split, unstack. Their VJPs only move values around, so they are exact at every order."""

from __future__ import annotations

import functools
import itertools

import numpy

from ..autodiff.complex_grads import linear
from ..variable import Variable
from ._core import add_reduce, defop, make, normalize_axis, same_device, shape_arg, snapshot, tensor_arg, unchanged


# accel.function's replay runs these kernels on raw arrays; `kernel_views`: the result may share
# the operand's memory, so the replay does not use the kernel on a Variable's array (whose later
# writes would show through) but the op itself, which snapshots it.
def _sum_to_kernel(xp, x, shape):
    shape = tuple(shape)
    if x.shape == shape:
        return x
    return add_reduce(xp, x, _sum_to_plan(x.shape, shape), True).reshape(shape)


def _reshape_kernel(xp, x, shape, copy=None):
    out = x.reshape(shape_arg(shape, "reshape"))
    return out.copy() if copy else out


def _matrix_transpose_kernel(xp, x):
    return x.swapaxes(-1, -2)


_RESHAPE_VJPS = (linear(lambda g, ans, x: reshape(g, x.shape)),)


@defop("shape", numpy="reshape", methods=("reshape*",), kernel=_reshape_kernel, kernel_views=True)
def reshape(x, shape, *, copy=None):
    """The elements of x in row-major order, laid out as `shape` (one entry may be -1). `copy`
    (the Array API's): True always copies, False refuses (ValueError) where the layout needs a
    copy, None copies only then. A tensor's value never changes, so a view is safe to share."""
    x = tensor_arg(x)
    shape = shape_arg(shape, "reshape")
    if copy is not None and not isinstance(copy, bool):
        raise TypeError(f"reshape: copy must be a bool or None, got {copy!r}")
    try:
        out = snapshot(x).reshape(shape)
    except ValueError:
        raise ValueError(
            f"reshape: cannot reshape a tensor of shape {tuple(x.shape)} ({x.size} elements) "
            f"into shape {shape}"
        ) from None
    variable = isinstance(x, Variable)  # its snapshot is a copy already (assign writes into its array)
    if copy is False and not variable and out.size and not x._device.xp.shares_memory(out, x._data):
        raise ValueError(f"reshape: a tensor of shape {tuple(x.shape)} and strides {x._data.strides} cannot be "
                         f"laid out as {shape} without a copy (copy=False)")
    if copy and not variable:
        out = out.copy()
    return make(out, x._device, (x,), _RESHAPE_VJPS)


@defop("shape", methods=("flatten",))
def flatten(x):
    """x as a 1-D tensor."""
    return reshape(x, (-1,))


@linear
def _transpose_vjp(g, ans, x, perm):
    return transpose(g, tuple(numpy.argsort(perm)))


@defop("shape", numpy="transpose", methods=("transpose*", "@T"))
def transpose(x, perm=None):
    """Axes permuted by `perm` (default: reversed)."""
    x = tensor_arg(x)
    if perm is None:
        perm = tuple(range(x.ndim))[::-1]
    if isinstance(perm, (str, bytes)) or not all(
            isinstance(p, (int, numpy.integer)) and not isinstance(p, bool) for p in perm):
        raise TypeError(f"transpose: perm must be a sequence of ints, got {perm!r}")
    perm = tuple(int(p) % max(x.ndim, 1) if -x.ndim <= p < x.ndim else p for p in perm)
    if sorted(perm) != list(range(x.ndim)):
        raise ValueError(f"transpose: perm {perm} is not a permutation of the {x.ndim} axes")
    return make(snapshot(x).transpose(perm), x._device, (x,), (_transpose_vjp,), {"perm": perm})


_MATRIX_TRANSPOSE_VJPS = (linear(lambda g, ans, x: matrix_transpose(g)),)


@defop("shape", kernel=_matrix_transpose_kernel, kernel_views=True, methods=("@mT",))
def matrix_transpose(x):
    """x with its last two axes swapped (a view; its own inverse, so its VJP is itself)."""
    x = tensor_arg(x)
    if x.ndim < 2:
        raise ValueError(f"matrix_transpose: x must have at least 2 dimensions, got shape {tuple(x.shape)}")
    return make(snapshot(x).swapaxes(-1, -2), x._device, (x,), _MATRIX_TRANSPOSE_VJPS)


@defop("shape", numpy="expand_dims", numpy_keywords=frozenset({"axis"}), methods=("expand_dims",))
def expand_dims(x, axis: int):
    """x with a new size-1 axis inserted at `axis` (negative counts from the end of the result)."""
    x = tensor_arg(x)
    if isinstance(axis, bool) or not isinstance(axis, (int, numpy.integer)):
        raise TypeError(f"expand_dims: axis must be an int, got {axis!r}")
    if not -x.ndim - 1 <= axis <= x.ndim:
        raise numpy.exceptions.AxisError(f"expand_dims: axis {axis} is out of range for a tensor of rank {x.ndim}")
    axis %= x.ndim + 1
    return make(x._device.xp.expand_dims(snapshot(x), axis), x._device, (x,), _RESHAPE_VJPS)


@defop("shape", numpy="squeeze", numpy_keywords=frozenset({"axis"}), methods=("squeeze",))
def squeeze(x, axis=None):
    """x without size-1 axes (only those in `axis` when given; each must have size 1)."""
    x = tensor_arg(x)
    axes = normalize_axis(axis, x.ndim, "squeeze")
    if axes is None:
        axes = tuple(i for i, n in enumerate(x.shape) if n == 1)
    for a in axes:
        if x.shape[a] != 1:
            raise ValueError(f"squeeze: axis {a} has size {x.shape[a]}, expected 1")
    shape = tuple(n for i, n in enumerate(x.shape) if i not in axes)
    return make(snapshot(x).reshape(shape), x._device, (x,), _RESHAPE_VJPS)


@defop("shape", numpy="broadcast_to")
def broadcast_to(x, shape):
    """x broadcast to `shape` (NumPy rules); the gradient is summed back."""
    x = tensor_arg(x)
    shape = shape_arg(shape, "broadcast_to")
    if tuple(x.shape) == shape:
        return unchanged(x)
    try:
        out = x._device.xp.broadcast_to(snapshot(x), shape)
    except ValueError:
        raise ValueError(f"broadcast_to: cannot broadcast shape {tuple(x.shape)} to {shape}") from None
    return make(out, x._device, (x,), _BROADCAST_VJPS)


_BROADCAST_VJPS = (linear(lambda g, ans, x: sum_to(g, x.shape)),)
_SUM_TO_VJPS = (linear(lambda g, ans, x: broadcast_to(g, x.shape)),)


def _sum_to_axes(from_shape, to_shape):
    lead = len(from_shape) - len(to_shape)
    return tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(to_shape) if n == 1 and from_shape[lead + i] != 1)


@functools.lru_cache(maxsize=1024)
def _sum_to_plan(from_shape: tuple, to_shape: tuple) -> tuple:
    """The axes that sum `from_shape` down to `to_shape` (checked; cached: a backward pass asks
    the same few pairs on every step)."""
    if len(to_shape) > len(from_shape) or any(n not in (1, m) for n, m in zip(to_shape[::-1], from_shape[::-1])):
        raise ValueError(f"sum_to: shape {to_shape} does not broadcast to {from_shape}")
    return _sum_to_axes(from_shape, to_shape)


@defop("shape", kernel=_sum_to_kernel, kernel_views=True)
def sum_to(x, shape):
    """x summed down to `shape`, the inverse of broadcasting `shape` up to x.shape."""
    x = tensor_arg(x)
    shape = tuple(shape)
    data = x._data
    if data.shape == shape:
        return unchanged(x)
    out = add_reduce(x._device.xp, data, _sum_to_plan(data.shape, shape), True).reshape(shape)
    return make(out, x._device, (x,), _SUM_TO_VJPS)


def _slice_along(axis: int, start: int, stop: int):
    return (slice(None),) * axis + (slice(start, stop),)


def _concat_input_vjp(i, g, ans, *inputs, axis, bounds):
    return _ops.getitem(g, _slice_along(axis, *bounds[i]))


class _PerInput:
    """The VJPs of an op of any number of inputs (concat, stack): vjp(i, g, ans, *inputs, **params)
    for input i, each linear (it picks input i's part of the gradient)."""

    __slots__ = ("vjp",)

    def __init__(self, vjp):
        self.vjp = vjp

    def __getitem__(self, i):
        return linear(functools.partial(self.vjp, i))


_CONCAT_VJPS = _PerInput(_concat_input_vjp)  # each input's slice of the gradient


@defop("shape", numpy="concatenate", numpy_keywords=frozenset({"axis"}))
def concat(values, axis: int | None = 0):
    """The tensors in `values` joined along the existing `axis` (None: flattened first, the Array
    API's concat)."""
    values = [tensor_arg(v, "values") for v in values]
    if not values:
        raise ValueError("concat: values is empty")
    if axis is None:
        return concat([reshape(v, (-1,)) for v in values], axis=0)
    device = same_device("concat", values)
    ndim = values[0].ndim
    if ndim == 0:
        raise ValueError("concat: cannot concatenate 0-d tensors (use stack)")
    (axis,) = normalize_axis(axis, ndim, "concat")
    for i, v in enumerate(values):
        if v.ndim != ndim or any(a != b for d, (a, b) in enumerate(zip(v.shape, values[0].shape)) if d != axis):
            raise ValueError(
                f"concat: values[{i}] has shape {tuple(v.shape)}, incompatible with values[0] "
                f"{tuple(values[0].shape)} (all dimensions but axis {axis} must match)"
            )
    out = device.xp.concatenate([v._data for v in values], axis=axis)
    ends = list(itertools.accumulate(int(v.shape[axis]) for v in values))  # Python ints: shapes, not data
    bounds = tuple(zip([0] + ends[:-1], ends))
    return make(out, device, tuple(values), _CONCAT_VJPS, {"axis": axis, "bounds": bounds})


def _stack_input_vjp(i, g, ans, *inputs, axis):
    return _ops.getitem(g, (slice(None),) * axis + (i,))


_STACK_VJPS = _PerInput(_stack_input_vjp)  # each input's entry of the gradient along the new axis


@defop("shape", numpy="stack", numpy_keywords=frozenset({"axis"}))
def stack(values, axis: int = 0):
    """The equally shaped tensors in `values` joined along a new `axis`."""
    values = [tensor_arg(v, "values") for v in values]
    if not values:
        raise ValueError("stack: values is empty")
    for i, v in enumerate(values):
        if v.shape != values[0].shape:
            raise ValueError(
                f"stack: values[{i}] has shape {tuple(v.shape)}, expected {tuple(values[0].shape)}")
    ndim = values[0].ndim + 1
    if isinstance(axis, (bool, numpy.bool_)) or not isinstance(axis, (int, numpy.integer)):
        raise TypeError(f"stack: axis must be an int, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"stack: axis {axis} is out of range for rank {ndim}")
    device = same_device("stack", values)
    axis = int(axis) % ndim
    out = device.xp.stack([v._data for v in values], axis=axis)
    return make(out, device, tuple(values), _STACK_VJPS, {"axis": axis})


@defop("shape")
def split(x, num_or_size_splits, axis: int = 0):
    """x cut along `axis` into equal parts (an int) or parts of the given sizes (one may be -1)."""
    x = tensor_arg(x)
    (axis,) = normalize_axis(axis, x.ndim, "split")
    n = x.shape[axis]
    if isinstance(num_or_size_splits, (int, numpy.integer)):
        parts = int(num_or_size_splits)
        if parts <= 0 or n % parts:
            raise ValueError(f"split: axis {axis} of size {n} does not split into {parts} equal parts")
        sizes = [n // parts] * parts
    else:
        sizes = [int(s) for s in num_or_size_splits]
        if sizes.count(-1) > 1 or any(s < -1 for s in sizes):
            raise ValueError(f"split: invalid sizes {sizes} (non-negative, at most one -1)")
        if -1 in sizes:
            sizes[sizes.index(-1)] = n - (sum(sizes) + 1)
        if sum(sizes) != n or any(s < 0 for s in sizes):
            raise ValueError(f"split: sizes {list(num_or_size_splits)} do not add up to {n} (axis {axis})")
    starts = [0] + list(numpy.cumsum(sizes))
    return [_ops.getitem(x, _slice_along(axis, starts[i], starts[i + 1])) for i in range(len(sizes))]


@defop("shape")
def unstack(x, axis: int = 0):
    """The slices of x along `axis`, each without that axis: a tuple (the Array API's; TensorFlow
    returns a list)."""
    x = tensor_arg(x)
    if x.ndim == 0:
        raise ValueError("unstack: a 0-d tensor has no axis to unstack")
    (axis,) = normalize_axis(axis, x.ndim, "unstack")
    return tuple(_ops.getitem(x, (slice(None),) * axis + (i,)) for i in range(x.shape[axis]))


from .. import ops as _ops  # noqa: E402  (getitem lives in ops.indexing, which imports this module)

