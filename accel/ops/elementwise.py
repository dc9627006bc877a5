"""Elementwise ops: a flat table, one record per op, its math and its VJPs side by side.

Each entry gives the op's math once, in numexpr's syntax (``"{0} * cos({1})"``), from which the
eager forward on raw arrays (`table.forward_of`; `xp` is numpy or cupy), the numexpr program
and the CUDA C of fused chains come; an op whose eager forward is faster or more exact written
with `xp` gives that forward too (tests/ops/test_table.py holds it to the math). Ops without
a numexpr form (erf, comparisons) give only the forward. Then one VJP per input,
``vjp_i(g, ans, *inputs) -> gradient for input i``. The graph walk calls only the VJPs of inputs
that need a gradient and reduces broadcast gradients itself. `_unary` / `_binary`
(elementwise_op.py) make each op and enter it in the op table.
"""

from __future__ import annotations

import functools

import numpy

from .. import _cpu
from ..dtypes import is_complex
from ..tensor import Tensor
from ..autodiff.complex_grads import linear
from . import cuda_math
from ._core import data, defop, make, operands, same_device, tensor_arg
from .elementwise_op import _binary, _ufunc_forward, _unary


# -- arithmetic -------------------------------------------------------------------------------
# Binary arithmetic takes its forward from the math; `commutative` ops are their own reflected
# operators (IEEE addition and multiplication are exactly commutative).
add = _binary("add", "x + y.", None,
              lambda g, ans, x, y: g,
              lambda g, ans, x, y: g,
              math="{0} + {1}", numpy="add", methods=("__add__", "__radd__"), commutative=True, complex_grad="linear")
subtract = _binary("subtract", "x - y.", None,
                   lambda g, ans, x, y: g,
                   lambda g, ans, x, y: -g,
                   math="{0} - {1}", numpy="subtract", methods=("__sub__", "__rsub__"), complex_grad="linear")
multiply = _binary("multiply", "x * y.", None,
                   lambda g, ans, x, y: g * y,
                   lambda g, ans, x, y: g * x,
                   math="{0} * {1}", numpy="multiply", methods=("__mul__", "__rmul__"), commutative=True,
                   complex_grad="holomorphic")
divide = _binary("divide", "x / y (true division).", None,
                 lambda g, ans, x, y: g / y,
                 lambda g, ans, x, y: -g * ans / y,
                 math="{0} / {1}", numpy="divide", methods=("__truediv__", "__rtruediv__"), complex_grad="holomorphic")
floor_divide = _binary("floor_divide", "floor(x / y); not differentiable.", ufunc="floor_divide",
                       numpy="floor_divide", methods=("__floordiv__", "__rfloordiv__"))
mod = _binary("mod", "x - y * floor(x / y) (the sign of y, as Python's %).", None,
              lambda g, ans, x, y: g,
              lambda g, ans, x, y: -g * floor_divide(x, y),
              ufunc="remainder", numpy="remainder", methods=("__mod__", "__rmod__"), aliases=("remainder",))
negative = _unary("negative", "-x.", None,
                  lambda g, ans, x: -g,
                  math="-{0}", numpy="negative", methods=("__neg__",), complex_grad="linear")


def _power_vjp_y(g, ans, x, y):
    # d(x**y)/dy = x**y * log(x), taken as 0 where x <= 0 (TensorFlow's convention).
    positive = greater(x, 0)
    return g * where(positive, ans * log(where(positive, x, 1)), 0)


power = _binary("power", "x ** y.", None,
                lambda g, ans, x, y: g * y * power(x, y - 1),
                _power_vjp_y,
                ufunc="power", numpy="power", methods=("__pow__", "__rpow__"), aliases=("pow",),
                complex_grad=("holomorphic", None))  # d/dy of a complex power: not yet
pow = power  # noqa: A001  (TensorFlow's name: tf.pow)

# -- transcendental ----------------------------------------------------------------------------
exp = _unary("exp", "e ** x.", None,
             lambda g, ans, x: g * ans, to_float=True,
             math="exp({0})", numpy="exp", methods=("exp",), complex_grad="holomorphic")
log = _unary("log", "Natural logarithm.", None,
             lambda g, ans, x: g / x, to_float=True,
             math="log({0})", numpy="log", methods=("log",), domain="positive", complex_grad="holomorphic")
log1p = _unary("log1p", "log(1 + x), accurate for small x.", None,
               lambda g, ans, x: g / (x + 1), to_float=True,
               math="log1p({0})", numpy="log1p", domain="positive", complex_grad="holomorphic")
expm1 = _unary("expm1", "e ** x - 1, accurate for small x.", None,
               lambda g, ans, x: g * (ans + 1), to_float=True,
               math="expm1({0})", numpy="expm1", complex_grad="holomorphic")
