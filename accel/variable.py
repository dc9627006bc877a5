"""Variable: the one mutable kind of tensor (TensorFlow's tf.Variable).

Its `assign*` methods (and optimizer steps) write into its array in place, so the array is the
variable's for life; before a write, values that recorded ops captured get a copy of the old
value (copy-on-write, `_before_write`). This replaces a version counter: nothing needs to compare
versions, because no recorded value can go stale. `v[index]` is a VariableSlice, whose assign*
write into those elements; the in-place operators (`v += x`) are writes too.
"""

from __future__ import annotations

import numpy

from .device import CPU, Device, array_device
from .tensor import Tensor, convert, is_device_array

__all__ = ["Variable", "VariableSlice"]

_ops = None  # accel.ops, which builds on Variable: it hands itself over with bind_writes
_recording = None  # accel.recording, handed over with the ops


class Variable(Tensor):
    """A mutable, optionally trainable tensor: model parameters and optimizer state.

    Usable wherever a Tensor is. Reading a trainable Variable inside a `GradientTape` watches it
    (unless the tape was made with ``watch_accessed_variables=False``).

    constraint: a callable an optimizer applies after each update, as Keras and TensorFlow do:
    the variable takes ``constraint(variable)`` (e.g. ``lambda w: accel.maximum(w, 0.0)``).
    """

    __slots__ = ("name", "trainable", "_captures", "_constraint")
    _any_constraint = False  # whether any Variable was given one: optimizers skip the check until then

    def __init__(self, initial_value, trainable: bool = True, name: str | None = None,
                 dtype=None, device=None, constraint=None):
        if constraint is not None and not callable(constraint):
            raise TypeError(f"Variable: constraint must be a callable (variable -> tensor) or None, got {constraint!r}")
        if callable(initial_value):
            initial_value = initial_value()
        source = convert(initial_value, dtype=dtype, device=device)
        data = source._data
        if data is initial_value or isinstance(initial_value, Tensor) and data is initial_value._data:
            with source._device.activate():
                data = data.copy()  # a Variable owns its buffer: later in-place writes stay private
        super().__init__(data, source._device)
        self.name = name
        self.trainable = bool(trainable)
        self._captures = []  # weak references to recorded values that share our array
        self.constraint = constraint
        trace = _recording.state.trace if _recording is not None else None
        if trace is not None:  # accel.function: created while tracing (allowed on the first trace)
            trace.variable_created(self)

    @classmethod
    def _wrap(cls, data, device: Device, name=None, trainable=True) -> "Variable":
        """A Variable over an existing array, without copying (an optimizer's slot)."""
        var = Tensor.__new__(cls)
        Tensor.__init__(var, data, device)
        var.name, var.trainable, var._captures, var._constraint = name, bool(trainable), [], None
        return var

    @property
    def constraint(self):
        """The callable applied after each optimizer update (None: none)."""
        return self._constraint

    @constraint.setter
    def constraint(self, value) -> None:
        if value is not None and not callable(value):
            raise TypeError(f"Variable.constraint must be a callable (variable -> tensor) or None, got {value!r}")
        if value is not None:
            Variable._any_constraint = True
        self._constraint = value

    def _before_write(self) -> None:
        """Call before writing into the array in place: recorded values that share it get a copy
        of the old value first (copy-on-write: free when nothing recorded the current value)."""
        captures = self._captures
        if captures:
            old = None
            for ref in captures:
                cap = ref()
                if cap is not None and cap._data is self._data:
                    if old is None:
                        with self._device.activate():
                            old = self._data.copy()
                    cap._data = old
            captures.clear()

    def value(self) -> Tensor:
        """A snapshot of the current value (recorded on tapes like any read)."""
        return _ops.identity(self)

    read_value = value
    _snapshot = value  # accel.tensor(v): the value now, not an alias of v

    def _check_value(self, value, method: str, shape=None):
        """`value` as an array of this variable's dtype and device, shaped like the variable (or
        `shape`, the elements being written) or a scalar."""
        shape = self.shape if shape is None else tuple(shape)
        if value is None:
            raise TypeError(f"Variable.{method}: value must be a tensor, an array or a number, got None")
        if isinstance(value, Tensor):
            if value._device != self._device:
                raise ValueError(
                    f"Variable.{method}: value is on {value._device} but variable "
                    f"{self.name or ''!s} is on {self._device}"
                )
            if value.dtype != self.dtype:
                raise TypeError(
                    f"Variable.{method}: value has dtype {value.dtype.name}, expected "
                    f"{self.dtype.name} (cast it with .astype first)"
                )
            data = value._data
        elif is_device_array(value):  # a CuPy array: NumPy cannot read it
            source = value.device.id
            if array_device(value) != self._device:
                raise ValueError(f"Variable.{method}: value is an array on cuda:{source} but variable "
                                 f"{self.name or ''!s} is on {self._device}")
            with self._device.activate():
                data = self._device.xp.asarray(value, dtype=self.dtype)
        else:
            data = self._device.send(numpy.asarray(value, dtype=self.dtype))
        if data.shape != shape and data.ndim != 0:
            raise ValueError(
                f"Variable.{method}: value has shape {tuple(data.shape)}, expected "
                f"{tuple(shape)} (or a scalar)"
            )
        return data

    # -- writing some elements (TensorFlow's sliced assignment and scatter_nd_*) ---------------------
    def __getitem__(self, index):
        """v[index]: its value there (recorded like any read), which can also be assigned to:
        `v[1:].assign(x)`, `v[0, :2].assign_add(d)` write into those elements of v."""
        return VariableSlice._wrap(_ops.getitem(self, index), self, index)

    def _write_at(self, index, value, method: str) -> "Variable":
        index = _ops.indexing.normalize_index(index, self._device, f"Variable.{method}")
        data = self._check_value(value, method, self._data[index].shape)  # v[index] was read: it is valid
        self._before_write()
        with self._device.activate():
            if method == "assign":
                self._data[index] = data
            elif method == "assign_add":
                self._data[index] += data
            else:
                self._data[index] -= data
        return self

    def scatter_nd_update(self, indices, updates) -> "Variable":
        """Write `updates` at the rows of `indices` (TensorFlow's Variable.scatter_nd_update:
        indices shape [..., depth], updates indices.shape[:-1] + shape[depth:]), in place."""
        return self._scatter_nd(indices, updates, "scatter_nd_update")

    def scatter_nd_add(self, indices, updates) -> "Variable":
        """Add `updates` at the rows of `indices` in place (repeated indices add up)."""
        return self._scatter_nd(indices, updates, "scatter_nd_add")

    def _scatter_nd(self, indices, updates, method: str) -> "Variable":
        index = _ops.indexing.nd_index(indices, self.shape, self._device, f"Variable.{method}")
        expected = tuple(index[0].shape) + tuple(self.shape[len(index):])
        data = self._check_value(updates, method, expected)
        self._before_write()
        with self._device.activate():
            if method == "scatter_nd_update":
                self._data[index] = data
            elif hasattr(self._device.xp.add, "at"):
                self._device.xp.add.at(self._data, index, data)
            else:  # older CuPy
                import cupyx

                cupyx.scatter_add(self._data, index, data)
        return self

    def assign(self, value) -> "Variable":
        """Write `value` (same shape and dtype, or a scalar) into the variable in place."""
        data = self._check_value(value, "assign")
        self._before_write()
        with self._device.activate():
            self._data[...] = data
        return self

    def assign_add(self, delta) -> "Variable":
        data = self._check_value(delta, "assign_add")
        self._before_write()
        with self._device.activate():
            self._data += data
        return self

    def assign_sub(self, delta) -> "Variable":
        data = self._check_value(delta, "assign_sub")
        self._before_write()
        with self._device.activate():
            self._data -= data
        return self

    def __repr__(self) -> str:
        values = numpy.array2string(CPU.send(self._data), separator=", ", prefix="Variable(")
        return (f"Variable({self.name!r}, {values}, dtype={self.dtype.name}, "
                f"device={self._device}, trainable={self.trainable})")


