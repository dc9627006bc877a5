"""Sliding windows: the geometry of convolution and pooling, and the two linear ops every one of
them is built from.

`plan` turns (input size, kernel size, strides, dilations, padding) into a `Windows`: per spatial
axis the output size and the padding before and after. "SAME" (TensorFlow's rule): out =
ceil(n / s), total = max((out - 1) * s + (k - 1) * d + 1 - n, 0), before = total // 2, after =
total - before (the odd pad at the end). "VALID": out = ceil((n - (k - 1) * d) / s), no padding.
Explicit pads: out = (n + before + after - (k - 1) * d - 1) // s + 1.

`extract_windows(x, windows, groups, pad_value)` (im2col) lays the windows of an NHWC tensor out
as rows: cols (G, P, KH * KW * Cg), P = N * OH * OW output positions, each row one window with
its taps (ky, kx) and the Cg channels of group g fastest; positions in the padding read
`pad_value`. A convolution is then one GEMM (cols @ filters as (KH * KW * Cg, out)) per group; a
pooling a reduction of each row. `fold_windows(cols, windows, shape, groups)` (col2im) is its
adjoint: every element of x receives the sum of the entries that copied it. Each is the other's
VJP (extract with zero padding), so gradients of every order exist and stay these two ops.

On the CPU float32 / float64 run compiled loops (csrc/cpu/windows.cpp: one sequential pass over
cols, batch images in parallel); other dtypes NumPy: extract as one copy of a strided view of the
padded input, fold as one strided add per tap (no loop over positions), the form the loops are
tested against. On a CUDA device each is one kernel (cuda_windows.py).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy
from numpy.lib.stride_tricks import as_strided

from .. import _cpu
from . import cuda_windows
from ._core import defop, make, tensor_arg

PADDINGS = ("SAME", "VALID")


class Windows(NamedTuple):
    """Where the windows of a 2-D sliding operation are: kernel (kh, kw), strides (sh, sw),
    dilations (dh, dw), padding top / bottom / left / right, output size (oh, ow)."""

    kh: int
    kw: int
    sh: int
    sw: int
    dh: int
    dw: int
    pt: int
    pb: int
    pl: int
    pr: int
    oh: int
    ow: int


def _axis(op: str, n: int, k: int, s: int, d: int, padding, axis_name: str):
    """(before, after, out) for one spatial axis."""
    span = (k - 1) * d + 1  # the dilated kernel's extent
    if padding == "SAME":
        out = -(-n // s)
        total = max((out - 1) * s + span - n, 0)
        return total // 2, total - total // 2, out
    before, after = (0, 0) if padding == "VALID" else padding
    if n + before + after < span:
        what = f"{padding} input" if padding == "VALID" else "padded input"
        raise ValueError(f"{op}: the {axis_name} window ({k} taps, dilation {d}: span {span}) is larger than the "
                         f"{what} ({n + before + after})")
    return before, after, (n + before + after - span) // s + 1


def plan(op: str, size, kernel, strides, dilations, padding) -> Windows:
    """The windows of a 2-D sliding op over an input of spatial `size` (h, w); `padding` is
    "SAME", "VALID" or ((top, bottom), (left, right)). Arguments already checked for type."""
    rows = _axis(op, size[0], kernel[0], strides[0], dilations[0],
                 padding if isinstance(padding, str) else padding[0], "height")
    cols = _axis(op, size[1], kernel[1], strides[1], dilations[1],
                 padding if isinstance(padding, str) else padding[1], "width")
    return Windows(kernel[0], kernel[1], strides[0], strides[1], dilations[0], dilations[1], rows[0], rows[1],
                   cols[0], cols[1], rows[2], cols[2])


_COMPILED = (numpy.dtype(numpy.float32), numpy.dtype(numpy.float64))  # csrc/cpu/windows.cpp; others: NumPy


_geometry = cuda_windows.windows_geometry  # the compiled loops take what the CUDA kernels take


def _padded(x, w: Windows, pad_value):
    """x padded to hold every window (and cut where explicit pads leave rows no window reads)."""
    n, h, wd, c = x.shape
    need_h, need_w = (w.oh - 1) * w.sh + (w.kh - 1) * w.dh + 1, (w.ow - 1) * w.sw + (w.kw - 1) * w.dw + 1
    if w.pt or w.pb or w.pl or w.pr:
        x = numpy.pad(x, ((0, 0), (w.pt, w.pb), (w.pl, w.pr), (0, 0)), constant_values=pad_value)
    return x[:, :need_h, :need_w]


def _extract_array(xp, x, windows, groups=1, pad_value=0.0, allocate=None):
    """cols (G, P, KH * KW * Cg) of the NHWC array x (see the module docstring), in an array from
    allocate(xp, shape, dtype) when given (a workspace the caller reuses)."""
    if xp is not numpy:
        return cuda_windows.extract(xp, x, windows, groups, pad_value)
    w = windows
    n, _, _, c = x.shape
    cg = c // groups
    shape = (groups, n * w.oh * w.ow, w.kh * w.kw * cg)
    out = numpy.empty(shape, x.dtype) if allocate is None else allocate(xp, shape, x.dtype)
    if x.dtype in _COMPILED:
        _cpu.extract_windows(numpy.ascontiguousarray(x), out, _geometry(x.shape, w, groups), float(pad_value))
        return out
    x = _padded(x, w, pad_value)
    s = x.strides
    view = as_strided(x, (groups, n, w.oh, w.ow, w.kh, w.kw, cg),
                      (s[3] * cg, s[0], s[1] * w.sh, s[2] * w.sw, s[1] * w.dh, s[2] * w.dw, s[3]), writeable=False)
    numpy.copyto(out.reshape(view.shape), view)
    return out


def _fold_array(xp, cols, windows, shape, groups=1, out=None):
    """The NHWC array of `shape` whose elements sum the entries of cols that copied them (written
    into `out`, zeroed and C-contiguous, when given)."""
    if out is not None:
        if xp is numpy and cols.dtype in _COMPILED:
            _cpu.fold_windows(numpy.ascontiguousarray(cols), out, _geometry(shape, windows, groups))
        else:
            out[...] = _fold_array(xp, cols, windows, shape, groups)
        return out
    if xp is not numpy:
        return cuda_windows.fold(xp, cols, windows, shape, groups)
    w = windows
    n, h, wd, c = shape
    cg = c // groups
    if cols.dtype in _COMPILED:
        out = numpy.zeros(shape, cols.dtype)
        _cpu.fold_windows(numpy.ascontiguousarray(cols), out, _geometry(shape, w, groups))
        return out
    taps = cols.reshape(groups, n, w.oh, w.ow, w.kh, w.kw, cg)
    hp, wp = max(h + w.pt + w.pb, (w.oh - 1) * w.sh + (w.kh - 1) * w.dh + 1), \
        max(wd + w.pl + w.pr, (w.ow - 1) * w.sw + (w.kw - 1) * w.dw + 1)
    canvas = numpy.zeros((n, hp, wp, groups, cg), cols.dtype)
    for ky in range(w.kh):  # one strided add of every window's tap (ky, kx): no loop over positions
        rows = slice(ky * w.dh, ky * w.dh + (w.oh - 1) * w.sh + 1, w.sh)
        for kx in range(w.kw):
            canvas[:, rows, kx * w.dw:kx * w.dw + (w.ow - 1) * w.sw + 1:w.sw] += \
                taps[:, :, :, :, ky, kx].transpose(1, 2, 3, 0, 4)
    return numpy.ascontiguousarray(canvas[:, w.pt:w.pt + h, w.pl:w.pl + wd]).reshape(shape)


def _extract_vjp(g, ans, x, windows, groups, pad_value):
    return fold_windows(g, windows, tuple(x.shape), groups)


@defop("nn", namespace="internal", kernel=_extract_array)
def extract_windows(x, windows, groups=1, pad_value=0.0):
    """im2col: the windows of the NHWC tensor x as rows of a (G, P, KH * KW * Cg) tensor,
    positions in the padding reading pad_value."""
    x = tensor_arg(x)
    out = _extract_array(x._device.xp, x._data, windows, groups, pad_value)
    return make(out, x._device, (x,), (_extract_vjp,), {"windows": windows, "groups": groups, "pad_value": pad_value})


def _fold_vjp(gg, ans, cols, windows, shape, groups):
    return extract_windows(gg, windows, groups, 0.0)


@defop("nn", namespace="internal", kernel=_fold_array)
def fold_windows(cols, windows, shape, groups=1):
    """col2im, extract_windows's adjoint: the NHWC tensor of `shape` whose every element is the
    sum of the entries of cols that copied it."""
    cols = tensor_arg(cols)
    out = _fold_array(cols._device.xp, cols._data, windows, tuple(shape), groups)
    return make(out, cols._device, (cols,), (_fold_vjp,), {"windows": windows, "shape": tuple(shape),
                                                            "groups": groups})


def window_counts(windows: Windows, size) -> numpy.ndarray:
    """(OH, OW) float64: how many taps of each window fall inside an input of spatial `size`
    (TensorFlow's average pooling divides by these, not by the window size)."""
    def per_axis(out, s, k, d, before, n):
        start = numpy.arange(out) * s - before
        taps = start[:, None] + numpy.arange(k)[None, :] * d
        return ((taps >= 0) & (taps < n)).sum(axis=1)

    w = windows
    rows = per_axis(w.oh, w.sh, w.kh, w.dh, w.pt, size[0])
    cols = per_axis(w.ow, w.sw, w.kw, w.dw, w.pl, size[1])
    return numpy.outer(rows, cols).astype(numpy.float64)

