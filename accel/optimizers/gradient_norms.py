"""The gradients of one step as the fused launch needs them: their global and per-variable norms
(on whatever devices they sit) and the clipnorm scales; and a gradient of the wrong dtype or
strides made launchable."""

from __future__ import annotations

import numpy

from .. import kernels


def global_norm_sq(arrays, grads):
    """Squared global norm over every gradient: a host float, or a device scalar when all the
    gradients sit on one GPU (then no synchronisation happens). Gradients on several devices are
    summed on the host."""
    devices = {g.device for g in grads}
    if len(devices) == 1:
        return kernels.global_norm_sq(arrays, next(iter(devices)))
    total = 0.0
    for device in devices:
        total += float(kernels.global_norm_sq([a for a, g in zip(arrays, grads) if g.device == device], device))
    return total


def segment_norms_sq(arrays, grads) -> numpy.ndarray:
    """||g||^2 of every gradient (one pass on the CPU), as a host array."""
    out = numpy.empty(len(arrays))
    devices = {g.device for g in grads}
    for device in devices:
        picked = [i for i, g in enumerate(grads) if g.device == device]
        out[picked] = kernels.norms_sq([arrays[i] for i in picked], device)
    return out


def clipnorm_scales(norms_sq, positions, clipnorm) -> numpy.ndarray:
    """clipnorm / max(||g||, clipnorm) for the gradients at `positions`."""
    norms = numpy.sqrt(norms_sq[positions])
    return clipnorm / numpy.maximum(norms, clipnorm)


def launchable(array, dtype):
    """`array` as the kernels take it: of `dtype`, C-contiguous."""
    if array.dtype != dtype:
        array = array.astype(dtype)
    if not array.flags.c_contiguous:
        array = array.copy()
    return array
