"""The one bridge from Python to the fused kernels in csrc/ (accel._cpu or CUDA via CuPy).

A launch updates every variable of one (device, dtype) group. The kernels take pointer tables
(per variable: its parameter, gradient and slot arrays), so every variable keeps its own storage
for life: `table` checks and holds a group's parameter and slot arrays once, and `launch` brings
one gradient per variable each step, validates everything before any byte is written, and runs
ONE kernel call for the whole group.

The kernels are the lines of csrc/rules/registry.h, read from accel._cpu.rules(): `RULES`
maps each kernel id ("adam", "adam_amsgrad", ...) to its family, named variant flags, slots and
scalars; `kernel_id(family, *flags)` finds one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy

from . import _cpu, _cuda
from ._host import KERNELS as HOST_KERNELS
from ._launch_args import ACCUMULATION, LaunchArgs
from ._sources import sources_dir
from .device import CPU, array_device

__all__ = ["RuleSpec", "RULES", "kernel_id", "table", "launch", "global_norm_sq", "norms_sq", "global_clip_scale",
           "sources_dir", "set_num_threads", "get_num_threads", "axpy", "stream_probe", "MAX_PROBE_WRITES",
           "MAX_PROBE_READS"]


@dataclass(frozen=True)
class RuleSpec:
    """One fused kernel (a line of csrc/rules/registry.h)."""

    family: str  # the optimizer family ("sgd", "adam", ...)
    flags: frozenset  # the variant's named flags ("momentum", "nesterov", "amsgrad", ...)
    slots: tuple  # slot names, in the rule's order
    scalars: tuple  # per-step scalars, in the rule's order
    cuda_types: tuple  # (rule type of unflagged variables, of flagged ones), as CUDA names them


RULES = {r["id"]: RuleSpec(r["family"], frozenset(r["flags"].split()), tuple(r["slots"].split()),
                           tuple(r["scalars"].split()), (r["off"], r["on"])) for r in _cpu.rules()}
_BY_FLAGS = {(spec.family, spec.flags): rule for rule, spec in RULES.items()}


def kernel_id(family: str, *flags: str) -> str:
    """The kernel of `family` with exactly these variant flags ("adam", "amsgrad" -> "adam_amsgrad")."""
    rule = _BY_FLAGS.get((family, frozenset(flags)))
    if rule is None:
        known = sorted(" + ".join([spec.family, *sorted(spec.flags)]) for spec in RULES.values())
        raise ValueError(f"no fused kernel for {' + '.join([family, *flags])}; the registry has: {', '.join(known)}")
    return rule


def set_num_threads(n: int) -> None:
    """Threads the CPU kernels use (0: the default, OMP_NUM_THREADS if set, else the usable cores)."""
    if isinstance(n, bool) or not isinstance(n, (int, numpy.integer)):
        raise TypeError(f"set_num_threads: n must be an int, got {n!r}")
    _cpu.set_num_threads(int(n))


def get_num_threads() -> int:
    return _cpu.get_num_threads()


def global_clip_scale(norm_sq: float, clip_norm: float) -> float:
    """clip_by_global_norm's factor clip / max(norm, clip); NaN for an inf/NaN norm (TF).
    The same C++ function (csrc/rules/apply.h) the CUDA kernels evaluate on the device."""
    return _cpu.global_clip_scale(float(norm_sq), float(clip_norm))


def axpy(a, b, s: float, device=None) -> None:
    """a += s * b in place (float32): the bandwidth probe the benchmarks compare against."""
    (device or array_device(a)).kernels.axpy(a, b, s)


MAX_PROBE_WRITES, MAX_PROBE_READS = 8, 4


def stream_probe(writes, reads, s: float, device=None) -> None:
    """writes[w] += s * (sum of reads) for every w, in place (float32 arrays of one size): the
    bandwidth probe of a fused step's access pattern. A step over W written streams (parameter
    and slots, each read and written) and R read-only ones (the gradient) moves 4 * (2W + R) bytes
    per float32 element; the benchmarks compare it with this probe at the same W and R."""
    writes, reads = list(writes), list(reads)
    if not 1 <= len(writes) <= MAX_PROBE_WRITES or len(reads) > MAX_PROBE_READS:
        raise ValueError(f"stream_probe: 1 to {MAX_PROBE_WRITES} writes and at most {MAX_PROBE_READS} reads, "
                         f"got {len(writes)} and {len(reads)}")
    (device or array_device(writes[0])).kernels.stream_probe(writes, reads, s)


def global_norm_sq(arrays, device=None):
    """sum(x*x) over every array (any shape or strides), in float64, in one pass. CPU: a Python
    float. CUDA: a 0-d float64 device array (no host synchronisation)."""
    return (device or CPU).kernels.global_norm_sq(list(arrays))


def norms_sq(arrays, device=None) -> numpy.ndarray:
    """sum(x*x) of each array (any shape or strides), in float64, as a host array: one pass on the
    CPU; one launch per dtype and one copy to the host on CUDA."""
    return numpy.asarray(CPU.send((device or CPU).kernels.norms_sq(list(arrays))), dtype=numpy.float64)


def table(rule: str, params, slots, device=None, accumulators=None, averages=None):
    """The launch group of kernel `rule` (a RULES id) over `params` (one array per variable, any
    shape, C-contiguous, one float dtype) and their `slots` (one list per slot of the rule, in
    RULES[rule].slots order, each with one array per variable shaped like it): checked once, held
    by the returned table (an accel._cpu.Table or a CUDA pointer table on `device`). Build it
    again when the set of variables changes; every step then brings only gradients (`launch`).
    accumulators / averages: one array per variable (like its parameter) for gradient
    accumulation / EMA, or None when the optimizer has none."""
    spec = RULES.get(rule)
    if spec is None:
        raise ValueError(f"rule: unknown rule {rule!r}, expected one of {', '.join(RULES)}")
    extras = {key: None if arrays is None else list(arrays)
              for key, arrays in (("accumulators", accumulators), ("averages", averages))}
    return (device or CPU).kernels.table(rule, params, slots, len(spec.slots), **extras)




def launch(table, grads, *, segment_scales=None, segment_flags=None, segment_decays=None, scalars=None, clip_value=None,
           decay=0.0, global_scale=1.0, norm_sq=None, clip_norm=0.0, accumulation=None, grad_scale=1.0,
           accumulation_steps=1, ema_momentum=None, ema_overwrite=False, skip_nonfinite=False, device_scalars=None,
           loss_scale=None, rows=None, row_flags=None) -> None:
    """One fused update of every variable of `table` (see `table`) in ONE kernel launch.

    grads: one C-contiguous array per variable, of its dtype and size. scalars: the rule's
    scalars (RULES[rule].scalars order). segment_scales / segment_flags: per-variable gradient
    scale (clipnorm) / AdagradDecay's decay flag. segment_decays: uint8 per variable, 0 where
    weight decay does not apply (exclude_from_weight_decay; None: everywhere). clip_value: clip
    gradients to [-c, c] (None: off). decay: weight_decay * lr (decoupled). clip_by_global_norm's
    factor: global_scale, times the factor of norm_sq + clip_norm when norm_sq is given (a host
    float, or on CUDA a float64 device scalar from global_norm_sq, read on the device without a
    host sync).
    Gradient accumulation (a table with accumulators; csrc/rules/apply.h): accumulation="add"
    only adds each gradient * grad_scale to its accumulator (no update; scalars, clipping and decay
    unused); "mean" updates from (gradient * grad_scale + accumulator) / accumulation_steps and
    zeroes the accumulator; "accumulated" the same from the accumulator alone (the gradients were
    added already; grads are then the accumulators, unread). ema_momentum (a table with averages):
    after the update, average = momentum * average + (1 - momentum) * var, then var = average if
    ema_overwrite; an "add" launch updates the averages too.
    A step decided on the device (CUDA only; LossScaleOptimizer without a host sync):
    skip_nonfinite writes nothing when the device scalar norm_sq is inf or NaN; device_scalars (a
    float64 device array of 9) replaces `scalars` and multiplies the decay by its last entry;
    loss_scale (a float32 device scalar) divides the gradients and multiplies the clip bound.
    Some rows only (IndexedSlices gradients, optimizers/sparse.py): `rows` has, per variable, None
    (the whole variable, from its gradient as above) or (ids, row_length): strictly increasing
    int64 row ids and the elements per row, the variable's gradient then holding one row per id;
    only those rows of the parameter, its slots, accumulator and average are read and written.
    row_flags: per variable None or one uint8 per id, replacing its segment flag row by row.
    Everything is checked before anything is written; nothing is written on an error. The launch
    is described to the kernels by one LaunchArgs (accel/_launch_args.py, csrc/rules/launch_args.h).
    """
    if accumulation not in ACCUMULATION:
        raise ValueError(f"accumulation: expected None, 'add', 'mean' or 'accumulated', got {accumulation!r}")
    mode = ACCUMULATION[accumulation]
    expected = len(RULES[table.rule].scalars)
    if scalars is None:
        if mode != 1:
            raise TypeError("launch: scalars are required (all but accumulation='add' launches run the rule)")
        scalars = (0.0,) * expected
    if isinstance(scalars, (list, tuple)):
        scalars = [float(value) for value in scalars]
    else:
        scalars = numpy.asarray(scalars, dtype=numpy.float64).reshape(-1).tolist()
    if len(scalars) != expected:
        raise ValueError(f"scalars: has {len(scalars)} entries, expected {expected}")
    if mode >= 2 and not accumulation_steps >= 1:
        raise ValueError(f"accumulation_steps: must be >= 1, got {accumulation_steps}")
    if ema_momentum is not None and not 0 <= ema_momentum <= 1:
        raise ValueError(f"ema_momentum: must be in [0, 1], got {ema_momentum}")
    on_device = skip_nonfinite or device_scalars is not None or loss_scale is not None
    if on_device and mode:
        raise ValueError("a step decided on the device does not accumulate gradients")
    # A CUDA table knows its device's kernels; accel._cpu's tables are the CPU's.
    launcher = HOST_KERNELS if type(table) is _cpu.Table else table.kernels
    if on_device and not getattr(launcher, "decides_on_device", False):
        raise TypeError("launch: skip_nonfinite, device_scalars and loss_scale decide a step on a CUDA device; "
                        "on the CPU the host decides")
    host_norm = isinstance(norm_sq, (float, int, numpy.floating, numpy.integer)) or (
        isinstance(norm_sq, numpy.ndarray) and norm_sq.size == 1)
    if skip_nonfinite and (norm_sq is None or host_norm):
        raise ValueError("skip_nonfinite: needs norm_sq as a device scalar (the launch decides on the device)")
    global_scale = float(global_scale)
    if host_norm:  # a host value: its clip factor joins global_scale, whatever the device
        global_scale *= _cpu.global_clip_scale(float(norm_sq), float(clip_norm))
        norm_sq = None
    ema = ema_momentum is not None
    args = LaunchArgs(scalars, global_scale=global_scale,
                      clip_value=math.nan if clip_value is None else float(clip_value), decay=float(decay),
                      clip_norm=float(clip_norm), grad_scale=float(grad_scale),
                      accumulation_steps=float(accumulation_steps), ema_momentum=float(ema_momentum) if ema else 0.0,
                      accumulation=mode, ema=int(ema), ema_overwrite=int(ema and bool(ema_overwrite)),
                      skip_nonfinite=int(bool(skip_nonfinite)), norm_sq=norm_sq, device_scalars=device_scalars,
                      loss_scale=loss_scale)
    if rows is None:
        launcher.launch(table, grads, args, segment_scales, segment_flags, segment_decays)
        return
    rows = list(rows)
    if len(rows) != len(grads):
        raise ValueError(f"rows: has {len(rows)} entries for {len(grads)} variables")
    row_flags = [None] * len(rows) if row_flags is None else list(row_flags)
    launcher.launch(table, grads, args, segment_scales, segment_flags, segment_decays, rows=rows, row_flags=row_flags)


def cuda_kernels(device) -> "_cuda.CudaKernels":
    """The compiled kernels of a CUDA device (its `kernels`; compiled on first use of each)."""
    return device.kernels
