"""The Array API standard's manipulation functions accel lacked (flip, roll, moveaxis, permute_dims,
tile, repeat, broadcast_arrays, meshgrid, tril, triu, diff, take_along_axis): each a composite of
accel's ops (`composite` records: the parts record and trace one by one), so their gradients, of
every order, are their parts' (slicing, concatenation, broadcasting, selection, gathering).
NumPy's semantics, which the standard's are.
"""

from __future__ import annotations

import numpy

from ..autodiff.complex_grads import linear
from ..tensor import Tensor, check_not_traced
from ._core import defop, make, normalize_axis, tensor_arg
from .creation import arange
from .elementwise import subtract, where
from .indexing import getitem
from .shape import broadcast_to, concat, reshape, transpose


def _axis(axis, ndim: int, op: str) -> int:
    if isinstance(axis, (bool, numpy.bool_)) or not isinstance(axis, (int, numpy.integer)):
        raise TypeError(f"{op}: axis must be an int, got {axis!r}")
    if not -ndim <= axis < max(ndim, 1):
        raise numpy.exceptions.AxisError(f"{op}: axis {axis} is out of range for a tensor of rank {ndim}")
    return int(axis) % max(ndim, 1)


def _ints(value, op: str, argument: str) -> tuple:
    """An int or a sequence of ints as a tuple of Python ints."""
    values = (value,) if isinstance(value, (int, numpy.integer)) else tuple(value)
    for v in values:
        if isinstance(v, (bool, numpy.bool_)) or not isinstance(v, (int, numpy.integer)):
            raise TypeError(f"{op}: {argument} must be an int or a sequence of ints, got {value!r}")
    return tuple(int(v) for v in values)


@defop("manipulation", kind="composite", numpy="flip")
def flip(x, axis=None):
    """x with the order of its elements along `axis` (default: every axis) reversed."""
    x = tensor_arg(x)
    axes = normalize_axis(axis, x.ndim, "flip")
    axes = range(x.ndim) if axes is None else axes
    index = tuple(slice(None, None, -1) if d in axes else slice(None) for d in range(x.ndim))
    return getitem(x, index)


@defop("manipulation", kind="composite", numpy="roll")
def roll(x, shift, axis=None):
    """x with its elements shifted by `shift` along `axis`, those past the end coming round to the
    start (default: over the flattened tensor, its shape kept). shift and axis may be sequences
    (one shift per axis)."""
    x = tensor_arg(x)
    shifts = _ints(shift, "roll", "shift")
    if axis is None:
        if len(shifts) != 1:
            raise ValueError(f"roll: without an axis, shift must be one int, got {shift!r}")
        return reshape(roll(reshape(x, (-1,)), shifts[0], 0), tuple(x.shape))
    axes = _ints(axis, "roll", "axis")
    if len(shifts) == 1:
        shifts = shifts * len(axes)
    if len(shifts) != len(axes):
        raise ValueError(f"roll: {len(shifts)} shifts for {len(axes)} axes")
    out = x
    for s, a in zip(shifts, axes):
        a = _axis(a, x.ndim, "roll")
        n = x.shape[a]
        s = s % n if n else 0
        if s:
            before = (slice(None),) * a
            out = concat([getitem(out, before + (slice(n - s, None),)), getitem(out, before + (slice(0, n - s),))],
                         axis=a)
    return out


@defop("manipulation", kind="composite", numpy="moveaxis")
def moveaxis(x, source, destination):
    """x with the axes `source` moved to `destination` (ints or sequences of ints), the others in
    their order."""
    x = tensor_arg(x)
    source = [_axis(a, x.ndim, "moveaxis") for a in _ints(source, "moveaxis", "source")]
    destination = [_axis(a, x.ndim, "moveaxis") for a in _ints(destination, "moveaxis", "destination")]
    if len(source) != len(destination) or len(set(source)) != len(source) or len(set(destination)) != len(source):
        raise ValueError("moveaxis: source and destination must be as many distinct axes")
    order = [a for a in range(x.ndim) if a not in source]
    for dest, src in sorted(zip(destination, source)):
        order.insert(dest, src)
    return transpose(x, tuple(order))


@defop("manipulation", kind="composite")
def permute_dims(x, axes):
    """x with its axes in the order `axes` (the standard's name for transpose with a permutation)."""
    return transpose(x, tuple(_ints(axes, "permute_dims", "axes")))


