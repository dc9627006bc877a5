"""Linear algebra: matmul (with NumPy's rules for 1-D operands and broadcast batch axes)."""

from __future__ import annotations

import numpy

from ..autodiff.complex_grads import complex_form, holomorphic
from ..dtypes import is_complex, is_floating
from ..tensor import Tensor
from ._core import bool_arg, defop, make, operands
from .shape import matrix_transpose, reshape, sum_to


def _as_matrix(t, is_left: bool):
    """A 1-D operand as the matrix matmul treats it: a row (left) or a column (right)."""
    if t.ndim >= 2:
        return t
    return reshape(t, (1, t.shape[0]) if is_left else (t.shape[0], 1))


def _promoted_grad(g, a, b):
    """g reshaped to the output shape matmul has when 1-D operands are promoted to matrices."""
    batch = numpy.broadcast_shapes(a.shape[:-2], b.shape[:-2]) if a.ndim > 1 and b.ndim > 1 else (
        a.shape[:-2] if a.ndim > 1 else b.shape[:-2])
    n = a.shape[-2] if a.ndim > 1 else 1
    m = b.shape[-1] if b.ndim > 1 else 1
    return reshape(g, tuple(batch) + (n, m))


# dL/dA = dL/dC @ B^T and dL/dB = A^T @ dL/dC on the promoted operands (1-D, batched; two 2-D
# matrices take _VJPS_2D); batch axes that were broadcast are summed here (back to the promoted
# shape) so 1-D operands get back their shape.
def _matmul_vjp_a(g, ans, a, b):
    a2, b2 = _as_matrix(a, True), _as_matrix(b, False)
    grad = matmul(_promoted_grad(g, a, b), matrix_transpose(b2))
    return reshape(sum_to(grad, a2.shape), a.shape)


def _matmul_vjp_b(g, ans, a, b):
    a2, b2 = _as_matrix(a, True), _as_matrix(b, False)
    grad = matmul(matrix_transpose(a2), _promoted_grad(g, a, b))
    return reshape(sum_to(grad, b2.shape), b.shape)


_MATMUL_VJPS = holomorphic(_matmul_vjp_a, _matmul_vjp_b)  # complex: g @ b^H, a^H @ g


_FLOAT16 = numpy.dtype("float16")


def _product(xp, a, b):
    """xp.matmul, but float16 on the CPU goes through float32 BLAS: NumPy has no half-precision
    BLAS and its own float16 loop is ~200x slower (0.65 s for an MLP step at batch 128). The
    product accumulates in float32 and rounds once to float16, as NumPy's loop and GPUs' float16
    matmuls (float32 accumulation) do."""
    if a.ndim > 2 and b.ndim == 2:
        # (..., k) @ (k, n) as ONE GEMM of the rows (NumPy would run a GEMM per leading index:
        # a Dense layer on (batch, time, features) took 16 small GEMMs instead of one)
        rows = _product(xp, a.reshape(-1, a.shape[-1]), b)
        return rows.reshape(a.shape[:-1] + (b.shape[-1],))
    if xp is numpy and a.dtype == _FLOAT16 and b.dtype == _FLOAT16:
        return numpy.matmul(a.astype(numpy.float32), b.astype(numpy.float32)).astype(_FLOAT16)
    return xp.matmul(a, b)


def _matmul_kernel(xp, a, b, transpose_a=False, transpose_b=False):
    """matmul on raw arrays (accel.function's replay)."""
    return _product(xp, a.swapaxes(-1, -2) if transpose_a else a, b.swapaxes(-1, -2) if transpose_b else b)


# The VJPs of C = op(A) op(B) for 2-D operands, each one matmul with flags (no transpose op):
#   C = A B:     dA = g B^T,       dB = A^T g
#   C = A B^T:   dA = g B,         dB = g^T A
#   C = A^T B:   dA = B g^T,       dB = A g
#   C = A^T B^T: dA = B^T g^T,     dB = g^T A^T
_VJPS_2D = {
    (False, False): (lambda g, ans, a, b: matmul(g, b, transpose_b=True),
                     lambda g, ans, a, b: matmul(a, g, transpose_a=True)),
    (False, True): (lambda g, ans, a, b: matmul(g, b),
                    lambda g, ans, a, b: matmul(g, a, transpose_a=True)),
    (True, False): (lambda g, ans, a, b: matmul(b, g, transpose_b=True),
                    lambda g, ans, a, b: matmul(a, g)),
    (True, True): (lambda g, ans, a, b: matmul(b, g, transpose_a=True, transpose_b=True),
                   lambda g, ans, a, b: matmul(g, a, transpose_a=True, transpose_b=True)),
}


