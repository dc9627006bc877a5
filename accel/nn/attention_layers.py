"""Keras 3's MultiHeadAttention (docs/semantics.md section 16).

MultiHeadAttention(num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True,
output_shape=None, kernel_initializer="glorot_uniform", bias_initializer="zeros"); call
(query, value, key=None, attention_mask=None, return_attention_scores=False, training=None,
use_causal_mask=False). Weights in get_weights() order: query kernel (D, N, key_dim), query bias
(N, key_dim), key kernel, key bias, value kernel (Dv, N, value_dim), value bias, output kernel
(N, value_dim, D_out), output bias (D_out,). Q = query . Wq + bq (K, V likewise from key / value,
key defaulting to value); scores = Q K^T / sqrt(key_dim) per head, masked where attention_mask
(B, T, S) is False or, with use_causal_mask, where the key comes after the query; softmax over
the keys; dropout on those weights in training; output = (weights . V) . Wo + bo. Every
projection is one GEMM (the kernel read as (D, N * key_dim)). A query whose every key is masked
gives NaN (dot_product_attention's rule).
"""

from __future__ import annotations

import math
import numbers

import numpy

from .. import ops
from ..ops.classification import scaled_softmax
from ..random import Generator
from ..tensor import convert
from . import initializers
from .layer import Layer

__all__ = ["MultiHeadAttention"]


