"""Complex numbers' parts (the Array API's real, imag, conj), one op-table record each. Gradients in
TensorFlow's convention (autodiff/complex_grads.py): real's is g + 0j (the walk casts g to the
input's complex dtype), imag's is i g, conj's is conj(g); on real tensors they are x, zeros and x
(gradients g, 0, g)."""

from __future__ import annotations

from ..autodiff.complex_grads import complex_form, linear, use_parts
from ..dtypes import is_complex
from ._core import defop, make, snapshot, tensor_arg

__all__ = ["real", "imag", "conj"]

_REAL_VJPS = (linear(lambda g, ans, x: g),)
_IMAG_VJPS = (complex_form(lambda g, ans, x: g * 0, lambda g, ans, x: g * 1j),)
_CONJ_VJPS = (linear(lambda g, ans, x: conj(g)),)


def _conj_kernel(xp, x):
    return xp.conj(x) if is_complex(x.dtype) else x


# These three return views where NumPy does (the real part of a complex array, a real array
# itself): a tensor's values never change, so a view is safe to share (a Variable's array, which
# assign writes into, is copied first: snapshot). Copying cost 250 us per million elements.
@defop("elementwise", numpy="real", dtype="given", kernel=lambda xp, x: xp.real(x), kernel_views=True)
def real(x):
    """The real part (x itself for a real x); complex -> its real dtype."""
    x = tensor_arg(x)
    return make(x._device.xp.real(snapshot(x)), x._device, (x,), _REAL_VJPS)


@defop("elementwise", numpy="imag", dtype="given", kernel=lambda xp, x: xp.imag(x), kernel_views=True)
def imag(x):
    """The imaginary part (zeros for a real x); complex -> its real dtype."""
    x = tensor_arg(x)
    return make(x._device.xp.imag(snapshot(x)), x._device, (x,), _IMAG_VJPS)


@defop("elementwise", numpy="conjugate", aliases=("conjugate",), kernel=_conj_kernel, kernel_views=True)
def conj(x):
    """The complex conjugate (x itself for a real x)."""
    x = tensor_arg(x)
    return make(_conj_kernel(x._device.xp, snapshot(x)), x._device, (x,), _CONJ_VJPS)


use_parts(conj, real)  # the complex forms of every VJP conjugate and take real parts with these
