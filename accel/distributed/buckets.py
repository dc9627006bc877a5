"""Gradient buckets: many gradients reduced as a few large collectives (PyTorch DDP's idea).

A layout cuts the sources, last first (the backward pass produces the last layer's gradients
first), into buckets of one device and dtype and at most `bucket_bytes` each (one larger source
gets a bucket of its own). Every rank builds the same layout from the same variables, which is
checked once per variable list: a mismatch raises on every rank instead of hanging. A step
takes each gradient as soon as it is final; when a bucket's last one arrives it packs them into
the bucket's flat buffer in one pass, pre-multiplied by 1/size when averaging (exact for
power-of-two worlds), and starts the bucket's all-reduce, non-blocking; buckets start in layout
order on every rank (collectives must be issued in the same order everywhere). `finish` waits
and hands back views of the reduced buffers.

Each bucket also carries one presence flag per gradient (1 where this rank has one): after the
sum a gradient is None only where no rank had one, and otherwise missing ones count as zeros
(DDP's unused parameters), so every rank gets the same answer.

IndexedSlices (an embedding's gradient) are gathered, as Horovod does: a second flag per gradient
says which ranks have slices, and after the buckets every such gradient is gathered in layout order
(its rows from every rank, values times 1/size when averaging): IndexedSlices of the whole world's
rows. A rank with a dense gradient for it adds the dense sum. `sparse_as_dense=True` (Horovod's
option) densifies slices instead and reduces them with the bucket.
"""

from __future__ import annotations

import sys
import weakref

import numpy

from ..dtypes import is_floating
from ..device import CPU
from ..indexed_slices import IndexedSlices, densify
from ..tensor import Tensor
from .world import world as current_world

__all__ = ["DEFAULT_BUCKET_BYTES", "Layout", "Reduction", "layout_for", "check_same"]

DEFAULT_BUCKET_BYTES = 25 * 1024 * 1024
_UNVIEWED = 3  # sys.getrefcount of a spare buffer nothing else refers to: the list, the loop, the call
_PER_PART = 16384  # mean elements per gradient from which packing scales each one into place


class Bucket:
    """Sources reduced together: members [(source index, offset, size, shape)] in one flat buffer
    of `length` elements followed by one presence flag per member, then one slices flag per member."""

    __slots__ = ("device", "dtype", "buffer_dtype", "members", "length", "communicator", "spare")

    def __init__(self, device, dtype, communicator):
        self.device, self.dtype, self.communicator = device, dtype, communicator
        self.buffer_dtype = communicator.buffer_dtype(dtype)
        self.members, self.length = [], 0
        self.spare = []  # host buffers of earlier steps

    def new_buffer(self):
        """A buffer for this step: on the host, an earlier step's once no reduced gradient views
        it any more (a fresh 25 MB buffer costs its page faults again: 33 ms instead of 20 ms for
        the 193-tensor set), else a new one; a device's memory pool already recycles."""
        size = self.length + 2 * len(self.members)
        if not self.device.host_readable:
            with self.device.activate():
                return self.device.xp.empty(size, self.buffer_dtype)
        for buffer in self.spare:
            if sys.getrefcount(buffer) <= _UNVIEWED:  # only this list (and the loop) hold it
                return buffer
        buffer = numpy.empty(size, self.buffer_dtype)
        if len(self.spare) < 2:
            self.spare.append(buffer)
        return buffer

    def add(self, index: int, source) -> None:
        self.members.append((index, self.length, source.size, tuple(source.shape)))
        self.length += source.size


class Layout:
    """Which bucket and position each source has (None: not floating, never reduced)."""

    def __init__(self, buckets, count: int):
        self.buckets = buckets
        self.place = [None] * count
        for b, bucket in enumerate(buckets):
            for position, (index, *_rest) in enumerate(bucket.members):
                self.place[index] = (b, position)


def signature(sources) -> list:
    return [(getattr(s, "name", None), tuple(s.shape), s.dtype.name) for s in sources]


def check_same(items, what: str, the_world=None) -> None:
    """Raises ValueError on every rank, listing the differences, unless every rank's `items`
    (a list of (name, shape, dtype)) equals rank 0's."""
    the_world = the_world or current_world()
    everyone = the_world.gather(items)
    reference = everyone[0]
    problems = []
    for rank, theirs in enumerate(everyone[1:], start=1):
        if theirs == reference:
            continue
        if len(theirs) != len(reference):
            problems.append(f"rank {rank} has {len(theirs)} {what}, rank 0 has {len(reference)}")
        for i, (mine, other) in enumerate(zip(reference, theirs)):
            if mine != other:
                problems.append(f"{what}[{i}]: rank 0 has {_describe(mine)}, rank {rank} has {_describe(other)}")
                if len(problems) >= 12:
                    break
    if problems:
        raise ValueError(f"accel.distributed: the workers' {what} differ (every rank must build the same "
                         "model): " + "; ".join(problems))