class MultiHeadAttention(Layer):
    _config_fields = ("num_heads", "key_dim", "value_dim", "dropout")

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True, output_shape=None,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", seed=None, name=None, dtype=None,
                 device=None):
        for argument, value in (("num_heads", num_heads), ("key_dim", key_dim),
                                ("value_dim", key_dim if value_dim is None else value_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"MultiHeadAttention: {argument} must be a positive int, got {value!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) or not 0 <= dropout < 1:
            raise ValueError(f"MultiHeadAttention: dropout must be a number in [0, 1), got {dropout!r}")
        if output_shape is not None and (isinstance(output_shape, bool) or not isinstance(output_shape, int)
                                         or output_shape <= 0):
            raise ValueError(f"MultiHeadAttention: output_shape must be a positive int or None, got {output_shape!r}")
        self.num_heads, self.key_dim = num_heads, key_dim
        self.value_dim = key_dim if value_dim is None else value_dim
        self.dropout = float(dropout)
        self.use_bias = bool(use_bias)
        self.output_shape_ = output_shape
        self.kernel_initializer = initializers.get(kernel_initializer, seed=seed)
        self.bias_initializer = initializers.get(bias_initializer, seed=seed)
        self._generator = Generator(seed)
        # the weights, in Keras's order (created on the first call, when the input sizes are known)
        self.query_kernel = self.query_bias = None
        self.key_kernel = self.key_bias = None
        self.value_kernel = self.value_bias = None
        self.output_kernel = self.output_bias = None
        super().__init__(name=name, dtype=dtype, device=device)

    def _create(self, query_dim, key_dim, value_dim) -> None:
        n, h, hv = self.num_heads, self.key_dim, self.value_dim
        out = self.output_shape_ or query_dim
        add = self.add_weight
        self.query_kernel = add("query/kernel", (query_dim, n, h), self.kernel_initializer)
        self.query_bias = add("query/bias", (n, h), self.bias_initializer) if self.use_bias else None
        self.key_kernel = add("key/kernel", (key_dim, n, h), self.kernel_initializer)
        self.key_bias = add("key/bias", (n, h), self.bias_initializer) if self.use_bias else None
        self.value_kernel = add("value/kernel", (value_dim, n, hv), self.kernel_initializer)
        self.value_bias = add("value/bias", (n, hv), self.bias_initializer) if self.use_bias else None
        self.output_kernel = add("attention_output/kernel", (n, hv, out), self.kernel_initializer)
        self.output_bias = add("attention_output/bias", (out,), self.bias_initializer) if self.use_bias else None
        self._dims = (query_dim, key_dim, value_dim)

    def _project(self, x, kernel, bias):
        """x (B, T, D) . kernel (D, N, H) + bias (N, H): (B, T, N, H) by one GEMM."""
        d, n, h = kernel.shape
        b, t = x.shape[0], x.shape[1]
        y = ops.reshape(ops.reshape(x, (b * t, d)) @ ops.reshape(self._read(kernel), (d, n * h)), (b, t, n, h))
        return y if bias is None else y + self._read(bias)

    def __call__(self, query, value, key=None, **kwargs):  # Keras's keywords: mha(query=x, value=y)
        return super().__call__(query, value, key, **kwargs)

    def call(self, query, value, key=None, attention_mask=None, return_attention_scores=False, training=None,
             use_causal_mask=False):
        query, value = self._cast_input(query), self._cast_input(value)
        key = value if key is None else self._cast_input(key)
        for argument, t in (("query", query), ("value", value), ("key", key)):
            if t.ndim != 3:
                raise ValueError(f"{self.name}: {argument} must be (batch, sequence, features), got shape "
                                 f"{tuple(t.shape)}")
        if key.shape[:2] != value.shape[:2] or query.shape[0] != key.shape[0]:
            raise ValueError(f"{self.name}: query {tuple(query.shape)}, key {tuple(key.shape)} and value "
                             f"{tuple(value.shape)} must share the batch, key and value the sequence")
        dims = (query.shape[-1], key.shape[-1], value.shape[-1])
        if self.query_kernel is None:
            self._create(*dims)
        elif dims != self._dims:
            raise ValueError(f"{self.name}: built for (query, key, value) features {self._dims}, got {dims}")
        b, t, s = query.shape[0], query.shape[1], key.shape[1]
        keep = None
        if attention_mask is not None:
            keep = convert(attention_mask, device=query.device)
            if keep.dtype != numpy.dtype(bool):  # Keras: nonzero attends
                keep = ops.not_equal(keep, 0)
            try:
                numpy.broadcast_shapes(tuple(keep.shape), (b, t, s))
            except ValueError:
                raise ValueError(f"{self.name}: attention_mask of shape {tuple(keep.shape)} does not broadcast to "
                                 f"(batch, queries, keys) = {(b, t, s)}") from None
            keep = ops.expand_dims(keep, -3) if keep.ndim == 3 else keep  # the heads axis
        causal_rows = 0  # the causal mask alone goes into the softmax op (one pass, no mask tensor)
        if use_causal_mask and keep is None:
            causal_rows = t
        elif use_causal_mask:
            causal = ops.less_equal(ops.reshape(ops.arange(s, device=query.device), (1, s)),
                                    ops.reshape(ops.arange(t, device=query.device), (t, 1)))
            keep = ops.logical_and(keep, causal)
        q = ops.transpose(self._project(query, self.query_kernel, self.query_bias), (0, 2, 1, 3))  # (B, N, T, H)
        k = ops.transpose(self._project(key, self.key_kernel, self.key_bias), (0, 2, 1, 3))
        v = ops.transpose(self._project(value, self.value_kernel, self.value_bias), (0, 2, 1, 3))
        scores, scale = ops.matmul(q, k, transpose_b=True), 1.0 / math.sqrt(self.key_dim)
        if keep is not None:
            scores, scale = ops.where(keep, scores * scale, float("-inf")), 1.0
        with numpy.errstate(divide="ignore", invalid="ignore"):  # a fully masked query: NaN, said above
            weights = scaled_softmax(scores, scale, causal_rows)  # softmax(scores * scale), causal_rows masked
        dropped = weights
        if training and self.dropout > 0:
            dropped = ops.dropout(weights, self.dropout, seed=self._generator)
        a = ops.reshape(ops.transpose(ops.matmul(dropped, v), (0, 2, 1, 3)), (b * t, self.num_heads * self.value_dim))
        n, hv, out = self.output_kernel.shape
        y = ops.reshape(a @ ops.reshape(self._read(self.output_kernel), (n * hv, out)), (b, t, out))
        if self.output_bias is not None:
            y = y + self._read(self.output_bias)
        return (y, weights) if return_attention_scores else y