def _in_place(op_name: str, symbol: str):
    """Variable's `v <symbol>= y`: a write of `v <symbol> y` into v (as assign: copy-on-write for
    values a tape captured). The Array API's in-place operators: the result must keep v's dtype and
    shape, else an error before anything is written."""

    def method(self, other):
        result = getattr(_ops, op_name)(self, other)
        if result.dtype != self.dtype:
            raise TypeError(f"v {symbol}= y: the result is {result.dtype.name} but the Variable is {self.dtype.name} "
                            "(an in-place operation cannot change its dtype)")
        if result.shape != self.shape:
            raise ValueError(f"v {symbol}= y: the result has shape {tuple(result.shape)} but the Variable "
                             f"{tuple(self.shape)} (an in-place operation cannot change its shape)")
        return self.assign(result)

    method.__name__ = f"__i{op_name}__"
    return method


for _op_name, _symbol, _dunder in (
        ("add", "+", "add"), ("subtract", "-", "sub"), ("multiply", "*", "mul"), ("divide", "/", "truediv"),
        ("floor_divide", "//", "floordiv"), ("mod", "%", "mod"), ("power", "**", "pow"),
        ("bitwise_and", "&", "and"), ("bitwise_or", "|", "or"), ("bitwise_xor", "^", "xor"),
        ("left_shift", "<<", "lshift"), ("right_shift", ">>", "rshift"), ("matmul", "@", "matmul")):
    setattr(Variable, f"__i{_dunder}__", _in_place(_op_name, _symbol))
del _op_name, _symbol, _dunder


class VariableSlice(Tensor):
    """`variable[index]`: the value of those elements (a tensor like any other, recorded on tapes),
    plus `assign`, `assign_add` and `assign_sub`, which write into the variable's elements there
    and return the variable (TensorFlow's sliced assignment)."""

    __slots__ = ("_variable", "_index")

    @classmethod
    def _wrap(cls, value: Tensor, variable: "Variable", index) -> "VariableSlice":
        out = Tensor.__new__(cls)
        out._data, out._device, out._node, out._tapes = value._data, value._device, value._node, value._tapes
        out._variable, out._index = variable, index
        return out

    def assign(self, value) -> "Variable":
        return self._variable._write_at(self._index, value, "assign")

    def assign_add(self, delta) -> "Variable":
        return self._variable._write_at(self._index, delta, "assign_add")

    def assign_sub(self, delta) -> "Variable":
        return self._variable._write_at(self._index, delta, "assign_sub")


def _the_variable(variable, *args, **kwargs):
    """What a Variable write returns while a function traces (the write itself runs later)."""
    return variable


def bind_writes(ops) -> None:
    """The hook accel.ops calls once it is built (as tensor.bind_operators): inside accel.function a
    Variable write is an effect (recorded while tracing, run on every call) and reading elements
    (v[i], which can be assigned to) is one step."""
    global _ops, _recording
    _ops, _recording = ops, ops._core.recording
    traceable = ops._core.traceable
    for name in ("assign", "assign_add", "assign_sub", "_write_at", "_scatter_nd"):
        setattr(Variable, name, traceable(getattr(Variable, name), effect=_the_variable))
    Variable.__getitem__ = traceable(Variable.__getitem__)
