"""Linear algebra: matmul (with NumPy's rules for 1-D operands and broadcast batch axes)."""

from __future__ import annotations

import numpy

from ._core import defop, make, operands
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


# dL/dA = dL/dC @ B^T and dL/dB = A^T @ dL/dC on the promoted operands; batch axes that were
# broadcast are summed here (back to the promoted shape) so 1-D operands get back their shape.
def _matmul_vjp_a(g, ans, a, b):
    if a.ndim == 2 and b.ndim == 2:  # the common case: nothing promoted or broadcast
        return matmul(g, matrix_transpose(b))
    a2, b2 = _as_matrix(a, True), _as_matrix(b, False)
    grad = matmul(_promoted_grad(g, a, b), matrix_transpose(b2))
    return reshape(sum_to(grad, a2.shape), a.shape)


def _matmul_vjp_b(g, ans, a, b):
    if a.ndim == 2 and b.ndim == 2:
        return matmul(matrix_transpose(a), g)
    a2, b2 = _as_matrix(a, True), _as_matrix(b, False)
    grad = matmul(matrix_transpose(a2), _promoted_grad(g, a, b))
    return reshape(sum_to(grad, b2.shape), b.shape)


_MATMUL_VJPS = (_matmul_vjp_a, _matmul_vjp_b)


_FLOAT16 = numpy.dtype("float16")


def _product(xp, a, b):
    """xp.matmul, but float16 on the CPU goes through float32 BLAS: NumPy has no half-precision
    BLAS and its own float16 loop is ~200x slower (0.65 s for an MLP step at batch 128). The
    product accumulates in float32 and rounds once to float16, as NumPy's loop and GPUs' float16
    matmuls (float32 accumulation) do."""
    if xp is numpy and a.dtype == _FLOAT16 and b.dtype == _FLOAT16:
        return numpy.matmul(a.astype(numpy.float32), b.astype(numpy.float32)).astype(_FLOAT16)
    return xp.matmul(a, b)


@defop("linalg", numpy="matmul", methods=("__matmul__", "__rmatmul__"), kernel=_product)
def matmul(a, b):
    """Matrix product a @ b: batched over leading axes (broadcast), 1-D operands as in NumPy."""
    a, b, device = operands("matmul", a, b)
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
    return make(_product(device.xp, a._data, b._data), device, (a, b), _MATMUL_VJPS)
