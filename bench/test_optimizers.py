"""Optimizer step (apply_gradients on prepared gradients), ours beside PyTorch (for-loop, foreach,
fused where it exists), NumPy, and JAX+optax when installed, on every device.

Groups: "optimizer step: <optimizer> <dtype> <workload> [<device>]". Each benchmark records the
bytes one step must move (extra_info["bytes"]); the report turns that into a % of the measured
memory bandwidth (bench/test_probes.py).
"""

import numpy
import pytest

import accel as ac
from workloads import arrays, bytes_per_param, elements, slot_count

LR = 1e-3
OPTIMIZERS = {
    "sgd": (lambda: ac.optimizers.SGD(LR), "SGD", {}),
    "momentum": (lambda: ac.optimizers.SGD(LR, momentum=0.9), "SGD", {"momentum": 0.9}),
    # Peers configured as Keras's defaults (each peer's first step is checked against accel's).
    "adagrad": (lambda: ac.optimizers.Adagrad(LR), "Adagrad", {"initial_accumulator_value": 0.1, "eps": 1e-7}),
    "rmsprop": (lambda: ac.optimizers.RMSprop(LR), "RMSprop", {"alpha": 0.9, "eps": 1e-7}),
    "adam": (lambda: ac.optimizers.Adam(LR), "Adam", {}),
    "adamw": (lambda: ac.optimizers.AdamW(LR), "AdamW", {}),
    "adadelta": (lambda: ac.optimizers.Adadelta(LR), "Adadelta", {"rho": 0.95, "eps": 1e-7}),
    "adamax": (lambda: ac.optimizers.Adamax(LR), "Adamax", {"eps": 1e-7}),
    # PyTorch's mu_t uses 0.96^(t * momentum_decay); Keras's (and accel's) is momentum_decay = 1.
    "nadam": (lambda: ac.optimizers.Nadam(LR), "NAdam", {"momentum_decay": 1.0}),
    "ftrl": (lambda: ac.optimizers.Ftrl(LR), None, {}),  # None: PyTorch has no such optimizer
    "lion": (lambda: ac.optimizers.Lion(LR), None, {}),
    "lamb": (lambda: ac.optimizers.Lamb(LR), None, {}),
    # Keras's EMA and gradient accumulation on the fused path, beside plain Adam. PyTorch's peers:
    # fused Adam then torch._foreach_lerp_ of the averages (what AveragedModel's EMA does), and
    # foreach adds into accumulators then fused Adam on their mean.
    "adam+ema": (lambda: ac.optimizers.Adam(LR, use_ema=True), "Adam", {}),
    "adam+accumulation": (lambda: ac.optimizers.Adam(LR, gradient_accumulation_steps=ACCUMULATION), "Adam", {}),
}
ACCUMULATION = 2  # a timed "step" of adam+accumulation is this many calls: one update
# torch 2.13 has fused CPU kernels for these
TORCH_FUSED = {"sgd", "momentum", "adagrad", "adam", "adamw", "adam+ema", "adam+accumulation"}
DTYPES = ["float32", "float16"]


def _group(benchmark, name, dtype, workload, device):
    benchmark.group = f"optimizer step: {name} {dtype} {workload[0]} [{device}]"


