"""Shared fixtures: every device test runs on each usable device; CUDA cases carry the `gpu`
mark and skip cleanly (with the reason) where no GPU is usable. Every test runs in a directory of
its own, so nothing it writes lands in the checkout, and a Python it starts (`python -c`,
`python -m accel`) imports the installed accel, not the checkout's `accel/` source folder (which
has no compiled `_cpu` when the wheel, not the tree, is installed)."""

import os

# SciPy and scikit-learn read it when first imported: their array API dispatch (tests/test_sklearn.py)
# runs on accel tensors only with it, and it leaves NumPy inputs as they were.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import numpy  # noqa: E402
import pytest  # noqa: E402

import accel as ac
from accel.device import cuda_unavailable_reason


def _device_params():
    params = [pytest.param("cpu", id="cpu")]
    cuda = [d.name for d in ac.devices() if d.kind == "cuda"]
    if cuda:
        params += [pytest.param(name, id=name, marks=pytest.mark.gpu) for name in cuda]
    else:
        reason = f"no CUDA device: {cuda_unavailable_reason()}"
        params.append(pytest.param("cuda:0", id="cuda:0", marks=[pytest.mark.gpu, pytest.mark.skip(reason=reason)]))
    return params


@pytest.fixture(autouse=True)
def _own_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


@pytest.fixture(params=_device_params())
def device(request):
    """Each usable device in turn (a Device)."""
    return ac.get_device(request.param)


@pytest.fixture
def rng():
    return numpy.random.default_rng(1234)
