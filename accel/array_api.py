"""accel as a Python Array API namespace (the 2024.12 standard): what identifies it and describes
its dtypes. `Tensor.__array_namespace__()` returns the `accel` module itself (as NumPy's and
CuPy's arrays return theirs), so libraries that dispatch on the standard (array_api_compat,
scikit-learn's array_api_dispatch) take accel tensors; the functions are accel's own ops.

Data types follow the standard's promotion lattice (`result_type`, `can_cast`): within a kind
the wider wins, int with uint widens to the signed type that holds both, bool and the floating
kinds do not mix with the others; Python scalars take the array's dtype (NumPy 2's rule, as
accel's ops do).
"""

from __future__ import annotations

import dataclasses

import numpy

from . import dtypes
from .device import default_device, devices, get_device

__all__ = ["__array_api_version__", "__array_namespace_info__", "broadcast_shapes", "finfo", "iinfo", "isdtype",
           "can_cast", "result_type", "Info"]

__array_api_version__ = "2024.12"

_KINDS = {
    "bool": lambda dt: dt.kind == "b",
    "signed integer": lambda dt: dt.kind == "i",
    "unsigned integer": lambda dt: dt.kind == "u",
    "integral": lambda dt: dt.kind in "iu",
    "real floating": dtypes.is_floating,
    "complex floating": dtypes.is_complex,
    "numeric": lambda dt: dt.kind != "b",
}


def _dtype_of(value, where: str) -> numpy.dtype:
    """The accel dtype of a dtype or a tensor (TypeError naming `where` for anything else)."""
    from .tensor import Tensor

    if isinstance(value, Tensor):
        return value.dtype
    return dtypes.as_dtype(value, where)


def isdtype(dtype, kind) -> bool:
    """Whether `dtype` is of `kind`: a dtype, one of the standard's kind names ('bool', 'signed
    integer', 'unsigned integer', 'integral', 'real floating', 'complex floating', 'numeric'), or
    a tuple of them (any)."""
    dt = dtypes.as_dtype(dtype, "isdtype: dtype")
    if isinstance(kind, tuple):
        return any(isdtype(dt, k) for k in kind)
    if isinstance(kind, str):
        test = _KINDS.get(kind)
        if test is None:
            raise ValueError(f"isdtype: unknown kind {kind!r}; expected a dtype or one of {', '.join(_KINDS)}")
        return test(dt)
    return dt == dtypes.as_dtype(kind, "isdtype: kind")


def _promote(a: numpy.dtype, b: numpy.dtype) -> numpy.dtype | None:
    """The standard's promotion of two dtypes, or None where it defines none (bool with numbers,
    integers with floats)."""
    if a == b:
        return a
    if a.kind == "b" or b.kind == "b":
        return None
    if (a.kind in "iu") != (b.kind in "iu"):  # an integer with a float: no promotion
        return None
    if a.kind not in "iu":  # two floating kinds, real or complex: NumPy's promotion is the standard's
        return numpy.promote_types(a, b)
    if a.kind == b.kind:
        return a if a.itemsize >= b.itemsize else b
    signed, unsigned = (a, b) if a.kind == "i" else (b, a)
    if signed.itemsize > unsigned.itemsize:
        return signed
    wider = {1: "int16", 2: "int32", 4: "int64"}.get(unsigned.itemsize)
    return None if wider is None else numpy.dtype(wider)  # uint64 with a signed type: none


def result_type(*arrays_and_dtypes):
    """The dtype the standard's promotion gives these tensors, dtypes and Python scalars (a scalar
    takes the others' dtype when its kind fits it: bool, int for integers and floats, float for
    floats). TypeError where the standard defines no promotion."""
    if not arrays_and_dtypes:
        raise ValueError("result_type: at least one array or dtype is required")
    found, scalars = None, []
    for value in arrays_and_dtypes:
        if isinstance(value, (bool, int, float, complex)):
            scalars.append(value)
            continue
        dt = _dtype_of(value, "result_type")
        if found is None:
            found = dt
        else:
            promoted = _promote(found, dt)
            if promoted is None:
                raise TypeError(f"result_type: {found.name} and {dt.name} have no promotion in the Array API standard")
            found = promoted
    if found is None:
        raise ValueError("result_type: Python scalars alone have no result type (give an array or a dtype)")
    for scalar in scalars:
        if not _scalar_fits(scalar, found):
            raise TypeError(f"result_type: a Python {type(scalar).__name__} does not combine with {found.name}")
    return found


