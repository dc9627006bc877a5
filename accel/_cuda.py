"""The CUDA side of accel.kernels: the kernels of csrc/cuda compiled by CuPy (NVRTC) and
launched on one device.

Every launch runs with its device current (CuPy launches on the current device), checks what it
is given as accel._cpu does (dtypes, sizes, contiguity) before anything is queued, and keeps the
host -> device table uploads off the steady state: a group's pointer table (parameter and slot
addresses) and chunk table are uploaded once, when the set of variables changes, and the
per-step table (gradient addresses, scales, flags) only when its contents change.

The compiled source starts with a hash of every header it includes, because CuPy's on-disk
kernel cache keys on the source text and options only: an edited rule (or another accel at the
same install path) then compiles anew instead of running a stale binary.
"""

from __future__ import annotations

import hashlib
import math
import pathlib
import threading
from collections import OrderedDict

import numpy

from . import _cpu
from ._cuda_tables import (CHUNK, CHUNK_DTYPE, SEGMENT_DTYPE, STEP_DTYPE, chunk_table,  # noqa: F401
                           row_selections, row_tables)
from ._launch_args import SCALAR_SLOTS
from ._sources import sources_dir
from .dtypes import FLOATING, is_floating

THREADS = 512
NORM_THREADS = 256
_TABLE_CACHE = 64  # device tables kept per device (small: a few KB each)

# Each kernel's rule types (csrc/rules/registry.h): (for unflagged variables, for flagged ones:
# AdagradDecay's decaying variables).
RULE_TYPES = {r["id"]: (r["off"], r["on"]) for r in _cpu.rules()}
_C_TYPES = {"float16": "__half", "float32": "float", "float64": "double"}
_FLOAT_NAMES = ", ".join(dt.name for dt in FLOATING)
STORAGE_TYPES = {dt.name: _C_TYPES[dt.name] for dt in FLOATING}  # every floating dtype (KeyError if one is new)


def update_name(rule: str, dtype: str, clip: bool, decay: bool) -> str:
    """The name expression of one update kernel."""
    off, on = RULE_TYPES[rule]
    flag = {True: "true", False: "false"}
    return f"accel::fused_update<{off}, {on}, {STORAGE_TYPES[dtype]}, {flag[clip]}, {flag[decay]}>"


def all_names() -> list:
    """Every name expression the bridge can request (for compile checks)."""
    names = [update_name(rule, dtype, clip, decay) for rule in RULE_TYPES
             for dtype in STORAGE_TYPES for clip in (False, True) for decay in (False, True)]
    names += [f"accel::{kernel}<{t}>" for kernel in ("accumulate_only", "chunk_sum_squares")
              for t in STORAGE_TYPES.values()]
    return names + ["accel::sum_partials", "accel::sum_partials_by_segment", "accel::axpy", "accel::stream_probe"]


def source_with_header_hash(sources_dir: pathlib.Path) -> str:
    """fused.cu, preceded by a comment holding the hash of every header under sources_dir."""
    digest = hashlib.sha256()
    for path in sorted(sources_dir.rglob("*")):
        if path.suffix in (".h", ".cuh", ".cu") and path.is_file():
            digest.update(str(path.relative_to(sources_dir)).encode() + b"\0" + path.read_bytes() + b"\0")
    source = (sources_dir / "cuda" / "fused.cu").read_text()
    return f"// accel kernel sources sha256 {digest.hexdigest()}\n{source}"


