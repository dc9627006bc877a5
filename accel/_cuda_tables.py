"""The tables a CUDA fused launch reads (csrc/cuda/fused.cu's SegmentEntry, StepEntry and
ChunkEntry, as NumPy record layouts), the chunk table, and the tables of a launch of some rows
(IndexedSlices: optimizers/sparse.py): each named row a segment of its own, its addresses its
variable's plus the row's offset, so the fused kernels run unchanged. The row ids are checked as
the CPU's launch checks them (in range, strictly increasing) and read on the host (one small copy
per launch)."""

from __future__ import annotations

import numpy

CHUNK = 1 << 16  # elements per block of the update kernel
SEGMENT_DTYPE = numpy.dtype([("param", "<u8"), ("slot0", "<u8"), ("slot1", "<u8"), ("slot2", "<u8"),
                             ("length", "<i8"), ("accumulator", "<u8"), ("average", "<u8")])
STEP_DTYPE = numpy.dtype([("grad", "<u8"), ("scale", "<f8"), ("flag", "<i8"), ("decays", "<i8")])
CHUNK_DTYPE = numpy.dtype([("segment", "<i8"), ("begin", "<i8"), ("end", "<i8")])


def chunk_table(lengths) -> numpy.ndarray:
    """(segment, begin, end) for every chunk of at most CHUNK elements of every segment."""
    lengths = numpy.asarray(lengths, dtype=numpy.int64)
    counts = -(-lengths // CHUNK)
    segment = numpy.repeat(numpy.arange(len(lengths)), counts)
    first = numpy.repeat(numpy.cumsum(counts) - counts, counts)
    begin = (numpy.arange(counts.sum()) - first) * CHUNK
    table = numpy.empty(len(segment), CHUNK_DTYPE)
    table["segment"], table["begin"] = segment, begin
    table["end"] = numpy.minimum(begin + CHUNK, lengths[segment])
    return table


def row_selections(kernels, table, rows, row_flags) -> list:
    """Per variable None or (host row ids, row length, host flags or None), checked as the CPU's
    launch checks them: ids in range and strictly increasing, the row length dividing the size."""
    count = len(table.lengths)
    if rows is None:
        return [None] * count
    row_flags = [None] * count if row_flags is None else list(row_flags)
    if len(rows) != count or len(row_flags) != count:
        raise ValueError(f"rows: expected a list of {count} entries, one per parameter")
    out = []
    for s, selection in enumerate(rows):
        if selection is None:
            out.append(None)
            continue
        ids, length = selection
        kernels._check_array(ids, f"rows[{s}]", numpy.int64)
        ids, length = numpy.asarray(kernels.xp.asnumpy(ids)).reshape(-1), int(length)
        if length <= 0 or table.lengths[s] % length:
            raise ValueError(f"rows[{s}]: the row length {length} does not divide the {table.lengths[s]} elements "
                             f"of params[{s}]")
        count_rows = table.lengths[s] // length
        if len(ids) and (ids.min() < 0 or ids.max() >= count_rows):
            bad = ids[(ids < 0) | (ids >= count_rows)][0]
            raise IndexError(f"rows[{s}]: row {bad} is not in [0, {count_rows})")
        if len(ids) > 1 and not (ids[1:] > ids[:-1]).all():
            raise ValueError(f"rows[{s}]: row ids must be strictly increasing (unique)")
        flag = None if row_flags[s] is None else numpy.asarray(row_flags[s], dtype=numpy.int64).reshape(-1)
        if flag is not None and len(flag) != len(ids):
            raise ValueError(f"row_flags[{s}]: has {len(flag)} entries for {len(ids)} rows")
        out.append((ids, length, flag))
    return out

def row_tables(kernels, table, grads, selections, scales, flags, decays):
    """(chunk count, chunk table, segment table, step table) of a launch of some rows: each
    selected row a segment whose addresses are its variable's plus the row's offset."""

    itemsize = table.dtype.itemsize
    segment_parts, step_parts, lengths = [], [], []
    for s, (g, selection) in enumerate(zip(grads, selections)):
        whole = table.host[s:s + 1]
        step = numpy.zeros(1, STEP_DTYPE)
        step["grad"] = g.data.ptr
        step["scale"] = 1.0 if scales is None else scales[s]
        step["flag"] = 0 if flags is None else flags[s]
        step["decays"] = 1 if decays is None else int(decays[s] != 0)
        if selection is None:
            segment_parts.append(whole)
            step_parts.append(step)
            lengths.append(table.lengths[s])
            continue
        ids, length, row_flag = selection
        segments = numpy.repeat(whole, len(ids))
        offsets = ids.astype(numpy.uint64) * numpy.uint64(length * itemsize)
        for field in ("param", "slot0", "slot1", "slot2", "accumulator", "average"):
            base = whole[field][0]
            segments[field] = numpy.where(base != 0, base + offsets, 0) if base else 0
        segments["length"] = length
        steps = numpy.repeat(step, len(ids))
        row_bytes = numpy.uint64(length * itemsize)
        steps["grad"] = step["grad"][0] + numpy.arange(len(ids), dtype=numpy.uint64) * row_bytes
        if row_flag is not None:
            steps["flag"] = row_flag
        segment_parts.append(segments)
        step_parts.append(steps)
        lengths += [length] * len(ids)
    chunks = chunk_table(lengths)
    xp = kernels.xp
    with xp.cuda.Device(kernels.device.index):
        return (len(chunks), xp.asarray(chunks.view(numpy.uint8)),
                xp.asarray(numpy.concatenate(segment_parts).view(numpy.uint8)),
                xp.asarray(numpy.concatenate(step_parts).view(numpy.uint8)))
