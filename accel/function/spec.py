"""What shares a trace: TensorSpec, the key of a call, and how reduce_retracing widens specs.

A call's key is its bound arguments with every tensor replaced by a TensorSpec (shape, dtype,
device, and whether it is a Variable) and every other Python value kept as it is (keyed by ==
and hash, so 1, 1.0 and True share a trace, as in TensorFlow). Lists and tuples stay
different; dicts are keyed in sorted order. docs/semantics.md section 14 has the rules.
"""

from __future__ import annotations

import numpy

from .. import dtypes
from ..nest import composite_parts, is_composite
from ..tensor import Tensor, convert
from ..variable import Variable

__all__ = ["TensorSpec", "call_key", "covers", "widen", "spec_of"]


class TensorSpec:
    """The shape and dtype a traced function accepts for one argument: `shape` a sequence of
    ints and None (any size), or None (any rank)."""

    __slots__ = ("shape", "dtype", "name", "_variable", "_device")

    def __init__(self, shape, dtype=None, name=None):
        if shape is not None:
            try:
                shape = tuple(None if n is None else int(n) for n in shape)
            except TypeError:
                raise TypeError(f"TensorSpec: shape must be a sequence of ints and None, or None, "
                                f"got {shape!r}") from None
            if any(n is not None and n < 0 for n in shape):
                raise ValueError(f"TensorSpec: dimensions must be >= 0 or None, got {shape!r}")
        self.shape = shape
        self.dtype = dtypes.as_dtype(dtype, "TensorSpec dtype", default="float32")
        self.name = name
        self._variable = False
        self._device = None  # None: any device (an input_signature's spec)

    @classmethod
    def from_tensor(cls, tensor: Tensor) -> "TensorSpec":
        spec = cls(tensor.shape, tensor.dtype)
        spec._variable = isinstance(tensor, Variable)
        spec._device = tensor.device
        return spec

    def _key(self):
        return (self.shape, self.dtype.str, self._variable, self._device)

    def __eq__(self, other):
        return isinstance(other, TensorSpec) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def is_compatible_with(self, tensor_or_spec) -> bool:
        """Whether a tensor (or a narrower spec) fits this spec."""
        other = tensor_or_spec
        if not isinstance(other, TensorSpec):
            other = TensorSpec.from_tensor(other)
        if other.dtype != self.dtype or other._variable != self._variable:
            return False
        if self._device is not None and other._device != self._device:
            return False
        if self.shape is None:
            return True
        if other.shape is None or len(other.shape) != len(self.shape):
            return False
        return all(n is None or n == m for n, m in zip(self.shape, other.shape))

    def __repr__(self) -> str:
        dims = "None" if self.shape is None else ", ".join("None" if n is None else str(n) for n in self.shape)
        shape = dims if self.shape is None else f"[{dims}]"
        kind = "VariableSpec" if self._variable else "TensorSpec"
        name = f", name={self.name!r}" if self.name else ""
        return f"{kind}(shape={shape}, dtype={self.dtype.name}{name})"


def _is_tensor_like(value) -> bool:
    """Tensors, and NumPy arrays and scalars (which TensorFlow converts to tensors)."""
    return isinstance(value, (Tensor, numpy.ndarray, numpy.generic))


def as_tensor(value):
    return value if isinstance(value, Tensor) else convert(value)


