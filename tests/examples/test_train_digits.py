"""examples/train_digits.py: the accuracy bar in a reduced run, --resume equal to an
uninterrupted run, and the same training in PyTorch giving the same loss curve."""

import importlib.util
import pathlib
import re
import subprocess
import sys

import numpy
import pytest

import accel as ac

pytestmark = pytest.mark.slow  # CI runs them; a developer can skip them with -m 'not slow'

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "train_digits.py"

pytest.importorskip("sklearn")
pytest.importorskip("tqdm")
pytest.importorskip("matplotlib")


def _run(tmp_path, *args):
    result = subprocess.run([sys.executable, str(SCRIPT), "--no-progress", "--out", str(tmp_path), *args], capture_output=True,
                            text=True, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _accuracy(stdout):
    return float(re.search(r"test accuracy: ([0-9.]+)", stdout).group(1))


def test_reduced_run_reaches_the_accuracy_bar(tmp_path):
    out = _run(tmp_path, "--epochs", "10", "--plot", "curves.png")
    assert _accuracy(out) >= 0.96
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "digits_checkpoint.npz").exists()


def test_resume_matches_an_uninterrupted_run(tmp_path):
    straight = _run(tmp_path, "--epochs", "6", "--checkpoint", "straight.npz", "--plot", "")
    first = _run(tmp_path, "--epochs", "6", "--stop-after", "3", "--checkpoint", "resumed.npz", "--plot", "")
    assert "epoch 3:" in first and "epoch 4:" not in first
    second = _run(tmp_path, "--epochs", "6", "--resume", "--checkpoint", "resumed.npz", "--plot", "")
    assert f"resumed from {tmp_path / 'resumed.npz'} after epoch 3" in second and "epoch 4:" in second
    assert _accuracy(straight) == _accuracy(second)
    with numpy.load(tmp_path / "straight.npz") as a, numpy.load(tmp_path / "resumed.npz") as b:
        assert set(a.files) == set(b.files)
        for name in a.files:
            numpy.testing.assert_array_equal(a[name], b[name], err_msg=name)


def _example_module():
    spec = importlib.util.spec_from_file_location("train_digits", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pytorch_gives_the_same_loss_curve():
    torch = pytest.importorskip("torch")
    ex = _example_module()
    x_train, y_train, _, _ = ex.load_data(0)
    batch_size, steps, lr, clip = 64, 20, 3e-3, 5.0
    batches = [b for e in range(2) for b in ex.batch_order(len(x_train), batch_size, e, 0)][:steps]

    model = ex.build_model(0, "float64", "cpu")
    start = [v.numpy() for v in model.trainable_variables]  # kernel1, bias1, kernel2, bias2
    optimizer = ex.make_optimizer(1000, lr, clip)
    x, y = ac.tensor(x_train, dtype="float64"), ac.tensor(y_train)
    ours = [ex.train_step(model, optimizer, x[b], y[b])[0] for b in batches]

    params = [torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in start]
    schedule = optimizer._learning_rate
    topt = torch.optim.Adam(params, lr=schedule(0), eps=1e-7)
    tx, ty = torch.tensor(x_train), torch.tensor(y_train)
    theirs = []
    for step, b in enumerate(batches):
        for group in topt.param_groups:
            group["lr"] = schedule(step)
            # accel's Adam uses TF's "epsilon hat": alpha * m / (sqrt(v) + eps). PyTorch's
            # equals it exactly when its eps is eps / sqrt(1 - beta_2^t), set here each step.
            group["eps"] = 1e-7 / (1 - 0.999 ** (step + 1)) ** 0.5
        topt.zero_grad()
        idx = torch.tensor(b)
        hidden = torch.relu(tx[idx] @ params[0] + params[1])
        loss = torch.nn.functional.cross_entropy(hidden @ params[2] + params[3], ty[idx])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, clip)
        topt.step()
        theirs.append(loss.item())
    numpy.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-4)
    assert ours[-1] < ours[0]
