"""Data parallel across 2 processes on this machine (mpiexec; each process one thread), every
case run by bench/distributed_worker.py and each check that the workers really did the work made
there (the two reductions give the same average; every step changes every parameter).

- all-reduce: a gradient set reduced in 25 MB buckets and as one collective per tensor, in
  alternation round by round in the same two processes. Target (data-parallel issue): bucketed
  >= 3x faster than per-tensor for the 193 transformer tensors.
- overlap: accel's MLP step with the reduction started during the backward walk
  (DistributedGradientTape) and after it, alternating step by step.
- scaling: samples/s of the MLP training step (128 rows per process, Adam) in 1 and 2
  processes, accel beside torch's DistributedDataParallel (gloo), the four configurations taking
  turns block after block in fresh processes. Efficiency = samples/s with 2 / (2 x samples/s with
  1). Target: accel's efficiency >= torch DDP's.
"""

import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import time

import numpy
import pytest

WORKER = pathlib.Path(__file__).with_name("distributed_worker.py")


def _mpiexec():
    beside = pathlib.Path(sys.executable).with_name("mpiexec")
    return str(beside) if beside.exists() else shutil.which("mpiexec")


try:
    import mpi4py  # noqa: F401
except ImportError:
    mpi4py = None
pytestmark = pytest.mark.skipif(mpi4py is None or _mpiexec() is None,
                                reason="needs mpi4py and mpiexec (the dist extra)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(processes: int, *args) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               BENCH_PORT=str(_free_port()))
    env.pop("OPENBLAS_CORETYPE", None)
    result = subprocess.run([_mpiexec(), "-n", str(processes), sys.executable, str(WORKER), *map(str, args)],
                            capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def _stats(times) -> tuple:
    return float(numpy.median(times)), float(numpy.subtract(*numpy.percentile(times, [75, 25])))


def _record(benchmark, stats: dict, **extra) -> None:
    benchmark.extra_info.update({"median_s": {k: v[0] for k, v in stats.items()},
                                 "iqr_s": {k: v[1] for k, v in stats.items()}, **extra})
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)  # the times are the workers'


@pytest.mark.parametrize("shapes", ["transformer", "small"])
def test_allreduce_bucketed_vs_per_tensor(benchmark, shapes, bench_size):
    if shapes == "transformer" and bench_size != "full":
        shapes = "quick"
    rounds = {"full": 30, "quick": 10, "tiny": 3}[bench_size]
    out = run(2, "allreduce", shapes, rounds)
    name = {"transformer": "193 transformer tensors", "quick": "49 transformer tensors",
            "small": "50 tensors of 100"}[shapes]
    benchmark.group = f"data parallel all-reduce, 2 processes: {name} [cpu]"
    stats = {k: _stats(out[k]) for k in ("bucketed", "per_tensor")}
    _record(benchmark, stats, per_tensor_over_bucketed=stats["per_tensor"][0] / stats["bucketed"][0],
            tensors=out["tensors"], buckets=out["buckets"], bytes=out["bytes"])


def test_overlap_with_the_backward_pass(benchmark, bench_size):
    steps = {"full": 300, "quick": 50, "tiny": 5}[bench_size]
    out = run(2, "overlap", steps, 128)
    benchmark.group = "data parallel overlap, 2 processes: MLP 784-256-256-10, 128 rows per process, Adam [cpu]"
    stats = {k: _stats(out[k]) for k in ("overlap", "after")}
    _record(benchmark, stats, overlap_over_after=stats["overlap"][0] / stats["after"][0])


def test_scaling_beside_torch_ddp(benchmark, bench_size):
    pytest.importorskip("torch")
    blocks, steps = {"full": (3, 200), "quick": (2, 50), "tiny": (1, 5)}[bench_size]
    times = {f"{library} {n}": [] for n in (1, 2) for library in ("accel", "torch")}
    for _ in range(blocks):
        for key in times:
            library, n = key.split()
            times[key] += run(int(n), "step", library, steps, 128)["step"][1:]
            time.sleep(0.3)  # let the last processes' threads park
    stats = {k: _stats(v) for k, v in times.items()}
    efficiency = {library: stats[f"{library} 1"][0] / stats[f"{library} 2"][0] for library in ("accel", "torch")}
    benchmark.group = "data parallel scaling, 1 to 2 processes of 1 thread: MLP 784-256-256-10, 128 rows per " \
                      "process, Adam [cpu]"
    _record(benchmark, stats, efficiency=efficiency,
            accel_over_torch_efficiency=efficiency["accel"] / efficiency["torch"],
            samples_per_s={k: 128 * int(k.split()[1]) / v[0] for k, v in stats.items()})
