"""Rounding and the sign bit (the Array API's floor, ceil, trunc, round, copysign, signbit,
nextafter, isinf): rounding returns integers unchanged, in their dtype (the standard's rule), and
has no gradient (TensorFlow's floor, ceil and round have none); copysign is differentiable in x."""

from __future__ import annotations

from .elementwise import sign
from .elementwise_op import _binary, _ufunc_forward, _unary

# copysign(x, y) = |x| with y's sign bit: d/dx = sign(x) * (+1 or -1 by y's sign bit); y is a sign only
copysign = _binary("copysign", "|x| with the sign of y (its sign bit: -0.0 counts as negative).",
                   _ufunc_forward("copysign"),
                   lambda g, ans, x, y: g * sign(x) * copysign(1.0, y),
                   lambda g, ans, x, y: None, numpy="copysign")


def _rounding(name, doc):
    """An op that rounds floats to whole values and returns integers unchanged (the Array API's
    rule: the input's dtype); not differentiable (TensorFlow's gradient is None)."""

    def forward(xp, x):
        return x.copy() if x.dtype.kind in "biu" else getattr(xp, name)(x)

    return _unary(name, doc, forward, numpy=name)


floor = _rounding("floor", "The largest whole value <= x.")
ceil = _rounding("ceil", "The smallest whole value >= x.")
trunc = _rounding("trunc", "x with its fractional part dropped (towards zero).")
round = _rounding("round", "x rounded to the nearest whole value, halves to even.")  # noqa: A001
nextafter = _binary("nextafter", "The next representable value after x towards y; not differentiable.",
                    ufunc="nextafter", numpy="nextafter")
signbit = _unary("signbit", "Whether x's sign bit is set (-0.0 and NaNs with it included).", ufunc="signbit",
                 numpy="signbit", dtype="bool")
isinf = _unary("isinf", "Whether each element is +inf or -inf.", ufunc="isinf", numpy="isinf", dtype="bool")