sqrt = _unary("sqrt", "Square root.", None,
              lambda g, ans, x: g * 0.5 / ans, to_float=True,
              math="sqrt({0})", numpy="sqrt", methods=("sqrt",), domain="positive", complex_grad="holomorphic")
rsqrt = _unary("rsqrt", "1 / sqrt(x).", None,
               lambda g, ans, x: g * -0.5 * ans / x, to_float=True,
               math="1 / sqrt({0})", domain="positive", complex_grad="holomorphic")
square = _unary("square", "x * x.", _ufunc_forward("square"),
                lambda g, ans, x: g * 2 * x,
                math="{0} * {0}", numpy="square", methods=("square",), complex_grad="holomorphic")
abs = _unary("abs", "|x|; its gradient at 0 is 0.", None,  # noqa: A001
             lambda g, ans, x: g * sign(x),
             math="abs({0})", numpy="absolute", methods=("abs", "__abs__"),
             # |z| of a complex z: g * z / |z| (TensorFlow's ComplexAbs gradient), 0 at z = 0
             complex_grad=lambda g, ans, x: g * x / where(equal(ans, 0), numpy.inf, ans))
sign = _unary("sign", "-1, 0 or 1; its gradient is 0.", None,
              lambda g, ans, x: g * 0, ufunc="sign", numpy="sign")
# sin's and cos's VJPs are one fused op each (one op in backward instead of two), with their own
# VJPs so every order is exact.
sin_grad = _binary("sin_grad", "g * cos(x): the VJP of sin.", None,
                   lambda gg, ans, g, x: sin_grad(gg, x),
                   lambda gg, ans, g, x: cos_grad(gg * g, x),
                   math="{0} * cos({1})", namespace="internal", complex_grad="holomorphic")
cos_grad = _binary("cos_grad", "-g * sin(x): the VJP of cos.", None,
                   lambda gg, ans, g, x: cos_grad(gg, x),
                   lambda gg, ans, g, x: -sin_grad(gg * g, x),
                   math="-{0} * sin({1})", namespace="internal", complex_grad="holomorphic")
sin = _unary("sin", "Sine.", None,
             lambda g, ans, x: sin_grad(g, x), to_float=True,
             math="sin({0})", numpy="sin", complex_grad="holomorphic")
cos = _unary("cos", "Cosine.", None,
             lambda g, ans, x: cos_grad(g, x), to_float=True,
             math="cos({0})", numpy="cos", complex_grad="holomorphic")
tan = _unary("tan", "Tangent.", None,
             lambda g, ans, x: g * (1 + ans * ans), to_float=True,  # d tan = 1 + tan^2
             math="tan({0})", numpy="tan", complex_grad="holomorphic")
# The VJPs of tanh and sigmoid are single fused ops of (g, y) with their own VJPs, as
# TensorFlow's TanhGrad/SigmoidGrad: one op in backward instead of three, and exact at any order.
tanh_grad = _binary("tanh_grad", "g * (1 - y*y): the VJP of tanh in terms of its output y.", None,
                    lambda gg, ans, g, y: tanh_grad(gg, y),
                    lambda gg, ans, g, y: gg * g * -2 * y,
                    math="{0} * (1 - {1} * {1})", namespace="internal", complex_grad="holomorphic")
sigmoid_grad = _binary("sigmoid_grad", "g * y * (1 - y): the VJP of sigmoid in terms of its output y.", None,
                       lambda gg, ans, g, y: sigmoid_grad(gg, y),
                       lambda gg, ans, g, y: gg * g * (1 - 2 * y),
                       math="{0} * {1} * (1 - {1})", namespace="internal", complex_grad="holomorphic")
tanh = _unary("tanh", "Hyperbolic tangent.", None,
              lambda g, ans, x: tanh_grad(g, ans), to_float=True,
              math="tanh({0})", numpy="tanh", methods=("tanh",), complex_grad="holomorphic")


def _sigmoid_forward(xp, x):
    # 1/(1+e^-x) for x >= 0 and e^x/(1+e^x) below: exp never overflows. Complex numbers have no
    # sign to split on: the formula itself (TensorFlow's sigmoid takes them too)
    if is_complex(x.dtype):
        return 1 / (1 + xp.exp(-x))
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


sigmoid = _unary("sigmoid", "1 / (1 + e ** -x), computed without overflow.", _sigmoid_forward,
                 lambda g, ans, x: sigmoid_grad(g, ans), to_float=True,
                 math="where({0} >= 0, 1 / (1 + exp(-{0})), exp({0}) / (1 + exp({0})))", methods=("sigmoid",),
                 complex_grad="holomorphic")


def require_real(x, op: str):
    """x, if its values are real: relu (and activations.py's elu, selu, log_sigmoid) select on the
    sign (complex numbers have none; NumPy would compare them lexicographically, TensorFlow's
    kernels refuse them)."""
    if is_complex(x.dtype):
        raise TypeError(f"{op}: x must be real, got {x.dtype.name}")
    return x


