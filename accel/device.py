"""Devices: where arrays live and which array module (`xp`) computes on them.

The CPU (NumPy) is always present. CUDA devices (CuPy) are probed lazily, the first time anything
asks for them, so `import accel` never imports CuPy and never fails or slows down because CuPy is
missing or broken. The probe's outcome, including *why* no GPU is usable, is cached.

The default device for new tensors is, in order: the innermost active `device(...)` context of
this thread, the device given to `set_default_device`, the `ACCEL_DEVICE` environment variable
(read once, at import), and otherwise "cuda:0" when CuPy imports and a device is usable, else
"cpu".
"""

from __future__ import annotations

import abc
import contextlib
import os
import threading

import numpy

__all__ = ["Device", "CPUDevice", "CUDADevice", "DeviceUnavailableError", "devices", "get_device", "array_device",
           "device", "set_default_device", "default_device"]


class DeviceUnavailableError(RuntimeError):
    """A device was asked for explicitly but cannot be used; the message says why."""


class Device(abc.ABC):
    """One place arrays can live: ``Device("cpu")`` or ``Device("cuda", n)`` (a CPUDevice or a
    CUDADevice). Obtain devices with `get_device`; two Device objects for the same place compare
    equal.

    Everything that differs between kinds of device lives in the subclasses, so the rest of accel
    asks the device and never tests its kind: the array module (`xp`), transfers (`send`),
    whether ops must run inside `activate()` (`contextual`) and NumPy can read its arrays
    (`host_readable`), synchronisation, random streams, the fused-kernel launcher (`kernels`) and
    memory information. A new kind of device (e.g. ROCm through CuPy) is one subclass.
    """

    __slots__ = ("index", "_xp")
    kind: str = ""
    contextual = False  # ops must run with the device current (CuPy computes on the current one)
    fusion = None  # how accel.function fuses elementwise chains here: "numexpr", "cuda" or None
    host_readable = False  # NumPy can read its arrays in place

    def __new__(cls, kind: str = "", index: int = 0, xp=None):
        if cls is Device:  # Device("cpu") / Device("cuda", n): the subclass of that kind
            kinds = {sub.kind: sub for sub in (CPUDevice, CUDADevice)}
            if kind not in kinds:
                raise ValueError(f"Device: unknown kind {kind!r}, expected one of {', '.join(kinds)}")
            cls = kinds[kind]
        return object.__new__(cls)

    def __init__(self, kind: str = "", index: int = 0, xp=None):
        self.index = index
        self._xp = xp

    @property
    def xp(self):
        """The array module computing on this device: numpy or cupy."""
        return self._xp

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.index}"

    @abc.abstractmethod
    def send(self, array):
        """Return `array` as an array of this device (a no-op when it already lives here)."""

    @abc.abstractmethod
    def synchronize(self) -> None:
        """Wait until all work queued on this device has finished."""

    def activate(self):
        """A context in which work on this device's arrays runs (CuPy works on the current
        device: every op on a CUDA tensor runs inside its device's context)."""
        return _NO_CONTEXT

    @abc.abstractmethod
    def random_stream(self, seed):
        """A new random number generator on this device (`Generator` draws from it)."""

    @property
    @abc.abstractmethod
    def kernels(self):
        """The fused optimizer kernels of this device (accel.kernels launches through it)."""

    @abc.abstractmethod
    def memory_info(self) -> tuple:
        """(free bytes, total bytes) of this device's memory."""

    def __repr__(self) -> str:
        return f"Device('{self.name}')"

    def __str__(self) -> str:
        return self.name

    def __eq__(self, other) -> bool:
        # (identity first: devices are compared on every op with two operands)
        return other is self or isinstance(other, Device) and (self.kind, self.index) == (other.kind, other.index)

    def __hash__(self) -> int:
        return hash((self.kind, self.index))

    def __reduce__(self):
        return (get_device, (self.name,))


