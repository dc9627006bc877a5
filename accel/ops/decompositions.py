"""Matrix inverses, determinants, solves and decompositions (accel.linalg; the Array API's
names), over the last two axes of stacked matrices, each with TensorFlow's gradient
(tensorflow/python/ops/linalg_grad.py) written in accel ops, so higher orders are exact too.

The SVD is svd.py. An op of several outputs (slogdet, eigh, qr, svd) is one record whose output packs its parts
(flattened, side by side along the last axis: one tensor, one node, one VJP that reads the
gradient of every part), and the public function a composite that unpacks them.
"""

from __future__ import annotations

from collections import namedtuple

import numpy

from ..dtypes import is_complex, is_floating
from ..autodiff.complex_grads import complex_form, holomorphic, own_form
from ._core import bool_arg, defop, make, tensor_arg
from .conversion import cast, identity
from .complex_parts import conj, imag, real
from .elementwise import exp, where
from .linalg import matmul
from .shape import concat, expand_dims, matrix_transpose, reshape

SlogdetResult = namedtuple("SlogdetResult", ["sign", "logabsdet"])
EighResult = namedtuple("EighResult", ["eigenvalues", "eigenvectors"])
QRResult = namedtuple("QRResult", ["Q", "R"])


def _matrices(x, op, square=True):
    x = tensor_arg(x)
    if x.ndim < 2:
        raise ValueError(f"{op}: x must be a matrix or a stack of matrices, got shape {tuple(x.shape)}")
    if square and x.shape[-1] != x.shape[-2]:
        raise ValueError(f"{op}: x must be square (or a stack of square matrices), got shape {tuple(x.shape)}")
    if not is_floating(x.dtype) and not is_complex(x.dtype):
        x = cast(x, "float64")  # the standard's linalg takes floating operands: integers as the default precision
    return x


def _eye(n, x):
    """The n x n identity of x's dtype, on x's device (a constant)."""
    from .creation import eye

    return eye(n, dtype=x.dtype, device=x.device)


def _eye_like(x):
    """Identity matrices shaped like x (a stack of square matrices)."""
    from .shape import broadcast_to

    return broadcast_to(_eye(x.shape[-1], x), tuple(x.shape))


def _pack(xp, parts, batch: int):
    """The parts flattened over their axes past the `batch` leading (stack) axes, joined along the
    last axis."""
    return xp.concatenate([p.reshape(p.shape[:batch] + (int(numpy.prod(p.shape[batch:], dtype=numpy.int64)),))
                           for p in parts], axis=-1)  # (explicit sizes: an empty stack has no -1)


def _unpack(packed, batch, shapes):
    """The parts of a packed tensor (getitem and reshape: each part's gradient goes back in place)."""
    from .indexing import getitem

    parts, start = [], 0
    for shape in shapes:
        size = int(numpy.prod(shape, dtype=numpy.int64))
        part = getitem(packed, (Ellipsis, slice(start, start + size)))
        parts.append(reshape(part, batch + shape))
        start += size
    return parts


# -- inverse and determinant ---------------------------------------------------------------------
def _inv_vjp(g, ans, x):
    # d inv(A) = -inv(A) dA inv(A): the gradient is -inv(A)^T g inv(A)^T
    inverse_t = matrix_transpose(ans)
    return -matmul(inverse_t, matmul(g, inverse_t))


_INV_VJPS = (holomorphic(_inv_vjp),)


@defop("linalg", namespace="linalg")
def inv(x):
    """The inverse of each square matrix (numpy.linalg.inv; a singular matrix is an error)."""
    x = _matrices(x, "inv")
    with x._device.activate():
        out = x._device.xp.linalg.inv(x._data)
    return make(out, x._device, (x,), _INV_VJPS)


def _slogdet_vjp(g, ans, x):
    # d log|det A| = tr(inv(A) dA): the gradient of logabsdet is g * inv(A)^T; sign has none
    g_log = g[..., 1]
    return expand_dims(expand_dims(g_log, -1), -1) * matrix_transpose(inv(x))


def _slogdet_complex_vjp(g, ans, x):
    # With t = tr(inv(A) dA): d log|det A| = Re t, and the sign (det / |det|, a phase) moves as
    # d sign = i sign Im t. A loss then changes by Re(w t), w = g_log + i Im(conj(g_sign) sign), and
    # its gradient is conj(w) inv(A)^H (TensorFlow's LogMatrixDeterminant gradient is the g_sign = 0 case)
    g_sign, g_log = g[..., 0], g[..., 1]
    w_conj = real(g_log) - 1j * imag(conj(g_sign) * ans[..., 0])
    return expand_dims(expand_dims(w_conj, -1), -1) * _adjoint(inv(x))