# relu and TensorFlow's ReluGrad on CPU arrays: one compiled pass each (accel._cpu,
# csrc/cpu/activations.cpp, the forms below exactly); NumPy's maximum and its bool multiply cost
# two to three times more. Other arrays (and CuPy's) take the NumPy expressions, which give the
# same values: maximum(x, 0), and g * (x > 0), a multiply (NumPy's where with a mask of random
# signs costs ~10x more). relu_grad's VJP wrt x is zero almost everywhere.
def _relu_array(xp, x):
    return xp.maximum(require_real(x, "relu"), 0)  # (the compiled loop takes float arrays only)


def _relu_grad_array(xp, g, x):
    return g * (x > 0)


_cpu.set_relu_fallbacks(functools.partial(_relu_array, numpy), functools.partial(_relu_grad_array, numpy))


def _relu_forward(xp, x):
    return _cpu.relu(x) if xp is numpy else _relu_array(xp, x)


def _relu_grad_forward(xp, g, x):
    return _cpu.relu_grad(g, x) if xp is numpy else _relu_grad_array(xp, g, x)


_relu_forward.host, _relu_grad_forward.host = _cpu.relu, _cpu.relu_grad
relu_grad = _binary("relu_grad", "g * (x > 0): the VJP of relu.", _relu_grad_forward,
                    lambda gg, ans, g, x: relu_grad(gg, x),
                    # g * 0 keeps a NaN or inf g where x <= 0 a NaN, as the multiply does
                    math="where({1} > 0, {0}, {0} * 0)", namespace="internal")
# the form: NaN stays NaN and -inf gives 0, as maximum(x, 0)
relu = _unary("relu", "max(x, 0); its gradient at 0 is 0.", _relu_forward,
              lambda g, ans, x: relu_grad(g, x),
              math="where({0} > 0, {0}, where({0} <= 0, 0, {0}))", methods=("relu",))
softplus = _unary("softplus", "log(1 + e ** x), computed without overflow.",
                  lambda xp, x: xp.logaddexp(0, x),
                  lambda g, ans, x: g * sigmoid(x), to_float=True)


def _erf_forward(xp, x):
    """erf on the CPU by accel._cpu (std::erf; NumPy has none), on a GPU by a CUDA kernel calling
    erff / erf (cuda_math.py); float16 is computed in float32 and rounded once."""
    if xp is numpy:
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

# -- logarithms of other bases, logaddexp, reciprocal, positive (the Array API's; trigonometry.py
# and rounding.py hold its other real functions) ----------------------------------------------
_LN2, _LN10 = 0.6931471805599453, 2.302585092994046
log2 = _unary("log2", "Base-2 logarithm.", lambda xp, x: xp.log2(x),
              lambda g, ans, x: g / (x * _LN2), to_float=True, numpy="log2", domain="positive",
              complex_grad="holomorphic")
log10 = _unary("log10", "Base-10 logarithm.", None,
               lambda g, ans, x: g / (x * _LN10), to_float=True,
               math="log10({0})", numpy="log10", domain="positive", complex_grad="holomorphic")
reciprocal = _unary("reciprocal", "1 / x.", None,
                    lambda g, ans, x: -g * ans * ans,  # d (1/x) = -1/x^2
                    to_float=True, math="1 / {0}", numpy="reciprocal", domain="positive", complex_grad="holomorphic")
positive = _unary("positive", "+x (a copy).", lambda xp, x: xp.positive(x),
                  lambda g, ans, x: g, numpy="positive", complex_grad="linear")
# logaddexp(x, y) = log(e^x + e^y): d/dx = e^(x - ans), d/dy = e^(y - ans)
logaddexp = _binary("logaddexp", "log(e ** x + e ** y), without overflow.", _ufunc_forward("logaddexp"),
                    lambda g, ans, x, y: g * exp(x - ans),
                    lambda g, ans, x, y: g * exp(y - ans), numpy="logaddexp")

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
        if g.dtype.itemsize not in _SAME_WIDTH_INT:  # complex128: no integer of its width
            return numpy.where(mask, g, 0) if keep_true else numpy.where(mask, 0, g)
        ints = _SAME_WIDTH_INT[g.dtype.itemsize]
        bits = numpy.asarray(mask).astype(ints)
        if keep_true:
            numpy.negative(bits, out=bits)  # True -> all ones, False -> 0
        else:
            bits -= 1  # True -> 0, False -> all ones
        return numpy.bitwise_and(g.view(ints), bits).view(g.dtype)

    return forward


