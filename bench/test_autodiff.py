"""Autodiff overhead, ours beside PyTorch eager in the same run.

(a) per-op overhead: a chain of 20 elementwise ops on a 16-element tensor, forward + backward
    (target: accel time / torch time <= 1.0);
(b) a training step without the optimizer: MLP 784-256-256-10 at batch 128, forward + backward
    (target: ratio <= 1.1).
"""

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


@pytest.mark.benchmark(group="autodiff: 20-op chain, 16 elements, forward+backward")
def test_chain_torch(benchmark, torch_module):
    torch = torch_module

    def chain(x):
        x = x.detach().requires_grad_()
        y = x
        for _ in range(CHAIN_BLOCKS):
            y = torch.tanh(torch.sin(y) * 1.5 + 0.5)
        y.sum().backward()
        return x.grad

    grad = benchmark(chain, torch.linspace(-1, 1, 16))
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
