"""The singular value decomposition (accel.linalg's svd and svdvals), with TensorFlow's gradients
(tensorflow/python/ops/linalg_grad.py) written in accel ops: svd is one packed record [U | S | Vh]
unpacked by a composite, as decompositions.py's multi-output ops are; the complete SVD of a
rectangular matrix has a record of its own, whose gradient refuses."""

from __future__ import annotations

from collections import namedtuple

from ..autodiff.complex_grads import complex_form, own_form
from ..dtypes import is_complex
from ._core import bool_arg, defop, make
from .decompositions import _adjoint, _eye, _matrices, _pack, _real_part, _unpack
from .elementwise import where
from .linalg import matmul
from .shape import expand_dims

SVDResult = namedtuple("SVDResult", ["U", "S", "Vh"])


@own_form  # written with conjugate transposes and the complex phase term (TensorFlow's)
def _svd_vjp(g, ans, x):
    # TensorFlow's SvdGrad (reduced, compute_uv): with F_ij = 1 / (s_j^2 - s_i^2) off the diagonal,
    # grad = U (diag(g_s) + (F * (U^H g_U - g_U^H U)) S + S (F * (V^H g_V - g_V^H V))) V^H
    #        + (I - U U^H) g_U S^-1 V^H + U S^-1 g_V^H (I - V V^H)
    #        [+ U S^-1 (L^H - L) V^H / 2, L = I * (V^H g_V), for complex matrices]
    # The last term is the gradient along each singular pair's common phase (u_i and v_i may both
    # turn by e^(i theta)): the result is that of losses that do not depend on the phase.
    m, n = x.shape[-2:]
    k = min(m, n)
    batch = tuple(x.shape[:-2])
    u, s, vh = _unpack(ans, batch, [(m, k), (k,), (k, n)])
    g_u, g_s, g_vh = _unpack(g, batch, [(m, k), (k,), (k, n)])
    s, g_s = _real_part(s), _real_part(g_s)  # S is real: only the real part of its gradient counts
    v, g_v = _adjoint(vh), _adjoint(g_vh)
    eye_k = _eye(k, x)
    s_sq = s * s
    differences = expand_dims(s_sq, -2) - expand_dims(s_sq, -1)
    f = where(eye_k > 0, 0.0, 1.0 / where(eye_k > 0, 1.0, differences))
    s_mat = expand_dims(s, -2) * eye_k
    s_inv = expand_dims(1.0 / s, -2) * eye_k
    uhgu = matmul(_adjoint(u), g_u)
    vhgv = matmul(_adjoint(v), g_v)
    inner = (expand_dims(g_s, -1) * eye_k + matmul(f * (uhgu - _adjoint(uhgu)), s_mat)
             + matmul(s_mat, f * (vhgv - _adjoint(vhgv))))
    if is_complex(x.dtype):
        phase = vhgv * eye_k
        inner = inner + matmul(s_inv, _adjoint(phase) - phase) * 0.5
    grad = matmul(u, matmul(inner, vh))
    if m > k:
        eye_m = _eye(m, x)
        grad = grad + matmul(eye_m - matmul(u, _adjoint(u)), matmul(g_u, matmul(s_inv, vh)))
    if n > k:
        eye_n = _eye(n, x)
        grad = grad + matmul(u, matmul(s_inv, matmul(_adjoint(g_v), eye_n - matmul(v, vh))))
    return grad


@defop("linalg", namespace="internal")
def svd_packed(x):
    """[U | S | Vh] of each matrix's reduced SVD, packed (svd's record)."""
    x = _matrices(x, "svd", square=False)
    with x._device.activate():
        u, s, vh = x._device.xp.linalg.svd(x._data, full_matrices=False)
        out = _pack(x._device.xp, [u, s, vh], x.ndim - 2)
    return make(out, x._device, (x,), (_svd_vjp,))


def _complete_svd_vjp(g, ans, x):
    raise TypeError("svd(full_matrices=True) of a rectangular matrix has no gradient (the extra columns of U or "
                    "rows of Vh are not unique): take the gradient through svd(x, full_matrices=False)")


complex_form(_complete_svd_vjp, _complete_svd_vjp)


@defop("linalg", namespace="internal", differentiable=False)
def svd_complete_packed(x):
    """[U | S | Vh] of each rectangular matrix's complete SVD, packed; its gradient refuses."""
    with x._device.activate():
        u, s, vh = x._device.xp.linalg.svd(x._data, full_matrices=True)
        out = _pack(x._device.xp, [u, s, vh], x.ndim - 2)
    return make(out, x._device, (x,), (_complete_svd_vjp,))


@defop("linalg", kind="composite", namespace="linalg")
def svd(x, full_matrices=True):
    """(U, S, Vh) with x = U diag(S) Vh, S descending. full_matrices=True (the standard's default)
    gives the complete U (M x M) and Vh (N x N): for a rectangular matrix their extra vectors are
    not unique, so that SVD has no gradient (a TypeError if one reaches it; full_matrices=False has
    one). The gradient assumes distinct, non-zero singular values (TensorFlow's)."""
    x = _matrices(x, "svd", square=False)
    m, n = x.shape[-2:]
    k = min(m, n)
    if bool_arg(full_matrices, "svd", "full_matrices") and m != n:
        u, s, vh = _unpack(svd_complete_packed(x), tuple(x.shape[:-2]), [(m, m), (k,), (n, n)])
    else:
        u, s, vh = _unpack(svd_packed(x), tuple(x.shape[:-2]), [(m, k), (k,), (k, n)])
    return SVDResult(u, _real_part(s), vh)


@own_form  # complex too: d s_i = Re(u_i^H dA v_i), whose gradient is the same U diag(g) Vh
def _svdvals_vjp(g, ans, x):
    # d s = U^T dA V on the diagonal: the gradient is U diag(g) V^T
    u, _, vh = svd(x, full_matrices=False)
    return matmul(u * expand_dims(g, -2), vh)


@defop("linalg", namespace="linalg")
def svdvals(x):
    """The singular values of each matrix, descending (the gradient: U diag(g) Vh)."""
    x = _matrices(x, "svdvals", square=False)
    with x._device.activate():
        out = x._device.xp.linalg.svd(x._data, compute_uv=False)
    return make(out, x._device, (x,), (_svdvals_vjp,))