complex_form(_slogdet_vjp, _slogdet_complex_vjp)


@defop("linalg", namespace="internal")
def slogdet_packed(x):
    """[sign, log|det|] of each square matrix, side by side (slogdet's record)."""
    x = _matrices(x, "slogdet")
    xp = x._device.xp
    with x._device.activate():
        sign, logabsdet = xp.linalg.slogdet(x._data)
        out = xp.stack([xp.asarray(sign, dtype=x.dtype), xp.asarray(logabsdet, dtype=x.dtype)], axis=-1)
    return make(out, x._device, (x,), (_slogdet_vjp,))


@defop("linalg", kind="composite", namespace="linalg")
def slogdet(x):
    """(sign, logabsdet) of each square matrix's determinant: det = sign * exp(logabsdet), without
    overflow. Differentiable in logabsdet; the sign of a real matrix (+-1) has no gradient, that of
    a complex one (a phase, det / |det|) has."""
    packed = slogdet_packed(x)
    return SlogdetResult(packed[..., 0], _real_part(packed[..., 1]))


def _real_part(t):
    """A real quantity (log|det|, eigenvalues, singular values) that a complex matrix's packed
    record holds as complex: its real dtype back."""
    return real(t) if is_complex(t.dtype) else t


def _adjoint(x):
    """The conjugate transpose of each matrix (the transpose of a real one)."""
    return conj(matrix_transpose(x)) if is_complex(x.dtype) else matrix_transpose(x)


@defop("linalg", kind="composite", namespace="linalg")
def det(x):
    """The determinant of each square matrix (sign * exp(logabsdet): its gradient is det * inv^T,
    TensorFlow's; conj(det) inv^H for a complex matrix, det being holomorphic)."""
    sign, logabsdet = slogdet(x)
    return sign * exp(logabsdet)


# -- solve ------------------------------------------------------------------------------------------
def _solve_x1_vjp(g, ans, a, b):
    # X = A^-1 B: dB = A^-T g; dA = -dB X^T
    gb = solve(matrix_transpose(a), g)
    return -matmul(gb, matrix_transpose(ans))


def _solve_x2_vjp(g, ans, a, b):
    return solve(matrix_transpose(a), g)


# inv and solve are holomorphic (rational in the entries): their complex gradients are these at the
# conjugates (-inv^H g inv^H; solves with A^H), TensorFlow's MatrixInverse / MatrixSolve adjoints.
# slogdet is not: log|det| is real and det's phase is its sign, which has no gradient here.
_SOLVE_VJPS = holomorphic(_solve_x1_vjp, _solve_x2_vjp)


def _solve_vjps():
    return _SOLVE_VJPS


@defop("linalg", namespace="internal")
def solve_matrices(x1, x2):
    """X with x1 @ X = x2 for matrices x2 (solve's record)."""
    with x1._device.activate():
        out = x1._device.xp.linalg.solve(x1._data, x2._data)
    return make(out, x1._device, (x1, x2), _solve_vjps())


@defop("linalg", kind="composite", namespace="linalg")
def solve(x1, x2):
    """The solution X of x1 @ X = x2 for square x1 (the standard's: x2 of shape (M,) is one
    vector, otherwise (..., M, K) matrices broadcast against x1's stack)."""
    x1 = _matrices(x1, "solve")
    x2 = tensor_arg(x2, "x2")
    if not is_floating(x2.dtype) and not is_complex(x2.dtype):
        x2 = cast(x2, x1.dtype)
    if x2.dtype != x1.dtype:  # the standard's promotion (complex64 with float64 is complex128)
        from ..array_api import result_type

        dtype = result_type(x1.dtype, x2.dtype)
        x1, x2 = cast(x1, dtype), cast(x2, dtype)
    if x2.ndim == 1:
        if x2.shape[0] != x1.shape[-1]:
            raise ValueError(f"solve: x2 of shape {tuple(x2.shape)} does not fit x1 {tuple(x1.shape)}")
        column = reshape(x2, (x2.shape[0], 1))
        return solve(x1, column)[..., 0] if x1.ndim == 2 else reshape(
            solve_matrices(*_broadcast_stack(x1, column)), x1.shape[:-1])
    if x2.shape[-2] != x1.shape[-1]:
        raise ValueError(f"solve: x2 of shape {tuple(x2.shape)} does not fit x1 {tuple(x1.shape)}")
    return solve_matrices(*_broadcast_stack(x1, x2))


def _broadcast_stack(a, b):
    from .shape import broadcast_to

    batch = numpy.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    return broadcast_to(a, batch + a.shape[-2:]), broadcast_to(b, batch + b.shape[-2:])