# (..., k) @ (k, n) [b transposed: (n, k)]: the rows of a times b, so dB is ONE GEMM of the rows
# (not a batched product summed over the leading axes) and dA is (..., n) @ b^T, one GEMM again.
def _rows(t):
    return reshape(t, (-1, t.shape[-1]))


_VJPS_ND_2D = {
    False: (lambda g, ans, a, b: matmul(g, b, transpose_b=True),
            lambda g, ans, a, b: matmul(_rows(a), _rows(g), transpose_a=True)),
    True: (lambda g, ans, a, b: matmul(g, b),
           lambda g, ans, a, b: matmul(_rows(g), _rows(a), transpose_a=True)),
}


for _pair in (*_VJPS_2D.values(), *_VJPS_ND_2D.values()):  # complex: the products with conjugates
    holomorphic(*_pair)


def _broadcast(x, y) -> bool:
    try:
        numpy.broadcast_shapes(tuple(x), tuple(y))
    except ValueError:
        return False
    return True


@defop("linalg", numpy="matmul", methods=("__matmul__", "__rmatmul__"), kernel=_matmul_kernel)
def matmul(a, b, transpose_a=False, transpose_b=False):
    """Matrix product a @ b: batched over leading axes (broadcast), 1-D operands as in NumPy.
    transpose_a / transpose_b: multiply by a's (b's) matrix transpose, its last two axes swapped
    (TensorFlow's tf.linalg.matmul flags; the operand must have 2 or more dimensions). On 2-D
    operands that is one op, whose VJPs are one matmul each."""
    if transpose_a is not False:
        transpose_a = bool_arg(transpose_a, "matmul", "transpose_a")
    if transpose_b is not False:
        transpose_b = bool_arg(transpose_b, "matmul", "transpose_b")
    if isinstance(a, Tensor) and isinstance(b, Tensor):  # the common call: two matrices on one device
        ad, bd = a._data, b._data
        if ad.ndim == 2 and bd.ndim == 2 and a._device is b._device:
            if transpose_a:
                ad = ad.T
            if transpose_b:
                bd = bd.T
            if ad.shape[1] == bd.shape[0]:
                return make(_product(a._device.xp, ad, bd), a._device, (a, b), _VJPS_2D[transpose_a, transpose_b])
    a, b, device = operands("matmul", a, b)
    if transpose_a or transpose_b:
        for flag, operand, name in ((transpose_a, a, "transpose_a"), (transpose_b, b, "transpose_b")):
            if flag and operand.ndim < 2:
                raise ValueError(f"matmul: {name} needs an operand of 2 or more dimensions, got shape "
                                 f"{tuple(operand.shape)}")
        ad = a._data.swapaxes(-1, -2) if transpose_a else a._data
        bd = b._data.swapaxes(-1, -2) if transpose_b else b._data
        if ad.ndim >= 2 and bd.ndim >= 2 and ad.shape[-1] == bd.shape[-2] and _broadcast(ad.shape[:-2], bd.shape[:-2]):
            # one op with flags, batched too: its VJPs are the 2-D ones (the walk sums broadcast
            # batch axes down), so no intermediate op hides inside it from a trace
            vjps = _VJPS_ND_2D[transpose_b] if ad.ndim > 2 and bd.ndim == 2 and not transpose_a else \
                _VJPS_2D[transpose_a, transpose_b]
            return make(_product(device.xp, ad, bd), device, (a, b), vjps)
        # shapes that do not fit: the plain product of the transposed operands names them
        return matmul(matrix_transpose(a) if transpose_a else a, matrix_transpose(b) if transpose_b else b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(
            f"matmul: operands must have at least 1 dimension, got shapes {tuple(a.shape)} and "
            f"{tuple(b.shape)} (use multiply for scalars)")
    k_a = a.shape[-1]
    k_b = b.shape[-2] if b.ndim > 1 else b.shape[0]
    if k_a != k_b:
        raise ValueError(
            f"matmul: inner dimensions differ: a has shape {tuple(a.shape)} and b has shape "
            f"{tuple(b.shape)} ({k_a} != {k_b})")
    if a.ndim > 2 or b.ndim > 2:
        try:
            numpy.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise ValueError(
                f"matmul: batch dimensions {tuple(a.shape[:-2])} and {tuple(b.shape[:-2])} do not "
                "broadcast") from None
    vjps = _VJPS_ND_2D[False] if a.ndim > 2 and b.ndim == 2 else _MATMUL_VJPS
    return make(_product(device.xp, a._data, b._data), device, (a, b), vjps)


@defop("linalg", kind="composite", numpy="tensordot")
def tensordot(x1, x2, axes=2):
    """The sum of products over the last `axes` axes of x1 and the first of x2 (an int), or over
    the pairs of axes `axes` = (x1's, x2's): NumPy's tensordot, as one einsum."""
    from ._core import tensor_arg
    from .einsum import einsum

    x1, x2 = tensor_arg(x1, "x1"), tensor_arg(x2, "x2")
    if isinstance(axes, (int, numpy.integer)) and not isinstance(axes, (bool, numpy.bool_)):
        if not 0 <= axes <= min(x1.ndim, x2.ndim):
            raise ValueError(f"tensordot: axes must be in [0, {min(x1.ndim, x2.ndim)}], got {axes}")
        first, second = list(range(x1.ndim - axes, x1.ndim)), list(range(axes))
    else:
        first, second = ([a] if isinstance(a, (int, numpy.integer)) else list(a) for a in axes)
        first = [a % x1.ndim if -x1.ndim <= a < x1.ndim else None for a in first]
        second = [a % x2.ndim if -x2.ndim <= a < x2.ndim else None for a in second]
        if None in first or None in second or len(first) != len(second):
            raise ValueError(f"tensordot: axes {axes!r} must be two equally long lists of axes of x1 and x2")
    for a, b in zip(first, second):
        if x1.shape[a] != x2.shape[b]:
            raise ValueError(f"tensordot: x1's axis {a} (size {x1.shape[a]}) and x2's axis {b} (size {x2.shape[b]}) "
                             "differ")
    if x1.dtype != x2.dtype:  # einsum takes one dtype: the standard's promotion first
        from ..array_api import result_type
        from .conversion import cast

        common = result_type(x1, x2)
        x1, x2 = cast(x1, common), cast(x2, common)
    letters = iter("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    left = [next(letters) for _ in range(x1.ndim)]
    right = [next(letters) for _ in range(x2.ndim)]
    for a, b in zip(first, second):
        right[b] = left[a]
    out = [c for i, c in enumerate(left) if i not in first] + [c for i, c in enumerate(right) if i not in second]
    return einsum(f"{''.join(left)},{''.join(right)}->{''.join(out)}", x1, x2)


def _vecdot_array(xp, x1, x2, axis):
    """sum(conj(x1) * x2, axis) on arrays of one dtype: NumPy's vecdot (one dot kernel per pair),
    the product and sum where the array module has none (CuPy)."""
    if xp is numpy and (is_floating(x1.dtype) or is_complex(x1.dtype)):
        return numpy.vecdot(x1, x2, axis=axis)
    product = (xp.conj(x1) if x1.dtype.kind == "c" else x1) * x2
    return product.sum(axis=axis, dtype=product.dtype)  # the operands' dtype (sum would widen integers)


def _vecdot_vjp_x1(g, ans, x1, x2, axis):
    # w = sum(conj(x1) x2): the gradient of x1 is conj(g) x2 (g x2 for real operands)
    from ..autodiff.complex_grads import conj_of
    from .shape import expand_dims

    return expand_dims(conj_of(g), axis) * x2


def _vecdot_vjp_x2(g, ans, x1, x2, axis):
    from .shape import expand_dims

    return expand_dims(g, axis) * x1


_VECDOT_VJPS = (_vecdot_vjp_x1, _vecdot_vjp_x2)
for _vjp in _VECDOT_VJPS:  # written for complex operands as they are
    complex_form(_vjp, _vjp)


@defop("linalg", numpy="vecdot", kernel=lambda xp, x1, x2, axis=-1: _vecdot_array(xp, x1, x2, axis))
def vecdot(x1, x2, axis=-1):
    """The dot product of the vectors along `axis` (counted from the end) of x1 and x2, broadcast
    against each other: sum(conj(x1) * x2, axis) (the Array API's: x1 conjugated when complex)."""
    from ._core import same_device, tensor_arg

    x1, x2 = tensor_arg(x1, "x1"), tensor_arg(x2, "x2")
    rank = min(x1.ndim, x2.ndim)
    if axis >= 0 and x1.ndim == x2.ndim:
        axis -= rank  # counted from the end: the operands broadcast from there
    if not -rank <= axis < 0:
        raise ValueError(f"vecdot: axis must be in [-{rank}, -1] (counted from the end, as the operands broadcast), "
                         f"got {axis}")
    if x1.shape[axis] != x2.shape[axis]:
        raise ValueError(f"vecdot: x1 {tuple(x1.shape)} and x2 {tuple(x2.shape)} must have one length along axis "
                         f"{axis}")
    if x1.dtype != x2.dtype:  # the standard's promotion first
        from ..array_api import result_type
        from .conversion import cast

        dtype = result_type(x1.dtype, x2.dtype)
        x1, x2 = cast(x1, dtype), cast(x2, dtype)
    device = same_device("vecdot", (x1, x2))
    with device.activate():
        out = _vecdot_array(device.xp, x1._data, x2._data, axis)
    return make(out, device, (x1, x2), _VECDOT_VJPS, {"axis": axis})
