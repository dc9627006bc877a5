"""Ops that change how a value is held, not what it is: cast, identity, device transfer, and
stop_gradient."""

from __future__ import annotations

from .. import dtypes
from ..device import get_device
from ._core import IDENTITY_VJPS, make, on_device, snapshot, tensor_arg, tensor_like, traceable, unchanged

__all__ = ["cast", "identity", "to_device", "stop_gradient", "tensor_like"]


def _cast_vjp(g, ans, x):
    return cast(g, x.dtype)


@on_device
def cast(x, dtype):
    """x converted to `dtype`. Differentiable between floating dtypes; integers are constants."""
    x = tensor_arg(x)
    dt = dtypes.as_dtype(dtype)
    if x.dtype == dt:
        return unchanged(x)
    return make(x._data.astype(dt), x._device, (x,), (_cast_vjp,))


@on_device
def identity(x):
    """A copy of x's current value (a snapshot of a Variable); gradient passes unchanged."""
    x = tensor_arg(x)
    return make(x._data.copy(), x._device, (x,), IDENTITY_VJPS)


def _to_device_vjp(g, ans, x):
    return to_device(g, x._device)


@traceable
def to_device(x, device):
    """x on `device`: an explicit copy across devices, x itself when already there."""
    x = tensor_arg(x)
    target = get_device(device)
    if target == x._device:
        return unchanged(x)
    with target.activate():
        data = target.send(x._data)
    return make(data, target, (x,), (_to_device_vjp,))


@on_device
def stop_gradient(x):
    """x's value, with no gradient flowing back through it (a constant for every tape)."""
    x = tensor_arg(x)
    return make(snapshot(x), x._device)


# accel.function's replay on raw arrays (a cast to the same dtype is the operand itself: a view)
cast.kernel = lambda xp, x, dtype: x if x.dtype == dtype else x.astype(dtype)
cast.kernel_views = True