@defop("manipulation", kind="composite", numpy="tile")
def tile(x, repetitions):
    """x repeated `repetitions[i]` times along axis i (NumPy's tile: the shorter of x's shape and
    repetitions is padded with leading 1s)."""
    x = tensor_arg(x)
    reps = _ints(repetitions, "tile", "repetitions")
    if any(r < 0 for r in reps):
        raise ValueError(f"tile: repetitions must be >= 0, got {reps}")
    ndim = max(x.ndim, len(reps))
    shape = (1,) * (ndim - x.ndim) + tuple(x.shape)
    reps = (1,) * (ndim - len(reps)) + reps
    interleaved = [d for n in shape for d in (1, n)]
    wide = [d for r, n in zip(reps, shape) for d in (r, n)]
    return reshape(broadcast_to(reshape(x, interleaved), wide), tuple(r * n for r, n in zip(reps, shape)))


def _repeat_each_array(xp, x, repeats, axis):
    return xp.repeat(x, repeats, axis=axis)


@linear
def _repeat_each_vjp(g, ans, x, repeats, axis):
    # the copies of each element lie side by side: g as (..., n, repeats, ...) summed over the copies
    from .reduce import sum as reduce_sum

    return reduce_sum(reshape(g, x.shape[:axis + 1] + (repeats,) + x.shape[axis + 1:]), axis + 1)


@defop("manipulation", namespace="internal", kernel=_repeat_each_array)
def repeat_each(x, repeats: int, axis: int):
    """Each element of x repeated `repeats` times along `axis` (repeat's record for one count: one
    xp.repeat, where a broadcast and a reshape took twice NumPy's time)."""
    return make(_repeat_each_array(x._device.xp, x._data, repeats, axis), x._device, (x,), (_repeat_each_vjp,),
                {"repeats": repeats, "axis": axis})


@defop("manipulation", kind="composite", numpy="repeat")
def repeat(x, repeats, axis=None):
    """Each element of x repeated `repeats` times (an int, or one count per element along
    `axis`) along `axis` (default: over the flattened tensor)."""
    x = tensor_arg(x)
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    axis = _axis(axis, x.ndim, "repeat")
    if isinstance(repeats, Tensor):
        check_not_traced(repeats, "repeat's counts (they set the output shape)")
        repeats = repeats.numpy()
    if isinstance(repeats, numpy.ndarray) and repeats.size == 1 and repeats.dtype.kind in "iu":
        repeats = int(repeats.reshape(-1)[0])  # one count for every element (the standard broadcasts it)
    if isinstance(repeats, (int, numpy.integer)) and not isinstance(repeats, (bool, numpy.bool_)):
        if repeats < 0:
            raise ValueError(f"repeat: repeats must be >= 0, got {repeats}")
        return repeat_each(x, int(repeats), axis)
    counts = numpy.asarray(repeats)
    if counts.ndim != 1 or counts.dtype.kind not in "iu" or len(counts) != x.shape[axis] or (counts < 0).any():
        raise ValueError(f"repeat: repeats must be an int or {x.shape[axis]} counts >= 0 (one per element along "
                         f"axis {axis}), got {repeats!r}")
    index = numpy.repeat(numpy.arange(x.shape[axis]), counts)
    return getitem(x, (slice(None),) * axis + (index,))


@defop("manipulation", kind="composite", numpy="broadcast_arrays")
def broadcast_arrays(*arrays):
    """The tensors broadcast against each other (a list)."""
    arrays = [tensor_arg(a, "arrays") for a in arrays]
    shape = numpy.broadcast_shapes(*(tuple(a.shape) for a in arrays))
    return [broadcast_to(a, shape) for a in arrays]


@defop("manipulation", kind="composite", numpy="meshgrid")
def meshgrid(*arrays, indexing="xy"):
    """Coordinate tensors from 1-D tensors: with indexing "xy" (Cartesian) the first two axes are
    swapped, with "ij" (matrix) they are not (NumPy's meshgrid)."""
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    arrays = [tensor_arg(a, "arrays") for a in arrays]
    for i, a in enumerate(arrays):
        if a.ndim != 1:
            raise ValueError(f"meshgrid: arrays[{i}] must be 1-D, got shape {tuple(a.shape)}")
    n = len(arrays)
    sizes = [a.shape[0] for a in arrays]
    if indexing == "xy" and n > 1:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    out = []
    for i, a in enumerate(arrays):
        place = (1 - i if i < 2 else i) if indexing == "xy" and n > 1 else i
        shape = [1] * n
        shape[place] = a.shape[0]
        out.append(broadcast_to(reshape(a, shape), tuple(sizes)))
    return out


