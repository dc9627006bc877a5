"""Keras 3's pooling layers: MaxPooling1D/2D, AveragePooling1D/2D (pool_size 2 / (2, 2),
strides=None meaning strides = pool_size, padding "valid"), GlobalAveragePooling1D/2D and
GlobalMaxPooling1D/2D (the mean / max over every spatial axis; keepdims=False). No weights."""

from __future__ import annotations

from .. import ops
from .conv_layers import _data_format, _padding, _tuple
from .layer import Layer

__all__ = ["MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D", "GlobalAveragePooling1D",
           "GlobalAveragePooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D"]


class _Spatial(Layer):
    """A layer over (batch, *rank spatial axes, channels) inputs, no weights."""

    fixed_rank = True
    rank = 2

    def build(self, input_shape) -> None:
        if len(input_shape) != self.rank + 2:
            raise ValueError(f"{self.name}: expected inputs of rank {self.rank + 2}, got shape {tuple(input_shape)}")


class _Pooling(_Spatial):
    _config_fields = ("pool_size", "strides", "padding")
    kind = "max"

    def __init__(self, pool_size=None, strides=None, padding="valid", data_format=None, name=None, dtype=None,
                 device=None, input_shape=None):
        layer = type(self).__name__
        self.pool_size = _tuple(2 if pool_size is None else pool_size, self.rank, layer, "pool_size")
        self.strides = self.pool_size if strides is None else _tuple(strides, self.rank, layer, "strides")
        self.padding = _padding(padding, layer)
        self.data_format = _data_format(data_format, layer)
        super().__init__(name=name, dtype=dtype, device=device, input_shape=input_shape)

    def call(self, inputs):
        x = self._cast_input(inputs)
        op = {("max", 1): ops.max_pool1d, ("max", 2): ops.max_pool2d, ("avg", 1): ops.avg_pool1d,
              ("avg", 2): ops.avg_pool2d}[self.kind, self.rank]
        layout = {1: ("NWC", "NCW"), 2: ("NHWC", "NCHW")}[self.rank][self.data_format == "channels_first"]
        return op(x, list(self.pool_size), list(self.strides), self.padding.upper(), data_format=layout)


class MaxPooling1D(_Pooling):
    """The largest value of each window of (batch, steps, channels) inputs."""

    rank, kind = 1, "max"


class MaxPooling2D(_Pooling):
    """The largest value of each window of (batch, height, width, channels) inputs."""

    rank, kind = 2, "max"


class AveragePooling1D(_Pooling):
    """The mean of each window of (batch, steps, channels) inputs ("same": over its real elements)."""

    rank, kind = 1, "avg"


class AveragePooling2D(_Pooling):
    """The mean of each window of (batch, height, width, channels) inputs."""

    rank, kind = 2, "avg"


class _GlobalPooling(_Spatial):
    _config_fields = ("keepdims",)
    kind = "avg"

    def __init__(self, data_format=None, keepdims=False, name=None, dtype=None, device=None, input_shape=None):
        self.data_format = _data_format(data_format, type(self).__name__)
        self.keepdims = bool(keepdims)
        super().__init__(name=name, dtype=dtype, device=device, input_shape=input_shape)

    def call(self, inputs):
        x = self._cast_input(inputs)
        axes = list(range(2, self.rank + 2)) if self.data_format == "channels_first" else list(range(1, self.rank + 1))
        reduce = ops.mean if self.kind == "avg" else ops.max
        return reduce(x, axis=axes, keepdims=self.keepdims)


class GlobalAveragePooling1D(_GlobalPooling):
    rank, kind = 1, "avg"


class GlobalAveragePooling2D(_GlobalPooling):
    rank, kind = 2, "avg"


class GlobalMaxPooling1D(_GlobalPooling):
    rank, kind = 1, "max"


class GlobalMaxPooling2D(_GlobalPooling):
    rank, kind = 2, "max"