# -- Cholesky ---------------------------------------------------------------------------------------
@own_form  # written with conjugate transposes (TensorFlow's, for every dtype)
def _cholesky_vjp(g, ans, x):
    # TensorFlow's CholeskyGrad: with L = ans, phi(L^H g) (lower triangle, diagonal halved),
    # grad = L^-H phi L^-1, made Hermitian
    from .manipulation import tril

    l_inv = inv(ans)
    middle = tril(matmul(_adjoint(ans), g))
    eye = _eye_like(ans)
    middle = middle - middle * eye * 0.5
    grad = matmul(_adjoint(l_inv), matmul(middle, l_inv))
    return _onto_lower((grad + _adjoint(grad)) * 0.5)  # TensorFlow's gradient (a Hermitian matrix)


def _onto_lower(hermitian):
    """A Hermitian (real: symmetric) gradient folded onto the lower triangle, which is all cholesky
    and eigh read (NumPy's and TensorFlow's kernels): an entry below the diagonal stands for itself
    and for its conjugate above, whose gradient is conjugated back (G_ij + conj(G_ji) = 2 G_ij)."""
    from .manipulation import tril

    folded = tril(hermitian + _adjoint(hermitian))
    return folded - folded * _eye_like(hermitian) * 0.5


@defop("linalg", namespace="internal")
def cholesky_lower(x):
    """The lower Cholesky factor L (x = L L^H) of each Hermitian (real: symmetric) positive-definite
    matrix, from its lower triangle."""
    x = _matrices(x, "cholesky")
    with x._device.activate():
        out = x._device.xp.linalg.cholesky(x._data)
    return make(out, x._device, (x,), (_cholesky_vjp,))


@defop("linalg", kind="composite", namespace="linalg")
def cholesky(x, upper=False):
    """The Cholesky factor of each symmetric positive-definite matrix: lower L with x = L L^T, or
    (upper=True) U = L^T with x = U^T U. Not positive definite: an error."""
    lower = cholesky_lower(x)
    return _adjoint(lower) if bool_arg(upper, "cholesky", "upper") else lower  # x = U^H U


# -- eigh -------------------------------------------------------------------------------------------
@own_form  # written with conjugate transposes (TensorFlow's, for every dtype)
def _eigh_vjp(g, ans, x):
    # TensorFlow's SelfAdjointEigV2 gradient: with F_ij = 1 / (e_j - e_i) off the diagonal,
    # grad = V (diag(g_e) + F * (V^H g_V)) V^H, made Hermitian, then folded onto the lower triangle
    # the forward reads (numpy's eigh reads the lower triangle). For a complex matrix each
    # eigenvector's phase is arbitrary: the gradient is that of losses that do not depend on it
    n = x.shape[-1]
    batch = tuple(x.shape[:-2])
    e, v = _unpack(ans, batch, [(n,), (n, n)])
    g_e, g_v = _unpack(g, batch, [(n,), (n, n)])
    e, g_e = _real_part(e), _real_part(g_e)  # the eigenvalues are real: so is the part of g that counts
    g_v = identity(g_v)  # contiguous either way: the products below then sum alike eagerly and replayed
    eye = _eye_like(x)
    differences = expand_dims(e, -2) - expand_dims(e, -1)
    f = where(eye > 0, 0.0, 1.0 / where(eye > 0, 1.0, differences))
    inner = expand_dims(g_e, -1) * eye + f * matmul(_adjoint(v), g_v)
    grad = matmul(v, matmul(inner, _adjoint(v)))
    return _onto_lower((grad + _adjoint(grad)) * 0.5)


@defop("linalg", namespace="internal")
def eigh_packed(x):
    """[eigenvalues | eigenvectors] of each symmetric matrix, packed (eigh's record)."""
    x = _matrices(x, "eigh")
    with x._device.activate():
        w, v = x._device.xp.linalg.eigh(x._data)
        out = _pack(x._device.xp, [w, v], x.ndim - 2)
    return make(out, x._device, (x,), (_eigh_vjp,))


@defop("linalg", kind="composite", namespace="linalg")
def eigh(x):
    """(eigenvalues ascending, eigenvectors as columns) of each symmetric matrix, from its lower
    triangle (NumPy's and TensorFlow's). The gradient assumes distinct eigenvalues (it divides by
    their differences, as TensorFlow's)."""
    x = _matrices(x, "eigh")
    n = x.shape[-1]
    values, vectors = _unpack(eigh_packed(x), tuple(x.shape[:-2]), [(n,), (n, n)])
    return EighResult(_real_part(values), vectors)


