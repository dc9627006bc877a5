"""A CPU stand-in for the part of CuPy accel uses, running accel's CUDA kernels under emulation.

`EmulatedCuda(device_count)` is a module-like object with CuPy's names: arrays that live on an
emulated device (host memory, with `.data.ptr`, `.device.id`, `.get()`), the current device
(`cuda.Device(i)`), array functions, `random`, and `RawModule` / `get_function` whose kernels are
the unmodified `csrc/cuda` sources compiled by g++ against `include/cuda_emu.h`.

It is strict where CuPy on a GPU without peer access is strict, so accel's mistakes show:
- an operation on an array of another device than the current one raises (on a GPU it raises,
  or with peer access silently computes on the wrong device);
- `numpy.asarray(array)` raises, as CuPy's implicit conversion does;
- attributes CuPy 14.2 does not have are missing here too (checked against the installed CuPy,
  which imports without a GPU);
- kernel arguments are converted with CuPy's rules (Python int -> int64, float -> float64, NumPy
  scalars keep their dtype, arrays -> device pointer, None -> null, a NumPy array of one element
  (a struct record) -> its bytes by value) and read by the kernel as its
  own parameter types, so a wrong argument type is garbage, as on a GPU;
- a kernel argument array on another device than the current one raises (on a GPU: an illegal
  address, or a silent peer read).
"""

from __future__ import annotations

import ctypes
import hashlib
import operator
import os
import pathlib
import re
import shutil
import subprocess
import tempfile
import threading
import types

import numpy

try:  # the real CuPy (it imports without a GPU) tells which names exist
    import cupy as _real_cupy
except Exception:  # pragma: no cover - the test extra installs CuPy
    _real_cupy = None

INCLUDE = pathlib.Path(__file__).resolve().parent / "include"
CXX = os.environ.get("CXX") or shutil.which("g++")
_CXXFLAGS = ["-std=c++20", "-O1", "-ffp-contract=off", "-fno-strict-aliasing", "-fPIC", "-shared", "-pthread",
             "-w"]


