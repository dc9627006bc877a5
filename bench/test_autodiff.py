"""Autodiff overhead, ours beside PyTorch eager in the same run.

(a) per-op overhead: a chain of 20 elementwise ops on a 16-element tensor, forward + backward
    (target: accel time / torch time <= 0.6);
(b) a training step without the optimizer: MLP 784-256-256-10 at batch 128, forward + backward
    (target: ratio <= 0.9), and with Adam (target: <= 0.8).
The targets (the autodiff hot-path issue's) are judged on the interleaved table, each library in a
process of its own; report.py's TARGETS lists every target and the report marks each met or missed.
"""

import functools
import os

import numpy
import pytest

import accel as ac

CHAIN_BLOCKS = 5  # 4 ops per block: sin, *1.5, +0.5, tanh


def _accel_chain(x):
    with ac.GradientTape() as tape:
        tape.watch(x)
        y = x
        for _ in range(CHAIN_BLOCKS):
            y = ac.tanh(ac.sin(y) * 1.5 + 0.5)
        loss = ac.sum(y)
    return tape.gradient(loss, x)


@pytest.mark.benchmark(group="autodiff: 20-op chain, 16 elements, forward+backward")
def test_chain_accel(benchmark):
    x = ac.tensor(numpy.linspace(-1, 1, 16), dtype="float32", device="cpu")
    grad = benchmark(_accel_chain, x)
    assert grad.shape == (16,)


def _torch_chain(torch, x):
    x = x.detach().requires_grad_()
    y = x
    for _ in range(CHAIN_BLOCKS):
        y = torch.tanh(torch.sin(y) * 1.5 + 0.5)
    y.sum().backward()
    return x.grad


@pytest.mark.benchmark(group="autodiff: 20-op chain, 16 elements, forward+backward")
def test_chain_torch(benchmark, torch_module):
    grad = benchmark(_torch_chain, torch_module, torch_module.linspace(-1, 1, 16))
    assert grad.shape == (16,)


def _mlp_data():
    rng = numpy.random.default_rng(0)
    sizes = [(784, 256), (256, 256), (256, 10)]
    weights = [(rng.standard_normal(s) * (2 / s[0]) ** 0.5).astype(numpy.float32) for s in sizes]
    biases = [numpy.zeros(s[1], numpy.float32) for s in sizes]
    x = rng.standard_normal((128, 784)).astype(numpy.float32)
    labels = rng.integers(0, 10, 128)
    return weights, biases, x, labels


MLP_FLOPS = 3 * 2 * 128 * (784 * 256 + 256 * 256 + 256 * 10)  # forward + backward matmuls


def mlp_logits(params, x, relu):
    """The MLP's forward pass, for either library: params = [W1, W2, W3, b1, b2, b3]."""
    h = x
    for i in range(3):
        h = h @ params[i] + params[3 + i]
        if i < 2:
            h = relu(h)
    return h


def test_mlp_accel(benchmark, bench_device):
    benchmark.group = f"autodiff: MLP 784-256-256-10, batch 128, forward+backward [{bench_device}]"
    benchmark.extra_info["flops"] = MLP_FLOPS
    weights, biases, x_np, labels_np = _mlp_data()
    with ac.device(bench_device):
        params = [ac.Variable(w) for w in weights] + [ac.Variable(b) for b in biases]
        x, labels = ac.tensor(x_np), ac.tensor(labels_np)
    device = ac.get_device(bench_device)

    def step():
        with ac.GradientTape() as tape:
            loss = ac.mean(ac.sparse_softmax_cross_entropy_with_logits(labels, mlp_logits(params, x, ac.relu)))
        grads = tape.gradient(loss, params)
        device.synchronize()
        return grads

    grads = benchmark(step)
    assert [g.shape for g in grads] == [p.shape for p in params]


