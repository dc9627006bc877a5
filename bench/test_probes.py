"""The limits the report compares against, per device: memory bandwidth (a += s*b in place over a
large array, 12 bytes per element) and matmul throughput (float32, the FLOP-bound limit)."""

import numpy

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
