"""Constructors: zeros, ones, full, zeros_like, ones_like, arange, linspace, eye.

All take `dtype` (float32 unless said otherwise; None means that default) and `device` (the
default device when None).
"""

from __future__ import annotations

import numpy

from .. import dtypes
from ..device import get_device
from ..tensor import Tensor
from ._core import bool_arg, defop, make, shape_arg, tensor_arg


def _place(device):
    dev = get_device(device)
    return dev, dev.xp


@defop("creation", differentiable=False, dtype="given")
def full(shape, fill_value, dtype=None, device=None) -> Tensor:
    """A tensor of `shape` filled with `fill_value` (dtype defaults to that of the value:
    float32 for Python floats, int64 for ints, bool for bools)."""
    if fill_value is None or isinstance(fill_value, (str, bytes)):
        raise TypeError(f"full: fill_value must be a number, got {fill_value!r}")
    shape = shape_arg(shape, "full")
    if any(n < 0 for n in shape):
        raise ValueError(f"full: shape must not have negative dimensions, got {shape}")
    dt = dtypes.as_dtype(type(fill_value) if dtype is None and isinstance(fill_value, (bool, int, float, complex))
                         else dtype, default="float32")
    dev, xp = _place(device)
    with dev.activate():
        return make(xp.full(shape, fill_value, dtype=dt), dev)


@defop("creation", differentiable=False, dtype="given")
def zeros(shape, dtype=None, device=None) -> Tensor:
    return full(shape, 0, dtype=dtypes.as_dtype(dtype, default="float32"), device=device)


@defop("creation", differentiable=False, dtype="given")
def ones(shape, dtype=None, device=None) -> Tensor:
    return full(shape, 1, dtype=dtypes.as_dtype(dtype, default="float32"), device=device)


@defop("creation", differentiable=False, dtype="given")
def full_like(x, fill_value, dtype=None, device=None) -> Tensor:
    """A tensor shaped like x, on x's device and of x's dtype unless told otherwise."""
    x = tensor_arg(x)
    return full(x.shape, fill_value, dtype=x.dtype if dtype is None else dtype,
                device=x.device if device is None else device)


@defop("creation", differentiable=False, dtype="given", numpy="zeros_like")
def zeros_like(x, dtype=None, device=None) -> Tensor:
    return full_like(x, 0, dtype=dtype, device=device)


@defop("creation", differentiable=False, dtype="given", numpy="ones_like")
def ones_like(x, dtype=None, device=None) -> Tensor:
    return full_like(x, 1, dtype=dtype, device=device)


@defop("creation", differentiable=False, dtype="given")
def arange(start, stop=None, step=1, dtype=None, device=None) -> Tensor:
    """Evenly spaced values in [start, stop); int64 for integer arguments, else float32."""
    if stop is None:
        start, stop = 0, start
    if step == 0:
        raise ValueError("arange: step must not be 0")
    if dtype is None:
        integral = all(isinstance(v, int) for v in (start, stop, step))
        dtype = "int64" if integral else "float32"
    dev, xp = _place(device)
    with dev.activate():
        return make(xp.arange(start, stop, step, dtype=dtypes.as_dtype(dtype)), dev)


@defop("creation", differentiable=False, dtype="given")
def linspace(start, stop, num: int, dtype=None, device=None, *, endpoint=True) -> Tensor:
    """`num` evenly spaced values from start to stop (included unless endpoint=False)."""
    if num < 0:
        raise ValueError(f"linspace: num must be >= 0, got {num}")
    dev, xp = _place(device)
    with dev.activate():
        return make(xp.linspace(start, stop, num, dtype=dtypes.as_dtype(dtype, default="float32"),
                                endpoint=bool_arg(endpoint, "linspace", "endpoint")), dev)


@defop("creation", differentiable=False, dtype="given")
def eye(n: int, m: int | None = None, dtype=None, device=None, *, k: int = 0) -> Tensor:
    """An n x m matrix with ones on the diagonal `k` (0 the main one, > 0 above, < 0 below)."""
    if n < 0 or (m is not None and m < 0):
        raise ValueError(f"eye: sizes must be >= 0, got n={n}, m={m}")
    if isinstance(k, bool) or not isinstance(k, (int, numpy.integer)):
        raise TypeError(f"eye: k must be an int, got {k!r}")
    dev, xp = _place(device)
    with dev.activate():
        return make(xp.eye(n, m, k=int(k), dtype=dtypes.as_dtype(dtype, default="float32")), dev)


@defop("creation", differentiable=False, dtype="given")
def empty(shape, dtype=None, device=None) -> Tensor:
    """A new tensor of `shape` (the Array API's empty: accel fills it with zeros, so no value is
    left over from freed memory)."""
    return zeros(shape, dtype=dtype, device=device)


@defop("creation", differentiable=False, dtype="given", numpy="empty_like")
def empty_like(x, dtype=None, device=None) -> Tensor:
    """A new tensor shaped like x (zeros, as `empty`)."""
    return zeros_like(x, dtype=dtype, device=device)


@defop("creation", differentiable=False, dtype="given")
def asarray(obj, dtype=None, device=None, copy=None) -> Tensor:
    """`obj` as a tensor (the standard's asarray): a tensor of the right dtype and device is
    returned as it is unless copy=True; copy=False refuses to convert or move (ValueError);
    otherwise as `accel.tensor` (Python floats become float32)."""
    from ..tensor import convert
    from .conversion import identity

    if isinstance(obj, Tensor):
        same = (dtype is None or obj.dtype == dtypes.as_dtype(dtype)) and (device is None or
                                                                          get_device(device) == obj.device)
        if same:
            return identity(obj) if copy else obj
        if copy is False:
            raise ValueError("asarray: copy=False but the tensor would have to be converted or moved")
        return convert(obj, dtype=dtype, device=device)
    if copy is False:
        raise ValueError("asarray: copy=False but the object is not an accel tensor (it would be copied)")
    return convert(obj, dtype=dtype, device=device)
