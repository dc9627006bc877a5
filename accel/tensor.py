"""Tensor (an immutable value on a device, plus its link into the autodiff graph), and how values
become tensors (convert, tensor, from_numpy, from_dlpack).

A Tensor wraps one array of its device's array module. Ops never modify a Tensor's array, so
arrays may be shared between tensors freely. The one mutable kind of tensor, Variable, is
variable.py's.
"""

from __future__ import annotations

import numpy

from . import dtypes
from .device import CPU, Device, get_device

__all__ = ["Tensor", "tensor", "from_numpy", "from_dlpack", "convert"]


class Tensor:
    """An n-dimensional array on a device. Create one with `accel.tensor` or any op."""

    # `_saved` (unset until then) is True once a recorded op or a traced function reads the tensor:
    # its value is then part of a computation that runs later, and item assignment refuses it
    __slots__ = ("_data", "_device", "_node", "_tapes", "_saved", "__weakref__")
    # CuPy's operators defer to ours when our priority is higher; NumPy's ufuncs and functions come
    # to __array_ufunc__ / __array_function__ below.
    __array_priority__ = 1000

    def __init__(self, data, device: Device):
        # accel._autodiff builds tensors the same way without running this (new_tensor in
        # csrc/autodiff/node.cpp): a slot added here is added there.
        self._data = data
        self._device = device
        self._node = None  # the recorded op that produced this tensor (autodiff), if any
        self._tapes = ()  # ids of the tapes that watch this tensor

    # -- metadata -------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self._data.shape

    @property
    def dtype(self) -> numpy.dtype:
        return self._data.dtype

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def size(self) -> int:
        return self._data.size

    @property
    def device(self) -> Device:
        return self._device

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    # -- leaving accel --------------------------------------------------------------------------
    def numpy(self) -> numpy.ndarray:
        """A NumPy copy of the values (copied from the GPU for CUDA tensors)."""
        check_not_traced(self, "numpy()")
        return numpy.array(CPU.send(self._data), copy=True)

    def item(self):
        """The single value as a Python scalar; ValueError unless the tensor has one element."""
        check_not_traced(self, "item()")
        if self._data.size != 1:
            raise ValueError(f"item(): the tensor has {self._data.size} elements, expected 1")
        return CPU.send(self._data).item()

    def tolist(self):
        check_not_traced(self, "tolist()")
        return CPU.send(self._data).tolist()

    def __array__(self, dtype=None, copy=None):
        """NumPy's view of a CPU tensor: read-only (a tensor's value never changes through
        NumPy). A Variable's view follows the variable's later updates; copy=True or a dtype
        gives a copy. Inside accel.function a traced tensor refuses (TypeError): NumPy would read
        the values of the one call being traced, which the graph would replay as constants."""
        check_not_traced(self, "numpy.asarray() / numpy.array()")
        if not self._device.host_readable:
            raise TypeError(
                f"cannot convert a tensor on {self._device} to a NumPy array implicitly; "
                "call .numpy() to copy it to the host"
            )
        if copy or (dtype is not None and numpy.dtype(dtype) != self._data.dtype):
            if copy is False:
                raise ValueError("a tensor cannot be viewed as another dtype without a copy")
            return numpy.array(self._data, dtype=dtype, copy=True)
        view = self._data.view()
        view.flags.writeable = False
        return view

    # -- NumPy's protocols and DLPack (accel.ops.numpy_protocol) --------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """numpy.exp(t), ndarray + t, ...: the accel op (a tensor, recorded on tapes)."""
        return _ops.numpy_protocol.ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        """numpy.sum(t, axis=0), numpy.concatenate([t, u]), ...: the accel op where there is one."""
        return _ops.numpy_protocol.function(func, args, kwargs)

    def __array_namespace__(self, api_version=None):
        """The Array API namespace of accel tensors: the `accel` module itself (accel/array_api.py)."""
        if api_version is not None and api_version not in ("2021.12", "2022.12", "2023.12", "2024.12"):
            raise ValueError(f"__array_namespace__: accel implements the Array API standard 2024.12 (and the "
                             f"earlier versions it contains), not {api_version!r}")
        import accel

        return accel

    def __dlpack__(self, /, *, stream=None, max_version=None, dl_device=None, copy=None):
        """The DLPack capsule of this tensor's memory (zero-copy: the consumer shares it). A
        consumer that asks for the CPU (`dl_device` (kDLCPU, 0), as `numpy.from_dlpack(t,
        device="cpu")` does) gets a host copy of a GPU tensor, unless it forbids copies
        (copy=False: BufferError); the standard's protocol (2023.12)."""
        check_not_traced(self, "DLPack export")
        if dl_device is not None and tuple(int(v) for v in dl_device) != self._device.dlpack_device:
            if int(dl_device[0]) != 1:  # kDLCPU: the one device a copy goes to here
                raise BufferError(f"DLPack export: a tensor on {self._device} does not go to DLPack device {dl_device}")
            if copy is False:
                raise BufferError(f"DLPack export: a tensor on {self._device} reaches the CPU only as a copy "
                                  "(copy=False forbids it)")
            host = numpy.array(CPU.send(self._data), copy=True)
            return host.__dlpack__() if max_version is None else host.__dlpack__(max_version=max_version)
        kwargs = {"stream": stream} if stream is not None else {}
        for key, value in (("max_version", max_version), ("dl_device", dl_device), ("copy", copy)):
            if value is not None:
                kwargs[key] = value
        return self._data.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self._device.dlpack_device

    def __format__(self, spec: str) -> str:
        """A 0-d tensor formats as its value (f"{loss:.3f}"); others only without a spec."""
        if self._data.ndim == 0:
            return format(self.item(), spec)
        if spec:
            raise TypeError(f"unsupported format string {spec!r} for a tensor of shape {tuple(self.shape)}; "
                            "format its elements (t.tolist()) or a 0-d tensor")
        return str(self)

    def __bool__(self) -> bool:
        check_not_traced(self, "a Python bool")
        if self._data.size != 1:
            raise ValueError(
                f"the truth value of a tensor with {self._data.size} elements is ambiguous; "
                "use accel.reduce_any / reduce_all"
            )
        return bool(self.item())

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __complex__(self) -> complex:
        return complex(self.item())

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iu" or self._data.ndim != 0:
            raise TypeError("only 0-d integer tensors can be used as an index")
        return int(self.item())

    def __hash__(self):
        raise TypeError(
            "Tensor is unhashable: == compares elementwise. Key on id(tensor) instead"
        )

    def __repr__(self) -> str:
        values = numpy.array2string(CPU.send(self._data), separator=", ", prefix="Tensor(")
        return f"Tensor({values}, dtype={self.dtype.name}, device={self._device})"

    # -- conversions (differentiable; `to` and `astype` are the ops to_device and cast) -----------
    def cpu(self) -> "Tensor":
        return _ops.to_device(self, "cpu")

    # -- operators and methods ----------------------------------------------------------------------
    # Every operator and method that is an op (+, @, t.sum(), t.T, ...) is bound from the op table
    # by `bind_operators` at the end of this module (the ops' `methods`): the op itself, so no
    # wrapper frame on the hottest path. These three are not ops: unary + is the tensor, and == / !=
    # against None answer as Python's identity comparisons do (a tensor is never None).
    def __pos__(self): return self
    def __eq__(self, other): return False if other is None else _ops.equal(self, other)
    def __ne__(self, other): return True if other is None else _ops.not_equal(self, other)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def _snapshot(self) -> "Tensor":
        """This tensor's value as a tensor that never changes: itself (a Variable's is a copy)."""
        return self

    # __setitem__ (t[index] = value, copy on write) is accel/item_assignment.py's, installed there


