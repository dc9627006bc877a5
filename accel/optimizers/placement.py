"""Where an optimizer's slot buffers lie relative to their parameter, so the fused step streams at
the memory limit whatever the allocator does.

The step reads a parameter, its gradient and its slots at the same element index and writes the
parameter and slots back. Large NumPy arrays come from mmap, each at the same offset in its page
(16 bytes) and, allocated one after another, a whole number of pages apart: every stream then
lands on the same cache sets, the same 4 KB alias class and, inside a 2 MB huge page (where the
physical address bits equal the virtual ones), the same DRAM bank bits. On a 2-core AMD EPYC host
that made the same kernel run 1.9x slower than with the streams staggered (a sweep on that host:
34.7 ms with every start 128 MB apart, 20.2 ms with 8 KB + 192 B between them, 19.0 ms at
1 MB + 4 KB + 192 B; 4 KB + 64 B was still slow, 33.0 ms). bench/placement.py measures the
sweep on the host at hand.

So slot `k` of a variable (k = 1, 2, ... in creation order) starts STAGGER * k bytes after its
parameter's first cache line, modulo a period: a power of two between one page and one huge page
that grows with the buffer (at most an eighth of it), so the over-allocation stays under 12.5% and a
huge page at most. STAGGER = 2 pages + 3 cache lines: an odd number of lines, so no two of a
variable's first 64 streams share a cache line's place in a page (its 4 KB alias class and L1 set),
and a page distance that is not a power of two. Buffers smaller than SMALLEST stay in cache between
steps; they are only aligned. Every slot starts on a 64-byte boundary and is an ordinary
C-contiguous array (a view of its own byte buffer). Per variable rather than one arena per group: a
slot lives exactly as long as its variable, and an arena would keep a dropped model's memory alive.
"""

from __future__ import annotations

import numpy

LINE = 64  # cache line: every slot starts on one
PAGE = 4096
HUGE_PAGE = 2 << 20
STAGGER = 2 * PAGE + 3 * LINE  # 8,384 B between consecutive streams of one variable
SMALLEST = 32 * 1024  # below this a buffer is only aligned (it stays in L1/L2 between steps)

__all__ = ["LINE", "PAGE", "HUGE_PAGE", "STAGGER", "SMALLEST", "period", "target_offset", "staggered_empty"]


def period(nbytes: int) -> int:
    """The modulus slot starts are placed under: LINE below SMALLEST; else the largest power of
    two <= nbytes / 8, clamped to [PAGE, HUGE_PAGE]."""
    if nbytes < SMALLEST:
        return LINE
    return min(HUGE_PAGE, max(PAGE, 1 << ((nbytes // 8).bit_length() - 1)))


def target_offset(anchor_address: int, index: int, nbytes: int) -> int:
    """Where slot `index` (1, 2, ...) of a parameter at `anchor_address` starts, modulo
    period(nbytes): STAGGER * index past the parameter's first cache line."""
    modulus = period(nbytes)
    return (anchor_address - anchor_address % LINE + STAGGER * index) % modulus


def staggered_empty(shape, dtype, anchor: numpy.ndarray, index: int) -> numpy.ndarray:
    """An uninitialised C-contiguous array of `shape` and `dtype` (host memory) whose start is
    target_offset(anchor's address, index) modulo its period: slot `index` of `anchor`."""
    dtype = numpy.dtype(dtype)
    nbytes = int(numpy.prod(shape, dtype=numpy.int64)) * dtype.itemsize
    modulus = period(nbytes)
    raw = numpy.empty(nbytes + modulus, numpy.uint8)
    start = (target_offset(anchor.ctypes.data, index, nbytes) - raw.ctypes.data) % modulus
    return raw[start:start + nbytes].view(dtype).reshape(shape)