class CPUDevice(Device):
    """The host: NumPy arrays, the kernels of accel._cpu."""

    __slots__ = ()
    kind = "cpu"
    host_readable = True
    collectives = "mpi"  # which accel.distributed communicator reduces arrays that live here
    fusion = "numexpr"  # how accel.function fuses elementwise chains here (accel/function/fusion.py)

    @property
    def name(self) -> str:
        return "cpu"

    dlpack_device = (1, 0)  # DLPack's (kDLCPU, 0)

    def send(self, array):
        if isinstance(array, numpy.ndarray):
            return array
        get = getattr(array, "get", None)  # a CuPy array: copy device -> host
        return get() if get is not None else numpy.asarray(array)

    def synchronize(self) -> None:  # NumPy computes before it returns
        pass

    def random_stream(self, seed):
        return numpy.random.Generator(numpy.random.PCG64(seed))

    @property
    def kernels(self):
        from . import _host  # the compiled extension, loaded when first launched

        return _host.KERNELS

    def memory_info(self) -> tuple:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        return os.sysconf("SC_AVPHYS_PAGES") * size, pages * size


class CUDADevice(Device):
    """An NVIDIA GPU through CuPy (or the tests' CPU emulation of it)."""

    __slots__ = ()
    kind = "cuda"
    contextual = True
    collectives = "nccl"
    fusion = "cuda"  # a generated kernel per chain, compiled by NVRTC (accel/function/fusion_cuda.py)

    def send(self, array):
        with self._xp.cuda.Device(self.index):
            return self._xp.asarray(array)

    @property
    def dlpack_device(self) -> tuple:
        return (2, self.index)  # kDLCUDA

    def synchronize(self) -> None:
        self._xp.cuda.Device(self.index).synchronize()

    def activate(self):
        return self._xp.cuda.Device(self.index)

    def random_stream(self, seed):
        with self.activate():
            return self._xp.random.default_rng(seed)

    @property
    def kernels(self):
        from . import _cuda  # compiled for this device on first use

        return _cuda.kernels_for(self)

    def memory_info(self) -> tuple:
        with self.activate():
            free, total = self._xp.cuda.runtime.memGetInfo()
        return int(free), int(total)


_NO_CONTEXT = contextlib.nullcontext()
CPU = Device("cpu", 0, numpy)


# A kernel compiled by NVRTC and run once before a GPU is used: a driver with no NVRTC or no CUDA
# headers beside CuPy imports and counts devices, then fails at the first op.
_PROBE_SOURCE = r"""
extern "C" __global__ void accel_probe(float* out) {
    out[threadIdx.x] = 2.0f * threadIdx.x + 1.0f;
}
"""


class _CudaProbe:
    """What CuPy and the driver offer, found once: the module, the device count, or why not.

    `cupy`: the module to probe (default: import cupy); tests pass a stand-in.
    """

    def __init__(self, cupy=None):
        self.cupy = None
        self.count = 0
        self.reason = None
        if cupy is None:
            try:
                import cupy
            except Exception as exc:  # ImportError, or a broken install raising anything else
                self.reason = f"CuPy is not installed or failed to import ({exc.__class__.__name__}: {exc})"
                return
        try:
            count = int(cupy.cuda.runtime.getDeviceCount())
        except Exception as exc:
            self.reason = f"CuPy imported but no CUDA driver or device is usable ({exc})"
            return
        if count == 0:
            self.reason = "CuPy imported but the driver reports no CUDA device"
            return
        failure = _run_probe_kernel(cupy)
        if failure is not None:
            self.reason = failure
            return
        self.cupy, self.count = cupy, count


def _run_probe_kernel(cupy) -> str | None:
    """None when a tiny kernel compiles (NVRTC, CUDA headers) and runs on device 0; else why not."""
    try:
        with cupy.cuda.Device(0):
            module = cupy.RawModule(code=_PROBE_SOURCE, options=("-std=c++17",), name_expressions=["accel_probe"])
            out = cupy.zeros(32, dtype=numpy.float32)
            module.get_function("accel_probe")((1,), (32,), (out,))
            values = out.get()
    except Exception as exc:
        return (f"CuPy found a CUDA device but could not compile and run a kernel on it "
                f"({exc.__class__.__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}); "
                "CuPy needs NVRTC and the CUDA headers: pip install \"accel[gpu]\" (or a CUDA toolkit)")
    if not numpy.array_equal(values, 2.0 * numpy.arange(32, dtype=numpy.float32) + 1.0):
        return "CuPy ran a test kernel on the CUDA device but it computed wrong values"
    return None


_probe: _CudaProbe | None = None
_probe_lock = threading.Lock()
_cuda_devices: dict[int, Device] = {}


def _cuda() -> _CudaProbe:
    global _probe
    if _probe is None:
        with _probe_lock:
            if _probe is None:
                _probe = _CudaProbe()
    return _probe