select_grad = _binary("select_grad", "where(mask, g, 0): the VJP of selections.", _select_forward(True), None,
                      lambda gg, ans, mask, g: select_grad(mask, gg), namespace="internal",
                      complex_grad=(None, "linear"))
deselect_grad = _binary("deselect_grad", "where(mask, 0, g): the VJP of selections.", _select_forward(False), None,
                        lambda gg, ans, mask, g: deselect_grad(mask, gg), namespace="internal",
                        complex_grad=(None, "linear"))

# Ties send the whole gradient to x (TensorFlow's convention).
maximum = _binary("maximum", "Elementwise max(x, y).", _ufunc_forward("maximum"),
                  lambda g, ans, x, y: select_grad(greater_equal(x, y), g),
                  lambda g, ans, x, y: deselect_grad(greater_equal(x, y), g), numpy="maximum")
minimum = _binary("minimum", "Elementwise min(x, y).", _ufunc_forward("minimum"),
                  lambda g, ans, x, y: select_grad(less_equal(x, y), g),
                  lambda g, ans, x, y: deselect_grad(less_equal(x, y), g), numpy="minimum")

_WHERE_VJPS = (None,
               linear(lambda g, ans, c, x, y: select_grad(c, g)),
               linear(lambda g, ans, c, x, y: deselect_grad(c, g)))


@defop("elementwise", numpy="where")
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


@defop("elementwise", numpy="clip", methods=("clip",))
def clip(x, min=None, max=None):  # noqa: A002  (the Array API's names)
    """min(max(x, min), max), in x's dtype; a bound that is None leaves that side open (the Array
    API's clip; tf.clip_by_value is `accel.clip_by_value`). Gradient flows to x inside [min, max]
    and to the bound that is hit."""
    x = tensor_arg(x)
    if min is None or max is None:  # an open side: the dtype's own extreme
        info = numpy.iinfo(x.dtype) if x.dtype.kind in "iu" else None
        if min is None:
            min = -numpy.inf if info is None else int(info.min)  # noqa: A001
        if max is None:
            max = numpy.inf if info is None else int(info.max)  # noqa: A001
    _, lo, _ = operands("clip", x, min)  # checks devices, places constants
    _, hi, _ = operands("clip", x, max)
    out = x._device.xp.clip(x._data, data(lo), data(hi))
    return make(out, x._device, (x, lo, hi), _CLIP_VJPS)


# -- comparisons and logic (not differentiable: bool results) -----------------------------------
def _comparison(name, doc, method=None):
    return _binary(name, doc, ufunc=name, numpy=name, dtype="bool",
                   methods=(method,) if method else ())


equal = _comparison("equal", "x == y.")  # Tensor.__eq__ is written out: t == None is False
not_equal = _comparison("not_equal", "x != y.")
less = _comparison("less", "x < y.", "__lt__")
less_equal = _comparison("less_equal", "x <= y.", "__le__")
greater = _comparison("greater", "x > y.", "__gt__")
greater_equal = _comparison("greater_equal", "x >= y.", "__ge__")
logical_and = _comparison("logical_and", "x and y.")
logical_or = _comparison("logical_or", "x or y.")
logical_xor = _comparison("logical_xor", "x xor y.")
logical_not = _unary("logical_not", "not x.", ufunc="logical_not", numpy="logical_not", dtype="bool")


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


def _bitwise_binary(name, doc, operator, aliases=()):
    def forward(xp, x, y):
        _integer_operands(name, x, y)
        return getattr(xp, name)(x, y)
    return _binary(name, doc, forward, numpy=name, methods=(f"__{operator}__", f"__r{operator}__"), aliases=aliases)


def _invert_forward(xp, x):
    _integer_operands("invert", x)
    return xp.invert(x)


bitwise_and = _bitwise_binary("bitwise_and", "x & y: bitwise on integers, logical on booleans.", "and")
bitwise_or = _bitwise_binary("bitwise_or", "x | y: bitwise on integers, logical on booleans.", "or")
bitwise_xor = _bitwise_binary("bitwise_xor", "x ^ y: bitwise on integers, logical on booleans.", "xor")
left_shift = _bitwise_binary("left_shift", "x << y on integers (bits shifted out are lost).", "lshift",
                             aliases=("bitwise_left_shift",))
right_shift = _bitwise_binary("right_shift", "x >> y on integers (arithmetic for signed: the sign bit is kept).",
                              "rshift", aliases=("bitwise_right_shift",))
invert = _unary("invert", "~x: bitwise NOT on integers, logical NOT on booleans.", _invert_forward,
                numpy="invert", methods=("__invert__",), aliases=("bitwise_invert",))
isfinite = _unary("isfinite", "Whether each element is finite.", ufunc="isfinite", numpy="isfinite", dtype="bool")
isnan = _unary("isnan", "Whether each element is NaN.", ufunc="isnan", numpy="isnan", dtype="bool")
