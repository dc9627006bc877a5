"""The one bridge from Python to the fused kernels in kernels/ (accel._cpu or CUDA via CuPy).

A launch updates every variable of one (device, dtype) group: the parameters and each slot are
one flat buffer, and each variable is a segment (offset, length) in them; gradients arrive as one
array per segment. `launch` validates everything before any byte is written (the C++ side checks
shapes, dtypes and bounds first), then runs ONE kernel call for the whole group.

Rules and their variant bits (the names kernels/rules uses):
  sgd      1 momentum, 2 nesterov (needs momentum)   slots: momentum
  adagrad  (decay is a per-segment flag)             slots: accumulator
  rmsprop  1 centered, 2 momentum                    slots: rms, momentum, mg
  adam     1 amsgrad                                 slots: m, v, vhat
"""

from __future__ import annotations

import math
import pathlib
import threading
from dataclasses import dataclass

import numpy

from . import _cpu

__all__ = ["RuleSpec", "RULES", "launch", "global_norm_sq", "norms_sq", "global_clip_scale", "kernels_dir",
           "set_num_threads", "get_num_threads", "axpy"]


@dataclass(frozen=True)
class RuleSpec:
    """A rule's scalars (in kernel order) and which slots each variant keeps (in kernel order)."""

    scalars: tuple
    slots: dict  # variant -> tuple of slot names


RULES = {
    "sgd": RuleSpec(("lr", "momentum"), {0: (), 1: ("momentum",), 3: ("momentum",)}),
    "adagrad": RuleSpec(("lr", "epsilon", "decay_rate", "floor"), {0: ("accumulator",)}),
    "rmsprop": RuleSpec(("lr", "rho", "momentum", "epsilon"), {
        0: ("rms",), 1: ("rms", "mg"), 2: ("rms", "momentum"), 3: ("rms", "momentum", "mg")}),
    "adam": RuleSpec(("alpha", "beta_1", "beta_2", "epsilon"), {0: ("m", "v"), 1: ("m", "v", "vhat")}),
}

# The CUDA kernel's template names for each (rule, variant): (RuleOff, RuleOn).
_CUDA_RULES = {
    ("sgd", 0): ("accel::Sgd<false, false>",) * 2,
    ("sgd", 1): ("accel::Sgd<true, false>",) * 2,
    ("sgd", 3): ("accel::Sgd<true, true>",) * 2,
    ("adagrad", 0): ("accel::Adagrad<false>", "accel::Adagrad<true>"),
    ("rmsprop", 0): ("accel::Rmsprop<false, false>",) * 2,
    ("rmsprop", 1): ("accel::Rmsprop<true, false>",) * 2,
    ("rmsprop", 2): ("accel::Rmsprop<false, true>",) * 2,
    ("rmsprop", 3): ("accel::Rmsprop<true, true>",) * 2,
    ("adam", 0): ("accel::Adam<false>",) * 2,
    ("adam", 1): ("accel::Adam<true>",) * 2,
}
_CUDA_TYPES = {"float16": "__half", "float32": "float", "float64": "double"}


def kernels_dir() -> pathlib.Path:
    """Where the kernel sources are: inside the installed package (wheels) or the source tree
    (editable installs)."""
    here = pathlib.Path(__file__).resolve().parent
    for candidate in (here / "_kernels", here.parent / "kernels"):
        if (candidate / "rules" / "apply.h").is_file():
            return candidate
    raise FileNotFoundError(f"accel's kernel sources are missing (looked in {here / '_kernels'} and "
                            f"{here.parent / 'kernels'}); reinstall accel")


def set_num_threads(n: int) -> None:
    """Threads the CPU kernels use (0: the default, OMP_NUM_THREADS if set, else the usable cores)."""
    _cpu.set_num_threads(int(n))


def get_num_threads() -> int:
    return _cpu.get_num_threads()


def global_clip_scale(norm_sq: float, clip_norm: float) -> float:
    """clip_by_global_norm's factor clip / max(norm, clip); NaN for an inf/NaN norm (TF).
    The same C++ function (kernels/rules/apply.h) the CUDA kernels evaluate on the device."""
    return _cpu.global_clip_scale(float(norm_sq), float(clip_norm))


def axpy(a, b, s: float) -> None:
    """a += s * b in place: the bandwidth probe the benchmarks compare against."""
    if isinstance(a, numpy.ndarray):
        _cpu.axpy(a, b, s)
    else:
        _cuda_for(a.device.id).axpy(a, b, s)


