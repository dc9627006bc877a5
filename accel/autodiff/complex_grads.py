"""Gradients through complex values, in TensorFlow's convention.

For a real loss L of a complex z = x + iy, the gradient a tape returns is dL/dx + i dL/dy: the
conjugate of the Wirtinger derivative dL/dz, times two (TensorFlow's and PyTorch's convention;
for L = |z|^2 it is 2z, and gradient descent z - lr * grad lowers L). A VJP then maps the
gradient g of an output w = f(z) to g * conj(f'(z)) for a holomorphic f, and to A^H g for a
linear map A (matmul: g @ b^H).

A node where a complex array takes part (its output or a tensor input is complex) records the
`complex` form of each input's VJP instead of the VJP itself (recording.record asks, once per
recorded node; real-only graphs never come here). VJPs carry that form as an attribute, set by:
- `linear(vjp)`: the VJP reads only shapes and its gradient (reshape, sum, concat, add): it is its
  own complex form (it maps g linearly and the adjoint of a real-coefficient linear map needs no
  conjugate);
- `own_form(vjp)`: the VJP is written for complex values as they are (conjugate transposes where
  the real formula transposes: TensorFlow's decomposition gradients), so it is its own form too;
- `holomorphic(vjp)`: the VJP is g times the derivative of a function with real Taylor
  coefficients, or a multilinear product (exp, sin, multiply, matmul): conj(f'(z)) = f'(conj z),
  so the complex form is the real VJP evaluated at the conjugates of the inputs and output;
- `complex_form(vjp, form)`: a form written out (abs, imag, the FFTs).
A real input of such a node gets the real part of its form's result (for real x and complex
w = f(x), dL/dx = Re(g * conj(f'(x)))). A VJP without a form raises TypeError naming it when a
gradient reaches it: no complex gradient is ever computed by a formula that was not written for it.
"""

from __future__ import annotations

from .. import recording
from ..dtypes import is_complex
from ..tensor import Tensor

__all__ = ["complex_vjps", "linear", "own_form", "holomorphic", "complex_form", "conj_of", "use_parts"]


class _Parts:
    """The ops the forms compute with (conj, real): ops/complex_parts.py hands them over when it
    loads (`use_parts`), since the ops build on this module."""

    conj = real = None


_parts = _Parts()


def use_parts(conj, real) -> None:
    """The hook ops/complex_parts.py calls at import: the conj and real ops the forms use."""
    _parts.conj, _parts.real = conj, real


def complex_form(vjp, form):
    """Give `vjp` the complex form `form` (same signature); returns vjp."""
    vjp.complex = form
    return vjp


def own_form(*vjps):
    """Mark VJPs written for complex values as they are: each is its own complex form; returns them
    (the one VJP when given one)."""
    for vjp in vjps:
        complex_form(vjp, vjp)
    return vjps[0] if len(vjps) == 1 else vjps


def linear(*vjps):
    """Mark VJPs that are linear in g and read no input's value (their own complex form)."""
    return own_form(*vjps)


def conj_of(value):
    """conj(value) for a complex Tensor or Python complex number; anything else as it is (the
    conjugate of a real value is itself)."""
    if isinstance(value, Tensor):
        if is_complex(value._data.dtype):
            return _parts.conj(value)
        return value
    if isinstance(value, complex):
        return value.conjugate()
    return value


def holomorphic(*vjps):
    """Mark VJPs of holomorphic functions with real coefficients (or multilinear products): the
    complex form is the VJP at the conjugated output and inputs (params pass as they are)."""
    for vjp in vjps:
        def form(g, ans, *values, _vjp=vjp, **params):
            return _vjp(g, conj_of(ans), *(conj_of(v) for v in values), **params)

        form.__qualname__ = getattr(vjp, "__qualname__", "vjp") + ".complex"
        complex_form(vjp, form)
    return vjps[0] if len(vjps) == 1 else vjps


def _refusal(vjp):
    name = getattr(vjp, "__qualname__", None) or repr(vjp)
    module = getattr(vjp, "__module__", None) or "accel"

    def refuse(g, ans, *values, **params):
        raise TypeError(
            f"{module}.{name}: this op has no gradient through complex values (TensorFlow's convention "
            "is implemented op by op; docs/semantics.md lists the ops that have one)")

    return refuse


def _real_part_of(form):
    def real_input(g, ans, *values, **params):
        gradient = form(g, ans, *values, **params)
        if isinstance(gradient, Tensor) and is_complex(gradient._data.dtype):
            return _parts.real(gradient)
        return gradient

    return real_input


def complex_vjps(vjps, inputs) -> tuple:
    """The VJPs a node records when a complex array takes part: each input's complex form (its
    result's real part for a real input), or a refusal for a VJP without one."""
    out = []
    for vjp, x in zip(vjps, inputs):
        if vjp is None:
            out.append(None)
            continue
        form = getattr(vjp, "complex", None)
        if form is None:
            out.append(_refusal(vjp))
        elif isinstance(x, Tensor) and not is_complex(x._data.dtype):
            out.append(_real_part_of(form))
        else:
            out.append(form)
    return tuple(out)


recording.use_complex_forms(complex_vjps)