def _describe(item) -> str:
    if isinstance(item, tuple) and len(item) == 3:
        name, shape, dtype = item
        return f"{name!r} shape {shape} {dtype}"
    return repr(item)


def layout_for(sources, bucket_bytes: int, the_world=None) -> Layout:
    """The buckets of `sources` (after checking that every rank has the same ones)."""
    the_world = the_world or current_world()
    check_same(signature(sources) + [("bucket_bytes", (), str(bucket_bytes))], "variables", the_world)
    buckets, open_buckets = [], {}
    for index in reversed(range(len(sources))):
        source = sources[index]
        if not is_floating(source.dtype):
            continue
        key = (source.device, source.dtype)
        bucket = open_buckets.get(key)
        if bucket is not None and (bucket.length + source.size) * source.dtype.itemsize > bucket_bytes:
            bucket = None  # full: a new one (a source larger than a bucket gets one of its own)
        if bucket is None:
            bucket = open_buckets[key] = Bucket(source.device, source.dtype, the_world.communicator(source.device))
            buckets.append(bucket)
        bucket.add(index, source)
    return Layout(buckets, len(sources))


class Reduction:
    """One step's reduction over a layout: `ready(i, gradient)` for each source (in any order;
    None for a missing gradient), then `finish()`. A bucket is packed in one pass when its last
    gradient arrives (one concatenate and one scaling over its buffer, whatever its count)."""

    def __init__(self, layout: Layout, op: str, size: int, sparse_as_dense: bool = False):
        self.layout, self.op, self.sparse_as_dense = layout, op, sparse_as_dense
        self.slices = {}  # source index -> this rank's IndexedSlices (gathered after the buckets)
        self.scale = 1.0 / size if op == "average" else None
        count = len(layout.buckets)
        self.gradients = [[None] * len(bucket.members) for bucket in layout.buckets]
        self.missing = [len(bucket.members) for bucket in layout.buckets]
        self.buffers, self.requests = [None] * count, [None] * count
        self.next_start = 0
        self.reported = [False] * len(layout.place)

    def ready(self, index: int, gradient) -> None:
        place = self.layout.place[index]
        if place is None or self.reported[index]:
            return
        self.reported[index] = True
        if isinstance(gradient, IndexedSlices):
            if self.sparse_as_dense:  # all-reduced as the dense gradient
                gradient = densify(gradient)
            else:  # gathered after the buckets (finish); the bucket carries its flag
                self.slices[index] = gradient
        b, position = place
        self.gradients[b][position] = gradient
        self.missing[b] -= 1
        if b == self.next_start and not self.missing[b]:
            self._start_full()
        else:
            self.layout.buckets[b].communicator.progress()

    def _start_full(self) -> None:
        """Packs and starts every complete bucket from the next in layout order."""
        buckets = self.layout.buckets
        while self.next_start < len(buckets) and self.missing[self.next_start] == 0:
            b = self.next_start
            self.buffers[b] = self._pack(buckets[b], self.gradients[b])
            self.gradients[b] = None
            self.requests[b] = buckets[b].communicator.start_all_reduce(self.buffers[b], self.op)
            self.next_start += 1

    def _pack(self, bucket: Bucket, gradients):
        """[g_1 ... g_n (each times 1/size when averaging) | presence flags], a new buffer."""
        device = bucket.device
        xp = device.xp
        buffer = bucket.new_buffer()
        with device.activate():
            dense = [None if isinstance(g, IndexedSlices) else g for g in gradients]
            parts = [xp.zeros(size, bucket.dtype) if g is None else g._data.reshape(-1)
                     for g, (_, _, size, _) in zip(dense, bucket.members)]
            values = buffer[:bucket.length]
            if self.scale is not None and bucket.length >= _PER_PART * len(parts):
                for part, (_, offset, size, _) in zip(parts, bucket.members):  # large parts: one pass each
                    xp.multiply(part, self.scale, out=values[offset:offset + size])
            else:  # many small parts: one call for all (then one scaling pass)
                xp.concatenate(parts, out=values)
                if self.scale is not None:
                    values *= self.scale
            flags = [g is not None for g in dense] + [isinstance(g, IndexedSlices) for g in gradients]
            buffer[bucket.length:] = device.send(numpy.array(flags, bucket.buffer_dtype))
        return buffer

    def finish(self, sources) -> list:
        """The reduced gradients in source order (None where no rank had one, and for sources that
        are not floating point). Sources never reported count as missing."""
        for index, place in enumerate(self.layout.place):
            if place is not None and not self.reported[index]:
                self.ready(index, None)
        self._start_full()
        results, gathered = [None] * len(sources), []
        for b, bucket in enumerate(self.layout.buckets):
            self.requests[b].wait()
            buffer = self.buffers[b]
            flags = CPU.send(buffer[bucket.length:])
            members = len(bucket.members)
            with bucket.device.activate():
                for position, (index, offset, size, shape) in enumerate(bucket.members):
                    if flags[members + position]:
                        gathered.append((index, bucket, shape))
                    if not flags[position]:
                        continue
                    data = buffer[offset:offset + size].reshape(shape)
                    if data.dtype != bucket.dtype:  # float16 summed in float32: a sum past 65504 is inf,
                        with numpy.errstate(over="ignore"):  # as a float16 reduction gives (loss scaling's cue)
                            data = data.astype(bucket.dtype)
                    results[index] = Tensor(data, bucket.device)
        for index, bucket, shape in gathered:  # in layout order: the same collectives on every rank
            slices = gather_slices(self.slices.get(index), bucket, shape, self.scale)
            results[index] = slices if results[index] is None else results[index] + densify(slices)
        return results


