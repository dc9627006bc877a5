"""Benchmark fixtures: peers run in the same process, and each run records the machine.

`--bench-size full|quick|tiny` picks the workload sizes (bench/report.py --quick uses quick).

Run with `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE pytest bench` on machines that pin
OpenBLAS to an older kernel for the sake of old builds (it slows NumPy's matmul ~1.5x); the
BLAS kernel actually used is recorded in the results' machine_info.
"""

import os
import platform

import numpy
import pytest

import accel
import accel._cpu

try:
    import torch
except ImportError:  # peers are optional; their benchmarks skip
    torch = None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _blas() -> list:
    try:
        import threadpoolctl
    except ImportError:
        return []
    return [{**{k: i.get(k) for k in ("internal_api", "architecture", "num_threads", "version")},
             "owner": _owner(i.get("filepath") or "")} for i in threadpoolctl.threadpool_info()]


def _owner(path: str) -> str | None:
    """The Python package whose bundled library this is (NumPy's OpenBLAS, PyTorch's OpenMP...)."""
    for part, name in (("numpy", "NumPy"), ("torch", "PyTorch"), ("scipy", "SciPy"), ("sklearn", "scikit-learn"),
                       ("cupy", "CuPy")):
        if f"/{part}" in path or f"{part}.libs" in path:
            return name
    return "system" if path else None


def pytest_addoption(parser):
    parser.addoption("--bench-size", choices=["full", "quick", "tiny"], default="full",
                     help="workload sizes for accel's benchmarks")
    parser.addoption("--excluded-peers", default=None,
                     help="write the peers left out (their first step did not match accel's) to this JSON file")


_EXCLUDED: list = []


def pytest_runtest_logreport(report):
    """Remember every peer the step check left out (bench/test_optimizers.py), with its reason."""
    if report.skipped and report.when == "setup" or not report.skipped:
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if "not timed" in reason:
        _EXCLUDED.append({"test": report.nodeid.split("::")[-1], "reason": reason.removeprefix("Skipped: ")})


def pytest_sessionfinish(session):
    path = session.config.getoption("--excluded-peers")
    if path:
        import json

        with open(path, "w") as out:
            json.dump(_EXCLUDED, out, indent=1)


def pytest_generate_tests(metafunc):
    """`workload` parameters come from the chosen size; `bench_device` from the devices present."""
    size = metafunc.config.getoption("--bench-size")
    if "workload" in metafunc.fixturenames:
        from workloads import WORKLOADS

        metafunc.parametrize("workload", list(WORKLOADS[size].items()), ids=list(WORKLOADS[size]))
    if "bench_device" in metafunc.fixturenames:
        metafunc.parametrize("bench_device", [str(d) for d in accel.devices()])


@pytest.fixture
def bench_size(request):
    return request.config.getoption("--bench-size")


def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info.update({
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "accel": accel.__version__,
        "numpy": numpy.__version__,
        "torch": getattr(torch, "__version__", None),
        "torch_threads": torch.get_num_threads() if torch else None,
        "blas": _blas(),
        "openblas_env": {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS")},
        "devices": [str(d) for d in accel.devices()],
        "gpu": _gpu_name(),
        "bench_size": config.getoption("--bench-size"),
        "cpu_extension": accel._cpu.build_info(),
    })


def _gpu_name():
    from accel.device import cuda_unavailable_reason

    cuda = [d for d in accel.devices() if d.kind == "cuda"]
    if not cuda:
        return f"none ({cuda_unavailable_reason()})"
    props = cuda[0].xp.cuda.runtime.getDeviceProperties(cuda[0].index)
    name = props["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


@pytest.fixture(scope="session")
def torch_module():
    if torch is None:
        pytest.skip("PyTorch is not installed")
    torch.set_num_threads(os.cpu_count() or 1)
    return torch