def check_not_traced(tensor: Tensor, use: str) -> None:
    """Inside accel.function a tensor computed from the inputs or Variables has no fixed value:
    the trace would freeze the one it had while tracing. TypeError instead (TensorFlow raises
    OperatorNotAllowedInGraphError, a TypeError)."""
    trace = _recording.state.trace if _recording is not None else None
    if trace is None or not trace.is_traced(tensor):
        return
    if use == "a Python bool":
        raise TypeError(
            "using a traced tensor as a Python bool is not allowed inside accel.function: its value "
            "is only known when the function runs, and accel has no AutoGraph to rewrite Python "
            "`if` / `while`. Use accel.cond(pred, true_fn, false_fn) or accel.while_loop(cond, "
            "body, loop_vars)")
    if use.startswith("numpy."):
        raise TypeError(
            f"{use} of a traced tensor is not allowed inside accel.function: NumPy would compute on the "
            "values of the call being traced, and every later call would replay that result as a "
            "constant. Use accel's ops (they are traced), or call the NumPy function outside the function")
    raise TypeError(
        f"{use} of a traced tensor is not allowed inside accel.function: its value is only known "
        "when the function runs. Return it from the function, or print it with accel.print")


def is_device_array(value) -> bool:
    """Whether `value` is an array in GPU memory (CuPy's, or anything with the CUDA array
    interface): NumPy cannot read it, so it is converted on its device."""
    return hasattr(value, "__cuda_array_interface__") and not isinstance(value, numpy.ndarray)


