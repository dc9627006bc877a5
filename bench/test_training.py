"""A full training step (forward, backward, Adam update) of an MLP 784-256-256-10 at batch 128,
ours beside PyTorch (fused Adam) in the same run. Target (optimizers issue): ratio <= 1.0."""

import numpy
import pytest

import accel as ac
from test_autodiff import _mlp_data


@pytest.mark.benchmark(group="training step: MLP 784-256-256-10, batch 128, Adam")
def test_train_step_accel(benchmark):
    weights, biases, x_np, labels_np = _mlp_data()
    params = [ac.Variable(w) for w in weights] + [ac.Variable(b) for b in biases]
    x, labels = ac.tensor(x_np), ac.tensor(labels_np)
    opt = ac.optimizers.Adam(1e-3)

    def loss():
        h = x
        for i in range(3):
            h = h @ params[i] + params[3 + i]
            if i < 2:
                h = ac.relu(h)
        return ac.mean(ac.sparse_softmax_cross_entropy_with_logits(labels, h))

    def step():
        opt.minimize(loss, params)

    benchmark(step)
    assert opt.iterations > 0


@pytest.mark.benchmark(group="training step: MLP 784-256-256-10, batch 128, Adam")
def test_train_step_torch(benchmark, torch_module):
    torch = torch_module
    weights, biases, x_np, labels_np = _mlp_data()
    params = [torch.tensor(p, requires_grad=True) for p in weights + biases]
    x, labels = torch.tensor(x_np), torch.tensor(labels_np)
    opt = torch.optim.Adam(params, lr=1e-3, fused=True)

    def step():
        opt.zero_grad(set_to_none=True)
        h = x
        for i in range(3):
            h = h @ params[i] + params[3 + i]
            if i < 2:
                h = torch.relu(h)
        torch.nn.functional.cross_entropy(h, labels).backward()
        opt.step()

    benchmark(step)
