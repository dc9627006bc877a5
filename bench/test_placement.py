"""The placement sweep (bench/placement.py) as part of the report: accel's fused step and
PyTorch's with their streams at a sweep of relative offsets, at 1 and 2 threads, each library in
its own process; the timed round is accel's own Adam step at the default thread count."""

import numpy

import accel as ac
from placement import SIZES, sweep


def test_placement_sweep(benchmark, bench_size):
    benchmark.group = "placement sweep [cpu]"
    n = SIZES[bench_size]
    data = sweep(n, 2 if bench_size == "tiny" else 4, rounds=1 if bench_size == "tiny" else 3)
    benchmark.extra_info["placement"] = data
    benchmark.extra_info["bytes"] = 28 * n
    var = ac.Variable(numpy.ones(n, numpy.float32))
    grad = ac.ones(n)
    opt = ac.optimizers.Adam(1e-3)
    opt.apply_gradients([(grad, var)])
    benchmark.pedantic(lambda: opt.apply_gradients([(grad, var)]), rounds=5, iterations=1)
