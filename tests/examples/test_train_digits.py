"""examples/train_digits.py: the accuracy bar through fit with its callbacks, and the same
training steps in PyTorch giving the same loss curve."""

import re

import numpy
import pytest


pytestmark = pytest.mark.slow  # CI runs them; a developer can skip them with -m 'not slow'

pytest.importorskip("sklearn")
pytest.importorskip("tqdm")
pytest.importorskip("matplotlib")


def test_fit_reaches_the_accuracy_bar(tmp_path, run_example, accuracy_of):
    out = run_example("train_digits", "--plot", "curves.png")
    assert accuracy_of(out) >= 0.97
    assert re.search(r"Epoch 1/60 - 20 steps .* val_accuracy: .* learning_rate: 0.0030", out)
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    with numpy.load(tmp_path / "digits_best.npz") as best:  # the best model and its optimizer
        assert "model/layers/0/kernel" in best.files and "optimizer/iterations" in best.files


def test_mixed_float16_reaches_the_bar(run_example, accuracy_of):
    out = run_example("train_digits", "--dtype", "mixed_float16", "--epochs", "30", "--plot", "")
    assert accuracy_of(out) >= 0.96


def test_pytorch_gives_the_same_loss_curve(example_module):
    """fit's step (train_on_batch runs the same train_step): cross-entropy plus L2 on the kernels,
    gradients clipped by global norm, Adam; PyTorch doing the same gives the same losses."""
    torch = pytest.importorskip("torch")
    ex = example_module("train_digits")
    x_train, y_train, _, _ = ex.load_data(0)
    batch_size, steps, lr, clip, l2 = 64, 20, 3e-3, 5.0, 1e-3
    order = numpy.random.default_rng(0).permutation(len(x_train))
    batches = [order[i * batch_size:(i + 1) * batch_size] for i in range(steps)]

    model = ex.compile_model(ex.build_model(0, "float64", "cpu", l2=l2), lr, clip)
    start = model.get_weights()  # kernel1, bias1, kernel2, bias2
    ours = [model.train_on_batch(x_train[b], y_train[b]) for b in batches]
    assert model.metrics_names == ["loss", "accuracy"]
    ours = [loss for loss, _ in ours]

    params = [torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in start]
    topt = torch.optim.Adam(params, lr=lr, eps=1e-7)
    tx, ty = torch.tensor(x_train), torch.tensor(y_train)
    theirs = []
    for step, b in enumerate(batches):
        for group in topt.param_groups:
            # accel's Adam uses TF's "epsilon hat": alpha * m / (sqrt(v) + eps). PyTorch's
            # equals it exactly when its eps is eps / sqrt(1 - beta_2^t), set here each step.
            group["eps"] = 1e-7 / (1 - 0.999 ** (step + 1)) ** 0.5
        topt.zero_grad()
        idx = torch.tensor(b)
        hidden = torch.relu(tx[idx] @ params[0] + params[1])
        loss = torch.nn.functional.cross_entropy(hidden @ params[2] + params[3], ty[idx])
        loss = loss + l2 * (params[0].square().sum() + params[2].square().sum())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, clip)
        topt.step()
        theirs.append(loss.item())
    numpy.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    assert ours[-1] < ours[0]
