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
from .table import derived, registry

__all__ = []  # internal: Tensor's protocol methods call these

def _tables():
    """(ufunc name -> op, NumPy function -> (op, keywords)), from each record's `numpy` (the NumPy
    name that runs the op) and `numpy_keywords` (what that NumPy function may pass on): ufuncs by
    name, other functions by the function itself (what __array_function__ receives)."""
    ufuncs, functions = {}, {}
    for record in registry.values():
        if record.numpy is None:
            continue
        target = getattr(numpy, record.numpy)
        if isinstance(target, numpy.ufunc):
            ufuncs[record.numpy] = record.fn
        else:
            functions[target] = (record.fn, record.numpy_keywords)
    return ufuncs, functions


_derived = derived(_tables)


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
    op = _derived()[0].get(ufunc.__name__)
    if op is not None and method == "__call__" and not kwargs:
        return op(*inputs)
    what = f"numpy.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
    return getattr(ufunc, method)(*_host(inputs, what), **_host(kwargs, what))


def function(func, args, kwargs):
    """numpy.<func>(...) with a tensor among the arguments."""
    entry = _derived()[1].get(func)
    if entry is not None and set(kwargs) <= entry[1] and not (func is numpy.where and len(args) != 3):
        return entry[0](*args, **kwargs)
    what = f"numpy.{getattr(func, '__name__', func)}"
    return func(*_host(args, what), **_host(kwargs, what))
