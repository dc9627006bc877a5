"""Adam float32 update, one fused launch per step, beside PyTorch 2.13 (fused and foreach), an
in-place NumPy implementation, and the bandwidth probe (a += s*b over the same bytes) that sets
the limit. Adam moves at least 28 bytes per parameter (reads p, g, m, v; writes p, m, v).

Targets (fused-kernels issue): one 2^25 tensor at >= 90% of probe bandwidth and <= torch fused;
193 transformer tensors <= torch fused; 50 tensors of 100 >= 10x faster than torch fused.
"""

import numpy
import pytest

from accel import kernels
from workloads import WORKLOADS, arrays, elements

ADAM_BYTES_PER_PARAM = 28
LR, B1, B2, EPS = 1e-3, 0.9, 0.999, 1e-7
ALPHA = LR * (1 - B2) ** 0.5 / (1 - B1)
IDS = list(WORKLOADS)


def _group(shapes):
    """Flat params/slots with each tensor a segment, and one gradient array per tensor."""
    sizes = [int(numpy.prod(s)) for s in shapes]
    offsets = numpy.concatenate([[0], numpy.cumsum(sizes)[:-1]]).astype(numpy.int64)
    total = int(sum(sizes))
    params = numpy.random.default_rng(1).standard_normal(total).astype(numpy.float32)
    slots = [numpy.zeros(total, numpy.float32), numpy.zeros(total, numpy.float32)]
    grads = arrays(shapes)
    return params, slots, grads, offsets


@pytest.mark.parametrize("workload", IDS)
def test_adam_accel(benchmark, workload):
    benchmark.group = f"adam float32: {workload}"
    params, slots, grads, offsets = _group(WORKLOADS[workload])
    scalars = [ALPHA, B1, B2, EPS]
    benchmark.extra_info["bytes"] = ADAM_BYTES_PER_PARAM * params.size
    benchmark(kernels.launch, "adam", 0, params, slots, grads, offsets, scalars=scalars)


def _torch_adam(torch, workload, **flavour):
    params = [torch.from_numpy(a).requires_grad_() for a in arrays(WORKLOADS[workload], seed=1)]
    for p, g in zip(params, arrays(WORKLOADS[workload])):
        p.grad = torch.from_numpy(g)
    opt = torch.optim.Adam(params, lr=LR, betas=(B1, B2), eps=EPS, **flavour)
    opt.step()  # creates the state outside the timing
    return opt


@pytest.mark.parametrize("workload", IDS)
def test_adam_torch_fused(benchmark, workload, torch_module):
    benchmark.group = f"adam float32: {workload}"
    opt = _torch_adam(torch_module, workload, fused=True)
    benchmark(opt.step)


@pytest.mark.parametrize("workload", IDS)
def test_adam_torch_foreach(benchmark, workload, torch_module):
    benchmark.group = f"adam float32: {workload}"
    opt = _torch_adam(torch_module, workload, foreach=True)
    benchmark(opt.step)


@pytest.mark.parametrize("workload", IDS)
def test_adam_numpy_inplace(benchmark, workload):
    benchmark.group = f"adam float32: {workload}"
    params = arrays(WORKLOADS[workload], seed=1)
    grads = arrays(WORKLOADS[workload])
    ms = [numpy.zeros_like(p) for p in params]
    vs = [numpy.zeros_like(p) for p in params]
    temps = [numpy.empty_like(p) for p in params]

    def step():
        for p, g, m, v, t in zip(params, grads, ms, vs, temps):
            m += (g - m) * (1 - B1)
            numpy.multiply(g, g, out=t)
            t -= v
            t *= 1 - B2
            v += t
            numpy.sqrt(v, out=t)
            t += EPS
            numpy.divide(m, t, out=t)
            t *= ALPHA
            p -= t

    benchmark(step)


