"""How an elementwise op is made: the Python statement of its dispatcher (`_unary`, `_binary`)
and its compiled front (accel._autodiff.ElementwiseOp), each op entered in the op table.
elementwise.py is the table of ops built with these.
"""

from __future__ import annotations

import os

import numpy

from ..autodiff import complex_grads
from ..dtypes import is_differentiable
from .. import _autodiff, recording
from ..tensor import Tensor
from ._core import as_array, data, operands, same_device, tensor_arg
from .table import forward_of, register

# The ops live in elementwise.py: their __module__, so they pickle by name from there.
OPS_MODULE = "accel.ops.elementwise"
# _unary and _binary inline `make` (the same three steps): they are the hottest path of the
# library, and a call less per op is ~10% of a small-tensor forward+backward. Their common call is
# compiled: each op is an accel._autodiff.ElementwiseOp, a front that runs that call (a CPU tensor,
# or two, or a tensor and a Python number, no trace) the way `op` below does, and hands every other
# call to `op` (csrc/autodiff/elementwise.cpp). ACCEL_PYTHON_GRAPH=1 leaves the ops Python.
_NDARRAY = numpy.ndarray
_PY_SCALARS = (int, float, bool)
_recording = recording.state
_record = recording.record
_watch_reads = recording.watch_reads
_COMPILED = os.environ.get("ACCEL_PYTHON_GRAPH") != "1"
_autodiff.configure_elementwise(_NDARRAY, as_array)


def _front(op, forward, vjps, arity: int, to_float: bool = False):
    """The op as users call it: `op` itself, or its compiled front (which has op's name and doc,
    binds as a method, and pickles by name). A forward derived from a math form that is one NumPy
    ufunc hands the front that ufunc (`host`), which it calls on the CPU arrays directly."""
    if not _COMPILED:
        return op
    front = _autodiff.ElementwiseOp(op, forward, vjps, arity, to_float, getattr(forward, "host", None))
    front.__name__ = front.__qualname__ = op.__name__
    front.__doc__, front.__module__, front.__wrapped__ = op.__doc__, OPS_MODULE, op
    return front


def _ufunc_forward(name: str):
    """The forward that is the array module's ufunc `name` (NumPy's or CuPy's), with NumPy's as
    its `host`: the compiled front calls that on CPU arrays directly."""
    forward = lambda xp, *arrays: getattr(xp, name)(*arrays)  # noqa: E731
    forward.host = getattr(numpy, name)
    return forward


def _complex_grads(name, vjps, kinds):
    """Give each VJP its complex form (autodiff/complex_grads.py): `kinds` is "linear",
    "holomorphic", or one entry per input (one of those, a form, or None: no complex gradient)."""
    if vjps is None or kinds is None:
        return
    kinds = (kinds,) * len(vjps) if isinstance(kinds, str) or callable(kinds) else kinds
    for i, (vjp, kind) in enumerate(zip(vjps, kinds)):
        if vjp is None or kind is None:
            continue
        if vjp.__name__ == "<lambda>":  # what a refusal or a traceback names
            vjp.__qualname__ = f"{name}.vjp_{i}"
        if kind == "linear":
            complex_grads.linear(vjp)
        elif kind == "holomorphic":
            complex_grads.holomorphic(vjp)
        else:
            complex_grads.complex_form(vjp, kind)


def _unary(name, doc, forward=None, vjp=None, *, to_float=False, math=None, ufunc=None, complex_grad=None, **facts):
    """An op of one tensor, entered in the op table (`facts`: table.OpRecord's fields).
    `forward` defaults to the one `math` gives, or to the array module's `ufunc` (a name).
    `to_float`: integer inputs are computed as float32 (as PyTorch does). `complex_grad`: how
    its VJP extends to complex values (`_complex_grads`; None: it does not)."""

    forward = forward or (_ufunc_forward(ufunc) if ufunc else forward_of(math, 1))
    vjps = None if vjp is None else (vjp,)
    _complex_grads(name, vjps, complex_grad)

    def op(x):
        trace = _recording.trace
        if trace is not None:  # accel.function: this call is one step of the trace
            return trace.call(front, (x,), {})
        if not isinstance(x, Tensor):
            x = tensor_arg(x)
        device = x._device
        if not device.contextual:  # the CPU: no device context to enter
            raw = x._data
            if to_float and raw.dtype.kind in "biu":
                raw = raw.astype(numpy.float32)
            out = forward(device._xp, raw)
            if out.__class__ is not _NDARRAY:
                out = as_array(out)
        else:
            with device.activate():  # CuPy computes on the current device
                raw = x._data
                if to_float and raw.dtype.kind in "biu":
                    raw = raw.astype(numpy.float32)
                out = forward(device._xp, raw)
        result = Tensor(out, device)
        if _recording.tapes:
            if vjps is not None and is_differentiable(out.dtype):
                _record(result, (x,), vjps, None)
            else:
                _watch_reads((x,))
        return result

    op.__name__ = op.__qualname__ = name
    op.__doc__, op.__module__ = doc, OPS_MODULE
    # accel.function's replay calls the forward on raw arrays (integers as float32, as above)
    kernel = (lambda xp, x: forward(xp, x.astype(numpy.float32) if x.dtype.kind in "biu" else x)) if to_float \
        else forward
    front = _front(op, forward, vjps, 1, to_float)
    facts.setdefault("dtype", "float" if to_float else "same")
    return register(front, name=name, family="elementwise", arity=1, math=math, kernel=kernel,
                    differentiable=vjps is not None, **facts)


def _binary(name, doc, forward=None, vjp_x=None, vjp_y=None, *, math=None, ufunc=None, complex_grad=None, **facts):
    """An op of two operands (tensors or constants) with NumPy broadcasting, entered in the op
    table as _unary's ops are."""

    forward = forward or (_ufunc_forward(ufunc) if ufunc else forward_of(math, 2))
    vjps = None if vjp_x is None and vjp_y is None else (vjp_x, vjp_y)
    _complex_grads(name, vjps, complex_grad)

    def op(x, y):
        trace = _recording.trace
        if trace is not None:  # accel.function: this call is one step of the trace
            return trace.call(front, (x, y), {})
        # Fast path: tensor with tensor, or tensor with a Python scalar (kept weakly typed).
        if isinstance(x, Tensor) and (isinstance(y, Tensor) or y.__class__ in _PY_SCALARS):
            device = x._device
            if y.__class__ in _PY_SCALARS:
                yd = y
            else:
                if y._device is not device and y._device != device:
                    same_device(name, (x, y))
                yd = y._data
            xd = x._data
        else:
            x, y, device = operands(name, x, y)
            xd, yd = data(x), data(y)
        if not device.contextual:  # the CPU: no device context to enter
            out = forward(device._xp, xd, yd)
            if out.__class__ is not _NDARRAY:
                out = as_array(out)
        else:
            with device.activate():  # CuPy computes on the current device
                out = forward(device._xp, xd, yd)
        result = Tensor(out, device)
        if _recording.tapes:
            if vjps is not None and is_differentiable(out.dtype):
                _record(result, (x, y), vjps, None)
            else:
                _watch_reads((x, y))
        return result

    op.__name__ = op.__qualname__ = name
    op.__doc__, op.__module__ = doc, OPS_MODULE
    front = _front(op, forward, vjps, 2)
    return register(front, name=name, family="elementwise", arity=2, math=math, kernel=forward,
                    differentiable=vjps is not None, **facts)
