"""dot_product_attention (keras.ops.dot_product_attention): softmax(q k^T * scale + bias, masked)
times v, over (batch, sequence, heads, head_dim) tensors. A composite of accel ops (two batched
matmuls, a where, a softmax), so its gradient (every order) is theirs and accel.function traces
it op by op.

A row whose every key is masked (by `mask` or `is_causal`) gives NaN, as TensorFlow does: the
softmax of an empty set has no value. Mask padding keys, not padding queries; or set those
queries' rows to a key they may see.
"""

from __future__ import annotations

import math
import numbers

import numpy

from ..dtypes import is_floating
from ._core import bool_arg, defop, tensor_arg


def _check(query, key, value):
    for name, t in (("query", query), ("key", key), ("value", value)):
        if t.ndim != 4:
            raise ValueError(f"dot_product_attention: {name} must be 4-D (batch, sequence, heads, head_dim), got "
                             f"shape {tuple(t.shape)}")
        if not is_floating(t.dtype):
            raise TypeError(f"dot_product_attention: {name} must be floating point, got {t.dtype.name}")
    b, t, n, h = query.shape
    if key.shape[0] != b or key.shape[2] != n or key.shape[3] != h:
        raise ValueError(f"dot_product_attention: key has shape {tuple(key.shape)}, expected ({b}, S, {n}, {h}) for "
                         f"query {tuple(query.shape)}")
    if tuple(value.shape[:3]) != tuple(key.shape[:3]):
        raise ValueError(f"dot_product_attention: value has shape {tuple(value.shape)}, expected "
                         f"{tuple(key.shape[:3])} + (head_dim,) like key {tuple(key.shape)}")


def _broadcasts(name, shape, target):
    try:
        if numpy.broadcast_shapes(tuple(shape), target) != target:
            raise ValueError
    except ValueError:
        raise ValueError(f"dot_product_attention: {name} of shape {tuple(shape)} does not broadcast to (batch, "
                         f"heads, queries, keys) = {target}") from None


@defop("nn", kind="composite")
def dot_product_attention(query, key, value, bias=None, mask=None, scale=None, is_causal=False):
    """softmax(query . key * scale + bias) . value per head (keras.ops): query (B, T, N, H), key
    and value (B, S, N, H) / (B, S, N, Hv); scale defaults to 1 / sqrt(H); bias (broadcast to
    (B, N, T, S)) is added to the scores; mask (bool, broadcast likewise): True attends;
    is_causal: query t attends to keys s <= t. Returns (B, T, N, Hv)."""
    from .creation import arange
    from .elementwise import less_equal, logical_and, where
    from .classification import scaled_softmax
    from .conversion import cast
    from .linalg import matmul
    from .shape import reshape, transpose

    query, key, value = tensor_arg(query, "query"), tensor_arg(key, "key"), tensor_arg(value, "value")
    _check(query, key, value)
    b, t, n, h = query.shape
    s = key.shape[1]
    target = (b, n, t, s)
    if scale is None:
        scale = 1.0 / math.sqrt(h)
    elif isinstance(scale, (bool, numpy.bool_)) or not isinstance(scale, numbers.Real):
        raise TypeError(f"dot_product_attention: scale must be a number or None, got {scale!r}")
    is_causal = bool_arg(is_causal, "dot_product_attention", "is_causal")
    if bias is not None:
        bias = tensor_arg(bias, "bias")
        _broadcasts("bias", bias.shape, target)
    keep = None
    if mask is not None:
        keep = tensor_arg(mask, "mask")
        if keep.dtype.kind != "b":
            raise TypeError(f"dot_product_attention: mask must be bool (True attends), got {keep.dtype.name}")
        _broadcasts("mask", keep.shape, target)
    # everything checked: (B, T, N, H) -> (B, N, T, H), the heads a batch axis of the matmuls
    q, k, v = (transpose(x, (0, 2, 1, 3)) for x in (query, key, value))
    scores = matmul(q, k, transpose_b=True)
    scale, causal_rows = float(scale), t if is_causal else 0
    if bias is not None:
        scores, scale = scores * scale + cast(bias, scores.dtype), 1.0
    if keep is not None:  # an explicit mask, the causal one folded in (made of ops, so a trace records them)
        if is_causal:
            causal = less_equal(reshape(arange(s, device=query.device), (1, s)),
                                reshape(arange(t, device=query.device), (t, 1)))
            keep = logical_and(keep, causal)
        scores = where(keep, scores * scale if scale != 1.0 else scores, float("-inf"))
        scale, causal_rows = 1.0, 0
    # softmax of scores * scale with the causal mask in one op (one pass per row on the CPU);
    # a fully masked row gives NaN, said above
    weights = scaled_softmax(scores, scale, causal_rows)
    return transpose(matmul(weights, v), (0, 2, 1, 3))
