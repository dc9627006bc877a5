"""Layers: Dense and Sequential, activations by name, and every Keras layer accel has (the
families live in conv_layers, pooling_layers, core_layers, normalization_layers and
attention_layers; they are exported here)."""

from __future__ import annotations

from . import activations
from .module import Module

from .attention_layers import MultiHeadAttention
from .conv_layers import Conv1D, Conv2D, Conv2DTranspose, DepthwiseConv2D
from .core_layers import Activation, Add, Concatenate, Dropout, Embedding, Flatten, Reshape
from .layer import Layer
from .normalization_layers import BatchNormalization, LayerNormalization
from .pooling_layers import (AveragePooling1D, AveragePooling2D, GlobalAveragePooling1D, GlobalAveragePooling2D,
                             GlobalMaxPooling1D, GlobalMaxPooling2D, MaxPooling1D, MaxPooling2D)

__all__ = ["Dense", "Sequential", "activation", "Layer", "Conv1D", "Conv2D", "Conv2DTranspose", "DepthwiseConv2D",
           "MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D", "GlobalAveragePooling1D",
           "GlobalAveragePooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "Activation", "Add",
           "Concatenate", "Dropout", "Embedding", "Flatten", "Reshape", "BatchNormalization", "LayerNormalization",
           "MultiHeadAttention"]

def activation(identifier):
    """An activation function from a Keras 3 name ("relu", "gelu", "swish", ...: accel.nn.activations),
    a callable, or None."""
    return activations.get(identifier)




class Dense(Layer):
    """y = activation(x @ kernel + bias). The kernel is created on the first call (its input size
    is then known) unless `input_dim` (or Keras's `input_shape=(input_dim,)`) is given.

    Regularizers (`accel.nn.regularizers`, a name or a callable): `kernel_regularizer(kernel)` and
    `bias_regularizer(bias)` are recomputed whenever `losses` is read; `activity_regularizer(y)`
    is computed on each call, divided by the batch size (Keras), and replaces the previous call's.

    `dtype`: a float dtype or a mixed-precision policy name ("mixed_float16": float32 variables,
    float16 compute); None takes `accel.mixed_precision.global_policy()`. Floating-point inputs
    are cast to the compute dtype (Keras's autocast), and so are the variables when they read."""
    _config_fields = ("units", "activation", "use_bias")
    _regularized = (("kernel_regularizer", "kernel"), ("bias_regularizer", "bias"))

    def __init__(self, units: int, activation=None, use_bias: bool = True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", input_dim: int | None = None, seed=None, dtype=None,
                 device=None, name=None, kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, input_shape=None):
        if isinstance(units, bool) or not isinstance(units, int) or units <= 0:
            raise ValueError(f"Dense: units must be a positive int, got {units!r}")
        self.units = units
        self._configure_kernel(activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                               bias_regularizer, activity_regularizer, seed)
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        super().__init__(name=name, dtype=dtype, device=device, input_shape=input_shape)

    def build(self, input_shape) -> None:
        if isinstance(input_shape, int):  # Dense.build(input_dim), as before Layer
            input_shape = (None, input_shape)
        if len(input_shape) < 1 or input_shape[-1] is None:
            raise ValueError(f"{self.name}: expected inputs with a known feature axis, got shape {tuple(input_shape)}")
        self.kernel = self.add_weight("kernel", (input_shape[-1], self.units), self.kernel_initializer)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.units,), self.bias_initializer)
        self.built = True

    def call(self, x):
        x = self._cast_input(x)
        if x.ndim < 1 or x.shape[-1] != self.kernel.shape[0]:
            raise ValueError(f"{self.name}: expected inputs with {self.kernel.shape[0]} features, got shape "
                             f"{tuple(x.shape)}")
        y = x @ self._read(self.kernel)
        if self.bias is not None:
            y = y + self._read(self.bias)
        if self.activation is not None:
            y = self.activation(y)
        self._record_activity(y)
        return y


class Sequential(Module):
    """Layers applied one after another. When the first layer was given `input_shape=`, every
    layer is built at once (Keras): the model runs one row of zeros in inference mode, so
    `get_weights`, `summary` and checkpoints see every weight before the first real call."""

    def __init__(self, layers=(), name=None):
        super().__init__(name=name)
        self.layers = list(layers)
        self._build_from_input_shape()

    def add(self, layer) -> None:
        self.layers.append(layer)
        self._build_from_input_shape()

    def _build_from_input_shape(self) -> None:
        first = self.layers[0] if self.layers else None
        shape = getattr(first, "_built_shape", None)
        if not isinstance(first, Layer) or not isinstance(shape, tuple) or shape[:1] != (None,) \
                or any(n is None for n in shape[1:]):
            return
        from .. import ops, recording

        with recording.paused(recording.active_tapes()):  # a build, not part of any gradient
            self(ops.zeros((1,) + shape[1:], dtype=first.compute_dtype, device=first.device), training=False)
        for module in self.modules:  # the build's row of zeros is no activity to penalise
            if getattr(module, "_activity_loss", None) is not None:
                module._activity_loss = None

    def call(self, x):
        for layer in self.layers:
            x = layer(x)
        return x