def _forget_cuda_probe() -> None:
    """Probe CuPy again on next use (for tests that change what is importable)."""
    global _probe
    with _probe_lock:
        _probe = None
        _cuda_devices.clear()


def _use_cuda_module(cupy) -> None:
    """Probe `cupy` (a CuPy stand-in, e.g. the tests' CPU emulation of CUDA devices) instead of
    importing CuPy; `_forget_cuda_probe` undoes it."""
    global _probe
    with _probe_lock:
        _cuda_devices.clear()
        _probe = _CudaProbe(cupy)


def array_device(array) -> Device:
    """The device an array lives on: the CPU for NumPy arrays (and anything NumPy reads), the
    CUDA device of a CuPy array (anything with the CUDA array interface and a `device`)."""
    if hasattr(array, "__cuda_array_interface__") and not isinstance(array, numpy.ndarray):
        return get_device(f"cuda:{array.device.id}")
    return CPU


def cuda_unavailable_reason() -> str | None:
    """Why no CUDA device is usable, or None when at least one is."""
    return _cuda().reason


def devices() -> list[Device]:
    """Every usable device: the CPU first, then each CUDA device."""
    probe = _cuda()
    return [CPU] + [_cuda_device(probe, i) for i in range(probe.count if probe.cupy else 0)]


def _cuda_device(probe: _CudaProbe, index: int) -> Device:
    dev = _cuda_devices.get(index)
    if dev is None:
        dev = _cuda_devices.setdefault(index, Device("cuda", index, probe.cupy))
    return dev


def _parse(spec: str) -> tuple[str, int | None]:
    text = spec.strip().lower()
    kind, _, index = text.partition(":")
    if kind == "cpu" and not index:
        return "cpu", None
    if kind in ("cuda", "gpu"):
        if not index:
            return "cuda", None
        if index.isdigit():
            return "cuda", int(index)
    raise ValueError(f"device: expected 'cpu', 'cuda' or 'cuda:N', got {spec!r}")


def get_device(spec=None) -> Device:
    """The Device named by `spec`: "cpu", "cuda", "cuda:N", a Device, or None (the default).

    Raises `DeviceUnavailableError` when a CUDA device is asked for but not usable, and
    ValueError when `spec` is not a device name.
    """
    if spec is None:
        return default_device()
    if isinstance(spec, Device):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"device: expected a str, a Device or None, got {type(spec).__name__}")
    kind, index = _parse(spec)
    if kind == "cpu":
        return CPU
    probe = _cuda()
    if probe.cupy is None:
        raise DeviceUnavailableError(f"device {spec!r} is not available: {probe.reason}")
    index = 0 if index is None else index
    if index >= probe.count:
        raise DeviceUnavailableError(
            f"device {spec!r} is not available: no CUDA device {index} "
            f"({probe.count} device{'s' if probe.count != 1 else ''} found)"
        )
    return _cuda_device(probe, index)


class _DefaultState(threading.local):
    def __init__(self):
        self.stack: list[Device] = []


_local = _DefaultState()
_global_default: Device | None = None
_env_spec = os.environ.get("ACCEL_DEVICE") or None  # read once, at import


def _automatic_default() -> Device:
    probe = _cuda()
    return _cuda_device(probe, 0) if probe.cupy is not None else CPU


def default_device() -> Device:
    """The device new tensors go to when none is named."""
    stack = _local.stack
    if stack:
        return stack[-1]
    global _global_default
    if _global_default is None:
        if _env_spec is not None:
            try:
                _global_default = get_device(_env_spec)
            except (ValueError, DeviceUnavailableError) as exc:
                raise type(exc)(f"ACCEL_DEVICE={_env_spec!r}: {exc}") from None
        else:
            _global_default = _automatic_default()
    return _global_default


def set_default_device(spec) -> Device:
    """Make `spec` the process-wide default device (below any active `device()` context)."""
    global _global_default
    dev = _automatic_default() if spec is None else get_device(spec)
    _global_default = dev
    return dev


@contextlib.contextmanager
def device(spec):
    """Within this context (thread-local, nestable) new tensors go to `spec` by default."""
    dev = get_device(spec)
    _local.stack.append(dev)
    try:
        with dev.activate():
            yield dev
    finally:
        _local.stack.pop()