def _host_array(data, dtype):
    """`data` (Python scalars, nested lists, a NumPy array) as a NumPy array of a supported dtype."""
    if isinstance(data, numpy.ndarray):
        array = data
        if dtype is not None and array.dtype != dtype:
            array = array.astype(dtype)
    elif dtype is not None:
        array = numpy.asarray(data, dtype=dtype)
    else:
        array = numpy.asarray(data)
        if array.dtype == numpy.float64 and not isinstance(data, numpy.generic):
            array = array.astype(dtypes.DEFAULT_FLOAT)  # Python floats mean float32
        elif array.dtype == numpy.complex128 and not isinstance(data, numpy.generic):
            array = array.astype(dtypes.DEFAULT_COMPLEX)  # and Python complex numbers complex64
    dtypes.as_dtype(array.dtype, "data")
    return array


_DENSE_CONVERSIONS: dict = {}  # type -> its densifying function (accel.indexed_slices registers one)


def register_dense_conversion(kind: type, densify) -> None:
    """Objects of `kind` that stand for a tensor (IndexedSlices) become `densify(obj)` wherever a
    tensor is expected: `convert`, so every op's argument."""
    _DENSE_CONVERSIONS[kind] = densify


def convert(data, dtype=None, device=None, share: bool = False) -> Tensor:
    """`data` as a Tensor. A Tensor of the right dtype and device is returned as it is; an array
    is copied (a tensor owns its memory: the caller may write into its array later) unless
    `share` asks for the zero-copy view that `from_numpy` documents. IndexedSlices are densified."""
    dt = None if dtype is None else dtypes.as_dtype(dtype)
    densify = _DENSE_CONVERSIONS.get(type(data))
    if densify is not None:
        data = densify(data)
    if isinstance(data, Tensor):
        out = data
        if dt is not None and out.dtype != dt:
            out = _ops.cast(out, dt)
        if device is not None:
            out = _ops.to_device(out, device)
        return out
    if is_device_array(data):
        # A CuPy array: it lives on its own device unless another is named.
        source = get_device(f"cuda:{data.device.id}")
        dev = source if device is None else get_device(device)
        with source.activate():
            array = data if dt is None else data.astype(dt)
        dtypes.as_dtype(array.dtype, "data")
        with dev.activate():
            array = dev.send(array)
            if array is data and not share:
                array = array.copy()
            return Tensor(array, dev)
    dev = get_device(device)
    array = dev.send(_host_array(data, dt))
    if array is data and not share:
        array = array.copy()
    return Tensor(array, dev)


