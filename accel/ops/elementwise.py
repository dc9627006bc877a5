"""Elementwise ops: a flat table of forward computations with their VJPs side by side.

Each entry gives the forward on raw arrays (`xp` is numpy or cupy) and one VJP per input,
``vjp_i(g, ans, *inputs) -> gradient for input i``. The graph walk calls only the VJPs of inputs
that need a gradient and reduces broadcast gradients itself.
"""

from __future__ import annotations

import os

import numpy

from ..dtypes import is_floating
from .. import _autodiff, recording
from ..tensor import Tensor
from . import cuda_math
from ._core import as_array, data, make, on_device, operands, same_device, tensor_arg

__all__ = [
    "add", "subtract", "multiply", "divide", "floor_divide", "mod", "negative", "power", "pow",
    "exp", "log", "log1p", "expm1", "sqrt", "rsqrt", "square", "abs", "sign", "sin", "cos",
    "tanh", "sigmoid", "relu", "softplus", "erf", "maximum", "minimum", "where", "clip",
    "equal", "not_equal", "less", "less_equal", "greater", "greater_equal",
    "logical_and", "logical_or", "logical_xor", "logical_not", "isfinite", "isnan",
    "bitwise_and", "bitwise_or", "bitwise_xor", "invert", "left_shift", "right_shift",
]


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
    """The op as users call it: `op` itself, or its compiled front (which has op's name, doc and
    kernel, binds as a method, and pickles by name)."""
    if not _COMPILED:
        return op
    front = _autodiff.ElementwiseOp(op, forward, vjps, arity, to_float)
    front.__name__ = front.__qualname__ = op.__name__
    front.__doc__, front.__module__, front.__wrapped__ = op.__doc__, __name__, op
    front.kernel = op.kernel
    return front


def _unary(name, doc, forward, vjp=None, to_float=False):
    """An op of one tensor. `to_float`: integer inputs are computed as float32 (as PyTorch does)."""

    vjps = None if vjp is None else (vjp,)

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
            if vjps is not None and is_floating(out.dtype):
                _record(result, (x,), vjps, None)
            else:
                _watch_reads((x,))
        return result

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    # accel.function's replay calls the forward on raw arrays (integers as float32, as above)
    op.kernel = (lambda xp, x: forward(xp, x.astype(numpy.float32) if x.dtype.kind in "biu" else x)) if to_float \
        else forward
    front = _front(op, forward, vjps, 1, to_float)
    return front


def _binary(name, doc, forward, vjp_x=None, vjp_y=None):
    """An op of two operands (tensors or constants) with NumPy broadcasting."""

    vjps = None if vjp_x is None and vjp_y is None else (vjp_x, vjp_y)

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
            if vjps is not None and is_floating(out.dtype):
                _record(result, (x, y), vjps, None)
            else:
                _watch_reads((x, y))
        return result

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    op.kernel = forward  # accel.function's replay calls the forward on raw arrays
    front = _front(op, forward, vjps, 2)
    return front


# -- arithmetic -------------------------------------------------------------------------------
add = _binary("add", "x + y.", lambda xp, x, y: x + y,
              lambda g, ans, x, y: g,
              lambda g, ans, x, y: g)
subtract = _binary("subtract", "x - y.", lambda xp, x, y: x - y,
                   lambda g, ans, x, y: g,
                   lambda g, ans, x, y: -g)
multiply = _binary("multiply", "x * y.", lambda xp, x, y: x * y,
                   lambda g, ans, x, y: g * y,
                   lambda g, ans, x, y: g * x)
divide = _binary("divide", "x / y (true division).", lambda xp, x, y: xp.true_divide(x, y),
                 lambda g, ans, x, y: g / y,
                 lambda g, ans, x, y: -g * ans / y)
floor_divide = _binary("floor_divide", "floor(x / y); not differentiable.",
                       lambda xp, x, y: xp.floor_divide(x, y))
mod = _binary("mod", "x - y * floor(x / y) (the sign of y, as Python's %).",
              lambda xp, x, y: xp.mod(x, y),
              lambda g, ans, x, y: g,
              lambda g, ans, x, y: -g * floor_divide(x, y))
negative = _unary("negative", "-x.", lambda xp, x: -x,
                  lambda g, ans, x: -g)


def _power_vjp_y(g, ans, x, y):
    # d(x**y)/dy = x**y * log(x), taken as 0 where x <= 0 (TensorFlow's convention).
    positive = greater(x, 0)
    return g * where(positive, ans * log(where(positive, x, 1)), 0)


power = _binary("power", "x ** y.", lambda xp, x, y: xp.power(x, y),
                lambda g, ans, x, y: g * y * power(x, y - 1),
                _power_vjp_y)