def _flat(array):
    return array.reshape(-1) if array.ndim != 1 else array


def global_norm_sq(arrays, device=None):
    """sum(x*x) over every array, in float64, in one pass. CPU: a Python float. CUDA: a 0-d
    float64 device array (no host synchronisation)."""
    if device is None or device.kind == "cpu":
        return _cpu.global_norm_sq(list(arrays))  # any contiguous shape: the buffer protocol
    return _cuda_for(device.index).norm_sq([_flat(a) for a in arrays])


def norms_sq(arrays, device=None) -> numpy.ndarray:
    """sum(x*x) of each array (float64): one pass on the CPU; a host array either way."""
    if device is None or device.kind == "cpu":
        return numpy.asarray(_cpu.norms_sq(list(arrays)), dtype=numpy.float64)
    xp = device.xp
    with device.activate():
        return numpy.array([float(xp.sum(xp.square(a.astype(xp.float64)))) for a in arrays])


def launch(rule: str, variant: int, params, slots, grads, offsets, *, segment_scales=None,
           segment_flags=None, scalars, clip_value=None, decay=0.0, global_scale=1.0,
           norm_sq=None, clip_norm=0.0, device=None) -> None:
    """One fused update of every segment of a flat group.

    params, slots: flat buffers of the group (1-D, one dtype). grads: one array per segment,
    of the params' dtype. offsets: int64 start of each segment. scalars: the rule's scalars
    (RULES[rule].scalars order). clip_value: clip gradients to [-c, c] (None: off). decay:
    weight_decay * lr (decoupled). global_scale (CPU) or norm_sq + clip_norm (CUDA, a device
    scalar from global_norm_sq): clip_by_global_norm's factor.
    """
    scalars = numpy.asarray(scalars, dtype=numpy.float64)
    clip = math.nan if clip_value is None else float(clip_value)
    if device is None or device.kind == "cpu":
        if norm_sq is not None:
            global_scale = global_scale * global_clip_scale(float(norm_sq), clip_norm)
        _cpu.step(rule, int(variant), params, list(slots), list(grads),
                  numpy.asarray(offsets, dtype=numpy.int64), segment_scales, segment_flags, scalars,
                  float(global_scale), clip, float(decay))
        return
    _cuda_for(device.index).step(rule, int(variant), params, list(slots), [_flat(g) for g in grads],
                                 offsets, segment_scales, segment_flags, scalars, clip, float(decay),
                                 float(global_scale), norm_sq, float(clip_norm))


# -- CUDA ---------------------------------------------------------------------------------------
_CHUNK = 1 << 16  # elements per block
_THREADS = 512
_NORM_THREADS = 256

_cuda_lock = threading.Lock()
_cuda_devices: dict = {}


def _cuda_for(index: int) -> "_CudaKernels":
    with _cuda_lock:
        kernels = _cuda_devices.get(index)
        if kernels is None:
            kernels = _cuda_devices[index] = _CudaKernels(index)
        return kernels


_SEGMENT_DTYPE = numpy.dtype([("offset", "<i8"), ("grad", "<u8"), ("scale", "<f8"), ("flag", "<i8")])
_CHUNK_DTYPE = numpy.dtype([("segment", "<i8"), ("begin", "<i8"), ("end", "<i8")])


