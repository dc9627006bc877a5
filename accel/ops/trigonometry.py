"""Trigonometry beyond sin / cos / tan (elementwise.py): the inverse and hyperbolic functions,
atan2 and hypot (the Array API's names, NumPy's arc* through the NumPy protocol), one op-table
record each with TensorFlow's gradients, written in accel ops so every order is exact; those of
holomorphic functions extend to complex values (the derivatives hold on the principal branches)."""

from __future__ import annotations

from .elementwise import rsqrt
from .elementwise_op import _binary, _ufunc_forward, _unary

asin = _unary("asin", "Inverse sine (arcsin), in [-pi/2, pi/2].", None,
              lambda g, ans, x: g * rsqrt(1 - x * x), to_float=True,  # d asin = 1 / sqrt(1 - x^2)
              math="arcsin({0})", numpy="arcsin", domain="unit", complex_grad="holomorphic")
acos = _unary("acos", "Inverse cosine (arccos), in [0, pi].", None,
              lambda g, ans, x: -g * rsqrt(1 - x * x), to_float=True,
              math="arccos({0})", numpy="arccos", domain="unit", complex_grad="holomorphic")
atan = _unary("atan", "Inverse tangent (arctan), in (-pi/2, pi/2).", None,
              lambda g, ans, x: g / (1 + x * x), to_float=True,
              math="arctan({0})", numpy="arctan", complex_grad="holomorphic")
asinh = _unary("asinh", "Inverse hyperbolic sine.", None,
               lambda g, ans, x: g * rsqrt(x * x + 1), to_float=True,
               math="arcsinh({0})", numpy="arcsinh", complex_grad="holomorphic")
acosh = _unary("acosh", "Inverse hyperbolic cosine (x >= 1).", None,
               lambda g, ans, x: g * rsqrt(x - 1) * rsqrt(x + 1), to_float=True,  # the principal branch, complex too
               math="arccosh({0})", numpy="arccosh", domain="above_one", complex_grad="holomorphic")
atanh = _unary("atanh", "Inverse hyperbolic tangent (|x| < 1).", None,
               lambda g, ans, x: g / (1 - x * x), to_float=True,
               math="arctanh({0})", numpy="arctanh", domain="unit", complex_grad="holomorphic")
sinh = _unary("sinh", "Hyperbolic sine.", None,
              lambda g, ans, x: g * cosh(x), to_float=True,
              math="sinh({0})", numpy="sinh", complex_grad="holomorphic")
cosh = _unary("cosh", "Hyperbolic cosine.", None,
              lambda g, ans, x: g * sinh(x), to_float=True,
              math="cosh({0})", numpy="cosh", complex_grad="holomorphic")
# atan2(y, x) is the angle of (x, y): d/dy = x / (x^2 + y^2), d/dx = -y / (x^2 + y^2)
atan2 = _binary("atan2", "The angle of the point (x, y), in [-pi, pi]: atan2(y, x).", None,
                lambda g, ans, y, x: g * x / (x * x + y * y),
                lambda g, ans, y, x: -g * y / (x * x + y * y),
                math="arctan2({0}, {1})", numpy="arctan2")
hypot = _binary("hypot", "sqrt(x ** 2 + y ** 2), without overflow.", _ufunc_forward("hypot"),
                lambda g, ans, x, y: g * x / ans,
                lambda g, ans, x, y: g * y / ans, numpy="hypot")
