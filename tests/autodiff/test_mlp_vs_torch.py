"""Gradients of a small MLP with softmax cross-entropy agree with PyTorch to 1e-10 in float64."""

import numpy
import pytest

import accel as ac

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.blas  # matmuls in both libraries: CI runs it under a second BLAS kernel too


def test_mlp_gradients_match_pytorch():
    rng = numpy.random.default_rng(7)
    sizes = [(10, 16), (16, 16), (16, 5)]
    weights = [rng.standard_normal(s) * 0.4 for s in sizes]
    biases = [rng.standard_normal(s[1]) * 0.1 for s in sizes]
    x = rng.standard_normal((8, 10))
    labels = rng.integers(0, 5, 8)

    params = [ac.Variable(w, dtype="float64") for w in weights] + [ac.Variable(b, dtype="float64") for b in biases]
    with ac.GradientTape() as tape:
        h = ac.tensor(x, dtype="float64")
        for i in range(3):
            h = h @ params[i] + params[3 + i]
            if i < 2:
                h = ac.tanh(h) if i == 0 else ac.relu(h)
        loss = ac.mean(ac.sparse_softmax_cross_entropy_with_logits(ac.tensor(labels), h))
    ours = tape.gradient(loss, params)

    tparams = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in weights + biases]
    h = torch.tensor(x)
    for i in range(3):
        h = h @ tparams[i] + tparams[3 + i]
        if i < 2:
            h = torch.tanh(h) if i == 0 else torch.relu(h)
    tloss = torch.nn.functional.cross_entropy(h, torch.tensor(labels))
    tloss.backward()

    assert abs(loss.item() - tloss.item()) < 1e-12
    for g, tp in zip(ours, tparams):
        numpy.testing.assert_allclose(g.numpy(), tp.grad.numpy(), rtol=0, atol=1e-10)


def test_dense_cross_entropy_and_softmax_gradients_match_pytorch():
    rng = numpy.random.default_rng(3)
    logits = rng.standard_normal((4, 6)) * 3
    probs = rng.dirichlet(numpy.ones(6), 4)
    z = ac.tensor(logits)
    with ac.GradientTape() as tape:
        tape.watch(z)
        loss = ac.sum(ac.softmax_cross_entropy_with_logits(ac.tensor(probs), z) * ac.tensor(numpy.arange(4.0)))
        loss = loss + ac.sum(ac.softmax(z, axis=0) ** 2)
    ours = tape.gradient(loss, z)
    tz = torch.tensor(logits, requires_grad=True)
    ce = torch.nn.functional.cross_entropy(tz, torch.tensor(probs), reduction="none")
    tloss = (ce * torch.arange(4.0, dtype=torch.float64)).sum() + (torch.softmax(tz, 0) ** 2).sum()
    tloss.backward()
    numpy.testing.assert_allclose(ours.numpy(), tz.grad.numpy(), rtol=0, atol=1e-10)