pow = power  # noqa: A001  (TensorFlow's name: tf.pow)

# -- transcendental ----------------------------------------------------------------------------
exp = _unary("exp", "e ** x.", lambda xp, x: xp.exp(x),
             lambda g, ans, x: g * ans, to_float=True)
log = _unary("log", "Natural logarithm.", lambda xp, x: xp.log(x),
             lambda g, ans, x: g / x, to_float=True)
log1p = _unary("log1p", "log(1 + x), accurate for small x.", lambda xp, x: xp.log1p(x),
               lambda g, ans, x: g / (x + 1), to_float=True)
expm1 = _unary("expm1", "e ** x - 1, accurate for small x.", lambda xp, x: xp.expm1(x),
               lambda g, ans, x: g * (ans + 1), to_float=True)
sqrt = _unary("sqrt", "Square root.", lambda xp, x: xp.sqrt(x),
              lambda g, ans, x: g * 0.5 / ans, to_float=True)
rsqrt = _unary("rsqrt", "1 / sqrt(x).", lambda xp, x: 1 / xp.sqrt(x),
               lambda g, ans, x: g * -0.5 * ans / x, to_float=True)
square = _unary("square", "x * x.", lambda xp, x: xp.square(x),
                lambda g, ans, x: g * 2 * x)
abs = _unary("abs", "|x|; its gradient at 0 is 0.", lambda xp, x: xp.abs(x),  # noqa: A001
             lambda g, ans, x: g * sign(x))
sign = _unary("sign", "-1, 0 or 1; its gradient is 0.", lambda xp, x: xp.sign(x),
              lambda g, ans, x: g * 0)
# sin's and cos's VJPs are one fused op each (one op in backward instead of two), with their own
# VJPs so every order is exact.
sin_grad = _binary("sin_grad", "g * cos(x): the VJP of sin.", lambda xp, g, x: g * xp.cos(x),
                   lambda gg, ans, g, x: sin_grad(gg, x),
                   lambda gg, ans, g, x: cos_grad(gg * g, x))
cos_grad = _binary("cos_grad", "-g * sin(x): the VJP of cos.", lambda xp, g, x: -g * xp.sin(x),
                   lambda gg, ans, g, x: cos_grad(gg, x),
                   lambda gg, ans, g, x: -sin_grad(gg * g, x))
sin = _unary("sin", "Sine.", lambda xp, x: xp.sin(x),
             lambda g, ans, x: sin_grad(g, x), to_float=True)
cos = _unary("cos", "Cosine.", lambda xp, x: xp.cos(x),
             lambda g, ans, x: cos_grad(g, x), to_float=True)
# The VJPs of tanh and sigmoid are single fused ops of (g, y) with their own VJPs, as
# TensorFlow's TanhGrad/SigmoidGrad: one op in backward instead of three, and exact at any order.
tanh_grad = _binary("tanh_grad", "g * (1 - y*y): the VJP of tanh in terms of its output y.",
                    lambda xp, g, y: g * (1 - y * y),
                    lambda gg, ans, g, y: tanh_grad(gg, y),
                    lambda gg, ans, g, y: gg * g * -2 * y)
sigmoid_grad = _binary("sigmoid_grad", "g * y * (1 - y): the VJP of sigmoid in terms of its output y.",
                       lambda xp, g, y: g * y * (1 - y),
                       lambda gg, ans, g, y: sigmoid_grad(gg, y),
                       lambda gg, ans, g, y: gg * g * (1 - 2 * y))
tanh = _unary("tanh", "Hyperbolic tangent.", lambda xp, x: xp.tanh(x),
              lambda g, ans, x: tanh_grad(g, ans), to_float=True)


def _sigmoid_forward(xp, x):
    # 1/(1+e^-x) for x >= 0 and e^x/(1+e^x) below: exp never overflows.
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


sigmoid = _unary("sigmoid", "1 / (1 + e ** -x), computed without overflow.", _sigmoid_forward,
                 lambda g, ans, x: sigmoid_grad(g, ans), to_float=True)
# TensorFlow's ReluGrad: g * (x > 0), a multiply (branch-free; NumPy's where with a mask of
# random signs costs ~10x more). Its VJP wrt x is zero almost everywhere.
relu_grad = _binary("relu_grad", "g * (x > 0): the VJP of relu.", lambda xp, g, x: g * (x > 0),
                    lambda gg, ans, g, x: relu_grad(gg, x))
relu = _unary("relu", "max(x, 0); its gradient at 0 is 0.", lambda xp, x: xp.maximum(x, 0),
              lambda g, ans, x: relu_grad(g, x))
