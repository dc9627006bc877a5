"""Shared fixtures: every device test runs on each usable device; CUDA cases carry the `gpu`
mark and skip cleanly (with the reason) where no GPU is usable."""

import numpy
import pytest

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


@pytest.fixture(params=_device_params())
def device(request):
    """Each usable device in turn (a Device)."""
    return ac.get_device(request.param)


@pytest.fixture
def rng():
    return numpy.random.default_rng(1234)
