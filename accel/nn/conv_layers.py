"""Keras 3's convolution layers: Conv1D, Conv2D, Conv2DTranspose, DepthwiseConv2D (weights,
defaults and weight order as keras.layers; computed by accel.ops' convolutions).

- Conv1D / Conv2D(filters, kernel_size, strides=1, padding="valid", data_format=None,
  dilation_rate=1, groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
  bias_initializer="zeros"): weights [kernel (*kernel_size, in / groups, filters), bias (filters,)].
  Conv1D also takes padding="causal" (left-padded by dilation * (k - 1): output t sees inputs <= t).
- Conv2DTranspose(filters, kernel_size, strides=1, padding="valid", ...): kernel (kh, kw, filters,
  in); output size per axis (Keras's deconv_output_length): "same" n * s, "valid" n * s +
  max(k_eff - s, 0), k_eff = (k - 1) * d + 1.
- DepthwiseConv2D(kernel_size, strides=1, padding="valid", depth_multiplier=1, ...,
  depthwise_initializer="glorot_uniform"): weights [kernel (kh, kw, in, multiplier), bias
  (in * multiplier,)].

data_format None means "channels_last" (Keras's image_data_format default).
"""

from __future__ import annotations

from .. import ops
from .layer import Layer

__all__ = ["Conv1D", "Conv2D", "Conv2DTranspose", "DepthwiseConv2D"]


def _tuple(value, n: int, layer: str, argument: str) -> tuple:
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,) * n
    try:
        out = tuple(int(v) for v in value)
        if any(isinstance(v, bool) or int(v) != v for v in value):
            raise TypeError
    except (TypeError, ValueError):
        raise TypeError(f"{layer}: {argument} must be an int or a tuple of {n} ints, got {value!r}") from None
    if len(out) != n:
        raise ValueError(f"{layer}: {argument} must be an int or a tuple of {n} ints, got {value!r}")
    if any(v < 1 for v in out):
        raise ValueError(f"{layer}: {argument} must be >= 1, got {value!r}")
    return out


def _data_format(value, layer: str) -> str:
    if value is None:
        return "channels_last"
    if value not in ("channels_last", "channels_first"):
        raise ValueError(f"{layer}: data_format must be 'channels_last' or 'channels_first', got {value!r}")
    return value


def _padding(value, layer: str, allowed=("valid", "same")) -> str:
    if not isinstance(value, str) or value.lower() not in allowed:
        raise ValueError(f"{layer}: padding must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    return value.lower()


class _Conv(Layer):
    _config_fields = ("filters", "kernel_size", "strides", "padding", "dilation_rate", "groups", "activation")
    _regularized = (("kernel_regularizer", "kernel"), ("bias_regularizer", "bias"))
    fixed_rank = True
    rank = 2

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, seed=None, name=None, dtype=None, device=None, input_shape=None):
        kind = type(self).__name__
        if isinstance(filters, bool) or not isinstance(filters, int) or filters <= 0:
            raise ValueError(f"{kind}: filters must be a positive int, got {filters!r}")
        if isinstance(groups, bool) or not isinstance(groups, int) or groups <= 0 or filters % groups:
            raise ValueError(f"{kind}: groups must be a positive int dividing filters ({filters}), got {groups!r}")
        self.filters, self.groups = filters, groups
        self.kernel_size = _tuple(kernel_size, self.rank, kind, "kernel_size")
        self.strides = _tuple(strides, self.rank, kind, "strides")
        self.dilation_rate = _tuple(dilation_rate, self.rank, kind, "dilation_rate")
        self.padding = _padding(padding, kind, ("valid", "same", "causal") if self.rank == 1 else ("valid", "same"))
        self.data_format = _data_format(data_format, kind)
        self._configure_kernel(activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                               bias_regularizer, activity_regularizer, seed)
        super().__init__(name=name, dtype=dtype, device=device, input_shape=input_shape)

    @property
    def _channel_axis(self) -> int:
        return 1 if self.data_format == "channels_first" else -1

    def _in_channels(self, input_shape) -> int:
        if len(input_shape) != self.rank + 2:
            raise ValueError(f"{self.name}: expected inputs of rank {self.rank + 2} (batch, {self.rank} spatial axes, "
                             f"channels), got shape {tuple(input_shape)}")
        channels = input_shape[self._channel_axis]
        if channels is None:
            raise ValueError(f"{self.name}: the channel axis of the input must be known, got shape {input_shape}")
        return channels

    def _kernel_shape(self, channels: int) -> tuple:
        if channels % self.groups:
            raise ValueError(f"{self.name}: the input's {channels} channels are not a multiple of groups "
                             f"({self.groups})")
        return self.kernel_size + (channels // self.groups, self.filters)

    def build(self, input_shape) -> None:
        self.kernel = self.add_weight("kernel", self._kernel_shape(self._in_channels(input_shape)),
                                      self.kernel_initializer)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer)

    def _op_format(self) -> str:
        last = {1: "NWC", 2: "NHWC"}[self.rank]
        return last if self.data_format == "channels_last" else {1: "NCW", 2: "NCHW"}[self.rank]

    def _convolve(self, x, kernel):
        padding = self.padding.upper()
        if padding == "CAUSAL":  # left-pad the time axis by the dilated kernel's extent - 1
            axis = 2 if self.data_format == "channels_first" else 1
            pads = [[0, 0]] * 3
            pads[axis] = [self.dilation_rate[0] * (self.kernel_size[0] - 1), 0]
            x, padding = ops.pad(x, pads), "VALID"
        op = ops.conv1d if self.rank == 1 else ops.conv2d
        return op(x, kernel, list(self.strides), padding, data_format=self._op_format(),
                  dilations=list(self.dilation_rate))

    def _finish(self, y):
        if self.bias is not None:
            bias = self._read(self.bias)
            if self.data_format == "channels_first":
                bias = ops.reshape(bias, (-1,) + (1,) * self.rank)
            y = y + bias
        if self.activation is not None:
            y = self.activation(y)
        self._record_activity(y)
        return y

    def call(self, inputs):
        x = self._cast_input(inputs)
        self._in_channels(tuple(x.shape))
        if x.shape[self._channel_axis] != self._built_channels():
            raise ValueError(f"{self.name}: built for inputs with {self._built_channels()} channels, got shape "
                             f"{tuple(x.shape)}")
        return self._finish(self._convolve(x, self._read(self.kernel)))

    def _built_channels(self) -> int:
        return self.kernel.shape[-2] * self.groups


