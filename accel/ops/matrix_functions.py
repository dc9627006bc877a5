"""The rest of accel.linalg (the Array API's linalg extension): norms, trace and diagonal, outer
and cross products, matrix powers, the pseudo-inverse and the rank, each a composite of accel's
ops (decompositions.py's among them), so their gradients are their parts'."""

from __future__ import annotations

import builtins

import numpy

from ..dtypes import is_complex, is_floating, sum_dtype
from ..tensor import Tensor
from ._core import defop, normalize_axis, tensor_arg
from .conversion import cast
from .decompositions import _adjoint, _matrices, inv
from .svd import svd, svdvals
from .elementwise import abs as absolute
from .elementwise import power, sqrt, where
from .indexing import getitem
from .linalg import matmul
from .reduce import max as reduce_max
from .reduce import min as reduce_min
from .reduce import sum as reduce_sum
from .shape import expand_dims, matrix_transpose, reshape


def _float(x):
    return x if is_floating(x.dtype) or is_complex(x.dtype) else cast(x, "float64")


@defop("linalg", kind="composite", namespace="linalg")
def vector_norm(x, axis=None, keepdims=False, ord=2):  # noqa: A002  (the standard's name)
    """The vector norm over `axis` (default: every element): ord p (sum |x|^p)^(1/p), 2 the
    Euclidean, 1, inf (max |x|), -inf (min |x|), 0 (the count of non-zeros, no gradient)."""
    x = _float(tensor_arg(x))
    axes = normalize_axis(axis, x.ndim, "vector_norm")
    a = absolute(x)
    if ord == numpy.inf:
        return reduce_max(a, axes, keepdims)
    if ord == -numpy.inf:
        return reduce_min(a, axes, keepdims)
    if ord == 0:
        return reduce_sum(cast(x != 0, a.dtype), axes, keepdims)
    if ord == 2:
        squares = reduce_sum(a * a if is_complex(x.dtype) else x * x, axes, keepdims)
        positive = squares > 0  # sqrt's gradient at 0 is infinite: 0 there, as TensorFlow's norm
        return where(positive, sqrt(where(positive, squares, 1.0)), 0.0)
    if ord == 1:
        return reduce_sum(a, axes, keepdims)
    if isinstance(ord, bool) or not isinstance(ord, (int, float)):
        raise ValueError(f"vector_norm: ord must be a number or +-inf, got {ord!r}")
    return power(reduce_sum(power(a, float(ord)), axes, keepdims), 1.0 / ord)


@defop("linalg", kind="composite", namespace="linalg")
def matrix_norm(x, keepdims=False, ord="fro"):  # noqa: A002
    """The norm of each matrix (last two axes): "fro" (Frobenius), "nuc" (sum of the singular
    values), 1 / -1 (max / min column sum of |x|), inf / -inf (max / min row sum), 2 / -2 (the
    largest / smallest singular value)."""
    x = _float(_matrices(x, "matrix_norm", square=False))
    axes = (x.ndim - 2, x.ndim - 1)
    if ord == "fro":
        out = vector_norm(x, axes, False, 2)
    elif ord == "nuc":
        out = reduce_sum(svdvals(x), -1)
    elif ord in (1, -1):
        columns = reduce_sum(absolute(x), x.ndim - 2)
        out = reduce_max(columns, -1) if ord == 1 else reduce_min(columns, -1)
    elif ord in (numpy.inf, -numpy.inf):
        rows = reduce_sum(absolute(x), x.ndim - 1)
        out = reduce_max(rows, -1) if ord == numpy.inf else reduce_min(rows, -1)
    elif ord in (2, -2):
        values = svdvals(x)
        out = values[..., 0] if ord == 2 else values[..., -1]
    else:
        raise ValueError(f"matrix_norm: ord must be 'fro', 'nuc', 1, -1, 2, -2, inf or -inf, got {ord!r}")
    return expand_dims(expand_dims(out, -1), -1) if keepdims else out


@defop("linalg", kind="composite", namespace="linalg")
def diagonal(x, offset=0):
    """The `offset`-th diagonal of each matrix (last two axes; above the main one for offset > 0)."""
    x = tensor_arg(x)
    if x.ndim < 2:
        raise ValueError(f"diagonal: x must have at least 2 dimensions, got shape {tuple(x.shape)}")
    if isinstance(offset, (bool, numpy.bool_)) or not isinstance(offset, (int, numpy.integer)):
        raise TypeError(f"diagonal: offset must be an int, got {offset!r}")
    m, n = x.shape[-2:]
    first = builtins.max(0, -int(offset))  # element (i, i + offset) for i in [first, last)
    last = builtins.max(first, builtins.min(m, n - int(offset)))
    rows = numpy.arange(first, last)
    return getitem(x, (Ellipsis, rows, rows + int(offset)))


