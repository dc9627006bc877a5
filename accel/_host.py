"""The CPU side of accel.kernels: accel._cpu (the compiled loops of csrc/cpu) behind the
interface the CUDA side has (accel._cuda.CudaKernels), so accel.kernels asks a device for its
launcher and never tests which kind it is."""

from __future__ import annotations

import math

import numpy

from . import _cpu

# What a launch does with the accumulators: csrc/cpu/launch.h's Accumulation (CUDA: the same numbers).
ACCUMULATION = {None: 0, "add": 1, "mean": 2, "accumulated": 3}


def _contiguous(array):
    return array if array.flags.c_contiguous else numpy.ascontiguousarray(array)


class HostKernels:
    """The fused kernels of the CPU (one object: the extension keeps no per-device state)."""

    def table(self, rule, params, slots, slot_count, accumulators=None, averages=None):
        """The checked table of one launch group (accel._cpu.Table; slot_count is checked there)."""
        return _cpu.Table(rule, list(params), [list(kind) for kind in slots], accumulators=accumulators,
                          averages=averages)

    def launch(self, table, grads, scales, flags, decays, scalars, clip, decay, global_scale, norm_sq, clip_norm,
             scalar_count, accumulation=None, grad_scale=1.0, accumulation_steps=1.0, ema_momentum=None,
             ema_overwrite=False):
        """One fused update of every variable of `table` (see accel.kernels.launch)."""
        if norm_sq is not None:  # a host value: its clip factor joins global_scale
            if not isinstance(norm_sq, (float, int, numpy.floating, numpy.integer)) and not (
                    isinstance(norm_sq, numpy.ndarray) and norm_sq.size == 1):
                raise TypeError(f"norm_sq: expected a float, got {type(norm_sq).__name__}")
            global_scale = global_scale * _cpu.global_clip_scale(float(norm_sq), clip_norm)
        _cpu.launch(table, list(grads), scales, flags, decays, scalars, float(global_scale), clip, float(decay),
                  ACCUMULATION[accumulation], float(grad_scale), float(accumulation_steps),
                  math.nan if ema_momentum is None else float(ema_momentum), bool(ema_overwrite))

    def global_norm_sq(self, arrays) -> float:
        """sum(x*x) over every array (any strides), in float64: a Python float."""
        return _cpu.global_norm_sq([_contiguous(a) for a in arrays])

    def norms_sq(self, arrays) -> numpy.ndarray:
        """sum(x*x) of each array (any strides), in float64."""
        return numpy.asarray(_cpu.norms_sq([_contiguous(a) for a in arrays]), dtype=numpy.float64)

    def axpy(self, a, b, s) -> None:
        _cpu.axpy(a, b, s)

    def stream_probe(self, writes, reads, s) -> None:
        _cpu.stream_probe(list(writes), list(reads), s)


KERNELS = HostKernels()
