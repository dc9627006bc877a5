"""The machinery every op shares: operand conversion, device checks, and recording.

An op computes its forward on raw arrays with its device's `xp`, then calls `make`, which wraps
the result and, only when a tape is recording, attaches the op's VJPs: one per input (None where
the input is not differentiable), ``vjps[i](g, ans, *inputs, **params) -> gradient for input i``,
so the walk computes only the gradients it needs. VJPs are written in accel ops so a surrounding
tape records them; they never reduce broadcast gradients: the graph walk sums each gradient down
to its input's shape, once per edge.
"""

from __future__ import annotations

import functools
import numbers

import numpy

from ..dtypes import is_differentiable, is_floating, is_real_number
from .. import recording
from ..autodiff.complex_grads import linear
from .table import register
from ..tensor import Tensor, convert, is_device_array
from ..variable import Variable

_state = recording.state
_record = recording.record


def as_array(out):
    """NumPy returns scalars, not 0-d arrays, from ufuncs and reductions on 0-d inputs; tensors hold
    arrays."""
    return numpy.asarray(out) if isinstance(out, numpy.generic) else out


def make(data, device, inputs: tuple = (), vjp=None, params=None) -> Tensor:
    """Wrap `data` (an array of `device`, or a NumPy scalar) as the output of an op with `inputs`
    and per-input VJPs `vjp`."""
    if data.__class__ is not numpy.ndarray:
        data = as_array(data)
    out = Tensor(data, device)
    if _state.tapes:
        if vjp is not None and is_differentiable(data.dtype):
            _record(out, inputs, vjp, params)
        else:
            recording.watch_reads(inputs)
    return out


def add_reduce(xp, x, axes, keepdims: bool):
    """sum over `axes` (None: all) in x's dtype: NumPy's add.reduce called directly (ndarray.sum
    goes through a Python function of NumPy's first), xp.sum elsewhere."""
    if xp is numpy:
        return numpy.add.reduce(x, axes, None, None, keepdims)
    return xp.sum(x, axis=axes, keepdims=keepdims)


def _first_device(args):
    for a in args:
        if isinstance(a, Tensor):
            return a._device
        if isinstance(a, (list, tuple)):
            for b in a:
                if isinstance(b, Tensor):
                    return b._device
    return None


def _returns_none(*args, **kwargs) -> None:
    """What an effect that returns nothing gives while a function traces."""


def bind(impl, kind: str = "pure", effect=None):
    """The dispatcher of an op: `impl` called the way every op is called.

    1. trace hook: while accel.function traces, the call is one step of the trace (run now,
       replayed later; a `stateful` op is run on every replay; an `effect` is recorded without
       running, `effect(*args, **kwargs)` standing for its result, effect=True: None);
    2. device activation: `impl` runs with the device of its first tensor argument (or of the
       first tensor of a first list argument) current, since CuPy allocates and launches on the
       current device (on the CPU, which is not `contextual`, a plain call);
    3. forward and tape record: `impl` computes on raw arrays and ends in `make`, the one place
       that records a node.
    A `composite` op (a function of other ops) is called as it is: each of its parts does the
    three steps.
    Elementwise ops and reductions are the same three steps written out for their operands (the
    hottest path: no frame between the user and the forward), and the elementwise ones are
    compiled (csrc/autodiff/elementwise.cpp) with that Python statement as the oracle."""
    if kind == "composite":  # its parts are ops: they trace, activate devices and record
        return impl
    if effect is True:
        effect = _returns_none
    stateful = kind == "stateful"

    @functools.wraps(impl)
    def run(*args, **kwargs):
        trace = _state.trace
        if trace is not None:
            return trace.call(run, args, kwargs, effect=effect, stateful=stateful)  # run: the record's op
        device = _first_device(args)
        if device is None or not device.contextual:
            return impl(*args, **kwargs)
        with device.activate():
            return impl(*args, **kwargs)

    return run


def traceable(op=None, *, effect=None, stateful: bool = False):
    """`op` (a method or function that is not an op: a Variable write, a metric's update, an
    optimizer's apply) dispatched as ops are (`bind`), without a record in the op table."""
    if op is None:
        return lambda f: traceable(f, effect=effect, stateful=stateful)
    return bind(op, "effect" if effect is not None else "stateful" if stateful else "pure", effect)


def defop(family: str, *, kind: str = "pure", effect=None, **facts):
    """Decorator: `impl` made an op, its dispatcher (`bind`) entered in the op table with
    `facts` (table.OpRecord's fields)."""

    def define(impl):
        return register(bind(impl, kind, effect), family=family, kind=kind, **facts)

    return define


def bool_arg(value, op: str, argument: str) -> bool:
    """`value` (a Python or NumPy bool) as a bool, else a TypeError naming the op's argument."""
    if not isinstance(value, (bool, numpy.bool_)):
        raise TypeError(f"{op}: {argument} must be a bool, got {value!r}")
    return bool(value)