class Conv1D(_Conv):
    """1-D convolution over (batch, steps, channels) inputs (channels_last)."""

    rank = 1


class Conv2D(_Conv):
    """2-D convolution over (batch, height, width, channels) inputs (channels_last)."""

    rank = 2


class Conv2DTranspose(_Conv):
    """The transposed 2-D convolution (the gradient of Conv2D with respect to its input): kernel
    (kh, kw, filters, in_channels)."""

    rank = 2

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 activation=None, use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None, seed=None, name=None,
                 dtype=None, device=None, input_shape=None):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, 1, activation, use_bias,
                         kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
                         activity_regularizer, seed, name, dtype, device, input_shape)

    def _kernel_shape(self, channels: int) -> tuple:
        return self.kernel_size + (self.filters, channels)

    def _built_channels(self) -> int:
        return self.kernel.shape[-1]

    def _convolve(self, x, kernel):
        spatial = x.shape[2:] if self.data_format == "channels_first" else x.shape[1:3]
        sizes = []
        for n, k, s, d in zip(spatial, self.kernel_size, self.strides, self.dilation_rate):
            extent = (k - 1) * d + 1
            sizes.append(n * s if self.padding == "same" else n * s + max(extent - s, 0))
        shape = ((x.shape[0], self.filters, *sizes) if self.data_format == "channels_first"
                 else (x.shape[0], *sizes, self.filters))
        return ops.conv2d_transpose(x, kernel, shape, list(self.strides), self.padding.upper(),
                                    data_format=self._op_format(), dilations=list(self.dilation_rate))


class DepthwiseConv2D(_Conv):
    """Each input channel convolved with its own depth_multiplier filters: kernel (kh, kw, in,
    depth_multiplier), output channel c * depth_multiplier + m."""

    rank = 2

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, seed=None, name=None, dtype=None, device=None, input_shape=None):
        if isinstance(depth_multiplier, bool) or not isinstance(depth_multiplier, int) or depth_multiplier <= 0:
            raise ValueError(f"DepthwiseConv2D: depth_multiplier must be a positive int, got {depth_multiplier!r}")
        self.depth_multiplier = depth_multiplier
        super().__init__(depth_multiplier, kernel_size, strides, padding, data_format, dilation_rate, 1, activation,
                         use_bias, depthwise_initializer, bias_initializer, depthwise_regularizer, bias_regularizer,
                         activity_regularizer, seed, name, dtype, device, input_shape)

    def build(self, input_shape) -> None:
        channels = self._in_channels(input_shape)
        self.filters = channels * self.depth_multiplier
        self.kernel = self.add_weight("kernel", self.kernel_size + (channels, self.depth_multiplier),
                                      self.kernel_initializer)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer)

    def _built_channels(self) -> int:
        return self.kernel.shape[-2]

    def _convolve(self, x, kernel):
        return ops.depthwise_conv2d(x, kernel, [1, *self.strides, 1] if self.data_format == "channels_last"
                                    else [1, 1, *self.strides], self.padding.upper(), data_format=self._op_format(),
                                    dilations=list(self.dilation_rate))