class _Unhashable:
    """A Python value without a hash (an arbitrary object): keyed by identity."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __eq__(self, other):
        return isinstance(other, _Unhashable) and other.value is self.value

    def __hash__(self):
        return id(self.value)


_TENSOR = object()  # marks a tensor's key: (_TENSOR, shape, dtype, is a Variable, device)


def _tensor_key(tensor: Tensor) -> tuple:
    data = tensor._data
    return (_TENSOR, data.shape, data.dtype.str, tensor.__class__ is not Tensor and isinstance(tensor, Variable),
            tensor._device)


def _key_spec(key: tuple) -> TensorSpec:
    spec = TensorSpec(key[1], key[2])
    spec._variable, spec._device = key[3], key[4]
    return spec


def spec_of(value, tensors: list):
    """The key of one argument; its tensors (NumPy arrays converted) appended to `tensors`. A
    tensor's key is a plain tuple (cheap to build and compare on every call); a TensorSpec
    (get_concrete_function's placeholder, a widened trace) is its own key."""
    if value.__class__ is Tensor:
        tensors.append(value)
        return _tensor_key(value)
    if isinstance(value, TensorSpec):
        return value
    if _is_tensor_like(value):
        tensor = as_tensor(value)
        tensors.append(tensor)
        return _tensor_key(tensor)
    if is_composite(value):  # IndexedSlices: keyed by its kind, static facts and component tensors
        parts, static = composite_parts(value)
        return ("composite", type(value), static) + tuple(spec_of(v, tensors) for v in parts)
    if isinstance(value, list):
        return ("list",) + tuple(spec_of(v, tensors) for v in value)
    if isinstance(value, tuple):
        return ("tuple",) + tuple(spec_of(v, tensors) for v in value)
    if isinstance(value, dict):
        return ("dict",) + tuple((k, spec_of(value[k], tensors)) for k in sorted(value))
    try:
        hash(value)
    except TypeError:
        return _Unhashable(value)
    return ("py", value)


def readable(key):
    """A key with TensorSpecs for its tensors and plain values for its Python values: what
    ConcreteFunction.structured_input_signature shows."""
    if isinstance(key, TensorSpec):
        return key
    if isinstance(key, tuple) and key:
        if key[0] is _TENSOR:
            return _key_spec(key)
        if key[0] == "py" and len(key) == 2:
            return key[1]
        if key[0] in ("list", "tuple"):
            items = [readable(k) for k in key[1:]]
            return items if key[0] == "list" else tuple(items)
        if key[0] == "dict":
            return {k: readable(v) for k, v in key[1:]}
    if isinstance(key, _Unhashable):
        return key.value
    return key


def call_key(bound_arguments: dict) -> tuple:
    """(key, tensors): the key of a call's bound arguments and its tensors in key order."""
    tensors: list = []
    key = tuple((name, spec_of(value, tensors)) for name, value in bound_arguments.items())
    return key, tensors


def _walk2(a, b, leaf):
    """Apply `leaf(spec_a, spec_b)` over two keys of one structure; None if the structures or
    Python values differ."""
    if isinstance(a, tuple) and a and a[0] is _TENSOR:
        a = _key_spec(a)
    if isinstance(b, tuple) and b and b[0] is _TENSOR:
        b = _key_spec(b)
    if isinstance(a, TensorSpec) or isinstance(b, TensorSpec):
        if not (isinstance(a, TensorSpec) and isinstance(b, TensorSpec)):
            return None
        return leaf(a, b)
    if isinstance(a, tuple) and isinstance(b, tuple):
        if len(a) != len(b):
            return None
        if a and a[0] == "py":
            return a if b == a else None
        out = []
        for x, y in zip(a, b):
            r = _walk2(x, y, leaf)
            if r is None:
                return None
            out.append(r)
        return tuple(out)
    return a if a == b else None


def _cover_leaf(spec: TensorSpec, call: TensorSpec):
    return spec if spec.is_compatible_with(call) else None


def covers(trace_key, call_key_) -> bool:
    """Whether a trace made for `trace_key` accepts a call keyed `call_key_`."""
    return _walk2(trace_key, call_key_, _cover_leaf) is not None


def _widen_leaf(a: TensorSpec, b: TensorSpec):
    if a.dtype != b.dtype or a._variable != b._variable or a._device != b._device:
        return None
    if a.shape is None or b.shape is None or len(a.shape) != len(b.shape):
        shape = None
    else:
        shape = tuple(n if n == m else None for n, m in zip(a.shape, b.shape))
    out = TensorSpec(shape, a.dtype)
    out._variable, out._device = a._variable, a._device
    return out


def widen(key, other):
    """`key` generalised against `other` (reduce_retracing): dimensions that differ become None,
    ranks that differ become unknown; None if the two cannot share a trace (other Python values,
    structures, dtypes or devices)."""
    return _walk2(key, other, _widen_leaf)
