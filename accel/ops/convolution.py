"""Convolutions (tf.nn.conv1d, conv2d, conv2d_transpose, depthwise_conv2d): arguments checked and
laid out here, computed by the three ops of convolution_core.py (conv, conv_input_grad,
conv_filter_grad: one im2col or col2im and ONE GEMM per group each, every one the others' VJP).

Grouped conv2d: Cin = G * the filters' in-channels; output channel o belongs to group
o // (Cout / G) (TensorFlow's order). depthwise_conv2d is the grouped conv with G = Cin and the
filter (KH, KW, Cin, M) read as (KH, KW, 1, Cin * M): output channel c * M + m. conv2d_transpose
is conv2d's input gradient (conv_input_grad) with filters (KH, KW, Cout, Cin). conv1d is conv2d
over a height of 1.

Layouts: NHWC / NWC (default) or NCHW / NCW, computed in the channels-last layout (the others are
transposed in and out). Filters HWIO (conv2d), WIO (conv1d). Padding "SAME", "VALID" (any case),
or explicit [[before, after], ...] for every axis of the data format (batch and channels [0, 0]).
"""

from __future__ import annotations

import numbers

from ..dtypes import is_floating
from ._core import defop, tensor_arg
from .convolution_core import conv, conv_input_grad
from .windows import PADDINGS, plan