def gather_slices(slices, bucket: Bucket, shape, scale) -> IndexedSlices:
    """The IndexedSlices of every rank for one source (`slices`: this rank's, or None), rank by
    rank, values times `scale` (None: 1). Three sums over the world: the row counts, then values
    and ids each placed at this rank's offset in zeros (a sum that is a concatenation, exact; the
    ids travel as float64, exact below 2^53)."""
    communicator, device, the_world = bucket.communicator, bucket.device, current_world()
    xp = device.xp
    row = int(numpy.prod(shape[1:], dtype=numpy.int64))
    with device.activate():
        counts = xp.zeros(the_world.size, numpy.float64)
        mine = 0 if slices is None else int(slices.indices.size)
        counts[the_world.rank] = mine
        communicator.start_all_reduce(counts, "sum").wait()
        counts = CPU.send(counts).astype(numpy.int64)
        total, offset = int(counts.sum()), int(counts[:the_world.rank].sum())
        values = xp.zeros(total * row, bucket.buffer_dtype)
        ids = xp.zeros(total, numpy.float64)
        if mine:
            part = slices.values._data.reshape(-1).astype(bucket.buffer_dtype)
            values[offset * row:(offset + mine) * row] = part if scale is None else part * scale
            ids[offset:offset + mine] = slices.indices._data.reshape(-1)
        communicator.start_all_reduce(values, "sum").wait()
        communicator.start_all_reduce(ids, "sum").wait()
        values = values.astype(bucket.dtype, copy=False).reshape((total,) + tuple(shape[1:]))
        return IndexedSlices(Tensor(values, device), Tensor(ids.astype(numpy.int64), device), tuple(shape))


# (ids of the sources, bucket bytes) -> (weak references to the sources, layout). Shared by every
# reducer: Horovod's users wrap a new tape each step, and the check is a collective.
_LAYOUTS: dict = {}


def cached_layout(sources, bucket_bytes: int) -> Layout:
    """layout_for(sources), checked across the world once per list of variables."""
    key = (tuple(map(id, sources)), bucket_bytes)
    found = _LAYOUTS.get(key)
    if found is None or any(ref() is not s for ref, s in zip(found[0], sources)):
        if len(_LAYOUTS) >= 16:
            _LAYOUTS.clear()
        found = _LAYOUTS[key] = ([weakref.ref(s) for s in sources], layout_for(sources, bucket_bytes))
    return found[1]


class GradientReducer:
    """Averages (or sums) gradients of a list of sources across the world, bucketed. Layouts are
    kept per list of sources (the variables a training step differentiates)."""

    def __init__(self, op: str = "average", bucket_cap_mb: float = 25, where: str = "accel.distributed",
                 sparse_as_dense: bool = False):
        from .communicators import OPS

        if op not in ("average", "sum"):
            raise ValueError(f"{where}: op must be 'average' or 'sum' for gradients, got {op!r} (of {OPS})")
        if isinstance(bucket_cap_mb, bool) or not isinstance(bucket_cap_mb, (int, float)) or not bucket_cap_mb > 0:
            raise ValueError(f"{where}: bucket_cap_mb must be a number > 0, got {bucket_cap_mb!r}")
        if not isinstance(sparse_as_dense, bool):
            raise TypeError(f"{where}: sparse_as_dense must be True or False, got {sparse_as_dense!r}")
        self.op, self.sparse_as_dense = op, sparse_as_dense
        self.bucket_bytes = int(bucket_cap_mb * 1024 * 1024)

    def active(self) -> bool:
        """Whether there is anyone to reduce with."""
        return current_world().size > 1

    def begin(self, sources) -> Reduction:
        """A reduction of one step's gradients of `sources` (every rank must call it alike)."""
        return Reduction(cached_layout(sources, self.bucket_bytes), self.op, current_world().size, self.sparse_as_dense)

    def reduce(self, gradients, sources) -> list:
        """All gradients at once (no backward pass to overlap with)."""
        reduction = self.begin(sources)
        for i, gradient in enumerate(gradients):
            reduction.ready(i, gradient)
        return reduction.finish(sources)
