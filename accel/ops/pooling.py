"""Pooling (tf.nn.max_pool1d / max_pool2d / avg_pool1d / avg_pool2d): composites of one im2col
(windows.extract_windows, one group per channel so each window is a contiguous row) and a
reduction of each row, so their gradients (every order) come from those ops and accel.function
traces them op by op.

max: the first largest tap of each window (argmax, TensorFlow's choice among ties) is taken
(sorting.take_along_last); padded taps read -inf and never win. Its gradient goes to that one
element. avg: the sum of the taps over the number of taps inside the input (padded taps are not
counted, as TensorFlow's avg_pool). With VALID padding every window is whole.
"""

from __future__ import annotations

from ..dtypes import is_floating
from ._core import defop, tensor_arg
from .convolution import _data_format, _int_list, _padding
from .windows import extract_windows, plan, window_counts


def _pool(op: str, kind: str, input, ksize, strides, padding, data_format, spatial: int):  # noqa: A002
    from .reduce import argmax, sum as sum_
    from .shape import reshape, transpose
    from .sorting import take_along_last
    from ._core import tensor_like

    x = tensor_arg(input, "input")
    first = _data_format(data_format, op, spatial)
    if x.ndim != spatial + 2:
        raise ValueError(f"{op}: input must be {spatial + 2}-D, got shape {tuple(x.shape)}")
    if not is_floating(x.dtype):
        raise TypeError(f"{op}: input must be floating point, got {x.dtype.name}")
    channel_axis = 1 if first else spatial + 1
    ksize = _int_list(ksize, op, "ksize", spatial, channel_axis)
    strides = _int_list(strides, op, "strides", spatial, channel_axis)
    padding = _padding(padding, op, spatial, first, explicit=False)
    if first:
        x = transpose(x, (0, *range(2, spatial + 2), 1))
    if spatial == 1:
        x = reshape(x, (x.shape[0], 1, x.shape[1], x.shape[2]))
        ksize, strides = (1,) + ksize, (1,) + strides
    n, h, w, c = x.shape
    windows = plan(op, (h, w), ksize, strides, (1, 1), padding)
    if kind == "max":
        cols = extract_windows(x, windows, c, float("-inf"))  # (C, P, K)
        pooled = take_along_last(cols, reshape(argmax(cols, axis=-1), (c, -1, 1)))
    else:
        cols = extract_windows(x, windows, c, 0.0)
        counts = reshape(tensor_like(window_counts(windows, (h, w)), x), (1, 1, -1))
        pooled = reshape(sum_(cols, axis=-1), (c, n, -1)) / counts
    y = transpose(reshape(pooled, (c, -1)), (1, 0))  # (P, C)
    out = (n, windows.ow, c) if spatial == 1 else (n, windows.oh, windows.ow, c)
    y = reshape(y, out)
    return transpose(y, (0, spatial + 1, *range(1, spatial + 1))) if first else y


@defop("nn", kind="composite")
def max_pool2d(input, ksize, strides, padding, data_format="NHWC"):  # noqa: A002 (TF's names)
    """The largest element of each ksize window (tf.nn.max_pool2d): input (N, H, W, C); ksize and
    strides an int or 1, 2 or 4 ints; padding "SAME" (padded positions never win) or "VALID"."""
    return _pool("max_pool2d", "max", input, ksize, strides, padding, data_format, 2)


@defop("nn", kind="composite")
def avg_pool2d(input, ksize, strides, padding, data_format="NHWC"):  # noqa: A002 (TF's names)
    """The mean of each ksize window (tf.nn.avg_pool2d): input (N, H, W, C); with "SAME" padding
    each window's mean is over its elements inside the input."""
    return _pool("avg_pool2d", "avg", input, ksize, strides, padding, data_format, 2)


@defop("nn", kind="composite")
def max_pool1d(input, ksize, strides, padding, data_format="NWC"):  # noqa: A002 (TF's names)
    """The largest element of each window (tf.nn.max_pool1d): input (N, W, C)."""
    return _pool("max_pool1d", "max", input, ksize, strides, padding, data_format, 1)


@defop("nn", kind="composite")
def avg_pool1d(input, ksize, strides, padding, data_format="NWC"):  # noqa: A002 (TF's names)
    """The mean of each window (tf.nn.avg_pool1d): input (N, W, C), padded positions not counted."""
    return _pool("avg_pool1d", "avg", input, ksize, strides, padding, data_format, 1)