@defop("linalg", kind="composite", namespace="linalg")
def eigvalsh(x):
    """The eigenvalues (ascending) of each symmetric matrix."""
    return eigh(x).eigenvalues


# -- QR ---------------------------------------------------------------------------------------------
def _triangular_solve_right(x, r):
    """x R^-H for an upper-triangular R (TensorFlow's _TriangularSolve: matmul(x, adjoint(inv(r))))."""
    return _adjoint(solve(r, _adjoint(x)))


def _qr_grad_deep(q, r, dq, dr):
    """TensorFlow's _QrGradSquareAndDeepMatrices (m >= n, reduced), for real and complex matrices."""
    from .manipulation import tril

    qdq = matmul(_adjoint(q), dq)
    qdq_ = qdq - _adjoint(qdq)
    rdr = matmul(r, _adjoint(dr))
    rdr_ = rdr - _adjoint(rdr)
    lower = tril(qdq_ + rdr_)
    grad_a = matmul(q, dr + _triangular_solve_right(lower, r))
    grad_b = _triangular_solve_right(dq - matmul(q, qdq), r)
    if not is_complex(q.dtype):
        return grad_a + grad_b
    # LAPACK's R has a real diagonal, which fixes each column's phase; the imaginary part of
    # diag(R dR^H - dQ^H Q) is the gradient along that constraint (TensorFlow's complex correction)
    m = rdr - _adjoint(qdq)
    diagonal = m * _eye_like(m)
    correction = diagonal - real(diagonal)
    return grad_a + grad_b + _triangular_solve_right(matmul(q, _adjoint(correction)), r)


@own_form  # written with conjugate transposes and the complex correction (TensorFlow's)
def _qr_vjp(g, ans, x):
    m, n = x.shape[-2:]
    k = min(m, n)
    batch = tuple(x.shape[:-2])
    q, r = _unpack(ans, batch, [(m, k), (k, n)])
    dq, dr = _unpack(g, batch, [(m, k), (k, n)])
    if m >= n:
        return _qr_grad_deep(q, r, dq, dr)
    # wide: A = [X | Y] with X square; TensorFlow's _QrGradWideMatrices
    y = x[..., :, m:]
    u, du, dv = r[..., :, :m], dr[..., :, :m], dr[..., :, m:]
    dy = matmul(q, dv)
    dx = _qr_grad_deep(q, u, dq + matmul(y, _adjoint(dv)), du)
    return concat([dx, dy], axis=-1)


@defop("linalg", namespace="internal")
def qr_packed(x):
    """[Q | R] of each matrix's reduced QR decomposition, packed (qr's record)."""
    x = _matrices(x, "qr", square=False)
    with x._device.activate():
        q, r = x._device.xp.linalg.qr(x._data, mode="reduced")
        out = _pack(x._device.xp, [q, r], x.ndim - 2)
    return make(out, x._device, (x,), (_qr_vjp,))


@own_form
def _complete_qr_vjp(g, ans, x):
    raise TypeError("qr(mode='complete') of a matrix with more rows than columns has no gradient (Q's extra "
                    "columns are not unique): take the gradient through qr(x) (mode='reduced')")


@defop("linalg", namespace="internal", differentiable=False)
def qr_complete_packed(x):
    """[Q | R] of each tall matrix's complete QR (Q M x M, R M x N), packed; its gradient refuses."""
    with x._device.activate():
        q, r = x._device.xp.linalg.qr(x._data, mode="complete")
        out = _pack(x._device.xp, [q, r], x.ndim - 2)
    return make(out, x._device, (x,), (_complete_qr_vjp,))


@defop("linalg", kind="composite", namespace="linalg")
def qr(x, mode="reduced"):
    """(Q, R) with x = Q R, Q's columns orthonormal and R upper triangular with a real diagonal.
    mode "reduced" (the default): Q is M x K, R K x N, K = min(M, N); "complete": Q is M x M and R
    M x N. For M > N the complete Q's last M - N columns are not unique, so that QR has no gradient
    (a TypeError if one reaches it; "reduced" has one). The gradient assumes R's diagonal has no
    zero (TensorFlow's)."""
    if mode not in ("reduced", "complete"):
        raise ValueError(f"qr: mode must be 'reduced' or 'complete', got {mode!r}")
    x = _matrices(x, "qr", square=False)
    m, n = x.shape[-2:]
    k = min(m, n)
    if mode == "complete" and m > n:
        return QRResult(*_unpack(qr_complete_packed(x), tuple(x.shape[:-2]), [(m, m), (m, n)]))
    return QRResult(*_unpack(qr_packed(x), tuple(x.shape[:-2]), [(m, k), (k, n)]))
