"""Item assignment on a Tensor (`t[index] = value`, the Array API's __setitem__), copy on write.

Tensors are values: an op's result never changes, and neither does anything a user took from a
tensor before (a slice, a reshape, a NumPy copy). Item assignment keeps that by giving the tensor a
new array with the values written (the old one is left to whoever holds it) -- the cost is a copy
of the tensor per assignment, as JAX's `x.at[i].set(v)` -- and by refusing where a computation
that runs later reads the tensor, so nothing computed would silently change:
- a tape recorded an op that produced or read it (its VJPs would read the new values), or an
  active tape watches it;
- accel.function is tracing (a replay cannot repeat a write to a Python object), or a traced
  function captured it (its replays read it);
- a Variable: it writes with `v[index].assign(value)`, as in TensorFlow.
`_saved` is the mark: recording.record sets it on every tensor input of a node it creates (and
the compiled record does the same), and a trace on every tensor it captures. This module installs
Tensor.__setitem__ (it builds on the ops, which build on Tensor).
"""

from __future__ import annotations

import numpy

from . import recording
from .array_api import result_type
from .ops.indexing import normalize_index
from .tensor import Tensor, convert
from .variable import Variable

__all__ = ["assign_items"]


def _refusal(tensor: Tensor) -> str | None:
    if recording.state.trace is not None:
        return "accel.function is tracing (a replay cannot repeat a write to a tensor)"
    if tensor._node is not None or tensor._tapes:
        return "a tape recorded the op that produced it (its gradient would read the new values)"
    if getattr(tensor, "_saved", False):
        return ("a recorded op or a traced function reads it (a gradient or a replay computed later would read "
                "the new values)")
    if any(recording.watched_by(tensor, tape) for tape in recording.state.tapes):
        return "an active GradientTape watches it"
    return None


def assign_items(tensor: Tensor, index, value) -> None:
    """tensor[index] = value, copy on write; TypeError or IndexError before anything is written."""
    why = _refusal(tensor)
    if why is not None:
        raise TypeError(f"item assignment: this tensor cannot change: {why}. Compute a new tensor instead "
                        "(accel.where, accel.tensor_scatter_nd_update), or assign to a copy "
                        "(t = accel.asarray(t, copy=True))")
    dtype = tensor._data.dtype

    def promoted_with(other):
        try:
            return result_type(dtype, other)
        except TypeError:  # no promotion at all: the value cannot fit either
            return getattr(other, "name", type(other).__name__)

    if isinstance(value, Tensor):
        if value._device != tensor._device:
            raise ValueError(f"item assignment: the value is on {value._device}, the tensor on {tensor._device}")
        promoted = promoted_with(value.dtype)
        raw = value._data
    elif isinstance(value, (bool, int, float, complex)):
        promoted = promoted_with(value)
        raw = value
    elif isinstance(value, (list, tuple)):  # Python numbers: each takes the tensor's dtype where its kind fits
        probe = numpy.asarray(value)
        fits = {"b": "b", "i": "iufc", "f": "fc", "c": "c"}.get(probe.dtype.kind, "")
        promoted = dtype if dtype.kind in fits else probe.dtype
        raw = convert(probe.astype(dtype) if dtype.kind in fits else probe, device=tensor._device)._data
    else:
        array = convert(value, device=tensor._device)
        promoted = promoted_with(array.dtype)
        raw = array._data
    if promoted != dtype:
        raise TypeError(f"item assignment: a {getattr(promoted, 'name', promoted)} value does not fit a {dtype.name} "
                        "tensor (the standard's promotion would change its dtype)")
    key = normalize_index(index, tensor._device, "item assignment")
    with tensor._device.activate():
        updated = tensor._data.copy()
        updated[key] = raw
    tensor._data = updated


def _index_text(index) -> str:
    """An index as the user wrote it, for messages: v[0], v[1:, 2]."""
    parts = index if isinstance(index, tuple) else (index,)

    def one(p):
        if isinstance(p, slice):
            return ":".join("" if v is None else str(v) for v in (p.start, p.stop) + ((p.step,) if p.step else ()))
        return "..." if p is Ellipsis else "None" if p is None else repr(p) if not isinstance(p, Tensor) else "index"
    return ", ".join(one(p) for p in parts)


def _setitem(self, index, value):
    """t[index] = value (the Array API's item assignment), copy on write: t gets a new array with
    the values written, so every value taken from t before (a slice, a NumPy copy, a reshape) keeps
    the one it had. Refused (TypeError, nothing written) where a later computation would read t: a
    tape's graph holds it (an op it recorded produced or read t, or it watches t), a traced
    function reads it, or one is tracing. A Variable writes with assign, as in TensorFlow."""
    if isinstance(self, Variable):
        raise TypeError(f"a Variable does not support item assignment; write v[{_index_text(index)}].assign(value) "
                        "(or .assign_add / .assign_sub), as in TensorFlow")
    assign_items(self, index, value)


Tensor.__setitem__ = _setitem