softplus = _unary("softplus", "log(1 + e ** x), computed without overflow.",
                  lambda xp, x: xp.logaddexp(0, x),
                  lambda g, ans, x: g * sigmoid(x), to_float=True)


def _erf_forward(xp, x):
    """erf on the CPU by accel._cpu (std::erf; NumPy has none), on a GPU by a CUDA kernel calling
    erff / erf (cuda_math.py); float16 is computed in float32 and rounded once."""
    if xp is numpy:
        from .. import _cpu

        x = numpy.ascontiguousarray(x)
        work = x.astype(numpy.float32) if x.dtype == numpy.float16 else x
        out = numpy.empty_like(work)
        _cpu.erf(work, out)
        return out.astype(x.dtype, copy=False)
    return cuda_math.apply(xp, "erf", x)


_TWO_OVER_SQRT_PI = 1.1283791670955126  # 2 / sqrt(pi)
# d erf(x) / dx = 2 / sqrt(pi) * exp(-x^2)
erf = _unary("erf", "The error function 2/sqrt(pi) * integral_0^x exp(-t^2) dt.", _erf_forward,
             lambda g, ans, x: g * (exp(negative(square(x))) * _TWO_OVER_SQRT_PI), to_float=True)

# -- selection ----------------------------------------------------------------------------------
_SAME_WIDTH_INT = {2: numpy.int16, 4: numpy.int32, 8: numpy.int64}


def _select_forward(keep_true: bool):
    """where(mask, g, 0) (keep_true) or where(mask, 0, g), exactly (an inf or NaN gradient that is
    not selected gives 0, as TensorFlow's select). On the CPU without branches: the gradient's bits
    AND a mask of all ones or zeros (NumPy's where branches per element: ~10x slower on the masks
    of random signs that selection VJPs see)."""

    def forward(xp, mask, g):
        if xp is not numpy:
            return xp.where(mask, g, 0) if keep_true else xp.where(mask, 0, g)
        g = numpy.asarray(g)
        ints = _SAME_WIDTH_INT[g.dtype.itemsize]
        bits = numpy.asarray(mask).astype(ints)
        if keep_true:
            numpy.negative(bits, out=bits)  # True -> all ones, False -> 0
        else:
            bits -= 1  # True -> 0, False -> all ones
        return numpy.bitwise_and(g.view(ints), bits).view(g.dtype)

    return forward


select_grad = _binary("select_grad", "where(mask, g, 0): the VJP of selections.", _select_forward(True), None,
                      lambda gg, ans, mask, g: select_grad(mask, gg))
deselect_grad = _binary("deselect_grad", "where(mask, 0, g): the VJP of selections.", _select_forward(False), None,
                        lambda gg, ans, mask, g: deselect_grad(mask, gg))

# Ties send the whole gradient to x (TensorFlow's convention).
maximum = _binary("maximum", "Elementwise max(x, y).", lambda xp, x, y: xp.maximum(x, y),
                  lambda g, ans, x, y: select_grad(greater_equal(x, y), g),
                  lambda g, ans, x, y: deselect_grad(greater_equal(x, y), g))
minimum = _binary("minimum", "Elementwise min(x, y).", lambda xp, x, y: xp.minimum(x, y),
                  lambda g, ans, x, y: select_grad(less_equal(x, y), g),
                  lambda g, ans, x, y: deselect_grad(less_equal(x, y), g))

_WHERE_VJPS = (None,
               lambda g, ans, c, x, y: select_grad(c, g),
               lambda g, ans, c, x, y: deselect_grad(c, g))


@on_device
def where(condition, x, y):
    """x where `condition` is true, else y (broadcast together)."""
    condition = tensor_arg(condition, "condition")
    if condition.dtype != numpy.bool_:
        raise TypeError(f"where: condition must be bool, got {condition.dtype.name}")
    x, y, device = operands("where", x, y)
    same_device("where", [condition] + [t for t in (x, y) if isinstance(t, Tensor)])
    out = device.xp.where(condition._data, data(x), data(y))
    return make(out, device, (condition, x, y), _WHERE_VJPS)


_CLIP_VJPS = (lambda g, ans, x, lo, hi: select_grad(logical_and(x >= lo, x <= hi), g),
              lambda g, ans, x, lo, hi: select_grad(less(x, lo), g),
              lambda g, ans, x, lo, hi: select_grad(greater(x, hi), g))


@on_device
def clip(x, clip_value_min, clip_value_max):
    """min(max(x, lo), hi). Gradient flows to x inside [lo, hi] and to the bound that is hit."""
    x = tensor_arg(x)
    _, lo, _ = operands("clip", x, clip_value_min)  # checks devices, places constants
    _, hi, _ = operands("clip", x, clip_value_max)
    out = x._device.xp.clip(x._data, data(lo), data(hi))
    return make(out, x._device, (x, lo, hi), _CLIP_VJPS)


