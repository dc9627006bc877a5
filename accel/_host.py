"""The CPU side of accel.kernels: accel._cpu (the compiled loops of csrc/cpu) behind the
interface the CUDA side has (accel._cuda.CudaKernels), so accel.kernels asks a device for its
launcher and never tests which kind it is."""

from __future__ import annotations

import numpy

from . import _cpu


def _contiguous(array):
    return array if array.flags.c_contiguous else numpy.ascontiguousarray(array)


class HostKernels:
    """The fused kernels of the CPU (one object: the extension keeps no per-device state)."""

    def table(self, rule, params, slots, slot_count, accumulators=None, averages=None):
        """The checked table of one launch group (accel._cpu.Table; slot_count is checked there)."""
        return _cpu.Table(rule, list(params), [list(kind) for kind in slots], accumulators=accumulators,
                          averages=averages)

    def launch(self, table, grads, args, scales=None, flags=None, decays=None, rows=None, row_flags=None):
        """One fused update of every variable of `table` (see accel.kernels.launch): `args` a
        LaunchArgs, checked by accel.kernels.launch (a host norm_sq is in its global_scale); the
        C++ side checks the table against it (and the row ids: in range, strictly increasing)."""
        if args.norm_sq is not None:  # kernels.launch folded a host value into global_scale already
            raise TypeError(f"norm_sq: expected a float, got {type(args.norm_sq).__name__}")
        if rows is None:
            _cpu.launch(table, list(grads), scales, flags, decays, args.pack())
            return
        ids = [None if r is None else r[0] for r in rows]
        lengths = [0 if r is None else int(r[1]) for r in rows]
        _cpu.launch(table, list(grads), scales, flags, decays, args.pack(), ids, lengths, list(row_flags))

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