def test_mlp_torch(benchmark, torch_module, bench_device):
    torch = torch_module
    benchmark.group = f"autodiff: MLP 784-256-256-10, batch 128, forward+backward [{bench_device}]"
    benchmark.extra_info["flops"] = MLP_FLOPS
    device = bench_device if bench_device.startswith("cuda") else "cpu"
    weights, biases, x_np, labels_np = _mlp_data()
    params = [torch.tensor(p, requires_grad=True, device=device) for p in weights + biases]
    x, labels = torch.tensor(x_np, device=device), torch.tensor(labels_np, device=device)

    def step():
        for p in params:
            p.grad = None
        torch.nn.functional.cross_entropy(mlp_logits(params, x, torch.relu), labels).backward()
        if device != "cpu":
            torch.cuda.synchronize()
        return [p.grad for p in params]

    grads = benchmark(step)
    assert [tuple(g.shape) for g in grads] == [tuple(p.shape) for p in params]


# ---- each library in its own process, taking turns (the figures to trust) ----------------------
def floor_step(with_update: bool):
    """What any NumPy-based step must spend: the MLP step's eight matmuls (NumPy's BLAS, float32:
    three forward, five backward) and, `with_update`, the fused Adam update of the same variables
    (accel's own kernel), nothing else."""
    weights, biases, x_np, _ = _mlp_data()
    rng = numpy.random.default_rng(1)
    h1 = rng.standard_normal((128, 256)).astype(numpy.float32)
    h2 = rng.standard_normal((128, 256)).astype(numpy.float32)
    g3 = rng.standard_normal((128, 10)).astype(numpy.float32)
    w1, w2, w3 = weights
    params = [ac.Variable(w, device="cpu") for w in weights] + [ac.Variable(b, device="cpu") for b in biases]
    grads = [ac.tensor(numpy.full_like(p.numpy(), 1e-3), device="cpu") for p in params]
    opt = ac.optimizers.Adam(1e-3)
    pairs = list(zip(grads, params))

    def step():
        x_np @ w1, h1 @ w2, h2 @ w3  # forward
        g2 = g3 @ w3.T
        h2.T @ g3, h1.T @ g2, g2 @ w2.T, x_np.T @ g2  # backward: weight and input gradients
        if with_update:
            opt.apply_gradients(pairs)
        return opt.iterations

    return step


def make_step(library: str, case: str):
    """The step of `case` for "accel", "torch" or "accel floor" (built in a benchmark process of
    its own)."""
    if library == "accel floor":
        return floor_step(with_update=case == "MLP training step (Adam)")
    if library == "torch":
        import torch

        torch.set_num_threads(os.cpu_count() or 1)
    if case == "20-op chain, 16 elements":
        if library == "accel":
            x = ac.tensor(numpy.linspace(-1, 1, 16), dtype="float32", device="cpu")
            return lambda: _accel_chain(x)
        return functools.partial(_torch_chain, torch, torch.linspace(-1, 1, 16))
    weights, biases, x_np, labels_np = _mlp_data()
    if library == "accel":
        params = [ac.Variable(w, device="cpu") for w in weights] + [ac.Variable(b, device="cpu") for b in biases]
        x, labels = ac.tensor(x_np, device="cpu"), ac.tensor(labels_np, device="cpu")

        def loss():
            return ac.mean(ac.sparse_softmax_cross_entropy_with_logits(labels, mlp_logits(params, x, ac.relu)))

        if case == "MLP forward+backward":
            def accel_backward():
                with ac.GradientTape() as tape:
                    value = loss()
                return tape.gradient(value, params)

            return accel_backward
        opt = ac.optimizers.Adam(1e-3)
        return lambda: opt.minimize(loss, params)
    tparams = [torch.tensor(p, requires_grad=True) for p in weights + biases]
    tx, tlabels = torch.tensor(x_np), torch.tensor(labels_np)
    topt = torch.optim.Adam(tparams, lr=1e-3, fused=True)

    def torch_step():
        for p in tparams:
            p.grad = None
        torch.nn.functional.cross_entropy(mlp_logits(tparams, tx, torch.relu), tlabels).backward()
        if case != "MLP forward+backward":
            topt.step()
        return [p.grad for p in tparams]

    return torch_step