def compiler_available() -> bool:
    """True when a C++20 compiler with <barrier> builds the emulator."""
    if CXX is None:
        return False
    probe = "#include <barrier>\nint main() { std::barrier<> b(1); b.arrive_and_wait(); }\n"
    try:
        result = subprocess.run([CXX, "-std=c++20", "-x", "c++", "-", "-o", os.devnull, "-pthread"],
                                input=probe, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


class EmulationError(RuntimeError):
    """What a GPU would answer with an error (or worse, silently) under the emulator's rules."""


# ---- kernels ----------------------------------------------------------------------------------

_BUILD_DIR = pathlib.Path(os.environ.get("ACCEL_CUDA_EMU_CACHE") or
                          pathlib.Path(tempfile.gettempdir()) / f"accel-cuda-emu-{os.getuid()}")
_build_lock = threading.Lock()
_libraries: dict = {}  # (source, options) -> {name expression: (library, symbol)}
_loaded: list = []  # every library loaded


def vector_copies() -> int:
    """16-byte vector copies (uint4) the emulated kernels have made so far, over all libraries."""
    return sum(lib.accel_emu_vector_copies() for lib in _loaded)


def _includes(options) -> list:
    out = []
    for option in options:
        if option.startswith("-I"):
            out.append(option[2:])
        elif option.startswith("--include-path="):
            out.append(option.split("=", 1)[1])
    return out


def _header_texts(dirs) -> str:
    """The headers a compile can see, for the cache key (the emulator, unlike CuPy, keys on them)."""
    parts = []
    for d in dirs:
        for path in sorted(pathlib.Path(d).rglob("*.h")):
            parts.append(f"{path}\n{path.read_text()}")
    return "\n".join(parts)


def compile_kernels(source: str, options, names) -> None:
    """Compile `names` (template name expressions of `source`) into one library and remember
    them for RawModules of the same source and options (one g++ run for many kernels)."""
    options = tuple(options)
    key = (source, options)
    with _build_lock:
        known = _libraries.setdefault(key, {})
        todo = [n for n in dict.fromkeys(names) if n not in known]
        if not todo:
            return
        launchers = []
        for i, name in enumerate(todo):
            launchers.append(
                f'extern "C" int accel_emu_launch_{i}(unsigned gx, unsigned gy, unsigned gz, unsigned bx,\n'
                f'    unsigned by, unsigned bz, void* const* args, int nargs, char* error, int size) {{\n'
                f'  auto kernel = &{name};\n'
                f'  try {{\n'
                f'    if (nargs != cuda_emu::arity(kernel)) throw std::invalid_argument(\n'
                f'        "args: " + std::to_string(nargs) + " arguments for a kernel of " +\n'
                f'        std::to_string(cuda_emu::arity(kernel)) + " parameters");\n'
                f'    cuda_emu::launch(kernel, dim3{{gx, gy, gz}}, dim3{{bx, by, bz}}, args);\n'
                f'    return 0;\n'
                f'  }} catch (const std::exception& e) {{\n'
                f'    std::snprintf(error, size, "%s", e.what());\n'
                f'    return 1;\n'
                f'  }}\n'
                f'}}\n')
        unit = ('#include "cuda_emu.h"\n#include <cstdio>\n'
                'namespace cuda_emu { template <class... P> int arity(void (*)(P...)) { return sizeof...(P); } }\n'
                + source + "\n" + "\n".join(launchers)
                + '\nextern "C" long long accel_emu_vector_copies() { return cuda_emu::vector_copies.load(); }\n')
        dirs = [str(INCLUDE)] + _includes(options)
        digest = hashlib.sha256("\0".join([unit, _header_texts(dirs), " ".join(_CXXFLAGS), CXX or ""])
                                .encode()).hexdigest()[:24]
        _BUILD_DIR.mkdir(parents=True, exist_ok=True)
        library = _BUILD_DIR / f"kernels-{digest}.so"
        if not library.exists():
            unit_path = _BUILD_DIR / f"kernels-{digest}.cpp"
            unit_path.write_text(unit)
            partial = _BUILD_DIR / f"kernels-{digest}.{os.getpid()}.so"
            command = [CXX, *_CXXFLAGS, *[f"-I{d}" for d in dirs], str(unit_path), "-o", str(partial)]
            result = subprocess.run(command, capture_output=True, text=True)
            if result.returncode != 0:
                raise EmulationError(f"the kernels do not compile for the emulator:\n{result.stderr[-6000:]}")
            os.replace(partial, library)
        lib = ctypes.CDLL(str(library))
        lib.accel_emu_vector_copies.restype = ctypes.c_longlong
        _loaded.append(lib)
        for i, name in enumerate(todo):
            fn = getattr(lib, f"accel_emu_launch_{i}")
            fn.restype = ctypes.c_int
            fn.argtypes = [ctypes.c_uint] * 6 + [ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
            known[name] = (lib, fn)


# ---- the module ---------------------------------------------------------------------------------

class _MemoryPointer:
    __slots__ = ("ptr", "device_id")

    def __init__(self, ptr, device_id):
        self.ptr, self.device_id = ptr, device_id


class EmulatedCuda(types.ModuleType):
    """`cupy` for `device_count` emulated GPUs. Every instance is its own set of devices."""

    def __init__(self, device_count: int = 1):
        super().__init__("cupy")
        self.__version__ = getattr(_real_cupy, "__version__", "14.2.0")
        self.device_count = device_count
        self._local = threading.local()
        self.launches = []  # (name expression, grid, block) of every kernel launch, for tests
        self.ndarray = _make_ndarray_class(self)
        self.cuda = _CudaNamespace(self)
        self.random = _RandomNamespace(self)
        for name in ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16",
                     "uint32", "uint64", "bool_", "complex64", "complex128", "dtype", "newaxis", "inf", "nan",
                     "pi", "e"):
            setattr(self, name, getattr(numpy, name))

    # -- devices --------------------------------------------------------------------------------
    @property
    def current(self) -> int:
        return getattr(self._local, "device", 0)

    def _set_current(self, index: int) -> None:
        self._local.device = index

    def check_device(self, arrays, what: str) -> None:
        current = self.current
        for a in arrays:
            if isinstance(a, self.ndarray) and a._device != current:
                raise EmulationError(
                    f"{what}: an array on device {a._device} used while device {current} is current "
                    "(CuPy launches on the current device; without peer access this is an error, with it "
                    "the work silently runs on the wrong GPU)")

    # -- conversion between the emulated devices and the host -------------------------------------
    def _wrap(self, value, device=None):
        if isinstance(value, numpy.ndarray):
            out = object.__new__(self.ndarray)
            out._a, out._device = value, self.current if device is None else device
            return out
        if isinstance(value, tuple):
            return tuple(self._wrap(v, device) for v in value)
        if isinstance(value, list):
            return [self._wrap(v, device) for v in value]
        if isinstance(value, numpy.generic):  # CuPy returns 0-d arrays, not scalars
            return self._wrap(numpy.asarray(value), device)
        return value

    def _unwrap(self, value, found):
        if isinstance(value, self.ndarray):
            found.append(value)
            return value._a
        if isinstance(value, (list, tuple)):
            return type(value)(self._unwrap(v, found) for v in value)
        if isinstance(value, numpy.ndarray):
            raise TypeError("Unsupported type <class 'numpy.ndarray'>: CuPy functions take CuPy arrays "
                            "(convert with cupy.asarray)")
        return value

    def _call(self, name, fn, args, kwargs):
        found = []
        args = self._unwrap(args, found)
        kwargs = {k: self._unwrap(v, found) for k, v in kwargs.items()}
        self.check_device(found, f"cupy.{name}")
        return self._wrap(fn(*args, **kwargs))

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        if _real_cupy is not None and not hasattr(_real_cupy, name):
            raise AttributeError(f"module 'cupy' has no attribute '{name}' (CuPy {self.__version__})")
        target = getattr(numpy, name, None)
        if target is None:
            raise AttributeError(f"module 'cupy' has no attribute '{name}' in the emulator")
        if isinstance(target, numpy.ufunc):
            return _Ufunc(self, name, target)
        if callable(target) and not isinstance(target, type):
            return lambda *args, **kwargs: self._call(name, target, args, kwargs)
        return target

    @property
    def linalg(self):
        """cupy.linalg: NumPy's functions on the emulated arrays (those CuPy has)."""
        return _Submodule(self, "linalg")

    @property
    def fft(self):
        """cupy.fft: NumPy's functions on the emulated arrays."""
        return _Submodule(self, "fft")

    def asarray(self, a, dtype=None, order=None):
        if isinstance(a, self.ndarray):
            if a._device == self.current:
                return a if dtype is None or a.dtype == dtype else a.astype(dtype)
            return self._wrap(numpy.array(a._a, dtype=dtype))  # a copy between devices
        if isinstance(a, numpy.ndarray) or not hasattr(a, "__cuda_array_interface__"):
            return self._wrap(numpy.array(a, dtype=dtype, order=order or "K"))
        raise TypeError(f"asarray: unsupported input {type(a)}")

    array = asarray

    def asnumpy(self, a, stream=None):
        return a.get() if isinstance(a, self.ndarray) else numpy.asarray(a)

    def RawModule(self, code=None, *, path=None, options=(), backend="nvrtc", translate_cucomplex=False,
                  enable_cooperative_groups=False, name_expressions=None, jitify=None):
        if not isinstance(options, tuple):
            raise TypeError(f"RawModule: options must be a tuple, got {type(options).__name__}")
        if code is None:
            raise EmulationError("RawModule: the emulator compiles source code only")
        return _RawModule(self, code, options, tuple(name_expressions or ()))


class _Submodule:
    """A CuPy submodule (cupy.linalg): NumPy's functions of the same name on emulated arrays."""

    def __init__(self, module, name):
        self._module, self._name = module, name

    def __getattr__(self, attr):
        real = getattr(_real_cupy, self._name, None) if _real_cupy is not None else None
        if real is not None and not hasattr(real, attr):
            raise AttributeError(f"module 'cupy.{self._name}' has no attribute '{attr}'")
        target = getattr(getattr(numpy, self._name), attr)
        return lambda *args, **kwargs: self._module._call(f"{self._name}.{attr}", target, args, kwargs)


class _Ufunc:
    def __init__(self, module, name, ufunc):
        self._module, self._name, self._ufunc = module, name, ufunc

    def __call__(self, *args, **kwargs):
        return self._module._call(self._name, self._ufunc, args, kwargs)

    def __getattr__(self, attr):
        method = getattr(self._ufunc, attr)
        if not callable(method):
            return method
        return lambda *args, **kwargs: self._module._call(f"{self._name}.{attr}", method, args, kwargs)


class _RawModule:
    def __init__(self, module, code, options, names):
        self._module, self._code, self._options, self._names = module, code, options, names

    def get_function(self, name):
        if name not in self._names:
            raise EmulationError(f"get_function: {name!r} is not one of the module's name expressions")
        compile_kernels(self._code, self._options, [name])
        return _RawKernel(self._module, name, _libraries[(self._code, self._options)][name][1])


_SCALAR_TYPES = {numpy.dtype(c).type for c in "?bhilqBHILQefd"}


def _argument_bytes(module, value, name):
    """One kernel argument as CuPy packs it (cupy/cuda/function.pyx `_pointer`)."""
    if value is None:
        return numpy.uint64(0).tobytes()
    if isinstance(value, module.ndarray):
        return numpy.uint64(value.data.ptr).tobytes()
    if isinstance(value, numpy.ndarray):  # passed by value, as CuPy's CNumpyArray: only one element
        if value.size != 1:
            raise TypeError(f"{name}: only numpy.ndarrays of size one can be passed by value, got shape {value.shape}")
        return value.tobytes()
    if type(value) not in _SCALAR_TYPES:
        if isinstance(value, bool):
            value = numpy.int64(value)  # bool is an int: CuPy packs it as int64
        elif isinstance(value, int):
            value = numpy.int64(value)
        elif isinstance(value, float):
            value = numpy.float64(value)
        else:
            raise TypeError(f"{name}: unsupported kernel argument type {type(value)}")
    return value.tobytes()


class _RawKernel:
    def __init__(self, module, name, fn):
        self._module, self.name, self._fn = module, name, fn

    def __call__(self, grid, block, args, *, shared_mem=0, stream=None):
        if not isinstance(grid, tuple) or not isinstance(block, tuple):
            raise TypeError("RawKernel: grid and block must be tuples")
        module = self._module
        arrays = [a for a in args if isinstance(a, module.ndarray)]
        module.check_device(arrays, f"kernel {self.name}")
        storage = []
        for i, a in enumerate(args):
            raw = _argument_bytes(module, a, f"args[{i}]")
            buffer = ctypes.create_string_buffer(raw, max(16, len(raw)))  # zero-padded: a short argument reads zeros
            storage.append(buffer)
        pointers = (ctypes.c_void_p * max(len(storage), 1))(*[ctypes.addressof(b) for b in storage])
        g = (grid + (1, 1))[:3]
        b = (block + (1, 1))[:3]
        if min(g) < 1 or min(b) < 1:
            raise EmulationError(f"kernel {self.name}: empty grid {grid} or block {block}")
        error = ctypes.create_string_buffer(512)
        module.launches.append((self.name, g, b))
        if self._fn(*g, *b, pointers, len(storage), error, len(error)) != 0:
            raise EmulationError(f"kernel {self.name}: {error.value.decode()}")


class _CudaNamespace:
    def __init__(self, module):
        self._module = module
        self.runtime = _Runtime(module)
        module_ref = module

        class Device:
            """cupy.cuda.Device: the current device within a `with` block."""

            def __init__(self, device=None):
                self.id = module_ref.current if device is None else int(device)
                if not 0 <= self.id < module_ref.device_count:
                    raise EmulationError(f"cudaErrorInvalidDevice: no device {self.id}")
                self._saved = []

            compute_capability = "90"

            def __enter__(self):
                self._saved.append(module_ref.current)
                module_ref._set_current(self.id)
                return self

            def __exit__(self, *exc):
                module_ref._set_current(self._saved.pop())

            def use(self):
                module_ref._set_current(self.id)

            def synchronize(self):
                pass

        self.Device = Device

    @staticmethod
    def get_cuda_path():
        return None

    def get_device_id(self):
        return self._module.current


class _Runtime:
    def __init__(self, module):
        self._module = module

    def getDeviceCount(self):
        return self._module.device_count

    def driverGetVersion(self):
        return 12090

    def runtimeGetVersion(self):
        return 12090

    def memGetInfo(self):  # (free, total) of the current device; the host's memory here
        size = os.sysconf("SC_PAGE_SIZE")
        return os.sysconf("SC_AVPHYS_PAGES") * size, os.sysconf("SC_PHYS_PAGES") * size

    def getDeviceProperties(self, index):
        return {"name": b"Emulated CUDA device (CPU)", "totalGlobalMem": 0, "major": 9, "minor": 0}


class _RandomNamespace:
    def __init__(self, module):
        self._module = module

    def default_rng(self, seed=None):
        return _Generator(self._module, numpy.random.default_rng(seed))


class _Generator:
    """cupy.random.Generator: only the methods CuPy's has."""

    def __init__(self, module, rng):
        self._module, self._rng = module, rng

    def __getattr__(self, name):
        if _real_cupy is not None and not hasattr(_real_cupy.random.Generator, name):
            raise AttributeError(f"'cupy.random._generator_api.Generator' object has no attribute '{name}'")
        method = getattr(self._rng, name)
        return lambda *args, **kwargs: self._module._wrap(numpy.asarray(method(*args, **kwargs)))


# ---- arrays -------------------------------------------------------------------------------------

# Methods that only look at the array or make a view: CuPy runs them without a kernel, so they
# work whatever device is current.
_NO_KERNEL = {"reshape", "view", "transpose", "squeeze", "swapaxes", "ravel", "get", "item", "tolist"}
_BINARY = ["add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor",
           "lshift", "rshift"]
_COMPARE = ["eq", "ne", "lt", "le", "gt", "ge"]
_UNARY = ["neg", "pos", "abs", "invert"]


def _defer(array, other) -> bool:
    """CuPy's rule for binary operators: the other operand's reflected operator wins when it has
    a higher __array_priority__ or opts out of ufuncs (__array_ufunc__ = None)."""
    if getattr(type(other), "__array_ufunc__", False) is None:
        return True
    return getattr(other, "__array_priority__", 0) > array.__array_priority__


def _make_ndarray_class(module):
    class ndarray:
        """An array on an emulated device: host memory behind CuPy's interface."""

        __slots__ = ("_a", "_device")
        __array_priority__ = 100

        def __init__(self, shape, dtype=float):
            self._a = numpy.zeros(shape, dtype)
            self._device = module.current

        # -- what CuPy's ndarray says about itself -----------------------------------------------
        shape = property(lambda self: self._a.shape)
        dtype = property(lambda self: self._a.dtype)
        ndim = property(lambda self: self._a.ndim)
        size = property(lambda self: self._a.size)
        strides = property(lambda self: self._a.strides)
        itemsize = property(lambda self: self._a.itemsize)
        nbytes = property(lambda self: self._a.nbytes)
        flags = property(lambda self: self._a.flags)
        T = property(lambda self: module._wrap(self._a.T, self._device))
        data = property(lambda self: _MemoryPointer(self._a.ctypes.data, self._device))

        @property
        def device(self):
            return module.cuda.Device(self._device)

        @property
        def __cuda_array_interface__(self):
            return {"shape": self._a.shape, "typestr": self._a.dtype.str, "version": 3,
                    "data": (self._a.ctypes.data, False), "strides": None if self._a.flags.c_contiguous
                    else self._a.strides}

        def get(self, stream=None, order="C", out=None):
            return numpy.array(self._a, order=order)

        def __array__(self, dtype=None, copy=None):
            raise TypeError("Implicit conversion to a NumPy array is not allowed. "
                            "Please use `.get()` to construct a NumPy array explicitly.")

        def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
            target = ufunc if method == "__call__" else getattr(ufunc, method)
            return module._call(ufunc.__name__, target, inputs, kwargs)

        def __array_function__(self, func, types_, args, kwargs):
            if _real_cupy is not None and not hasattr(_real_cupy, func.__name__):
                return NotImplemented
            return module._call(func.__name__, func, args, kwargs)

        def __len__(self):
            return len(self._a)

        def __iter__(self):
            return (self[i] for i in range(len(self)))

        def __bool__(self):
            return bool(self._a)

        def __float__(self):
            return float(self._a)

        def __int__(self):
            return int(self._a)

        def __index__(self):
            return operator.index(self._a.item()) if self._a.ndim == 0 else operator.index(self._a)

        def __repr__(self):
            return f"array({self._a!r} on emulated device {self._device})"

        def __getitem__(self, index):
            found = []
            raw = module._unwrap(index, found)
            out = self._a[raw]
            if found or not numpy.shares_memory(out, self._a):
                module.check_device([self, *found], "indexing")
                return module._wrap(out)
            return module._wrap(out, self._device)

        def __setitem__(self, index, value):
            found = []
            raw_index = module._unwrap(index, found)
            raw_value = module._unwrap(value, found)
            module.check_device([self, *found], "assignment")
            self._a[raw_index] = raw_value

        def __getattr__(self, name):
            if name.startswith("__"):  # no __array_interface__ etc.: NumPy must not see the host memory
                raise AttributeError(name)
            attribute = getattr(self._a, name)
            if not callable(attribute):
                return attribute
            if name in _NO_KERNEL:
                return lambda *args, **kwargs: module._wrap(attribute(*args, **kwargs), self._device)

            def method(*args, **kwargs):
                found = []
                args = module._unwrap(args, found)
                kwargs = {k: module._unwrap(v, found) for k, v in kwargs.items()}
                module.check_device([self, *found], f"ndarray.{name}")
                return module._wrap(attribute(*args, **kwargs))

            return method

    def binary(op):
        fn = getattr(operator, op if op not in ("and", "or") else op + "_")

        def forward(self, other):
            if _defer(self, other):
                return NotImplemented
            return module._call(op, fn, (self, other), {})

        def reflected(self, other):
            if _defer(self, other):
                return NotImplemented
            return module._call(op, fn, (other, self), {})

        def inplace(self, other):
            found = []
            raw = module._unwrap(other, found)
            module.check_device([self, *found], f"in-place {op}")
            getattr(operator, f"i{op}" if op not in ("and", "or") else f"i{op}_")(self._a, raw)
            return self

        return forward, reflected, inplace

    for op in _BINARY:
        forward, reflected, inplace = binary(op)
        setattr(ndarray, f"__{op}__", forward)
        setattr(ndarray, f"__r{op}__", reflected)
        setattr(ndarray, f"__i{op}__", inplace)
    for op in _COMPARE:
        setattr(ndarray, f"__{op}__", (lambda fn: lambda self, other: module._call(fn.__name__, fn, (self, other),
                                                                                   {}))(getattr(operator, op)))
    for op in _UNARY:
        setattr(ndarray, f"__{op}__", (lambda fn: lambda self: module._call(fn.__name__, fn, (self,), {}))(
            getattr(operator, op)))
    ndarray.__hash__ = None
    return ndarray


def kernel_names(source: str) -> list:
    """The non-template __global__ functions of a source (their names are their own expressions)."""
    return re.findall(r"__global__\s+void\s+(\w+)\s*\(", source)