class CudaKernels:
    """The compiled kernels of one CUDA device (`device.xp` is CuPy or a stand-in for it)."""

    decides_on_device = True  # launches take skip_nonfinite / device_scalars / loss_scale

    def __init__(self, device, sources_dir: pathlib.Path):
        self.device = device
        self.xp = device.xp
        self.source = source_with_header_hash(sources_dir)
        include = [f"-I{sources_dir}"]
        cuda_path = self.xp.cuda.get_cuda_path()
        if cuda_path and (pathlib.Path(cuda_path) / "include" / "cuda_fp16.h").is_file():
            include.append(f"-I{pathlib.Path(cuda_path) / 'include'}")
        self.options = ("-std=c++17", *include)
        self.functions = {}
        self._tables: OrderedDict = OrderedDict()  # bytes of a host table -> its device copy

    def function(self, name: str):
        fn = self.functions.get(name)
        if fn is None:
            with self.xp.cuda.Device(self.device.index):
                module = self.xp.RawModule(code=self.source, options=self.options, name_expressions=[name])
                fn = self.functions[name] = module.get_function(name)
        return fn

    # -- arguments ---------------------------------------------------------------------------
    def _check_array(self, a, argument: str, dtype=None, size=None, contiguous=True):
        """An array of this device (of `dtype`, `size` elements, C-contiguous, as asked), else an
        error naming `argument`."""
        if not isinstance(a, self.xp.ndarray):
            raise TypeError(f"{argument}: expected an array of {self.device}, got {type(a).__name__}")
        if a.device.id != self.device.index:
            raise ValueError(f"{argument}: the array is on cuda:{a.device.id}, the launch on {self.device}")
        if contiguous and not a.flags.c_contiguous:
            raise TypeError(f"{argument}: expected a C-contiguous array")
        if dtype is not None and a.dtype != dtype:
            raise TypeError(f"{argument}: dtype must be {numpy.dtype(dtype).name}, got {a.dtype.name}")
        if size is not None and a.size != size:
            raise ValueError(f"{argument}: has {a.size} elements, expected {size}")

    def _table(self, host: numpy.ndarray):
        """The device copy of a small host table, uploaded once per distinct content."""
        key = host.tobytes()
        table = self._tables.get(key)
        if table is None:
            table = self.xp.asarray(numpy.frombuffer(key, numpy.uint8))
            self._tables[key] = table
            if len(self._tables) > _TABLE_CACHE:
                self._tables.popitem(last=False)
        else:
            self._tables.move_to_end(key)
        return table

    def _steps(self, grads, scales=None, flags=None, decays=None):
        table = numpy.zeros(len(grads), STEP_DTYPE)
        table["grad"] = [g.data.ptr for g in grads]
        table["scale"] = 1.0 if scales is None else scales
        table["flag"] = 0 if flags is None else flags
        table["decays"] = 1 if decays is None else decays != 0
        return self._table(table)

    def table(self, rule, params, slots, slot_count, accumulators=None, averages=None) -> "Table":
        """The checked pointer table of one launch group (see Table)."""
        if rule not in RULE_TYPES:
            raise ValueError(f"rule: unknown rule {rule!r}")
        if len(slots) != slot_count:
            raise ValueError(f"slots: rule {rule!r} needs {slot_count} slot lists, got {len(slots)}")
        params = list(params)
        slots = [list(kind) for kind in slots]
        dtype = None
        for i, p in enumerate(params):
            self._check_array(p, f"params[{i}]", dtype)
            if not is_floating(p.dtype):
                raise TypeError(f"params[{i}]: expected {_FLOAT_NAMES}, got {p.dtype.name}")
            dtype = p.dtype
        for j, kind in enumerate(slots):
            if len(kind) != len(params):
                raise ValueError(f"slots[{j}]: has {len(kind)} arrays for {len(params)} parameters")
            for i, a in enumerate(kind):
                self._check_array(a, f"slots[{j}][{i}]", dtype, params[i].size)
        extras = {}
        for argument, arrays in (("accumulators", accumulators), ("averages", averages)):
            if arrays is None:
                continue
            arrays = extras[argument] = list(arrays)
            if len(arrays) != len(params):
                raise ValueError(f"{argument}: expected a list of {len(params)} arrays, one per parameter")
            for i, a in enumerate(arrays):
                self._check_array(a, f"{argument}[{i}]", dtype, params[i].size)
        return Table(self, rule, dtype, params, slots, **extras)

    # -- kernels ------------------------------------------------------------------------------
    def launch(self, table, grads, args, scales=None, flags=None, decays=None, rows=None, row_flags=None):
        """One fused update of every variable of `table` (see accel.kernels.launch): `args` a
        LaunchArgs, checked by accel.kernels.launch (a host norm_sq is in its global_scale); here
        against the table and this device. `rows` / `row_flags`: some rows only (kernels.launch),
        each row a segment of its own in tables made for this launch (the row ids are read on the
        host: one small copy)."""
        if args.device_scalars is not None:
            self._check_array(args.device_scalars, "device_scalars", numpy.float64, SCALAR_SLOTS + 1)
        if args.loss_scale is not None:
            self._check_array(args.loss_scale, "loss_scale", numpy.float32, 1)
        if args.accumulation and table.accumulators is None:
            raise ValueError("accumulation: this table has no accumulators")
        if args.ema and table.averages is None:
            raise ValueError("ema_momentum: this table has no averages")
        grads = list(grads)
        if len(grads) != len(table.lengths):
            raise ValueError(f"grads: has {len(grads)} arrays for {len(table.lengths)} parameters")
        selections = row_selections(self, table, rows, row_flags)
        for i, g in enumerate(grads):
            self._check_array(g, f"grads[{i}]", table.dtype)
            expected = table.lengths[i] if selections[i] is None else len(selections[i][0]) * selections[i][1]
            if g.size != expected:
                wanted = (f"params[{i}] has {expected}" if selections[i] is None
                          else f"expected {expected} (one row per id)")
                raise ValueError(f"grads[{i}]: has {g.size} elements, {wanted}")
        if scales is not None:
            scales = numpy.asarray(scales, dtype=numpy.float64).reshape(-1)
            if len(scales) != len(grads):
                raise ValueError(f"segment_scales: has {len(scales)} entries, expected {len(grads)}")
        if flags is not None:
            flags = numpy.asarray(flags).reshape(-1)
            if len(flags) != len(grads):
                raise ValueError(f"segment_flags: has {len(flags)} entries, expected {len(grads)}")
        if decays is not None:
            decays = numpy.asarray(decays).reshape(-1)
            if len(decays) != len(grads):
                raise ValueError(f"segment_decays: has {len(decays)} entries, expected {len(grads)}")
        if args.norm_sq is not None:  # a device scalar (kernels.launch folded a host value already)
            self._check_array(args.norm_sq, "norm_sq", numpy.float64, 1)
        if rows is None:
            chunk_count, chunks, segments = table.chunk_count, table.chunks, table.segments
            with self.xp.cuda.Device(self.device.index):  # the step table is uploaded to this device
                steps = self._steps(grads) if args.accumulation == 1 else self._steps(grads, scales, flags, decays)
        else:
            chunk_count, chunks, segments, steps = row_tables(self, table, grads, selections, scales, flags, decays)
        if chunk_count == 0:
            return
        record = args.record(lambda array: array.data.ptr)  # one kernel argument, by value
        if args.accumulation == 1:  # a call between updates: the rule does not run
            kernel = self.function(f"accel::accumulate_only<{STORAGE_TYPES[table.dtype.name]}>")
            with self.xp.cuda.Device(self.device.index):
                kernel((chunk_count,), (THREADS,), (chunks, segments, steps, record))
            return
        has_clip, has_decay = not math.isnan(args.clip_value), args.decay != 0.0
        kernel = self.function(update_name(table.rule, table.dtype.name, has_clip, has_decay))
        with self.xp.cuda.Device(self.device.index):
            kernel((chunk_count,), (THREADS,), (chunks, segments, steps, record))

    def _by_dtype(self, arrays):
        """{dtype: [positions]} of `arrays`, checked (on this device, a float dtype)."""
        by_dtype = {}
        for i, a in enumerate(arrays):
            self._check_array(a, f"arrays[{i}]", contiguous=False)  # strided ones are copied
            if not is_floating(a.dtype):
                raise TypeError(f"arrays[{i}]: expected {_FLOAT_NAMES}, got {a.dtype.name}")
            by_dtype.setdefault(a.dtype.name, []).append(i)
        return by_dtype

    def _partials(self, group, dtype):
        """Per-chunk sums of squares of `group` (one dtype) and the chunk table, or None if empty."""
        group = [a if a.flags.c_contiguous else self.xp.ascontiguousarray(a) for a in group]
        chunks = chunk_table([a.size for a in group])
        if len(chunks) == 0:
            return None, chunks
        partial = self.xp.empty(len(chunks), self.xp.float64)
        self.function(f"accel::chunk_sum_squares<{STORAGE_TYPES[dtype]}>")((len(chunks),), (NORM_THREADS,), (
            self._table(chunks), self._steps(group), partial))
        return partial, chunks

    def norms_sq(self, arrays):
        """sum(x*x) of each array, in float64: a device array (two launches per dtype, no sync)."""
        xp = self.xp
        with xp.cuda.Device(self.device.index):
            out = xp.zeros(len(arrays), xp.float64)
            for dtype, picked in self._by_dtype(arrays).items():
                partial, chunks = self._partials([arrays[i] for i in picked], dtype)
                if partial is None:
                    continue
                first = numpy.searchsorted(chunks["segment"], numpy.arange(len(picked) + 1)).astype(numpy.int64)
                sums = xp.empty(len(picked), xp.float64)
                self.function("accel::sum_partials_by_segment")((-(-len(picked) // NORM_THREADS),), (NORM_THREADS,), (
                    partial, self._table(first), numpy.int64(len(picked)), sums))
                out[xp.asarray(numpy.asarray(picked, dtype=numpy.int64))] = sums
            return out

    def global_norm_sq(self, arrays):
        """sum(x*x) over every array, in float64: a 0-d device array (no host synchronisation)."""
        xp = self.xp
        with xp.cuda.Device(self.device.index):
            out = xp.zeros((), xp.float64)
            partials = []
            for dtype, picked in self._by_dtype(arrays).items():
                partial, _ = self._partials([arrays[i] for i in picked], dtype)
                if partial is not None:
                    partials.append(partial)
            if partials:
                joined = xp.concatenate(partials) if len(partials) > 1 else partials[0]
                self.function("accel::sum_partials")((1,), (NORM_THREADS,), (joined, numpy.int64(joined.size), out))
            return out

    def axpy(self, a, b, s):
        self._check_array(a, "a", numpy.float32)
        self._check_array(b, "b", numpy.float32, a.size)
        with self.xp.cuda.Device(self.device.index):
            self.function("accel::axpy")((1024,), (256,), (a, b, numpy.float32(s), numpy.int64(a.size)))


    def stream_probe(self, writes, reads, s):
        for i, w in enumerate(writes):
            self._check_array(w, f"writes[{i}]", numpy.float32, writes[0].size)
        for i, r in enumerate(reads):
            self._check_array(r, f"reads[{i}]", numpy.float32, writes[0].size)
        xp = self.xp
        with xp.cuda.Device(self.device.index):
            # the pointer tables are uploaded before the launch; the arrays stay referenced until it returns
            write_table = xp.asarray(numpy.array([w.data.ptr for w in writes], numpy.uint64))
            read_table = xp.asarray(numpy.array([r.data.ptr for r in reads] or [0], numpy.uint64))
            self.function("accel::stream_probe")((1024,), (256,), (
                write_table, numpy.int32(len(writes)), read_table, numpy.int32(len(reads)), numpy.float32(s),
                numpy.int64(writes[0].size)))


class Table:
    """The variables of one launch group on a device: their arrays (held, so the addresses stay
    valid), the chunk table and the pointer table, both uploaded once."""

    def __init__(self, kernels, rule, dtype, params, slots, accumulators=None, averages=None):
        self.kernels, self.rule = kernels, rule
        self.dtype = numpy.dtype(dtype if dtype is not None else numpy.float32)
        self.params, self.slots = params, slots
        self.accumulators, self.averages = accumulators, averages
        self.lengths = [p.size for p in params]
        host = numpy.zeros(len(params), SEGMENT_DTYPE)
        host["param"] = [p.data.ptr for p in params]
        for j, kind in enumerate(slots):
            host[f"slot{j}"] = [a.data.ptr for a in kind]
        for field, arrays in (("accumulator", accumulators), ("average", averages)):
            if arrays is not None:
                host[field] = [a.data.ptr for a in arrays]
        host["length"] = self.lengths
        self.host = host  # the segment table on the host: a launch of some rows derives its own from it
        chunks = chunk_table(self.lengths)
        self.chunk_count = len(chunks)
        xp = kernels.xp
        with xp.cuda.Device(kernels.device.index):
            self.segments = xp.asarray(host.view(numpy.uint8))
            self.chunks = xp.asarray(chunks.view(numpy.uint8))

    def __len__(self):
        return len(self.lengths)


_lock = threading.Lock()
_by_device: dict = {}


def kernels_for(device) -> CudaKernels:
    """The compiled kernels of a CUDA device, made once per device (and array module)."""
    key = (device, id(device.xp))
    kernels = _by_device.get(key)
    if kernels is None:
        with _lock:
            kernels = _by_device.get(key)
            if kernels is None:
                kernels = _by_device[key] = CudaKernels(device, sources_dir())
    return kernels
