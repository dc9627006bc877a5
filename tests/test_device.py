import importlib
import os
import subprocess
import sys
import textwrap
import threading

import numpy
import pytest

import accel as ac
device_module = importlib.import_module("accel.device")  # accel.device is the context manager


@pytest.fixture
def no_cupy(monkeypatch):
    """CuPy made unimportable through the import machinery (sys.modules[name] = None)."""
    monkeypatch.setitem(sys.modules, "cupy", None)
    device_module._forget_cuda_probe()
    yield
    monkeypatch.undo()
    device_module._forget_cuda_probe()


@pytest.fixture
def cupy_without_driver(tmp_path, monkeypatch):
    """A CuPy that imports but whose runtime finds no driver, put on sys.path as a real package."""
    package = tmp_path / "cupy"
    (package / "cuda").mkdir(parents=True)
    (package / "__init__.py").write_text("from . import cuda\n")
    (package / "cuda" / "__init__.py").write_text("from . import runtime\n")
    (package / "cuda" / "runtime.py").write_text(textwrap.dedent("""
        class CUDARuntimeError(RuntimeError):
            pass
        def getDeviceCount():
            raise CUDARuntimeError("cudaErrorInsufficientDriver: CUDA driver version is insufficient")
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "cupy", raising=False)
    device_module._forget_cuda_probe()
    yield
    for name in [m for m in sys.modules if m == "cupy" or m.startswith("cupy.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.undo()
    device_module._forget_cuda_probe()


@pytest.fixture
def fresh_default(monkeypatch):
    monkeypatch.setattr(device_module, "_global_default", None)
    monkeypatch.setattr(device_module, "_env_spec", None)


def test_cpu_device_basics():
    cpu = ac.get_device("cpu")
    assert cpu.kind == "cpu" and cpu.index == 0 and cpu.xp is numpy
    assert repr(cpu) == "Device('cpu')" and str(cpu) == "cpu"
    assert cpu == ac.get_device("CPU") and hash(cpu) == hash(ac.get_device("cpu"))
    assert ac.get_device(cpu) is cpu
    assert ac.devices()[0] == cpu
    array = numpy.arange(3)
    assert cpu.send(array) is array
    cpu.synchronize()


def test_default_is_cpu_when_cupy_is_missing(no_cupy, fresh_default):
    assert ac.default_device() == ac.get_device("cpu")
    assert ac.devices() == [ac.get_device("cpu")]
    with pytest.raises(ac.DeviceUnavailableError, match="CuPy is not installed"):
        ac.get_device("cuda")
    assert issubclass(ac.DeviceUnavailableError, RuntimeError)


def test_default_is_cpu_when_cupy_has_no_driver(cupy_without_driver, fresh_default):
    assert ac.default_device().kind == "cpu"
    with pytest.raises(ac.DeviceUnavailableError, match="no CUDA driver or device is usable.*insufficient"):
        ac.get_device("cuda:0")


@pytest.mark.skipif(any(d.kind == "cuda" for d in ac.devices()), reason="a GPU is present")
def test_missing_device_index_message(monkeypatch):
    probe = device_module._CudaProbe.__new__(device_module._CudaProbe)
    probe.cupy, probe.count, probe.reason = numpy, 1, None  # as if one GPU were present
    monkeypatch.setattr(device_module, "_probe", probe)
    monkeypatch.setattr(device_module, "_cuda_devices", {})
    with pytest.raises(ac.DeviceUnavailableError, match=r"no CUDA device 3 \(1 device found\)"):
        ac.get_device("cuda:3")
    assert ac.get_device("cuda").name == "cuda:0"


@pytest.mark.parametrize("spec", ["tpu", "cuda:x", "cpu:1", "", "cuda:-1"])
def test_bad_device_names(spec):
    with pytest.raises(ValueError, match="expected 'cpu', 'cuda' or 'cuda:N'"):
        ac.get_device(spec)


def test_bad_device_type():
    with pytest.raises(TypeError, match="device"):
        ac.get_device(3)


def test_nested_device_contexts_and_set_default(fresh_default):
    cpu = ac.get_device("cpu")
    ac.set_default_device("cpu")
    with ac.device("cpu") as outer:
        assert outer == cpu and ac.default_device() == cpu
        with ac.device(cpu):
            assert ac.tensor(1.0).device == cpu
        assert ac.default_device() == cpu
    assert ac.zeros((2,)).device == cpu


def test_device_context_is_thread_local(monkeypatch):
    sentinel = device_module.Device("cpu", 7, numpy)  # a distinct device for this test alone
    seen = {}

    def other_thread():
        seen["default"] = ac.default_device()

    monkeypatch.setattr(device_module, "_global_default", ac.get_device("cpu"))
    with ac.device(sentinel):
        assert ac.default_device() is sentinel
        worker = threading.Thread(target=other_thread)
        worker.start()
        worker.join()
    assert seen["default"] == ac.get_device("cpu")


def test_device_context_restores_after_error():
    before = ac.default_device()
    with pytest.raises(KeyError):
        with ac.device("cpu"):
            raise KeyError("boom")
    assert ac.default_device() == before


def _run(code, **env):
    environment = {**os.environ, **env}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment)


def test_accel_device_environment_variable():
    result = _run("import accel; print(accel.default_device())", ACCEL_DEVICE="cpu")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "cpu"


@pytest.mark.skipif(any(d.kind == "cuda" for d in ac.devices()), reason="a GPU is present")
def test_accel_device_environment_variable_unavailable():
    code = "import accel\ntry:\n    accel.zeros(1)\nexcept accel.DeviceUnavailableError as e:\n    print(e)"
    result = _run(code, ACCEL_DEVICE="cuda:0")
    assert result.returncode == 0, result.stderr  # importing never fails
    assert "ACCEL_DEVICE='cuda:0'" in result.stdout and "not available" in result.stdout


def test_import_does_not_import_cupy():
    result = _run("import sys, accel; print('cupy' in sys.modules)")
    assert result.stdout.strip() == "False", result.stderr


def test_import_survives_a_broken_cupy(tmp_path):
    (tmp_path / "cupy").mkdir()
    (tmp_path / "cupy" / "__init__.py").write_text("raise OSError('libcudart.so: cannot open')\n")
    code = "import accel; print(accel.default_device(), [str(d) for d in accel.devices()])"
    result = _run(code, PYTHONPATH=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "cpu ['cpu']"


class _DriverOnlyCupy:
    """A CuPy that imports and counts one device, but cannot compile a kernel (no NVRTC or no CUDA
    headers beside the driver): what `pip install cupy-cuda12x` alone gives on a driver-only host."""

    class cuda:
        class runtime:
            @staticmethod
            def getDeviceCount():
                return 1

        class Device:
            def __init__(self, index=0):
                pass

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

    @staticmethod
    def RawModule(**kwargs):
        raise RuntimeError("CUDA_ERROR_FILE_NOT_FOUND: libnvrtc.so.12: cannot open shared object file")


def test_probe_needs_a_kernel_to_compile_and_run(monkeypatch, fresh_default):
    """Defect: the probe only counted devices, so a driver-only host defaulted to cuda:0 and failed at
    the first op."""
    monkeypatch.setattr(device_module, "_probe", device_module._CudaProbe(_DriverOnlyCupy))
    monkeypatch.setattr(device_module, "_cuda_devices", {})
    assert ac.devices() == [ac.get_device("cpu")]
    assert ac.default_device() == ac.get_device("cpu")
    reason = device_module.cuda_unavailable_reason()
    assert "could not compile and run a kernel" in reason and "libnvrtc" in reason and "accel[gpu]" in reason
    with pytest.raises(ac.DeviceUnavailableError, match="could not compile and run a kernel"):
        ac.get_device("cuda:0")


def test_main_reports_no_driver_instead_of_driver_0():
    """Defect: `python -m accel` printed "driver 0.0" when no driver was installed."""
    pytest.importorskip("cupy")
    result = subprocess.run([sys.executable, "-m", "accel"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    if any(d.kind == "cuda" for d in ac.devices()):
        pytest.skip("a GPU with a driver is present")
    assert "driver 0.0" not in result.stdout
    assert "no CUDA driver" in result.stdout or "CUDA: unavailable" in result.stdout


# ---- devices are classes: what differs between kinds lives in them -------------------------------
def test_device_kinds_are_classes():
    cpu = ac.get_device("cpu")
    assert isinstance(cpu, device_module.CPUDevice) and type(device_module.Device("cpu")) is device_module.CPUDevice
    assert cpu.host_readable and not cpu.contextual and cpu.kind == "cpu"
    assert device_module.CUDADevice.contextual and not device_module.CUDADevice.host_readable
    with pytest.raises(ValueError, match="Device: unknown kind 'tpu', expected one of cpu, cuda"):
        device_module.Device("tpu")
    free, total = cpu.memory_info()
    assert 0 < free <= total
    stream = cpu.random_stream(3)
    assert stream.standard_normal() == numpy.random.Generator(numpy.random.PCG64(3)).standard_normal()
    assert device_module.array_device(numpy.zeros(2)) is cpu
    assert cpu.kernels.norms_sq([numpy.ones(3, numpy.float32)]).tolist() == [3.0]


def test_no_module_outside_device_py_tests_a_device_kind():
    """Other modules ask the device (its methods and attributes), never compare its kind."""
    import pathlib
    import re

    root = pathlib.Path(device_module.__file__).parent
    pattern = re.compile(r"""\.kind\s*[!=]=\s*["'](cpu|cuda)["']|is _?CPU\b""")
    offenders = [f"{path.relative_to(root)}:{n}" for path in root.rglob("*.py") if path.name != "device.py"
                 for n, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
    assert offenders == []