@defop("linalg", kind="composite", namespace="linalg")
def trace(x, offset=0, dtype=None):
    """The sum of each matrix's `offset`-th diagonal (`dtype`: the sum's; integers narrower than 64
    bits sum in int64 / uint64, as the standard says)."""
    d = diagonal(x, offset)
    dtype = sum_dtype(d.dtype) if dtype is None else dtype
    if dtype is not None:
        d = cast(d, dtype)
    return reduce_sum(d, -1)


@defop("linalg", kind="composite", namespace="linalg")
def outer(x1, x2):
    """The outer product of two vectors: out[i, j] = x1[i] * x2[j]."""
    x1, x2 = tensor_arg(x1, "x1"), tensor_arg(x2, "x2")
    if x1.ndim != 1 or x2.ndim != 1:
        raise ValueError(f"outer: x1 and x2 must be 1-D, got shapes {tuple(x1.shape)} and {tuple(x2.shape)}")
    return reshape(x1, (-1, 1)) * reshape(x2, (1, -1))


@defop("linalg", kind="composite", namespace="linalg")
def cross(x1, x2, axis=-1):
    """The cross product of 3-vectors along `axis` (broadcast against each other)."""
    from .shape import stack

    x1, x2 = tensor_arg(x1, "x1"), tensor_arg(x2, "x2")
    if x1.shape[axis] != 3 or x2.shape[axis] != 3:
        raise ValueError(f"cross: x1 and x2 must have size 3 along axis {axis}, got {tuple(x1.shape)} and "
                         f"{tuple(x2.shape)}")
    ndim = builtins.max(x1.ndim, x2.ndim)
    axis = axis % ndim if axis < 0 else axis

    def part(x, i):
        return getitem(x, (slice(None),) * (axis - (ndim - x.ndim)) + (i,))

    a0, a1, a2 = (part(x1, i) for i in range(3))
    b0, b1, b2 = (part(x2, i) for i in range(3))
    return stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis=axis)


@defop("linalg", kind="composite", namespace="linalg")
def matrix_power(x, n):
    """Each square matrix to the integer power n (n = 0: the identity; n < 0: of the inverse), by
    repeated squaring."""
    from .creation import eye
    from .shape import broadcast_to

    x = _matrices(x, "matrix_power")
    if isinstance(n, (bool, numpy.bool_)) or not isinstance(n, (int, numpy.integer)):
        raise TypeError(f"matrix_power: n must be an int, got {n!r}")
    if n == 0:
        return broadcast_to(eye(x.shape[-1], dtype=x.dtype, device=x.device), tuple(x.shape))
    base = inv(x) if n < 0 else x
    n = abs(int(n))
    result = None
    while n:
        if n & 1:
            result = base if result is None else matmul(result, base)
        n >>= 1
        if n:
            base = matmul(base, base)
    return result


@defop("linalg", kind="composite", namespace="linalg")
def pinv(x, rtol=None):
    """The Moore-Penrose pseudo-inverse of each matrix, from its SVD: singular values at most
    rtol * the largest are taken as zero (default rtol: max(M, N) * the dtype's epsilon)."""
    x = _float(_matrices(x, "pinv", square=False))
    m, n = x.shape[-2:]
    if rtol is None:
        rtol = builtins.max(m, n) * float(numpy.finfo(x.dtype).eps)
    if builtins.min(m, n) == 0:  # empty matrices: their pseudo-inverses are empty too
        return matrix_transpose(x)
    u, s, vh = svd(x, full_matrices=False)
    if isinstance(rtol, Tensor):  # one per matrix of the stack (the standard's), broadcast against it
        rtol = expand_dims(rtol, -1)
    cutoff = expand_dims(s[..., 0], -1) * rtol
    kept = s > cutoff
    s_inv = where(kept, 1.0 / where(kept, s, 1.0), 0.0)
    return matmul(_adjoint(vh) * expand_dims(s_inv, -2), _adjoint(u))  # V S^+ U^H


@defop("linalg", kind="composite", namespace="linalg", differentiable=False, dtype="int64")
def matrix_rank(x, rtol=None):
    """The number of singular values of each matrix above rtol * the largest (default rtol:
    max(M, N) * the dtype's epsilon)."""
    x = _float(_matrices(x, "matrix_rank", square=False))
    m, n = x.shape[-2:]
    if rtol is None:
        rtol = builtins.max(m, n) * float(numpy.finfo(x.dtype).eps)
    s = svdvals(x)
    if builtins.min(m, n) == 0:
        return reduce_sum(cast(s, "int64"), -1)  # no singular values: rank 0
    if isinstance(rtol, Tensor):  # one per matrix of the stack (the standard's), broadcast against it
        rtol = expand_dims(rtol, -1)
    return reduce_sum(cast(s > expand_dims(s[..., 0], -1) * rtol, "int64"), -1)
