"""pad (tf.pad): CONSTANT, REFLECT and SYMMETRIC padding, and its adjoint.

Padding is linear in the tensor (plus the constant): its VJP folds the gradient back, the
interior as it is and each mirrored edge added onto the elements it copied (`_pad_grad`); the
fold is linear too, and its own VJP is the padding again (with zeros). So every order of
derivative is exact, and each direction is one op on raw arrays.

For one axis of length n padded by (before, after): REFLECT mirrors without the edge element
(before, after <= n - 1), SYMMETRIC with it (<= n); padded position before - 1 - k copies
element k + 1 (REFLECT) or k (SYMMETRIC), position before + n + k copies n - 2 - k or n - 1 - k.
"""

from __future__ import annotations

import numpy

from ..autodiff.complex_grads import linear
from ._core import defop, make, tensor_arg

MODES = ("CONSTANT", "REFLECT", "SYMMETRIC")


def _paddings_arg(paddings, ndim: int):
    raw = paddings._data if hasattr(paddings, "_data") else paddings
    try:
        pairs = numpy.asarray(raw.get() if hasattr(raw, "get") else raw)
    except (TypeError, ValueError):
        raise TypeError(f"pad: paddings must be [[before, after], ...] integers, got {paddings!r}") from None
    if pairs.size == 0:  # a scalar's paddings: [] (NumPy makes it float64 of shape (0,))
        pairs = pairs.astype(numpy.int64).reshape(-1, 2)
    elif pairs.dtype.kind not in "iu":
        raise TypeError(f"pad: paddings must be integers, got {pairs.dtype.name}")
    if pairs.shape != (ndim, 2):
        raise ValueError(f"pad: paddings must have shape ({ndim}, 2) for a tensor of rank {ndim}, got "
                         f"{pairs.shape}")
    if (pairs < 0).any():
        raise ValueError(f"pad: paddings must be >= 0, got {pairs.tolist()}")
    return tuple((int(b), int(a)) for b, a in pairs)


def _mode_arg(mode) -> str:
    if not isinstance(mode, str) or mode.upper() not in MODES:
        raise ValueError(f"pad: mode must be one of {', '.join(MODES)} (any case), got {mode!r}")
    return mode.upper()


def _pad_array(xp, x, paddings, mode="CONSTANT", constant_values=0):
    """tf.pad on a raw array (paddings already checked)."""
    if not paddings:  # a scalar: nothing to pad (NumPy refuses an empty pad_width)
        return x.copy()
    if mode == "CONSTANT":
        return xp.pad(x, paddings, mode="constant", constant_values=constant_values)
    return xp.pad(x, paddings, mode="reflect" if mode == "REFLECT" else "symmetric")


def _pad_kernel(xp, x, paddings, mode="CONSTANT", constant_values=0):
    """pad on raw arrays as a call passed its arguments (accel.function's replay)."""
    return _pad_array(xp, x, _paddings_arg(paddings, x.ndim), _mode_arg(mode), constant_values)


def _pad_grad_array(xp, g, paddings, mode):
    """The adjoint of padding: per axis, the interior plus each mirrored edge added back."""
    edge = 1 if mode == "REFLECT" else 0
    for axis, (before, after) in enumerate(paddings):
        if before == 0 and after == 0:
            continue
        lead = (slice(None),) * axis
        n = g.shape[axis] - before - after
        out = g[lead + (slice(before, before + n),)].copy()
        if mode != "CONSTANT":
            if before:  # padded 0 .. before-1 copy elements before-1+edge .. edge, reversed
                out[lead + (slice(edge, edge + before),)] += xp.flip(g[lead + (slice(0, before),)], axis)
            if after:  # padded before+n .. copy elements n-1-edge down to n-edge-after
                out[lead + (slice(n - edge - after, n - edge),)] += xp.flip(g[lead + (slice(before + n, None),)], axis)
        g = out
    return g


@linear
def _pad_vjp(g, ans, x, paddings, mode, constant_values):
    return _pad_grad(g, paddings, mode)


@defop("shape", kernel=_pad_kernel)
def pad(tensor, paddings, mode="CONSTANT", constant_values=0):
    """tensor padded by paddings[i] = [before, after] along each axis i (tf.pad): with
    constant_values (CONSTANT), or mirrored without the edge element (REFLECT, pads < size) or
    with it (SYMMETRIC, pads <= size). Mode names in any case."""
    x = tensor_arg(tensor, "tensor")
    paddings = _paddings_arg(paddings, x.ndim)
    mode = _mode_arg(mode)
    for axis, (before, after) in enumerate(paddings):
        limit = x.shape[axis] - (1 if mode == "REFLECT" else 0)
        if mode != "CONSTANT" and max(before, after) > limit:
            raise ValueError(f"pad: {mode} padding of axis {axis} (size {x.shape[axis]}) must be at most {limit}, "
                             f"got {[before, after]}")
    if hasattr(constant_values, "_data"):
        constant_values = constant_values._data.item() if constant_values._data.size == 1 else constant_values
    if not isinstance(constant_values, (int, float, bool, numpy.number)):
        raise TypeError(f"pad: constant_values must be a scalar, got {constant_values!r}")
    out = _pad_array(x._device.xp, x._data, paddings, mode, constant_values)
    return make(out, x._device, (x,), (_pad_vjp,),
                {"paddings": paddings, "mode": mode, "constant_values": constant_values})


@linear
def _pad_grad_vjp(gg, ans, g, paddings, mode):
    return pad(gg, paddings, mode, 0)


@defop("shape", namespace="internal", kernel=_pad_grad_array)
def _pad_grad(g, paddings, mode):
    """The VJP of pad: the gradient of the padded tensor folded back onto the tensor."""
    out = _pad_grad_array(g._device.xp, g._data, paddings, mode)
    return make(out, g._device, (g,), (_pad_grad_vjp,), {"paddings": paddings, "mode": mode})