def _int_list(value, op: str, argument: str, spatial: int, channel_axis: int, *, at_least: int = 1):
    """strides / dilations: an int, or a list of 1, `spatial` or spatial + 2 ints (the full form
    has 1 at the batch and channel positions), as a tuple of `spatial` ints >= at_least."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        entries = [int(value)] * spatial
    else:
        try:
            entries = list(value)
        except TypeError:
            entries = None
        if entries is None or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in entries):
            raise TypeError(f"{op}: {argument} must be an int or a list of ints, got {value!r}")
        entries = [int(v) for v in entries]
        if len(entries) == 1:
            entries = entries * spatial
        elif len(entries) == spatial + 2:
            if entries[0] != 1 or entries[channel_axis] != 1:
                raise ValueError(f"{op}: {argument} must be 1 at the batch and channel positions, got {value!r}")
            entries = [v for i, v in enumerate(entries) if i not in (0, channel_axis)]
        elif len(entries) != spatial:
            raise ValueError(f"{op}: {argument} must have 1, {spatial} or {spatial + 2} entries, got {value!r}")
    if any(v < at_least for v in entries):
        raise ValueError(f"{op}: {argument} must be >= {at_least}, got {value!r}")
    return tuple(entries)


def _data_format(value, op: str, spatial: int) -> bool:
    """True for channels first (NCW / NCHW)."""
    last, first = ("NWC", "NCW") if spatial == 1 else ("NHWC", "NCHW")
    if value is None or value == last:
        return False
    if value == first:
        return True
    raise ValueError(f"{op}: data_format must be {last!r} or {first!r}, got {value!r}")


def _padding(value, op: str, spatial: int, channels_first: bool, *, explicit: bool = True):
    """"SAME" / "VALID", or explicit ((before, after) per spatial axis)."""
    if isinstance(value, str):
        if value.upper() in PADDINGS:
            return value.upper()
        allowed = "'SAME', 'VALID' or explicit pairs" if explicit else "'SAME' or 'VALID'"
        raise ValueError(f"{op}: padding must be {allowed}, got {value!r}")
    if not explicit:
        raise ValueError(f"{op}: padding must be 'SAME' or 'VALID', got {value!r}")
    try:
        pairs = [tuple(pair) for pair in value]
    except TypeError:
        raise TypeError(f"{op}: padding must be a string or [[before, after], ...], got {value!r}") from None
    if len(pairs) != spatial + 2 or not all(len(p) == 2 and all(isinstance(v, numbers.Integral)
                                                              and not isinstance(v, bool) for v in p) for p in pairs):
        raise ValueError(f"{op}: explicit padding must be {spatial + 2} pairs [before, after] of ints (one per axis of "
                         f"the data format), got {value!r}")
    channel_axis = 1 if channels_first else spatial + 1
    if any(v != 0 for v in pairs[0] + pairs[channel_axis]):
        raise ValueError(f"{op}: explicit padding of the batch and channel axes must be [0, 0], got {value!r}")
    if any(v < 0 for p in pairs for v in p):
        raise ValueError(f"{op}: explicit padding must be >= 0, got {value!r}")
    spatial_pairs = [tuple(int(v) for v in p) for i, p in enumerate(pairs) if i not in (0, channel_axis)]
    return tuple(spatial_pairs)


def _check_pair(op: str, x, f, x_name: str, f_name: str, rank: int):
    if x.ndim != rank:
        raise ValueError(f"{op}: {x_name} must be {rank}-D, got shape {tuple(x.shape)}")
    if f.ndim != rank:
        raise ValueError(f"{op}: {f_name} must be {rank}-D, got shape {tuple(f.shape)}")
    for name, t in ((x_name, x), (f_name, f)):
        if not is_floating(t.dtype):
            raise TypeError(f"{op}: {name} must be floating point, got {t.dtype.name}")
    if x.dtype != f.dtype:
        raise TypeError(f"{op}: {x_name} ({x.dtype.name}) and {f_name} ({f.dtype.name}) must have one dtype")
    if x._device != f._device:
        raise ValueError(f"{op}: {x_name} is on {x._device} and {f_name} on {f._device}; move one with .to(device)")


def _to_last(x, channels_first: bool):
    from .shape import transpose
    return transpose(x, (0, 2, 3, 1)) if channels_first else x


def _from_last(y, channels_first: bool):
    from .shape import transpose
    return transpose(y, (0, 3, 1, 2)) if channels_first else y


def _checked(op, x, filters, strides, padding, data_format, dilations, spatial, names=("input", "filters")):
    x, filters = tensor_arg(x, names[0]), tensor_arg(filters, names[1])
    channels_first = _data_format(data_format, op, spatial)
    _check_pair(op, x, filters, names[0], names[1], spatial + 2)
    channel_axis = 1 if channels_first else spatial + 1
    strides = _int_list(strides, op, "strides", spatial, channel_axis)
    dilations = _int_list(1 if dilations is None else dilations, op, "dilations", spatial, channel_axis)
    padding = _padding(padding, op, spatial, channels_first)
    c = x.shape[channel_axis]
    cg, out = filters.shape[-2], filters.shape[-1]
    if cg == 0 or c % cg != 0:
        raise ValueError(f"{op}: {names[0]} has {c} channels (shape {tuple(x.shape)}), which is not a multiple of "
                         f"the {names[1]}' {cg} input channels (shape {tuple(filters.shape)})")
    groups = c // cg
    if out % groups != 0:
        raise ValueError(f"{op}: {names[1]} have {out} output channels, not a multiple of the {groups} groups "
                         f"({names[0]} channels {c} / {names[1]} input channels {cg})")
    return x, filters, channels_first, strides, dilations, padding, groups


def _lift(op_spatial: int, x, filters, strides, dilations, padding):
    """1-D arguments as 2-D ones over a height of 1 (x NWC -> N1WC, filters WIO -> 1WIO)."""
    from .shape import reshape
    if op_spatial == 2:
        return x, filters, strides, dilations, padding
    n, w, c = x.shape
    x = reshape(x, (n, 1, w, c))
    filters = reshape(filters, (1,) + tuple(filters.shape))
    padding = padding if isinstance(padding, str) else ((0, 0),) + padding
    return x, filters, (1,) + strides, (1,) + dilations, padding


@defop("nn", kind="composite")
def conv2d(input, filters, strides, padding, data_format="NHWC", dilations=None):  # noqa: A002 (TF's names)
    """2-D convolution (cross-correlation, tf.nn.conv2d): input (N, H, W, Cin), filters (KH, KW,
    Cin / G, Cout) HWIO; grouped when Cin is G times the filters' in-channels. strides /
    dilations: an int or 1, 2 or 4 ints; padding "SAME", "VALID" or explicit pairs per axis."""
    x, filters, first, strides, dilations, padding, groups = _checked(
        "conv2d", input, filters, strides, padding, data_format, dilations, 2)
    x = _to_last(x, first)
    windows = plan("conv2d", x.shape[1:3], filters.shape[:2], strides, dilations, padding)
    return _from_last(conv(x, filters, windows, groups), first)


@defop("nn", kind="composite")
def conv1d(input, filters, stride, padding, data_format="NWC", dilations=None):  # noqa: A002 (TF's names)
    """1-D convolution (tf.nn.conv1d): input (N, W, Cin), filters (KW, Cin / G, Cout) WIO; stride
    an int or 1 or 3 ints; conv2d over a height of 1."""
    from .shape import reshape, transpose

    x, filters, first, strides, dilations, padding, groups = _checked(
        "conv1d", input, filters, stride, padding, data_format, dilations, 1)
    if first:
        x = transpose(x, (0, 2, 1))
    x4, f4, strides, dilations, padding = _lift(1, x, filters, strides, dilations, padding)
    windows = plan("conv1d", x4.shape[1:3], f4.shape[:2], strides, dilations, padding)
    y = conv(x4, f4, windows, groups)
    y = reshape(y, (y.shape[0], y.shape[2], y.shape[3]))
    return transpose(y, (0, 2, 1)) if first else y


@defop("nn", kind="composite")
def depthwise_conv2d(input, filter, strides, padding, data_format=None, dilations=None):  # noqa: A002 (TF's names)
    """Depthwise 2-D convolution (tf.nn.depthwise_conv2d): input (N, H, W, C), filter (KH, KW, C,
    M); every channel convolved with its own M filters; output channel c * M + m. strides: 4 ints
    [1, sh, sw, 1] (or 1 or 2), dilations 2 ints (TF's `rate`)."""
    from .shape import reshape

    op = "depthwise_conv2d"
    x, f = tensor_arg(input, "input"), tensor_arg(filter, "filter")
    first = _data_format(data_format, op, 2)
    _check_pair(op, x, f, "input", "filter", 4)
    channel_axis = 1 if first else 3
    c = x.shape[channel_axis]
    if f.shape[2] != c:
        raise ValueError(f"{op}: input has {c} channels (shape {tuple(x.shape)}) but filter expects {f.shape[2]} "
                         f"(shape {tuple(f.shape)}, (KH, KW, in_channels, multiplier))")
    strides = _int_list(strides, op, "strides", 2, channel_axis)
    dilations = _int_list(1 if dilations is None else dilations, op, "dilations", 2, channel_axis)
    padding = _padding(padding, op, 2, first)
    kh, kw, _, m = f.shape
    x = _to_last(x, first)
    windows = plan(op, x.shape[1:3], (kh, kw), strides, dilations, padding)
    return _from_last(conv(x, reshape(f, (kh, kw, 1, c * m)), windows, c), first)


@defop("nn", kind="composite")
def conv2d_transpose(input, filters, output_shape, strides, padding="SAME", data_format="NHWC",  # noqa: A002
                     dilations=None):
    """The transpose of conv2d (tf.nn.conv2d_transpose; conv2d's gradient with respect to its
    input): input (N, H, W, Cin), filters (KH, KW, Cout, Cin), output_shape (N, OH, OW, Cout) in
    the data format; a conv2d with these filters, strides and padding maps output_shape back to
    input's shape (else ValueError)."""
    op = "conv2d_transpose"
    x, f = tensor_arg(input, "input"), tensor_arg(filters, "filters")
    first = _data_format(data_format, op, 2)
    _check_pair(op, x, f, "input", "filters", 4)
    channel_axis = 1 if first else 3
    if hasattr(output_shape, "_data"):
        output_shape = output_shape.numpy().tolist()
    try:
        shape = tuple(int(v) for v in output_shape)
        if any(isinstance(v, bool) or v != int(v) for v in output_shape):
            raise TypeError
    except (TypeError, ValueError):
        raise TypeError(f"{op}: output_shape must be 4 ints, got {output_shape!r}") from None
    if len(shape) != 4 or min(shape) < 1:
        raise ValueError(f"{op}: output_shape must be 4 positive ints, got {output_shape!r}")
    cin = x.shape[channel_axis]
    if f.shape[3] != cin:
        raise ValueError(f"{op}: input has {cin} channels (shape {tuple(x.shape)}) but filters expect {f.shape[3]} "
                         f"(shape {tuple(f.shape)}, (KH, KW, out_channels, in_channels))")
    if shape[channel_axis] != f.shape[2] or shape[0] != x.shape[0]:
        raise ValueError(f"{op}: output_shape {shape} must have batch {x.shape[0]} and {f.shape[2]} channels (the "
                         f"filters' out_channels)")
    strides = _int_list(strides, op, "strides", 2, channel_axis)
    dilations = _int_list(1 if dilations is None else dilations, op, "dilations", 2, channel_axis)
    padding = _padding(padding, op, 2, first)
    out_last = (shape[0], shape[2], shape[3], shape[1]) if first else shape
    kh, kw, cout, _ = f.shape
    windows = plan(op, out_last[1:3], (kh, kw), strides, dilations, padding)
    spatial = (x.shape[2], x.shape[3]) if first else (x.shape[1], x.shape[2])
    if (windows.oh, windows.ow) != spatial:
        raise ValueError(f"{op}: a conv2d of output_shape {shape} with these filters, strides and padding gives "
                         f"spatial size {(windows.oh, windows.ow)}, not input's {spatial}")
    return _from_last(conv_input_grad(_to_last(x, first), f, windows, 1, out_last), first)