def _record(benchmark, name, dtype, shapes):
    slots = slot_count(OPTIMIZERS[name][0]())
    itemsize = numpy.dtype(dtype).itemsize
    per_param = bytes_per_param(slots, itemsize)
    if name == "adam+ema":  # the average: read and written
        per_param += 2 * itemsize
    elif name == "adam+accumulation":  # each call reads the gradient and the accumulator, writes it
        per_param += (3 * ACCUMULATION - 1) * itemsize
    benchmark.extra_info["bytes"] = per_param * elements(shapes)
    # The access pattern of each launch a timed step makes, [written streams, read-only streams,
    # bytes]: the report holds each against the probe of the same pattern (bench/test_probes.py).
    written = 1 + slots + (name in ("adam+ema", "adam+accumulation"))
    launches = [[1, 1]] * (ACCUMULATION - 1) if name == "adam+accumulation" else []
    benchmark.extra_info["streams"] = [[w, r, itemsize * (2 * w + r) * elements(shapes)]
                                       for w, r in launches + [[written, 1]]]
    assert sum(b for _, _, b in benchmark.extra_info["streams"]) == benchmark.extra_info["bytes"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_accel(benchmark, name, dtype, workload, bench_device):
    _group(benchmark, name, dtype, workload, bench_device)
    shapes = workload[1]
    with ac.device(bench_device):
        variables = [ac.Variable(a) for a in arrays(shapes, dtype, seed=1)]
        grads = [ac.tensor(a) for a in arrays(shapes, dtype)]
    opt = OPTIMIZERS[name][0]()
    pairs = list(zip(grads, variables))
    opt.apply_gradients(pairs)  # creates the slots outside the timing
    device = ac.get_device(bench_device)

    calls = ACCUMULATION if name == "adam+accumulation" else 1

    def step():
        for _ in range(calls):
            opt.apply_gradients(pairs)
        device.synchronize()

    _record(benchmark, name, dtype, shapes)
    benchmark(step)


@pytest.mark.parametrize("flavour", ["for-loop", "foreach", "fused"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_torch(benchmark, name, dtype, flavour, workload, bench_device, torch_module):
    torch = torch_module
    if OPTIMIZERS[name][1] is None:
        pytest.skip(f"torch has no {name}")
    if flavour == "fused" and name not in TORCH_FUSED:
        pytest.skip(f"torch has no fused {name}")
    _group(benchmark, name, dtype, workload, bench_device)
    device = "cuda" if bench_device.startswith("cuda") else "cpu"
    if device == "cuda":
        device = bench_device
    shapes = workload[1]
    params = [torch.tensor(a, device=device).requires_grad_() for a in arrays(shapes, dtype, seed=1)]
    for p, g in zip(params, arrays(shapes, dtype)):
        p.grad = torch.tensor(g, device=device)
    _, cls, kwargs = OPTIMIZERS[name]
    flags = {"for-loop": {"foreach": False}, "foreach": {"foreach": True}, "fused": {"fused": True}}[flavour]
    try:
        opt = getattr(torch.optim, cls)(params, lr=LR, **kwargs, **flags)
        opt.step()
    except (RuntimeError, TypeError) as exc:  # e.g. no fused float16 kernel on this device
        pytest.skip(f"torch {cls} {flavour} unavailable here: {exc}")

    _check_the_peer_did_the_step(name, dtype, shapes, [p.detach().cpu().numpy() for p in params],
                                 f"torch {cls} {flavour}")
    step = _torch_step(torch, name, opt, params, device)

    _record(benchmark, name, dtype, shapes)
    benchmark(step)


_ACCEL_FIRST_STEP: dict = {}


def _check_the_peer_did_the_step(name, dtype, shapes, after, peer):
    """A peer is timed only if its first step moved the parameters as accel's first step does
    (to 5% in float32, 25% in float16, relative to the step's size): a peer that changes nothing
    or computes something else is left out of the ratios, with the reason in the skip."""
    key = (name, dtype, tuple(map(tuple, shapes)))
    if key not in _ACCEL_FIRST_STEP:
        variables = [ac.Variable(a, device="cpu") for a in arrays(shapes, dtype, seed=1)]
        opt, grads = OPTIMIZERS[name][0](), [ac.tensor(a, device="cpu") for a in arrays(shapes, dtype)]
        for _ in range(ACCUMULATION if name == "adam+accumulation" else 1):  # then one update
            opt.apply_gradients(zip(grads, variables))
        _ACCEL_FIRST_STEP[key] = [v.numpy() for v in variables]
    start = arrays(shapes, dtype, seed=1)
    ours = numpy.concatenate([(a - s).astype(numpy.float64).ravel() for a, s in zip(_ACCEL_FIRST_STEP[key], start)])
    theirs = numpy.concatenate([(a - s).astype(numpy.float64).ravel() for a, s in zip(after, start)])
    changed = int(numpy.count_nonzero(theirs))
    if changed == 0:
        pytest.skip(f"{peer} ({dtype}) changed none of {theirs.size} parameters in a step: not timed")
    error = numpy.linalg.norm(theirs - ours) / max(numpy.linalg.norm(ours), 1e-30)
    if error > (0.25 if dtype == "float16" else 0.05):
        pytest.skip(f"{peer} ({dtype}) stepped {error:.0%} away from accel's step: not the same work, not timed")


def _torch_step(torch, name, opt, params, device):
    """One timed step of `opt` as a PyTorch user writes it (with EMA / gradient accumulation)."""
    sync = torch.cuda.synchronize if device != "cpu" else (lambda: None)
    if name == "adam+ema":
        averages = [p.detach().clone() for p in params]
        weights = [p.detach() for p in params]

        def step():
            opt.step()
            torch._foreach_lerp_(averages, weights, 1 - 0.99)
            sync()
    elif name == "adam+accumulation":
        grads = [p.grad for p in params]
        accumulators = [torch.zeros_like(g) for g in grads]
        for p, acc in zip(params, accumulators):
            p.grad = acc  # the step reads the mean formed in place

        def step():
            for _ in range(ACCUMULATION):
                torch._foreach_add_(accumulators, grads)
            torch._foreach_div_(accumulators, float(ACCUMULATION))
            opt.step()
            torch._foreach_zero_(accumulators)
            sync()
    else:
        def step():
            opt.step()
            sync()
    return step


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_numpy_inplace(benchmark, name, workload):
    """NumPy in place, one tensor at a time (what a Python library without fused kernels does)."""
    benchmark.group = f"optimizer step: {name} float32 {workload[0]} [cpu]"
    shapes = workload[1]
    params, grads = arrays(shapes, seed=1), arrays(shapes)
    ms, vs, temps = ([numpy.zeros_like(p) for p in params] for _ in range(3))
    b1, b2, eps = 0.9, 0.999, 1e-7
    alpha = LR * (1 - b2) ** 0.5 / (1 - b1)

    def sgd():
        for p, g, t in zip(params, grads, temps):
            numpy.multiply(g, LR, out=t)
            p -= t

    def adam():
        for p, g, m, v, t in zip(params, grads, ms, vs, temps):
            m += (g - m) * (1 - b1)
            numpy.multiply(g, g, out=t)
            t -= v
            t *= 1 - b2
            v += t
            numpy.sqrt(v, out=t)
            t += eps
            numpy.divide(m, t, out=t)
            t *= alpha
            p -= t

    _record(benchmark, name, "float32", shapes)
    benchmark({"sgd": sgd, "adam": adam}[name])


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_jax_optax(benchmark, name, workload):
    jax = pytest.importorskip("jax")
    optax = pytest.importorskip("optax")
    benchmark.group = f"optimizer step: {name} float32 {workload[0]} [cpu]"
    shapes = workload[1]
    params = [jax.numpy.asarray(a) for a in arrays(shapes, seed=1)]
    grads = [jax.numpy.asarray(a) for a in arrays(shapes)]
    tx = optax.sgd(LR) if name == "sgd" else optax.adam(LR, eps=1e-7)
    state = tx.init(params)

    @jax.jit
    def step(params, state):
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    params, state = step(params, state)

    def run():
        nonlocal params, state
        params, state = step(params, state)
        jax.block_until_ready(params)

    _record(benchmark, name, "float32", shapes)
    benchmark(run)


def test_adam_processes(benchmark, workload, torch_module, bench_size):
    """Adam float32 on the CPU: ours, torch fused and the bandwidth probe over the same bytes, each
    in a process of its own, taking turns block after block (no library's idle threads spin beside
    another's work; drift hits all alike); the ratios go to extra_info."""
    import functools

    from workloads import adam_step, alternated_processes

    benchmark.group = f"adam float32, each library in its own process: {workload[0]} [cpu]"
    shapes = workload[1]
    big = elements(shapes) > 1_000_000
    stats = alternated_processes({kind: functools.partial(adam_step, kind, shapes)
                                  for kind in ("accel", "torch_fused", "probe")},
                                 blocks=2 if bench_size == "tiny" else 10, steps=5 if big else 200)
    medians = {kind: median for kind, (median, _) in stats.items()}
    benchmark.extra_info.update({
        "median_s": medians, "iqr_s": {kind: iqr for kind, (_, iqr) in stats.items()},
        "accel_over_torch_fused": medians["accel"] / medians["torch_fused"],
        "fraction_of_probe_bandwidth": medians["probe"] / medians["accel"],
        "bytes": bytes_per_param(2, 4) * elements(shapes)})
    ours = adam_step("accel", shapes)
    benchmark.pedantic(ours, rounds=5, iterations=1)