def from_numpy(array, device=None) -> Tensor:
    """A tensor that SHARES `array`'s memory (no copy), as torch.from_numpy: writes into the
    array show through the tensor, and the tensor must be treated as changing with it (a
    recorded op reads it when its gradient is computed). The array keeps its dtype; a CuPy array
    is shared the same way on its own device. Use `accel.tensor` for a tensor of its own."""
    if isinstance(array, Tensor) or not (isinstance(array, numpy.ndarray) or is_device_array(array)):
        raise TypeError(f"from_numpy: expected a NumPy or CuPy array, got {type(array).__name__}")
    if device is not None:
        target = get_device(device)
        here = "cpu" if isinstance(array, numpy.ndarray) else f"cuda:{array.device.id}"
        if target != get_device(here):
            raise ValueError(f"from_numpy: the array is on {here}, not {target}; sharing needs the same device")
    return convert(array, share=True)


def from_dlpack(x, /, *, device=None, copy=None) -> Tensor:
    """A tensor that SHARES the memory of `x`, any object with `__dlpack__` (a PyTorch, JAX, CuPy or
    NumPy array), zero-copy, on the device it lives on (CPU or a CUDA device): as `from_numpy`,
    writes through either side show in the other. copy=True gives a copy instead (the Array
    API's `copy`; False and None share)."""
    if not hasattr(x, "__dlpack__") or not hasattr(x, "__dlpack_device__"):
        raise TypeError(f"from_dlpack: expected an object with __dlpack__ and __dlpack_device__, got "
                        f"{type(x).__name__}")
    kind, index = x.__dlpack_device__()
    if int(kind) == 1:  # kDLCPU
        array = numpy.from_dlpack(x)
    elif int(kind) == 2:  # kDLCUDA
        cuda = get_device(f"cuda:{int(index)}")
        with cuda.activate():
            array = cuda.xp.from_dlpack(x)
    else:
        raise ValueError(f"from_dlpack: DLPack device type {int(kind)} is not one accel runs on (CPU or CUDA)")
    if copy:
        array = array.copy()
    return from_numpy(array, device=device)


def tensor(data, dtype=None, device=None) -> Tensor:
    """A new tensor holding `data` (scalars, nested lists, NumPy/CuPy arrays or a Tensor).

    Python floats become float32 and Python ints int64 unless `dtype` says otherwise; NumPy arrays
    keep their dtype. `device` defaults to the current default device.
    """
    out = convert(data, dtype=dtype, device=device)
    return out._snapshot()  # a Variable's value now, not an alias of the Variable


_ops = None  # accel.ops, which builds on Tensor: it registers itself with bind_operators
_recording = None  # accel.recording (which imports this module), handed over with the operators


def _method(op, name: str, record) -> object:
    """Tensor's method `name` for `op` (the forms of table.OpRecord.methods): `__r<x>__` is the
    reflected form of `__<x>__` when the record lists both."""
    if name.startswith("@"):
        return property(op, doc=op.__doc__)
    if name.endswith("*"):  # t.reshape(2, 3) and t.reshape((2, 3)); t.transpose() is the default
        def collecting(self, *args):
            return op(self, args[0] if len(args) == 1 else args or None)
        collecting.__name__ = collecting.__qualname__ = name[:-1]
        collecting.__doc__ = op.__doc__
        return collecting
    if name.startswith("__r") and "__" + name[3:] in record.methods and not record.commutative:
        def reflected(self, other):
            return op(other, self)
        reflected.__name__ = reflected.__qualname__ = name
        return reflected
    return op


def bind_operators(ops) -> None:
    """The hook accel.ops calls once it is built: Tensor's operators and methods are the ops'
    `methods` in the op table. An op bound as a method is the op itself (no wrapper frame per
    call); a reflected operator (__rsub__) swaps the operands, except for commutative ops, whose
    reflected form is the op (addition and multiplication are exactly commutative in IEEE)."""
    global _ops, _recording
    _ops, _recording = ops, ops._core.recording
    for record in ops.registry.values():
        for name in record.methods:
            attribute = name.lstrip("@").rstrip("*")
            setattr(Tensor, attribute, _method(record.fn, name, record))
