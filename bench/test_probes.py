"""The limits the report compares against, per device: memory bandwidth (a += s*b in place over a
large array, 12 bytes per element), the bandwidth of each optimizer step's access pattern (its
numbers of written and read-only streams) and matmul throughput (float32, the FLOP-bound limit)."""

import numpy
import pytest

import accel as ac
from accel import kernels

SIZES = {"full": 1 << 26, "quick": 1 << 24, "tiny": 1 << 16}
MATMUL = {"full": 2048, "quick": 1024, "tiny": 128}


def test_bandwidth_probe(benchmark, bench_device, bench_size):
    benchmark.group = f"limits [{bench_device}]"
    device = ac.get_device(bench_device)
    n = SIZES[bench_size]
    with device.activate():
        a, b = device.xp.zeros(n, numpy.float32), device.xp.ones(n, numpy.float32)

    def run():
        kernels.axpy(a, b, 1e-3)
        device.synchronize()

    # the kernels' thread count: the optimizer steps it is the limit of run at the same count
    benchmark.extra_info.update({"bytes": 12 * n, "limit": "bandwidth", "threads": kernels.get_num_threads()})
    benchmark(run)


# (written, read-only) streams of the optimizer steps: parameter and slots are read and written,
# the gradient read (1 to 3 slots, plus an EMA average or a gradient accumulator).
PATTERNS = [(1, 1), (2, 1), (3, 1), (4, 1), (5, 1)]


@pytest.mark.parametrize("written, read", PATTERNS, ids=[f"{w}w{r}r" for w, r in PATTERNS])
def test_stream_probe(benchmark, bench_device, bench_size, written, read):
    """writes[w] += s * sum(reads): the limit of a step with the same streams, counted the same way
    (4 * (2 * written + read) bytes per element)."""
    benchmark.group = f"limits [{bench_device}]"
    device = ac.get_device(bench_device)
    n = SIZES[bench_size] // 2
    with device.activate():
        writes = [device.xp.zeros(n, numpy.float32) for _ in range(written)]
        reads = [device.xp.ones(n, numpy.float32) for _ in range(read)]

    def run():
        kernels.stream_probe(writes, reads, 1e-3)
        device.synchronize()

    benchmark.extra_info.update({"bytes": 4 * (2 * written + read) * n, "limit": "streams", "written": written,
                                 "read": read, "threads": kernels.get_num_threads()})
    benchmark(run)


def test_matmul_probe(benchmark, bench_device, bench_size):
    benchmark.group = f"limits [{bench_device}]"
    device = ac.get_device(bench_device)
    n = MATMUL[bench_size]
    with device.activate():
        a = device.xp.asarray(numpy.random.default_rng(0).standard_normal((n, n)).astype(numpy.float32))

    def run():
        a @ a
        device.synchronize()

    benchmark.extra_info.update({"flops": 2 * n ** 3, "limit": "flops"})
    benchmark(run)
