"""accel's ops: one module per family, each op's forward beside its VJP."""

from .conversion import cast, identity, stop_gradient, tensor_like, to_device
from .creation import arange, eye, full, full_like, linspace, ones, ones_like, zeros, zeros_like
from .elementwise import (
    abs, add, clip, cos, divide, equal, exp, expm1, floor_divide, greater, greater_equal,
    isfinite, isnan, less, less_equal, log, log1p, logical_and, logical_not, logical_or,
    logical_xor, maximum, minimum, mod, multiply, negative, not_equal, power, relu, rsqrt,
    sigmoid, sign, sin, softplus, sqrt, square, subtract, tanh, where,
)
from .indexing import gather, getitem, one_hot, scatter_add
from .linalg import matmul
from .nn import (
    log_softmax, softmax, softmax_cross_entropy_with_logits,
    sparse_softmax_cross_entropy_with_logits,
)
from .reduce import (
    argmax, argmin, count_nonzero, logsumexp, max, mean, min, prod, reduce_all, reduce_any, sum,
)
from .shape import (
    broadcast_to, concat, expand_dims, flatten, matrix_transpose, reshape, split, squeeze, stack,
    sum_to, transpose, unstack,
)

from . import conversion, creation, elementwise, indexing, linalg, nn, reduce, shape  # noqa: E402

__all__ = sorted(
    set(conversion.__all__) | set(creation.__all__) | set(elementwise.__all__)
    | set(indexing.__all__) | set(linalg.__all__) | set(nn.__all__) | set(reduce.__all__)
    | set(shape.__all__) | {"matrix_transpose"}
)


def _bind_hot_operators():
    """Point Tensor's hottest operators at their ops directly (no wrapper frame per call).
    Addition and multiplication are exactly commutative in IEEE arithmetic, so the reflected
    forms can share the op."""
    from ..tensor import Tensor

    Tensor.__add__ = Tensor.__radd__ = add
    Tensor.__mul__ = Tensor.__rmul__ = multiply
    Tensor.__sub__ = subtract
    Tensor.__truediv__ = divide
    Tensor.__pow__ = power
    Tensor.__matmul__ = matmul
    Tensor.__neg__ = negative
    Tensor.__getitem__ = getitem


_bind_hot_operators()
