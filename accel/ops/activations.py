"""The activations of tf.nn beyond relu, sigmoid and tanh (elementwise.py). Those that take a
parameter besides the tensor (gelu's `approximate`, leaky_relu's `alpha`) are ops of their own,
each forward on raw arrays beside its VJP, which is written in accel ops so every order of
derivative is exact; the parameterless ones (elu, selu, silu, softsign, log_sigmoid) are
elementwise records (elementwise_op.py's `_unary`: fused by accel.function). Integer inputs are
computed as float32."""

from __future__ import annotations

import math
import numbers

import numpy

from ..dtypes import is_floating
from ._core import bool_arg, defop, make, tensor_arg
from .. import _cpu
from .elementwise import (_erf_forward, _sigmoid_forward, abs, exp, greater, less, negative, require_real,  # noqa: A004
                          sigmoid, square, tanh, where)
from .elementwise_op import _unary

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


_COMPILED = (numpy.dtype(numpy.float32), numpy.dtype(numpy.float64))  # accel._cpu's one-pass loops


def _gelu_array(xp, x, approximate=False):
    x = _float_array(x)
    if approximate:
        return x * (xp.tanh((x + x * x * x * _TANH_C) * _TANH_K) + 1) * 0.5
    if xp is numpy and x.dtype in _COMPILED:  # the same form in one pass (csrc/cpu/activations.cpp)
        x = numpy.ascontiguousarray(x)
        out = numpy.empty_like(x)
        _cpu.gelu(x, out)
        return out
    return x * (_erf_forward(xp, x * _SQRT_HALF) + 1) * 0.5


def _gelu_vjp(g, ans, x, approximate):
    if approximate:
        # d/dx 0.5 x (1 + t), t = tanh(u), u = k (x + c x^3): 0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 c x^2)
        t = tanh((x + x * square(x) * _TANH_C) * _TANH_K)
        return g * ((t + 1) * 0.5 + x * (1 - square(t)) * (_TANH_K * 0.5) * (square(x) * (3 * _TANH_C) + 1))
    return gelu_grad(g, x)


def _gelu_grad_array(xp, g, x):
    """g * (Phi(x) + x phi(x)), d/dx x Phi(x) times g: one pass on the CPU."""
    if xp is numpy and x.dtype in _COMPILED and g.dtype == x.dtype and g.shape == x.shape:
        out = numpy.empty_like(x, order="C")
        _cpu.gelu_grad(numpy.ascontiguousarray(g), numpy.ascontiguousarray(x), out)
        return out
    return g * ((_erf_forward(xp, x * _SQRT_HALF) + 1) * 0.5 + x * xp.exp(x * x * -0.5) * _INV_SQRT_2PI)


def _gelu_grad_vjp_g(gg, ans, g, x):
    return gelu_grad(gg, x)


def _gelu_grad_vjp_x(gg, ans, g, x):
    # d/dx (Phi(x) + x phi(x)) = 2 phi(x) + x phi'(x) = phi(x) (2 - x^2)
    return gg * g * exp(square(x) * -0.5) * (_INV_SQRT_2PI * (2 - square(x)))


@defop("activation", namespace="internal", kernel=_gelu_grad_array)
def gelu_grad(g, x):
    """The exact GELU's VJP: g * (Phi(x) + x phi(x)) (Phi, phi: the standard normal CDF, density)."""
    g, x = tensor_arg(g, "g"), tensor_arg(x)
    return make(_gelu_grad_array(x._device.xp, g._data, x._data), x._device, (g, x),
                (_gelu_grad_vjp_g, _gelu_grad_vjp_x))


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


# -- the parameterless activations (tf.nn; docs/semantics.md section 16): elementwise records ------
# Each forward computes no branch that can overflow (NumPy would warn; numexpr and CUDA C do not
# warn, so the math forms may); each VJP is written in accel ops, so every order is exact.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


# TensorFlow's kernels select on x < 0: elu(-0.0) is -0.0 and a NaN passes through as x.
def _elu_forward(xp, x):
    x = require_real(x, "elu")
    return xp.where(x < 0, xp.expm1(xp.minimum(x, 0)), x)


def _selu_forward(xp, x):
    x = require_real(x, "selu")
    return xp.where(x < 0, xp.expm1(xp.minimum(x, 0)) * (_SELU_SCALE * _SELU_ALPHA), x * _SELU_SCALE)


def _log_sigmoid_forward(xp, x):
    # log(sigmoid(x)) = min(x, 0) - log1p(e^-|x|): exp never overflows, nothing cancels
    x = require_real(x, "log_sigmoid")
    return xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))


# TensorFlow's EluGrad / SeluGrad: where x < 0 the derivative is y + 1 (y + scale * alpha)
elu = _unary("elu", "e ** x - 1 where x < 0, else x (tf.nn.elu, alpha 1).", _elu_forward,
             lambda g, ans, x: where(less(x, 0), g * (ans + 1), g), to_float=True,
             math="where({0} < 0, expm1(where({0} < 0, {0}, 0)), {0})")
selu = _unary("selu", "scale * alpha * (e ** x - 1) where x < 0, else scale * x (Klambauer et al.'s constants).",
              _selu_forward,
              lambda g, ans, x: where(less(x, 0), g * (ans + _SELU_SCALE * _SELU_ALPHA), g * _SELU_SCALE),
              to_float=True)
# silu = x * sigmoid(x); d/dx = s * (1 + x * (1 - s))
silu = _unary("silu", "x * sigmoid(x) (swish).", lambda xp, x: x * _sigmoid_forward(xp, x),
              lambda g, ans, x: g * _silu_slope(x), to_float=True,
              math="{0} * where({0} >= 0, 1 / (1 + exp(-{0})), exp({0}) / (1 + exp({0})))")
softsign = _unary("softsign", "x / (|x| + 1).", None,
                  lambda g, ans, x: g / square(abs(x) + 1), to_float=True,
                  math="{0} / (abs({0}) + 1)")
# d/dx log(sigmoid(x)) = 1 - sigmoid(x) = sigmoid(-x)
log_sigmoid = _unary("log_sigmoid", "log(sigmoid(x)) = -softplus(-x), computed without overflow.",
                     _log_sigmoid_forward, lambda g, ans, x: g * sigmoid(negative(x)), to_float=True,
                     math="where({0} > 0, 0, {0}) - log1p(exp(-abs({0})))")


def _silu_slope(x):
    s = sigmoid(x)
    return s * (x * (1 - s) + 1)