def tensor_arg(x, argument: str = "x") -> Tensor:
    """`x` as a Tensor on the default device, if it is not one already."""
    if isinstance(x, Tensor):
        return x
    if x is None:
        raise TypeError(f"{argument}: expected a tensor, got None")
    return convert(x)


def same_device(op: str, tensors) -> object:
    """The one device of `tensors`; ValueError naming both devices if they differ."""
    device = None
    for t in tensors:
        if device is None:
            device = t._device
        elif t._device != device:
            raise ValueError(
                f"{op}: inputs are on different devices ({device} and {t._device}); "
                "move one explicitly with .to(device)"
            )
    return device


_SCALARS = (numbers.Number, numpy.bool_)


def _constant(value, device, like):
    """A non-tensor operand as something an xp function accepts on `device`.

    Python scalars stay Python scalars, so they do not upcast tensors (NumPy 2 / NEP 50 rules).
    Lists take the floating dtype of the tensor they meet; NumPy arrays keep their own dtype.
    """
    if isinstance(value, _SCALARS) and not isinstance(value, numpy.ndarray):
        if isinstance(value, numpy.generic):
            return convert(value, device=device)
        return value
    if value is None:
        raise TypeError("operand: expected a tensor or a number, got None")
    dtype = None
    if not isinstance(value, numpy.ndarray) and not is_device_array(value) and is_floating(like):
        probe = numpy.asarray(value)
        if is_real_number(probe.dtype):
            dtype = like
    return convert(value, dtype=dtype, device=device)


def operands(op: str, x, y):
    """(x, y, device) for a binary op: tensors checked for one device, constants put on it."""
    if isinstance(x, Tensor):
        if isinstance(y, Tensor):
            if y._device is not x._device and y._device != x._device:
                same_device(op, (x, y))
            return x, y, x._device
        return x, _constant(y, x._device, x._data.dtype), x._device
    if isinstance(y, Tensor):
        return _constant(x, y._device, y._data.dtype), y, y._device
    x = convert(x)
    return x, _constant(y, x._device, x._data.dtype), x._device


def data(x):
    """The raw array of a Tensor, or a Python scalar as it is."""
    return x._data if isinstance(x, Tensor) else x


def shape_arg(shape, op: str) -> tuple:
    """`shape` (an int or a sequence of ints) as a tuple of ints, or TypeError naming `op`."""
    if isinstance(shape, (int, numpy.integer)):
        return (int(shape),)
    try:
        entries = list(shape) if not isinstance(shape, str) else None
    except TypeError:
        entries = None
    if entries is None or not all(isinstance(n, (int, numpy.integer)) for n in entries):
        raise TypeError(f"{op}: shape must be an int or a sequence of ints, got {shape!r}")
    return tuple(int(n) for n in entries)


def normalize_axis(axis, ndim: int, op: str):
    """`axis` (None, an int or a sequence of ints) as None or a sorted tuple of non-negative axes."""
    if axis is None:
        return None
    if isinstance(axis, (bool, numpy.bool_)):
        raise TypeError(f"{op}: axis must be an int or a sequence of ints, got {axis!r}")
    if isinstance(axis, (int, numpy.integer)):
        axes = (axis,)
    elif isinstance(axis, (list, tuple)):
        axes = tuple(axis)
    else:
        raise TypeError(f"{op}: axis must be an int or a sequence of ints, got {axis!r}")
    out = []
    for a in axes:
        if not isinstance(a, (int, numpy.integer)) or isinstance(a, (bool, numpy.bool_)):
            raise TypeError(f"{op}: axis must be an int or a sequence of ints, got {axis!r}")
        if not -ndim <= a < max(ndim, 1):  # AxisError: a ValueError and the IndexError the standard expects
            raise numpy.exceptions.AxisError(f"{op}: axis {a} is out of range for a tensor of rank {ndim}")
        out.append(int(a) % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis!r}")
    return tuple(sorted(out))


def snapshot(x):
    """x's array for an op that returns a view of it: copied when x is a Variable, whose array
    later in-place assignments overwrite (a tensor's value must never change)."""
    return x._data.copy() if isinstance(x, Variable) else x._data


def unchanged(x):
    """The result of an op that leaves x as it is: x itself, or a snapshot for a Variable (an op's
    result must not be the mutable variable)."""
    if not isinstance(x, Variable):
        return x
    with x._device.activate():
        return make(x._data.copy(), x._device, (x,), IDENTITY_VJPS)


IDENTITY_VJPS = (linear(lambda g, ans, x: g),)


def tensor_like(value, like: Tensor) -> Tensor:
    """A constant `value` as a tensor on like's device with like's dtype."""
    return convert(value, dtype=like.dtype, device=like._device)
