"""accel's ops: one module per family, each op's forward beside its VJP."""

import sys as _sys

from .. import tensor as _tensor

from .conversion import cast, identity, stop_gradient, tensor_like, to_device
from .creation import arange, eye, full, full_like, linspace, ones, ones_like, zeros, zeros_like
from .elementwise import (
    abs, add, bitwise_and, bitwise_or, bitwise_xor, clip, cos, divide, equal, erf, exp, expm1, floor_divide,
    greater, greater_equal, invert, left_shift, right_shift,
    isfinite, isnan, less, less_equal, log, log1p, logical_and, logical_not, logical_or,
    logical_xor, maximum, minimum, mod, multiply, negative, not_equal, pow, power, relu, rsqrt,
    sigmoid, sign, sin, softplus, sqrt, square, subtract, tanh, where,
)
from .indexing import (
    gather, gather_nd, getitem, one_hot, scatter_add, scatter_nd, tensor_scatter_nd_add, tensor_scatter_nd_update,
)
from .linalg import matmul
from .classification import (
    log_softmax, softmax, softmax_cross_entropy_with_logits, sparsemax,
    sparse_softmax_cross_entropy_with_logits,
)
from .reduce import (
    argmax, argmin, count_nonzero, logsumexp, max, mean, min, prod, reduce_all, reduce_any, sum,
)
from .shape import (
    broadcast_to, concat, expand_dims, flatten, matrix_transpose, reshape, split, squeeze, stack,
    sum_to, transpose, unstack,
)

from . import classification, conversion, creation, elementwise, indexing, linalg, numpy_protocol, reduce, shape  # noqa: E402

__all__ = sorted(
    set(conversion.__all__) | set(creation.__all__) | set(elementwise.__all__)
    | set(indexing.__all__) | set(linalg.__all__) | set(classification.__all__) | set(reduce.__all__)
    | set(shape.__all__) | {"matrix_transpose"}
)


# Tensor's operators and methods call the ops: register them (tensor.py holds the table).
_tensor.bind_operators(_sys.modules[__name__])