def _chunk_table(lengths) -> numpy.ndarray:
    """(segment, begin, end) for every chunk of at most _CHUNK elements of every segment."""
    lengths = numpy.asarray(lengths, dtype=numpy.int64)
    counts = -(-lengths // _CHUNK)
    segment = numpy.repeat(numpy.arange(len(lengths)), counts)
    first = numpy.repeat(numpy.cumsum(counts) - counts, counts)
    begin = (numpy.arange(counts.sum()) - first) * _CHUNK
    table = numpy.empty(len(segment), _CHUNK_DTYPE)
    table["segment"], table["begin"] = segment, begin
    table["end"] = numpy.minimum(begin + _CHUNK, lengths[segment])
    return table


class _CudaKernels:
    """The compiled CUDA kernels of one device, each instantiation compiled on first use (CuPy
    also caches the binaries on disk)."""

    def __init__(self, index: int):
        import cupy

        self.cupy = cupy
        self.index = index
        self.source = (kernels_dir() / "cuda" / "fused.cu").read_text()
        include = [f"-I{kernels_dir()}"]
        cuda_path = cupy.cuda.get_cuda_path()
        if cuda_path and (pathlib.Path(cuda_path) / "include" / "cuda_fp16.h").is_file():
            include.append(f"-I{pathlib.Path(cuda_path) / 'include'}")
        self.options = ("-std=c++17", *include)
        self.functions = {}

    def function(self, name: str):
        fn = self.functions.get(name)
        if fn is None:
            with self.cupy.cuda.Device(self.index):
                module = self.cupy.RawModule(code=self.source, options=self.options, name_expressions=[name])
                fn = self.functions[name] = module.get_function(name)
        return fn

    def _segments(self, grads, offsets, scales, flags):
        table = numpy.zeros(len(grads), _SEGMENT_DTYPE)
        table["offset"] = numpy.asarray(offsets, dtype=numpy.int64)
        table["grad"] = [g.data.ptr for g in grads]
        table["scale"] = 1.0 if scales is None else numpy.asarray(scales, dtype=numpy.float64)
        table["flag"] = 0 if flags is None else numpy.asarray(flags, dtype=numpy.int64)
        return self.cupy.asarray(table.view(numpy.uint8))

    def step(self, rule, variant, params, slots, grads, offsets, scales, flags, scalars, clip, decay,
             global_scale, norm_sq, clip_norm):
        cupy = self.cupy
        names = _CUDA_RULES.get((rule, variant))
        if names is None:
            raise ValueError(f"variant: {variant} is not a variant of rule {rule!r}")
        dtype = params.dtype.name
        n = params.size
        for i, g in enumerate(grads):
            if g.dtype != params.dtype or not g.flags.c_contiguous:
                raise TypeError(f"grads[{i}]: must be a C-contiguous {dtype} array")
            if offsets[i] < 0 or offsets[i] + g.size > n:
                raise ValueError(f"grads[{i}]: {g.size} elements at offset {offsets[i]} do not fit in params of {n}")
        if len(slots) != len(RULES[rule].slots[variant]):
            raise ValueError(f"slots: rule {rule!r} variant {variant} needs {len(RULES[rule].slots[variant])}")
        chunks = _chunk_table([g.size for g in grads])
        if len(chunks) == 0:
            return
        has_clip, has_decay = not math.isnan(clip), decay != 0.0
        name = (f"accel::fused_step<{names[0]}, {names[1]}, {_CUDA_TYPES[dtype]}, "
                f"{'true' if has_clip else 'false'}, {'true' if has_decay else 'false'}>")
        kernel = self.function(name)
        slot_ptrs = list(slots) + [None] * (3 - len(slots))
        packed = [numpy.float64(v) for v in list(scalars) + [0.0] * (4 - len(scalars))]
        if norm_sq is None and global_scale != 1.0:  # a host factor folds into the segment scales
            scales = (numpy.ones(len(grads)) if scales is None else numpy.asarray(scales)) * global_scale
        with cupy.cuda.Device(self.index):
            segment_table = self._segments(grads, offsets, scales, flags)
            chunk_table = cupy.asarray(chunks.view(numpy.uint8))
            kernel((len(chunks),), (_THREADS,), (
                params, *[s if s is not None else numpy.uint64(0) for s in slot_ptrs],
                chunk_table, segment_table, *packed, norm_sq if norm_sq is not None else numpy.uint64(0),
                numpy.float64(clip_norm), numpy.float64(0.0 if math.isnan(clip) else clip),
                numpy.float64(decay)))

    def norm_sq(self, arrays):
        cupy = self.cupy
        with cupy.cuda.Device(self.index):
            out = cupy.zeros((), cupy.float64)
            by_dtype = {}
            for a in arrays:
                by_dtype.setdefault(a.dtype.name, []).append(a)
            partials = []
            for dtype, group in by_dtype.items():
                chunks = _chunk_table([a.size for a in group])
                if len(chunks) == 0:
                    continue
                partial = cupy.empty(len(chunks), cupy.float64)
                fn = self.function(f"accel::chunk_sum_squares<{_CUDA_TYPES[dtype]}>")
                fn((len(chunks),), (_NORM_THREADS,), (
                    cupy.asarray(chunks.view(numpy.uint8)), self._segments(group, [0] * len(group), None, None),
                    partial))
                partials.append(partial)
            if partials:
                joined = cupy.concatenate(partials)
                self.function("accel::sum_partials")((1,), (_NORM_THREADS,), (joined, numpy.int64(joined.size), out))
            return out

    def axpy(self, a, b, s):
        with self.cupy.cuda.Device(self.index):
            self.function("accel::axpy")((1024,), (256,), (a, b, numpy.float32(s), numpy.int64(a.size)))