@pytest.mark.parametrize("workload", IDS)
def test_bandwidth_probe(benchmark, workload):
    """a += s*b over as many bytes as one Adam step moves (12 bytes per element)."""
    benchmark.group = f"adam float32: {workload}"
    n = elements(WORKLOADS[workload]) * ADAM_BYTES_PER_PARAM // 12
    a, b = numpy.zeros(n, numpy.float32), numpy.ones(n, numpy.float32)
    benchmark.extra_info["bytes"] = 12 * n
    benchmark(kernels.axpy, a, b, 1e-3)


def _interleaved(functions: dict, rounds: int) -> dict:
    """Median time of each function when they run in alternation, round after round, so that
    drift in the machine's memory bandwidth (shared hosts) hits all of them alike."""
    import time

    times = {name: [] for name in functions}
    for _ in range(rounds):
        for name, fn in functions.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: float(numpy.median(t)) for name, t in times.items()}


@pytest.mark.parametrize("workload", IDS)
def test_adam_ratios_interleaved(benchmark, workload, torch_module):
    """Ours against torch fused and the probe, measured in alternation; ratios in extra_info."""
    benchmark.group = f"adam float32 interleaved: {workload}"
    params, slots, grads, offsets = _group(WORKLOADS[workload])
    scalars = [ALPHA, B1, B2, EPS]
    opt = _torch_adam(torch_module, workload, fused=True)
    n = params.size * ADAM_BYTES_PER_PARAM // 12
    a, b = numpy.zeros(n, numpy.float32), numpy.ones(n, numpy.float32)

    def ours():
        kernels.launch("adam", 0, params, slots, grads, offsets, scalars=scalars)

    rounds = 30 if params.size > 1_000_000 else 3000
    medians = _interleaved({"accel": ours, "torch_fused": opt.step, "probe": lambda: kernels.axpy(a, b, 1e-3)},
                           rounds)
    benchmark.extra_info.update({
        "median_s": medians,
        "accel_over_torch_fused": medians["accel"] / medians["torch_fused"],
        "fraction_of_probe_bandwidth": medians["probe"] / medians["accel"],
    })
    benchmark.pedantic(ours, rounds=5, iterations=1)


def _cuda():
    import accel

    found = [d for d in accel.devices() if d.kind == "cuda"]
    if not found:
        pytest.skip("no CUDA device")
    return found[0]


@pytest.mark.parametrize("workload", IDS)
def test_adam_cuda_ratios(benchmark, workload, torch_module):
    """On a GPU: ours beside torch CUDA fused Adam and a device probe (a += s*b, same bytes);
    target >= 85% of probe bandwidth. Times are taken after a device synchronisation."""
    device = _cuda()
    cupy, torch = device.xp, torch_module
    benchmark.group = f"adam float32 cuda: {workload}"
    params, slots, grads, offsets = _group(WORKLOADS[workload])
    params, slots, grads = cupy.asarray(params), [cupy.asarray(s) for s in slots], [cupy.asarray(g) for g in grads]
    tparams = [torch.tensor(a, device=f"cuda:{device.index}").requires_grad_() for a in arrays(WORKLOADS[workload], seed=1)]
    for p, g in zip(tparams, arrays(WORKLOADS[workload])):
        p.grad = torch.tensor(g, device=p.device)
    opt = torch.optim.Adam(tparams, lr=LR, betas=(B1, B2), eps=EPS, fused=True)
    opt.step()
    n = params.size * ADAM_BYTES_PER_PARAM // 12
    a, b = cupy.zeros(n, cupy.float32), cupy.ones(n, cupy.float32)

    def synced(fn):
        def run():
            fn()
            device.synchronize()
        return run

    ours = synced(lambda: kernels.launch("adam", 0, params, slots, grads, offsets,
                                         scalars=[ALPHA, B1, B2, EPS], device=device))
    ours()  # compile outside the timing
    medians = _interleaved({"accel": ours, "torch_fused": synced(opt.step),
                            "probe": synced(lambda: kernels.axpy(a, b, 1e-3))}, 50)
    benchmark.extra_info.update({
        "median_s": medians,
        "accel_over_torch_fused": medians["accel"] / medians["torch_fused"],
        "fraction_of_probe_bandwidth": medians["probe"] / medians["accel"],
    })
    benchmark.pedantic(ours, rounds=10, iterations=1)
