"""Trajectories over several steps against PyTorch where the formulas coincide (float64, 1e-6):
SGD / momentum / Nesterov at a constant learning rate; Adam, AdamW, RMSprop and Adagrad with
epsilon = 0 (PyTorch adds epsilon outside the square root, Keras/TF inside or as "epsilon hat")."""

import zlib

import numpy
import pytest

import accel as ac

torch = pytest.importorskip("torch")

STEPS = 6


def _loss_grad(rng, shape):
    """A fixed sequence of gradients (the same for both libraries)."""
    return [rng.standard_normal(shape) for _ in range(STEPS)]


CASES = [
    ("sgd", lambda: ac.optimizers.SGD(0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
    ("momentum", lambda: ac.optimizers.SGD(0.1, momentum=0.9), lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)),
    ("nesterov", lambda: ac.optimizers.SGD(0.05, momentum=0.8, nesterov=True),
     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True)),
    ("adam", lambda: ac.optimizers.Adam(0.01, epsilon=0), lambda p: torch.optim.Adam(p, lr=0.01, eps=0)),
    ("amsgrad", lambda: ac.optimizers.Adam(0.01, epsilon=0, amsgrad=True),
     lambda p: torch.optim.Adam(p, lr=0.01, eps=0, amsgrad=True)),
    ("adamw", lambda: ac.optimizers.AdamW(0.01, weight_decay=0.1, epsilon=0),
     lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1, eps=0)),
    ("rmsprop", lambda: ac.optimizers.RMSprop(0.01, rho=0.9, epsilon=0),
     lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=0)),
    ("rmsprop_centered_momentum", lambda: ac.optimizers.RMSprop(0.01, rho=0.8, momentum=0.5, centered=True, epsilon=0),
     lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.8, momentum=0.5, centered=True, eps=0)),
    ("adagrad", lambda: ac.optimizers.Adagrad(0.1, initial_accumulator_value=0.1, epsilon=0),
     lambda p: torch.optim.Adagrad(p, lr=0.1, initial_accumulator_value=0.1, eps=0)),
]


@pytest.mark.parametrize("name,ours,theirs", CASES, ids=[c[0] for c in CASES])
def test_trajectory_matches_pytorch(name, ours, theirs):
    rng = numpy.random.default_rng(zlib.crc32(name.encode()))  # not hash(): salted per process
    start = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    grads = [_loss_grad(rng, s.shape) for s in start]
    variables = [ac.Variable(s, dtype="float64") for s in start]
    params = [torch.tensor(s, dtype=torch.float64, requires_grad=True) for s in start]
    opt, topt = ours(), theirs(params)
    for step in range(STEPS):
        opt.apply_gradients([(ac.tensor(g[step], dtype="float64"), v) for g, v in zip(grads, variables)])
        for p, g in zip(params, grads):
            p.grad = torch.tensor(g[step], dtype=torch.float64)
        topt.step()
        for v, p in zip(variables, params):
            numpy.testing.assert_allclose(v.numpy(), p.detach().numpy(), rtol=1e-6, atol=1e-6,
                                          err_msg=f"{name}, step {step + 1}")
    assert opt.iterations == STEPS
