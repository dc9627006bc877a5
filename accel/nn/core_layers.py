"""Keras 3's core layers without convolution: Activation, Dropout, Flatten, Reshape, Add,
Concatenate and Embedding (names, defaults and weights as keras.layers)."""

from __future__ import annotations

import math
import numbers

import numpy

from .. import ops
from ..dtypes import is_floating
from ..random import Generator
from ..tensor import convert
from . import activations, initializers, regularizers
from .conv_layers import _data_format
from .layer import Layer

__all__ = ["Activation", "Dropout", "Flatten", "Reshape", "Add", "Concatenate", "Embedding"]


class Activation(Layer):
    """activation(inputs), the activation a Keras name ("relu", "gelu", ...) or a callable."""
    _config_fields = ("activation",)

    def __init__(self, activation, name=None, dtype=None, device=None, input_shape=None):
        if activation is None:
            raise ValueError("Activation: activation must be a name or a callable, got None")
        self.activation = activations.get(activation)
        super().__init__(name=name, dtype=dtype, device=device, input_shape=input_shape)

    def call(self, inputs):
        x = self._cast_input(inputs)
        return x if self.activation is None else self.activation(x)  # "linear": the identity


class Dropout(Layer):
    """In training, each element kept with probability 1 - rate and scaled by 1 / (1 - rate);
    otherwise (training False or None) the identity. A seeded layer has a generator of its own:
    every call draws a new mask, the same sequence in every run (inside accel.function too).
    noise_shape: the mask's shape (None entries take the input's size), broadcast over the input."""
    _config_fields = ("rate", "noise_shape", "seed")

    def __init__(self, rate, noise_shape=None, seed=None, name=None, dtype=None, device=None, input_shape=None):
        if isinstance(rate, (bool, numpy.bool_)) or not isinstance(rate, numbers.Real) or not 0 <= rate < 1:
            raise ValueError(f"Dropout: rate must be a number in [0, 1), got {rate!r}")
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        self._generator = None if seed is None else Generator(seed)
        super().__init__(name=name, dtype=dtype, device=device, input_shape=input_shape)

    def call(self, inputs, training=None):
        x = self._cast_input(inputs)
        if not training or self.rate == 0:
            return x
        shape = None
        if self.noise_shape is not None:
            if len(self.noise_shape) != x.ndim:
                raise ValueError(f"{self.name}: noise_shape {self.noise_shape} must have the input's rank {x.ndim}")
            shape = tuple(x.shape[i] if n is None else n for i, n in enumerate(self.noise_shape))
        return ops.dropout(x, self.rate, noise_shape=shape, seed=self._generator)


class Flatten(Layer):
    """(batch, ...) -> (batch, prod(...)), row-major over the channels-last layout (a channels_first
    input is moved to channels last first, as Keras)."""

    def __init__(self, data_format=None, name=None, dtype=None, device=None, input_shape=None):
        self.data_format = _data_format(data_format, "Flatten")
        super().__init__(name=name, dtype=dtype, device=device, input_shape=input_shape)

    def call(self, inputs):
        x = self._cast_input(inputs)
        if x.ndim == 0:
            raise ValueError(f"{self.name}: expected inputs with a batch axis, got a scalar")
        if self.data_format == "channels_first" and x.ndim >= 3:
            x = ops.transpose(x, (0, *range(2, x.ndim), 1))
        return ops.reshape(x, (x.shape[0], math.prod(x.shape[1:])))


class Reshape(Layer):
    """(batch, ...) -> (batch, *target_shape); one entry of target_shape may be -1."""
    _config_fields = ("target_shape",)

    def __init__(self, target_shape, name=None, dtype=None, device=None, input_shape=None):
        try:
            self.target_shape = tuple(int(n) for n in target_shape)
        except TypeError:
            raise TypeError(f"Reshape: target_shape must be a tuple of ints, got {target_shape!r}") from None
        if sum(n == -1 for n in self.target_shape) > 1 or any(n < -1 or n == 0 for n in self.target_shape):
            raise ValueError(f"Reshape: target_shape must be positive ints with at most one -1, got {target_shape!r}")
        super().__init__(name=name, dtype=dtype, device=device, input_shape=input_shape)

    def call(self, inputs):
        x = self._cast_input(inputs)
        return ops.reshape(x, (x.shape[0], *self.target_shape))


def _tensors(inputs, layer):
    if not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
        raise ValueError(f"{layer}: expected a list of at least 2 tensors, got {type(inputs).__name__}")
    return list(inputs)


class Add(Layer):
    """The elementwise sum of a list of tensors (a residual connection): shapes must be equal
    (or broadcast, as Keras)."""

    def call(self, inputs):
        tensors = [self._cast_input(x) for x in _tensors(inputs, self.name)]
        out = tensors[0]
        for t in tensors[1:]:
            out = out + t
        return out


class Concatenate(Layer):
    """A list of tensors joined along `axis` (default -1)."""
    _config_fields = ("axis",)

    def __init__(self, axis=-1, name=None, dtype=None, device=None):
        self.axis = axis
        super().__init__(name=name, dtype=dtype, device=device)

    def call(self, inputs):
        return ops.concat([self._cast_input(x) for x in _tensors(inputs, self.name)], axis=self.axis)


class Embedding(Layer):
    """ids (integers in [0, input_dim)) -> rows of `embeddings` (input_dim, output_dim), initialised
    uniform(-0.05, 0.05) (Keras's "uniform"). An id out of range is an error naming the first one
    (embedding_lookup). Float ids are taken only when they are whole numbers."""
    _config_fields = ("input_dim", "output_dim")
    _regularized = (("embeddings_regularizer", "embeddings"),)

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", embeddings_regularizer=None,
                 seed=None, name=None, dtype=None, device=None, input_shape=None):
        for argument, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"Embedding: {argument} must be a positive int, got {value!r}")
        self.input_dim, self.output_dim = input_dim, output_dim
        self.embeddings_initializer = initializers.get(embeddings_initializer, seed=seed)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.embeddings = None
        super().__init__(name=name, dtype=dtype, device=device, input_shape=input_shape)

    def build(self, input_shape) -> None:
        self.embeddings = self.add_weight("embeddings", (self.input_dim, self.output_dim), self.embeddings_initializer)

    def call(self, inputs):
        ids = convert(inputs)
        if is_floating(ids.dtype):
            values = ids.numpy()
            if not numpy.array_equal(values, numpy.round(values)):
                raise ValueError(f"{self.name}: ids must be whole numbers, got non-integral floats")
            ids = ops.cast(ids, "int64")
        elif ids.dtype.kind not in "iu":
            raise TypeError(f"{self.name}: ids must be integers, got {ids.dtype.name}")
        out = ops.embedding_lookup(self.embeddings, ids)  # looked up, then cast (Keras: only the rows)
        return out if out.dtype == self.compute_dtype else ops.cast(out, self.compute_dtype)
