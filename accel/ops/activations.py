"""Activations that take a parameter besides the tensor (tf.nn.gelu's `approximate`,
tf.nn.leaky_relu's `alpha`): ops of their own, each forward on raw arrays beside its VJP, which is
written in accel ops so every order of derivative is exact. The parameterless activations (elu,
selu, silu, softsign, log_sigmoid) are elementwise records (elementwise.py). Integer inputs are
computed as float32, as the elementwise activations do."""

from __future__ import annotations

import math
import numbers

import numpy

from ..dtypes import is_floating
from ._core import bool_arg, defop, make, tensor_arg
from .elementwise import _erf_forward, erf, exp, greater, square, tanh, where

_SQRT_HALF = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TANH_K = math.sqrt(2.0 / math.pi)  # the tanh form: 0.5 x (1 + tanh(k (x + c x^3)))
_TANH_C = 0.044715


def _float_input(features, op: str):
    x = tensor_arg(features, "features")
    if is_floating(x.dtype):
        return x
    if x.dtype.kind in "biu":
        return make(x._data.astype(numpy.float32), x._device)
    raise TypeError(f"{op}: features must be a real number tensor, got {x.dtype.name}")


def _float_array(x):
    return x.astype(numpy.float32) if x.dtype.kind in "biu" else x


def _gelu_array(xp, x, approximate=False):
    x = _float_array(x)
    if approximate:
        return x * (xp.tanh((x + x * x * x * _TANH_C) * _TANH_K) + 1) * 0.5
    return x * (_erf_forward(xp, x * _SQRT_HALF) + 1) * 0.5


def _gelu_vjp(g, ans, x, approximate):
    if approximate:
        # d/dx 0.5 x (1 + t), t = tanh(u), u = k (x + c x^3): 0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 c x^2)
        t = tanh((x + x * square(x) * _TANH_C) * _TANH_K)
        return g * ((t + 1) * 0.5 + x * (1 - square(t)) * (_TANH_K * 0.5) * (square(x) * (3 * _TANH_C) + 1))
    # d/dx x Phi(x) = Phi(x) + x phi(x)
    return g * ((erf(x * _SQRT_HALF) + 1) * 0.5 + x * exp(square(x) * -0.5) * _INV_SQRT_2PI)


@defop("activation", kernel=_gelu_array)
def gelu(features, approximate=False):
    """x * Phi(x), Phi the standard normal CDF (erf form); approximate=True: the tanh form
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (tf.nn.gelu)."""
    approximate = bool_arg(approximate, "gelu", "approximate")
    x = _float_input(features, "gelu")
    out = _gelu_array(x._device.xp, x._data, approximate)
    return make(out, x._device, (x,), (_gelu_vjp,), {"approximate": approximate})


def _leaky_relu_array(xp, x, alpha=0.2):
    x = _float_array(x)
    return xp.where(x > 0, x, x * alpha)


def _leaky_relu_vjp(g, ans, x, alpha):
    return where(greater(x, 0), g, g * alpha)


@defop("activation", kernel=_leaky_relu_array)
def leaky_relu(features, alpha=0.2):
    """x where x > 0, else alpha * x (tf.nn.leaky_relu; alpha a number, 0.2 by default)."""
    if isinstance(alpha, (bool, numpy.bool_)) or not isinstance(alpha, numbers.Real):
        raise TypeError(f"leaky_relu: alpha must be a real number, got {alpha!r}")
    x = _float_input(features, "leaky_relu")
    alpha = float(alpha)
    out = _leaky_relu_array(x._device.xp, x._data, alpha)
    return make(out, x._device, (x,), (_leaky_relu_vjp,), {"alpha": alpha})
