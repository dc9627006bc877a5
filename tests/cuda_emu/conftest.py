"""Fixtures for the CUDA emulation tests: accel's CUDA path on CPU-emulated devices.

`emulated_cuda` makes two emulated CUDA devices accel's GPUs for one test (the CPU stays the
default device) and hands over the stand-in CuPy module; every kernel name the bridge can ask for
is compiled once per session, in one compiler run."""

import importlib
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import emulator  # noqa: E402

device_module = importlib.import_module("accel.device")
from accel import _cuda, kernels  # noqa: E402

_COMPILER = emulator.compiler_available()


@pytest.fixture(scope="session")
def emulated_module():
    if not _COMPILER:
        pytest.skip("the CUDA emulation needs a C++20 compiler with <barrier> (g++ 11 or newer)")
    module = emulator.EmulatedCuda(device_count=2)
    probe_device = device_module.Device("cuda", 0, module)
    compiled = _cuda.CudaKernels(probe_device, kernels.sources_dir())
    emulator.compile_kernels(compiled.source, compiled.options, _cuda.all_names())
    return module


@pytest.fixture
def emulated_cuda(emulated_module):
    """Two emulated CUDA devices as accel's GPUs for this test; yields the CuPy stand-in."""
    saved_default = device_module._global_default
    device_module._use_cuda_module(emulated_module)
    device_module._global_default = device_module.CPU
    emulated_module._set_current(0)
    del emulated_module.launches[:]
    try:
        yield emulated_module
    finally:
        device_module._forget_cuda_probe()
        device_module._global_default = saved_default
        emulated_module._set_current(0)