# -- comparisons and logic (not differentiable: bool results) -----------------------------------
equal = _binary("equal", "x == y.", lambda xp, x, y: xp.equal(x, y))
not_equal = _binary("not_equal", "x != y.", lambda xp, x, y: xp.not_equal(x, y))
less = _binary("less", "x < y.", lambda xp, x, y: xp.less(x, y))
less_equal = _binary("less_equal", "x <= y.", lambda xp, x, y: xp.less_equal(x, y))
greater = _binary("greater", "x > y.", lambda xp, x, y: xp.greater(x, y))
greater_equal = _binary("greater_equal", "x >= y.", lambda xp, x, y: xp.greater_equal(x, y))
logical_and = _binary("logical_and", "x and y.", lambda xp, x, y: xp.logical_and(x, y))
logical_or = _binary("logical_or", "x or y.", lambda xp, x, y: xp.logical_or(x, y))
logical_xor = _binary("logical_xor", "x xor y.", lambda xp, x, y: xp.logical_xor(x, y))
logical_not = _unary("logical_not", "not x.", lambda xp, x: xp.logical_not(x))


# -- bitwise (integers and booleans; not differentiable) ------------------------------------------
# On integers these are TensorFlow's tf.bitwise ops (NumPy's and PyTorch's &, |, ^, ~, <<, >>); on
# booleans &, |, ^ and ~ are logical, as in all three. Floating operands raise TypeError: there is
# nothing bitwise about a float's value.
def _integer_operands(name, *operands):
    for x in operands:
        if hasattr(x, "dtype"):
            kind = x.dtype.kind
        else:  # a Python number
            kind = "b" if isinstance(x, bool) else "i" if isinstance(x, int) else "f"
        if kind not in "biu":
            what = x.dtype.name if hasattr(x, "dtype") else type(x).__name__
            raise TypeError(f"{name}: operands must be integers or booleans, got {what}")


def _bitwise_binary(name, ufunc, doc):
    def forward(xp, x, y):
        _integer_operands(name, x, y)
        return getattr(xp, ufunc)(x, y)
    return _binary(name, doc, forward)


def _invert_forward(xp, x):
    _integer_operands("invert", x)
    return xp.invert(x)


bitwise_and = _bitwise_binary("bitwise_and", "bitwise_and", "x & y: bitwise on integers, logical on booleans.")
bitwise_or = _bitwise_binary("bitwise_or", "bitwise_or", "x | y: bitwise on integers, logical on booleans.")
bitwise_xor = _bitwise_binary("bitwise_xor", "bitwise_xor", "x ^ y: bitwise on integers, logical on booleans.")
left_shift = _bitwise_binary("left_shift", "left_shift", "x << y on integers (bits shifted out are lost).")
right_shift = _bitwise_binary("right_shift", "right_shift",
                              "x >> y on integers (arithmetic for signed: the sign bit is kept).")
invert = _unary("invert", "~x: bitwise NOT on integers, logical NOT on booleans.", _invert_forward)
isfinite = _unary("isfinite", "Whether each element is finite.", lambda xp, x: xp.isfinite(x))
isnan = _unary("isnan", "Whether each element is NaN.", lambda xp, x: xp.isnan(x))


# -- numexpr forms of the forwards, for accel.function's fusion (accel/function/fusion.py) --------
# {i} is operand i. Only integer literals appear: a float literal is double precision in numexpr
# and would promote float32 operands. Forms equal the forwards above up to rounding.
FUSED = {
    add: "{0} + {1}", subtract: "{0} - {1}", multiply: "{0} * {1}", divide: "{0} / {1}",
    negative: "-{0}", exp: "exp({0})", log: "log({0})", log1p: "log1p({0})", expm1: "expm1({0})",
    sqrt: "sqrt({0})", square: "{0} * {0}", abs: "abs({0})", sin: "sin({0})", cos: "cos({0})",
    tanh: "tanh({0})", sin_grad: "{0} * cos({1})", cos_grad: "-{0} * sin({1})",
    tanh_grad: "{0} * (1 - {1} * {1})", sigmoid_grad: "{0} * {1} * (1 - {1})",
    # NaN stays NaN and -inf gives 0, as maximum(x, 0); g * (x > 0) keeps a NaN g where x <= 0
    relu: "where({0} > 0, {0}, where({0} <= 0, 0, {0}))", relu_grad: "{0} * where({1} > 0, 1, 0)",
}
