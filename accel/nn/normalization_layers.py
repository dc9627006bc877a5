"""Keras 3's LayerNormalization and BatchNormalization (weights, defaults and weight order as
keras.layers; docs/semantics.md section 16).

- LayerNormalization(axis=-1, epsilon=1e-3, center=True, scale=True): weights [gamma (ones), beta
  (zeros)] of the normalized axes' shape; y = (x - mean) / sqrt(var + eps) * gamma + beta over
  `axis` (population variance).
- BatchNormalization(axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True): weights
  [gamma, beta, moving_mean (zeros), moving_variance (ones)], the last two non-trainable.
  training=True normalises by the batch's mean and population variance over every axis but
  `axis` and moves moving = moving * momentum + batch * (1 - momentum); otherwise (training False
  or None) it normalises by the moving statistics and changes nothing.

Both compute in float32 when the compute dtype is float16 (Keras: a float16 variance loses too
much), and return the compute dtype.
"""

from __future__ import annotations

import numbers

import numpy

from .. import ops
from ..ops.normalization import layer_norm
from . import initializers
from .layer import Layer

__all__ = ["LayerNormalization", "BatchNormalization"]

_FLOAT16 = numpy.dtype(numpy.float16)


def _axes(axis, rank: int, layer: str) -> tuple:
    axes = (axis,) if isinstance(axis, int) and not isinstance(axis, bool) else tuple(axis)
    out = []
    for a in axes:
        if isinstance(a, bool) or not isinstance(a, (int, numpy.integer)) or not -rank <= a < rank:
            raise ValueError(f"{layer}: axis {a!r} is out of range for inputs of rank {rank}")
        out.append(int(a) % rank)
    if len(set(out)) != len(out):
        raise ValueError(f"{layer}: repeated axis in {axis!r}")
    return tuple(sorted(out))


def _epsilon(value, layer: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"{layer}: epsilon must be a positive number, got {value!r}")
    return float(value)


class _Normalization(Layer):
    fixed_rank = True

    def _configure(self, layer: str, axis, epsilon, center, scale, beta_initializer, gamma_initializer) -> None:
        """The settings both layers share (set before Layer.__init__, which may build)."""
        self.axis = axis
        self.epsilon = _epsilon(epsilon, layer)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.gamma = None
        self.beta = None

    def _build_affine(self, input_shape) -> None:
        """The normalized axes and their sizes, then gamma and beta (Keras's order)."""
        self._rank = len(input_shape)
        self._axes = _axes(self.axis, self._rank, self.name)
        self._sizes = self._weight_shape(input_shape, self._axes)
        if self.scale:
            self.gamma = self.add_weight("gamma", self._sizes, self.gamma_initializer)
        if self.center:
            self.beta = self.add_weight("beta", self._sizes, self.beta_initializer)
    def _weight_shape(self, input_shape, axes) -> tuple:
        for a in axes:
            if input_shape[a] is None:
                raise ValueError(f"{self.name}: the normalized axis {a} must have a known size, got shape "
                                 f"{input_shape}")
        return tuple(input_shape[a] for a in axes)

    def _work(self, x):
        """x as the layer computes it: float32 for a float16 compute dtype."""
        x = self._cast_input(x)
        return ops.cast(x, "float32") if x.dtype == _FLOAT16 else x

    def _broadcast(self, weight, rank, dtype):
        """A weight over self._axes shaped to broadcast against an input of `rank`."""
        shape = [1] * rank
        for a, n in zip(self._axes, weight.shape):
            shape[a] = n
        weight = weight if weight.dtype == dtype else ops.cast(weight, dtype)
        return ops.reshape(weight, shape)

    def _check_input(self, x):
        if x.ndim != self._rank:
            raise ValueError(f"{self.name}: built for inputs of rank {self._rank}, got shape {tuple(x.shape)}")
        expected = tuple(x.shape[a] for a in self._axes)
        if expected != self._sizes:
            raise ValueError(f"{self.name}: built for size {self._sizes} along axis {self._axes}, got shape "
                             f"{tuple(x.shape)}")


class LayerNormalization(_Normalization):
    """Normalises each example over `axis` (the features) and scales and shifts it."""
    _config_fields = ("axis", "epsilon")

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", name=None, dtype=None, device=None, input_shape=None):
        self._configure("LayerNormalization", axis, epsilon, center, scale, beta_initializer, gamma_initializer)
        super().__init__(name=name, dtype=dtype, device=device, input_shape=input_shape)

    def build(self, input_shape) -> None:
        self._build_affine(input_shape)

    def call(self, inputs):
        x = self._work(inputs)
        self._check_input(x)
        if self._axes == (x.ndim - 1,):  # the usual: the features, normalised by one op
            y = layer_norm(x, self.epsilon)
        else:
            mean, variance = ops.moments(x, self._axes, keepdims=True)
            y = (x - mean) * ops.rsqrt(variance + self.epsilon)
        if self.gamma is not None:
            y = y * self._broadcast(self.gamma, x.ndim, x.dtype)
        if self.beta is not None:
            y = y + self._broadcast(self.beta, x.ndim, x.dtype)
        return y if y.dtype == self.compute_dtype else ops.cast(y, self.compute_dtype)


class BatchNormalization(_Normalization):
    """Normalises each feature (along `axis`) by the batch's statistics in training and by the
    moving averages of them otherwise."""
    _config_fields = ("axis", "momentum", "epsilon")

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 name=None, dtype=None, device=None, input_shape=None):
        if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real) or not 0 <= momentum <= 1:
            raise ValueError(f"BatchNormalization: momentum must be a number in [0, 1], got {momentum!r}")
        self._configure("BatchNormalization", axis, epsilon, center, scale, beta_initializer, gamma_initializer)
        self.momentum = float(momentum)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.moving_mean = None
        self.moving_variance = None
        super().__init__(name=name, dtype=dtype, device=device, input_shape=input_shape)

    def build(self, input_shape) -> None:
        self._build_affine(input_shape)
        self.moving_mean = self.add_weight("moving_mean", self._sizes, self.moving_mean_initializer, trainable=False)
        self.moving_variance = self.add_weight("moving_variance", self._sizes, self.moving_variance_initializer,
                                               trainable=False)

    def call(self, inputs, training=None):
        x = self._work(inputs)
        self._check_input(x)
        if training:
            reduction = tuple(a for a in range(x.ndim) if a not in self._axes)
            mean, variance = ops.moments(x, reduction, keepdims=True)
            self._update_moving(ops.reshape(mean, self._sizes), ops.reshape(variance, self._sizes))
        else:
            mean = self._broadcast(self.moving_mean, x.ndim, x.dtype)
            variance = self._broadcast(self.moving_variance, x.ndim, x.dtype)
        gamma = None if self.gamma is None else self._broadcast(self.gamma, x.ndim, x.dtype)
        beta = None if self.beta is None else self._broadcast(self.beta, x.ndim, x.dtype)
        y = ops.batch_normalization(x, mean, variance, beta, gamma, self.epsilon)
        return y if y.dtype == self.compute_dtype else ops.cast(y, self.compute_dtype)

    def _update_moving(self, mean, variance) -> None:
        m = self.momentum
        for moving, batch in ((self.moving_mean, mean), (self.moving_variance, variance)):
            batch = ops.stop_gradient(batch if batch.dtype == moving.dtype else ops.cast(batch, moving.dtype))
            moving.assign(moving * m + batch * (1.0 - m))
