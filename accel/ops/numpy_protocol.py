"""NumPy functions on tensors (NumPy's __array_ufunc__ and __array_function__ protocols, the way
CuPy implements them): `numpy.exp(t)`, `numpy.sum(t, axis=0)` or `ndarray + t` run the accel op
and return a tensor, on the tensor's device, recorded on tapes like any op. A NumPy function accel
has no op for runs on the host arrays of CPU tensors (what NumPy did with them before) and, for a
tensor on a GPU, raises a TypeError saying what to call instead (NumPy cannot read GPU memory).
Inside accel.function such a function refuses a traced tensor (TypeError): it would compute on the
values of the call being traced, and the graph would replay its result as a constant.
"""

from __future__ import annotations

import numpy

from ..tensor import Tensor, check_not_traced

__all__ = []  # internal: Tensor's protocol methods call these

# NumPy ufunc name -> accel op name (the op takes the same positional operands).
_UFUNCS = {
    "add": "add", "subtract": "subtract", "multiply": "multiply", "divide": "divide", "power": "power",
    "floor_divide": "floor_divide", "remainder": "mod", "negative": "negative", "exp": "exp", "log": "log",
    "log1p": "log1p", "expm1": "expm1", "sqrt": "sqrt", "square": "square", "absolute": "abs", "sign": "sign",
    "sin": "sin", "cos": "cos", "tanh": "tanh", "maximum": "maximum", "minimum": "minimum", "matmul": "matmul",
    "equal": "equal", "not_equal": "not_equal", "less": "less", "less_equal": "less_equal", "greater": "greater",
    "greater_equal": "greater_equal", "logical_and": "logical_and", "logical_or": "logical_or",
    "logical_xor": "logical_xor", "logical_not": "logical_not", "isfinite": "isfinite", "isnan": "isnan",
    "bitwise_and": "bitwise_and", "bitwise_or": "bitwise_or", "bitwise_xor": "bitwise_xor", "invert": "invert",
    "left_shift": "left_shift", "right_shift": "right_shift",
}

# NumPy function -> (accel op, the keyword arguments it takes beyond the positional ones).
_FUNCTIONS = {
    numpy.sum: ("sum", {"axis", "keepdims"}), numpy.mean: ("mean", {"axis", "keepdims"}),
    numpy.max: ("max", {"axis", "keepdims"}), numpy.min: ("min", {"axis", "keepdims"}),
    numpy.prod: ("prod", {"axis", "keepdims"}), numpy.argmax: ("argmax", {"axis"}),
    numpy.argmin: ("argmin", {"axis"}), numpy.reshape: ("reshape", set()),
    numpy.transpose: ("transpose", set()), numpy.concatenate: ("concat", {"axis"}),
    numpy.stack: ("stack", {"axis"}), numpy.where: ("where", set()), numpy.clip: ("clip", set()),
    numpy.matmul: ("matmul", set()), numpy.expand_dims: ("expand_dims", {"axis"}),
    numpy.squeeze: ("squeeze", {"axis"}), numpy.broadcast_to: ("broadcast_to", set()),
    numpy.zeros_like: ("zeros_like", set()), numpy.ones_like: ("ones_like", set()),
}


def _host(value, what: str):
    """`value` with every tensor replaced by NumPy's read-only view of it (CPU tensors only)."""
    if isinstance(value, Tensor):
        check_not_traced(value, what)
        if not value.device.host_readable:
            raise TypeError(f"{what} has no accel op and NumPy cannot read a tensor on {value.device}: use the "
                            "accel op of the same name, or .numpy() to copy the tensor to the host")
        return numpy.asarray(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_host(v, what) for v in value)
    return value


def ufunc(ufunc, method: str, inputs, kwargs):
    """numpy.<ufunc>(...) with a tensor among the operands."""
    from .. import ops

    name = _UFUNCS.get(ufunc.__name__)
    if name is not None and method == "__call__" and not kwargs:
        return getattr(ops, name)(*inputs)
    what = f"numpy.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
    return getattr(ufunc, method)(*_host(inputs, what), **_host(kwargs, what))


def function(func, args, kwargs):
    """numpy.<func>(...) with a tensor among the arguments."""
    from .. import ops

    entry = _FUNCTIONS.get(func)
    if entry is not None and set(kwargs) <= entry[1] and not (func is numpy.where and len(args) != 3):
        return getattr(ops, entry[0])(*args, **kwargs)
    what = f"numpy.{getattr(func, '__name__', func)}"
    return func(*_host(args, what), **_host(kwargs, what))
