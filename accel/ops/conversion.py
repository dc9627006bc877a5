"""Ops that change how a value is held, not what it is: cast, identity, device transfer, and
stop_gradient."""

from __future__ import annotations

from .. import dtypes
from ..autodiff.complex_grads import complex_form, linear
from ..device import get_device
from ._core import IDENTITY_VJPS, defop, make, snapshot, tensor_arg, tensor_like, unchanged
from .table import register


def _cast_vjp(g, ans, x):
    return cast(g, x.dtype)


# real to complex: TensorFlow's Cast gradient, the real part of the gradient (complex_grads takes it
# for a real input); between complex dtypes, the gradient cast back
complex_form(_cast_vjp, lambda g, ans, x: g if not dtypes.is_complex(x.dtype) else cast(g, x.dtype))


def _cast_kernel(xp, x, dtype):
    # accel.function's replay on raw arrays (a cast to the same dtype is the operand itself: a view)
    return x if x.dtype == dtype else x.astype(dtype)


@defop("conversion", dtype="given", kernel=_cast_kernel, kernel_views=True)
def cast(x, dtype):
    """x converted to `dtype`. Differentiable between floating and complex dtypes (a real input's
    gradient is the real part); integers are constants. Complex to real raises (use real / imag)."""
    x = tensor_arg(x)
    dt = dtypes.as_dtype(dtype)
    if x.dtype == dt:
        return unchanged(x)
    if dtypes.is_complex(x.dtype) and not dtypes.is_complex(dt):  # NumPy drops the imaginary part, with a warning
        raise TypeError(f"cast: a {x.dtype.name} tensor does not convert to {dt.name} (the imaginary part would be "
                        "lost, as the Array API forbids); take real(x), imag(x) or abs(x)")
    return make(x._data.astype(dt), x._device, (x,), (_cast_vjp,))


@defop("conversion")
def identity(x):
    """A copy of x's current value (a snapshot of a Variable); gradient passes unchanged."""
    x = tensor_arg(x)
    return make(x._data.copy(), x._device, (x,), IDENTITY_VJPS)


@linear
def _to_device_vjp(g, ans, x):
    return to_device(g, x._device)


@defop("conversion", methods=("to", "to_device"))
def to_device(x, device, /, *, stream=None):
    """x on `device`: an explicit copy across devices, x itself when already there. `stream` (the
    Array API's) must be None: accel orders work on each device's current stream."""
    if stream is not None:
        raise ValueError(f"to_device: stream must be None (accel uses the device's current stream), got {stream!r}")
    x = tensor_arg(x)
    target = get_device(device)
    if target == x._device:
        return unchanged(x)
    with target.activate():
        data = target.send(x._data)
    return make(data, target, (x,), (_to_device_vjp,))


@defop("conversion", differentiable=False)
def stop_gradient(x):
    """x's value, with no gradient flowing back through it (a constant for every tape)."""
    x = tensor_arg(x)
    return make(snapshot(x), x._device)


# a constant of `like`'s dtype on its device (defined in _core, where ops use it): an op too
register(tensor_like, family="conversion", differentiable=False, dtype="given")


@defop("conversion", kind="composite", dtype="given", methods=("astype",))
def astype(x, dtype, copy=True, device=None):
    """x as `dtype` (the Array API's astype): a new tensor unless copy=False and x already has the
    dtype (and device); `device` moves it too. Differentiable between floating dtypes, as cast.
    `t.astype(dtype, copy=...)` is this (NumPy's method takes the same keywords)."""
    x = tensor_arg(x)
    out = x if device is None else to_device(x, device)
    out = cast(out, dtype)
    return identity(out) if copy and out is x else out