def _scalar_fits(scalar, dtype) -> bool:
    """Whether a Python scalar takes `dtype` (the standard's rule: bool with bool, int with numbers
    but bool, float with the floating kinds, complex with complex)."""
    if isinstance(scalar, bool):
        return dtype.kind == "b"
    if isinstance(scalar, int):
        return dtype.kind in "iu" or dtypes.is_floating(dtype) or dtypes.is_complex(dtype)
    if isinstance(scalar, float):
        return dtypes.is_floating(dtype) or dtypes.is_complex(dtype)
    return dtypes.is_complex(dtype)


def can_cast(from_, to, /) -> bool:
    """Whether `from_` (a dtype or a tensor) promotes to `to` under the standard's rules."""
    source, target = _dtype_of(from_, "can_cast: from_"), dtypes.as_dtype(to, "can_cast: to")
    promoted = _promote(source, target)
    return promoted is not None and promoted == target  # (numpy.dtype("float64") == None is True)


def broadcast_shapes(*shapes) -> tuple:
    """The shape these shapes broadcast to (NumPy's rules); ValueError naming them otherwise."""
    try:
        return tuple(int(n) for n in numpy.broadcast_shapes(*(tuple(s) for s in shapes)))
    except ValueError:
        raise ValueError(f"broadcast_shapes: {', '.join(str(tuple(s)) for s in shapes)} do not broadcast") from None


@dataclasses.dataclass(frozen=True)
class finfo_object:  # noqa: N801  (the standard's name for what finfo returns)
    bits: int
    eps: float
    max: float
    min: float
    smallest_normal: float
    dtype: numpy.dtype


@dataclasses.dataclass(frozen=True)
class iinfo_object:  # noqa: N801
    bits: int
    max: int
    min: int
    dtype: numpy.dtype


def finfo(type, /) -> finfo_object:  # noqa: A002  (the standard's parameter name)
    """Machine limits of a floating dtype (or of a tensor's): bits, eps, max, min, smallest_normal
    as Python floats, and the dtype."""
    dt = _dtype_of(type, "finfo")
    if dt.kind not in "fc":
        raise TypeError(f"finfo: expected a floating dtype, got {dt.name} (iinfo describes integers)")
    info = numpy.finfo(dt)  # of a complex dtype: its real part's (the standard's rule)
    return finfo_object(int(info.bits), float(info.eps), float(info.max), float(info.min),
                        float(info.smallest_normal), numpy.dtype(info.dtype))


def iinfo(type, /) -> iinfo_object:  # noqa: A002
    """Limits of an integer dtype (or of a tensor's): bits, max, min as Python ints, and the dtype."""
    dt = _dtype_of(type, "iinfo")
    if dt.kind not in "iu":
        raise TypeError(f"iinfo: expected an integer dtype, got {dt.name} (finfo describes floats)")
    info = numpy.iinfo(dt)
    return iinfo_object(int(info.bits), int(info.max), int(info.min), dt)


class Info:
    """What `__array_namespace_info__()` returns: accel's capabilities, devices and dtypes."""

    __module__ = "accel"

    def capabilities(self) -> dict:
        """Boolean-mask indexing and value-dependent output shapes (nonzero, unique) work; arrays
        have up to 64 dimensions (NumPy's limit)."""
        return {"boolean indexing": True, "data-dependent shapes": True, "max dimensions": 64}

    def default_device(self):
        return default_device()

    def default_dtypes(self, *, device=None) -> dict:
        """accel's defaults: float32 for Python floats (TensorFlow's, not NumPy's float64), complex64
        for Python complex numbers, int64 for Python ints and indices."""
        if device is not None:
            get_device(device)
        return {"real floating": dtypes.DEFAULT_FLOAT, "complex floating": dtypes.DEFAULT_COMPLEX,
                "integral": dtypes.DEFAULT_INT, "indexing": dtypes.DEFAULT_INT}

    def devices(self) -> list:
        return devices()

    def dtypes(self, *, device=None, kind=None) -> dict:
        """{name: dtype} of the standard's dtypes (of `kind`, as isdtype takes it): accel's float16
        is not one of them (it has no place in the standard's promotion lattice), so it is not listed."""
        if device is not None:
            get_device(device)
        return {dt.name: dt for dt in dtypes.SUPPORTED
                if dt != numpy.float16 and (kind is None or isdtype(dt, kind))}


def __array_namespace_info__() -> Info:
    return Info()