AUTODIFF_CASES = ["20-op chain, 16 elements", "MLP forward+backward", "MLP training step (Adam)"]


@pytest.mark.parametrize("case", AUTODIFF_CASES)
def test_autodiff_interleaved(benchmark, case, torch_module, bench_size):
    """accel and PyTorch each in a process of its own, taking turns block after block (neither
    runs beside the other's spinning BLAS/OpenMP threads; drift hits both alike), and for the MLP
    the floor of any NumPy-based step beside them; medians and IQRs go to extra_info."""
    from workloads import alternated_processes

    benchmark.group = f"autodiff interleaved: {case} [cpu]"
    steps = 200 if "chain" in case else 20
    blocks = 2 if bench_size == "tiny" else 15
    libraries = ("accel", "torch") + (("accel floor",) if "MLP" in case else ())
    stats = alternated_processes({lib: functools.partial(make_step, lib, case) for lib in libraries}, blocks, steps)
    benchmark.extra_info.update({"median_s": {k: v[0] for k, v in stats.items()},
                                 "iqr_s": {k: v[1] for k, v in stats.items()},
                                 "accel_over_torch": stats["accel"][0] / stats["torch"][0]})
    ours = make_step("accel", case)
    benchmark.pedantic(ours, rounds=3, iterations=1)


# ---- per-op overhead: forward and forward+backward, a tiny and a large tensor, beside PyTorch ----
OPS = {  # name: (accel op, torch op, arity)
    "add": (ac.add, lambda t, a, b: a + b, 2),
    "multiply": (ac.multiply, lambda t, a, b: a * b, 2),
    "exp": (ac.exp, lambda t, a: t.exp(a), 1),
    "tanh": (ac.tanh, lambda t, a: t.tanh(a), 1),
    "relu": (ac.relu, lambda t, a: t.relu(a), 1),
    "maximum": (ac.maximum, lambda t, a, b: t.maximum(a, b), 2),
    "sum": (ac.sum, lambda t, a: a.sum(), 1),
    "matmul": (ac.matmul, lambda t, a, b: a @ b, 2),
}
SIZES = {"tiny": (4, 4), "large": (512, 512)}


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("op", list(OPS))
def test_op_overhead_interleaved(benchmark, op, size, torch_module, bench_size):
    """One op forward, and forward + backward (sum of the output, gradients of every input), for
    accel and PyTorch in strict alternation in this process (float32, CPU; for the large size
    PyTorch computes with its threads, NumPy with one)."""
    from workloads import interleaved

    torch = torch_module
    benchmark.group = f"per-op overhead interleaved: {op} {size} {'x'.join(map(str, SIZES[size]))} [cpu]"
    fn, tfn, arity = OPS[op]
    rng = numpy.random.default_rng(0)
    values = [rng.standard_normal(SIZES[size]).astype(numpy.float32) for _ in range(arity)]
    inputs = [ac.tensor(v, device="cpu") for v in values]
    tinputs = [torch.tensor(v, requires_grad=True) for v in values]

    def accel_backward():
        with ac.GradientTape() as tape:
            tape.watch(inputs)
            out = ac.sum(fn(*inputs))
        return tape.gradient(out, inputs)

    def torch_backward():
        for t in tinputs:
            t.grad = None
        tfn(torch, *tinputs).sum().backward()
        return [t.grad for t in tinputs]

    functions = {"accel forward": lambda: fn(*inputs), "torch forward": lambda: tfn(torch, *tinputs),
                 "accel forward+backward": accel_backward, "torch forward+backward": torch_backward}
    for f in functions.values():
        f()
    stats = interleaved(functions, (2000 if size == "tiny" else 40) // (20 if bench_size == "tiny" else 1), spread=True)
    benchmark.extra_info.update({"median_s": {k: v[0] for k, v in stats.items()},
                                 "iqr_s": {k: v[1] for k, v in stats.items()}})
    benchmark.pedantic(accel_backward, rounds=3, iterations=1)
