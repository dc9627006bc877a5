"""Gradient clipping (semantics.md section 3): clip_by_value, clip_by_norm, clip_by_global_norm.

Each takes IndexedSlices as TensorFlow does: the values are clipped as they are (a row that
repeats is not summed first, so the norm is that of the values, not of the dense gradient) and the
result is IndexedSlices of the same rows.

clip_by_global_norm computes the norm with the fused one-pass kernel when no tape records its
inputs (the usual case: clipping gradients); under a recording tape it is built from ops, so its
own gradient (including the dependence on the norm) is exact.
"""

from __future__ import annotations

import math

import numpy

from ..dtypes import is_floating
from .. import kernels, ops
from .. import recording
from ..indexed_slices import IndexedSlices
from ..tensor import Tensor, convert

__all__ = ["clip_by_value", "clip_by_norm", "clip_by_global_norm"]


def _positive(value, argument: str, where: str) -> float:
    value = float(value)
    if not value > 0:
        raise ValueError(f"{where}: {argument} must be > 0, got {value}")
    return value


def _on_values(t, clip):
    """clip(t), or for IndexedSlices the same rows with clip(values)."""
    if isinstance(t, IndexedSlices):
        return IndexedSlices(clip(t.values), t.indices, t.dense_shape)
    return clip(t)


def clip_by_value(t, clip_value_min, clip_value_max):
    """min(max(t, clip_value_min), clip_value_max), of t's shape (bounds broadcast to it; bounds
    that would make the result bigger than t are an error, as in TensorFlow)."""
    if isinstance(t, IndexedSlices):
        return _on_values(t, lambda values: clip_by_value(values, clip_value_min, clip_value_max))
    if not isinstance(clip_value_min, Tensor) and not isinstance(clip_value_max, Tensor):
        if clip_value_min > clip_value_max:
            raise ValueError(f"clip_by_value: clip_value_min ({clip_value_min}) must be <= "
                             f"clip_value_max ({clip_value_max})")
    out = ops.clip(t, clip_value_min, clip_value_max)
    shape = tuple(t.shape) if isinstance(t, Tensor) else tuple(numpy.shape(t))
    if tuple(out.shape) != shape:
        raise ValueError(f"clip_by_value: the bounds would broadcast t of shape {shape} to "
                         f"{tuple(out.shape)}; the result must have t's shape")
    return out


def clip_by_norm(t, clip_norm, axes=None):
    """t * clip_norm / max(||t||, clip_norm), the L2 norm taken over `axes` (default: all).
    TensorFlow's safe form: a zero norm never enters sqrt, so the gradient at t = 0 is the
    identity, not NaN."""
    if isinstance(t, IndexedSlices):
        return _on_values(t, lambda values: clip_by_norm(values, clip_norm, axes))
    clip_norm = _positive(clip_norm, "clip_norm", "clip_by_norm")
    t = t if isinstance(t, Tensor) else convert(t)
    l2sum = ops.sum(ops.square(t), axis=axes, keepdims=True)
    positive = l2sum > 0
    norm = ops.where(positive, ops.sqrt(ops.where(positive, l2sum, 1.0)), l2sum)
    return t * clip_norm / ops.maximum(norm, clip_norm)


def _recorded(tensors) -> bool:
    tapes = recording.active_tapes()
    return bool(tapes) and any(recording.watched_by(t, tape) for tape in tapes for t in tensors)


def clip_by_global_norm(t_list, clip_norm, use_norm=None):
    """(clipped tensors, global norm): each t * clip_norm / max(global_norm, clip_norm) with
    global_norm = sqrt(sum ||t||^2). None entries stay None; a zero norm changes nothing; an
    inf or NaN norm makes every output NaN (and is returned)."""
    clip_norm = _positive(clip_norm, "clip_norm", "clip_by_global_norm")
    t_list = list(t_list)
    if any(isinstance(t, IndexedSlices) for t in t_list):  # clip the values; the norm is theirs
        values = [t.values if isinstance(t, IndexedSlices) else t for t in t_list]
        clipped, norm = clip_by_global_norm(values, clip_norm, use_norm)
        return [IndexedSlices(c, t.indices, t.dense_shape) if isinstance(t, IndexedSlices) else c
                for c, t in zip(clipped, t_list)], norm
    tensors = [None if t is None else (t if isinstance(t, Tensor) else convert(t)) for t in t_list]
    present = [t for t in tensors if t is not None]
    if not present:
        return tensors, None
    device = present[0].device
    for t in present[1:]:
        if t.device != device:
            raise ValueError(f"clip_by_global_norm: tensors are on different devices ({device} and {t.device})")
    if use_norm is not None or _recorded(present):
        if use_norm is None:
            total = None
            for t in present:
                term = ops.sum(ops.square(ops.cast(t, "float64") if is_floating(t.dtype) else t))
                total = term if total is None else total + term
            norm = ops.sqrt(total)
        else:
            norm = use_norm if isinstance(use_norm, Tensor) else convert(use_norm, dtype="float64", device=device)
        # TF's formula: clip * min(1/norm, 1/clip), plus (norm - norm) to turn inf/NaN into NaN.
        scale = clip_norm * ops.minimum(1.0 / norm, 1.0 / clip_norm) + (norm - norm)
        return [None if t is None else t * ops.cast(scale, t.dtype) for t in tensors], norm
    norm_sq = kernels.global_norm_sq([t._data for t in present], device)
    if isinstance(norm_sq, float):  # the CPU's norm is a host value; a GPU's stays on the device
        norm = math.sqrt(norm_sq)
        scale = kernels.global_clip_scale(norm_sq, clip_norm)
        norm_tensor = ops.full((), norm, dtype="float64", device=device)
        return [None if t is None else t * scale for t in tensors], norm_tensor
    xp = device.xp
    with device.activate():
        norm = xp.sqrt(norm_sq)
        scale = clip_norm / xp.maximum(norm, clip_norm) + (norm - norm)  # on the device: no sync
    scale_tensor = Tensor(scale, device)
    return ([None if t is None else t * ops.cast(scale_tensor, t.dtype) for t in tensors],
            Tensor(norm, device))