def _triangle(x, k, lower: bool, op: str):
    x = tensor_arg(x)
    if x.ndim < 2:
        raise ValueError(f"{op}: x must have at least 2 dimensions, got shape {tuple(x.shape)}")
    if isinstance(k, (bool, numpy.bool_)) or not isinstance(k, (int, numpy.integer)):
        raise TypeError(f"{op}: k must be an int, got {k!r}")
    rows, cols = x.shape[-2:]
    keep = numpy.tri(rows, cols, int(k), dtype=bool) if lower else ~numpy.tri(rows, cols, int(k) - 1, dtype=bool)
    mask = Tensor(x._device.send(keep), x._device)
    return where(mask, x, numpy.zeros((), x.dtype))


@defop("manipulation", kind="composite", numpy="tril")
def tril(x, k=0):
    """x with the elements above the k-th diagonal of its last two axes set to zero."""
    return _triangle(x, k, True, "tril")


@defop("manipulation", kind="composite", numpy="triu")
def triu(x, k=0):
    """x with the elements below the k-th diagonal of its last two axes set to zero."""
    return _triangle(x, k, False, "triu")


@defop("manipulation", kind="composite", numpy="diff")
def diff(x, axis=-1, n=1, prepend=None, append=None):
    """The n-th discrete difference along `axis`: out[i] = x[i + 1] - x[i], n times, after
    `prepend` / `append` are joined to x along it."""
    x = tensor_arg(x)
    axis = _axis(axis, x.ndim, "diff")
    if isinstance(n, (bool, numpy.bool_)) or not isinstance(n, (int, numpy.integer)) or n < 0:
        raise ValueError(f"diff: n must be an int >= 0, got {n!r}")
    parts = [x]
    for name, extra in (("prepend", prepend), ("append", append)):
        if extra is None:
            continue
        extra = tensor_arg(extra, name)
        if extra.ndim == 0:
            extra = broadcast_to(extra, x.shape[:axis] + (1,) + x.shape[axis + 1:])
        parts.insert(0 if name == "prepend" else len(parts), extra)
    out = concat(parts, axis=axis) if len(parts) > 1 else x
    before = (slice(None),) * axis
    for _ in range(int(n)):
        out = subtract(getitem(out, before + (slice(1, None),)), getitem(out, before + (slice(None, -1),)))
    return out


@defop("manipulation", kind="composite", numpy="take_along_axis")
def take_along_axis(x, indices, axis=-1):
    """The elements of x at `indices` along `axis` (indices has x's rank; its other axes broadcast
    against x's): NumPy's take_along_axis. The gradient adds up repeated indices."""
    x = tensor_arg(x)
    axis = _axis(axis, x.ndim, "take_along_axis")
    indices = tensor_arg(indices, "indices")
    if indices.dtype.kind not in "iu":
        raise TypeError(f"take_along_axis: indices must be integers, got {indices.dtype.name}")
    if indices.ndim != x.ndim:
        raise ValueError(f"take_along_axis: indices must have x's rank {x.ndim}, got shape {tuple(indices.shape)}")
    index = []
    for d in range(x.ndim):
        if d == axis:
            index.append(indices)
        else:
            shape = [1] * x.ndim
            shape[d] = x.shape[d]
            index.append(reshape(arange(x.shape[d], device=x.device), shape))
    return getitem(x, tuple(index))


@defop("manipulation", kind="composite", numpy="take")
def take(x, indices, axis=None):
    """The elements of x at `indices` (a 1-D integer tensor) along `axis` (the standard's take;
    axis may be omitted only for a 1-D x); a negative index counts from the end (gather refuses
    them, as TensorFlow's). The gradient adds up repeated indices."""
    x = tensor_arg(x)
    if axis is None:
        if x.ndim != 1:
            raise ValueError(f"take: axis is required for a tensor of rank {x.ndim} (omit it only for 1-D x)")
        axis = 0
    axis = _axis(axis, x.ndim, "take")
    indices = tensor_arg(indices, "indices")
    if indices.dtype.kind not in "iu":
        raise TypeError(f"take: indices must be integers, got {indices.dtype.name}")
    # one getitem: NumPy's (and CuPy's) indexing counts negative indices from the end and refuses
    # those out of range, and getitem's gradient scatters them back to where they read
    try:
        return getitem(x, (slice(None),) * axis + (indices,))
    except IndexError as exc:
        raise IndexError(f"take: indices must be in [-{x.shape[axis]}, {x.shape[axis]}) along axis {axis} "
                         f"({exc})") from None
