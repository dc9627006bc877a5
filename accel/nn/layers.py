"""Layers: Dense and Sequential (enough for real MLPs), and activations by name."""

from __future__ import annotations

import numpy

from .. import ops
from ..mixed_precision import as_policy
from ..tensor import Variable, convert
from . import activations, initializers, regularizers
from .module import Module
from ..dtypes import is_floating

__all__ = ["Dense", "Sequential", "activation"]

def activation(identifier):
    """An activation function from a Keras 3 name ("relu", "gelu", "swish", ...: accel.nn.activations),
    a callable, or None."""
    return activations.get(identifier)


_activation_function = activation  # Dense's `activation` argument shadows the function's name


class Dense(Module):
    """y = activation(x @ kernel + bias). The kernel is created on the first call (its input size
    is then known) unless `input_dim` is given.

    Regularizers (`accel.nn.regularizers`, a name or a callable): `kernel_regularizer(kernel)` and
    `bias_regularizer(bias)` are recomputed whenever `losses` is read; `activity_regularizer(y)`
    is computed on each call, divided by the batch size (Keras), and replaces the previous call's.

    `dtype`: a float dtype or a mixed-precision policy name ("mixed_float16": float32 variables,
    float16 compute); None takes `accel.mixed_precision.global_policy()`. Floating-point inputs
    are cast to the compute dtype (Keras's autocast), and so are the variables when they read."""

    def __init__(self, units: int, activation=None, use_bias: bool = True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", input_dim: int | None = None, seed=None, dtype=None,
                 device=None, name=None, kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None):
        super().__init__(name=name)
        if not isinstance(units, int) or units <= 0:
            raise ValueError(f"Dense: units must be a positive int, got {units!r}")
        self.units = units
        self.activation = _activation_function(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer, seed=seed)
        self.bias_initializer = initializers.get(bias_initializer, seed=seed)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.dtype_policy = as_policy(dtype)
        self.dtype = numpy.dtype(self.dtype_policy.variable_dtype)  # Keras: a layer's dtype is its variables'
        self.compute_dtype = numpy.dtype(self.dtype_policy.compute_dtype)
        self.device = device
        self._activity_loss = None
        self.kernel = None
        self.bias = None
        if input_dim is not None:
            self.build(input_dim)

    def build(self, input_dim: int) -> None:
        self.kernel = Variable(self.kernel_initializer((input_dim, self.units), self.dtype, self.device),
                               name=f"{self.name}/kernel")
        if self.use_bias:
            self.bias = Variable(self.bias_initializer((self.units,), self.dtype, self.device),
                                 name=f"{self.name}/bias")

    def call(self, x):
        x = convert(x)
        if self.kernel is None:
            if x.ndim < 1:
                raise ValueError(f"{self.name}: expected inputs with a feature axis, got shape {tuple(x.shape)}")
            self.build(x.shape[-1])
        if x.shape[-1] != self.kernel.shape[0]:
            raise ValueError(f"{self.name}: expected inputs with {self.kernel.shape[0]} features, got shape "
                             f"{tuple(x.shape)}")
        if is_floating(x.dtype) and x.dtype != self.compute_dtype:
            x = ops.cast(x, self.compute_dtype)
        y = x @ self._read(self.kernel)
        if self.bias is not None:
            y = y + self._read(self.bias)
        if self.activation is not None:
            y = self.activation(y)
        if self.activity_regularizer is not None:
            batch = y.shape[0] if y.ndim else 1
            self._activity_loss = self.activity_regularizer(y) / float(batch)
        return y

    def _read(self, variable):
        """The variable in the compute dtype (a recorded cast: float32 gradients come back)."""
        return variable if variable.dtype == self.compute_dtype else ops.cast(variable, self.compute_dtype)

    def own_losses(self) -> list:
        """This layer's penalties (not its sub-modules'): kernel, bias, then the last activity."""
        out = []
        if self.kernel_regularizer is not None and self.kernel is not None:
            out.append(self.kernel_regularizer(self.kernel))
        if self.bias_regularizer is not None and self.bias is not None:
            out.append(self.bias_regularizer(self.bias))
        if self._activity_loss is not None:
            out.append(self._activity_loss)
        return out


class Sequential(Module):
    """Layers applied one after another."""

    def __init__(self, layers=(), name=None):
        super().__init__(name=name)
        self.layers = list(layers)

    def add(self, layer) -> None:
        self.layers.append(layer)

    def call(self, x):
        for layer in self.layers:
            x = layer(x)
        return x
