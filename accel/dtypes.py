"""The dtypes accel supports, and how user spellings map onto them.

Dtypes are NumPy dtype objects (`accel.float32 is numpy.dtype("float32")`), so they compare equal
to their names (`x.dtype == "float32"`) and mean the same on CPU and GPU.
"""

from __future__ import annotations

import numpy

SUPPORTED = tuple(
    numpy.dtype(name)
    for name in ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64", "uint16",
                 "uint32", "uint64", "complex64", "complex128")
)  # (the unsigned types wider than uint8 and the complex ones came with the Array API standard:
# kept last, so the order of the dtypes accel had before is unchanged)
_BY_KEY = {dt: dt for dt in SUPPORTED}
_BY_KEY.update({dt.name: dt for dt in SUPPORTED})
_BY_KEY.update({float: numpy.dtype("float32"), int: numpy.dtype("int64"), bool: numpy.dtype("bool"),
                complex: numpy.dtype("complex64")})

DEFAULT_FLOAT = numpy.dtype("float32")
DEFAULT_COMPLEX = numpy.dtype("complex64")  # Python complex numbers: the default float's width, twice
DEFAULT_INT = numpy.dtype("int64")


def as_dtype(dtype, argument: str = "dtype", default=None) -> numpy.dtype:
    """The supported dtype that `dtype` names (a name, a NumPy dtype or scalar type, a Python type);
    None means `default` (every `dtype=None` parameter in accel means its documented default).

    Raises TypeError naming `argument` and the supported dtypes otherwise.
    """
    if dtype is None:  # numpy.dtype(None) is float64: never a silent default
        if default is None:
            raise TypeError(f"{argument}: a dtype is required, got None")
        dtype = default
    found = _BY_KEY.get(dtype)
    if found is None:
        try:
            found = _BY_KEY.get(numpy.dtype(dtype))
        except TypeError:
            found = None
    if found is None:
        names = ", ".join(dt.name for dt in SUPPORTED)
        raise TypeError(f"{argument}: unsupported dtype {dtype!r}; expected one of {names}")
    return found


def is_floating(dtype) -> bool:
    """Whether values of `dtype` are real floating point: what optimizers, initializers and losses
    take. A new floating dtype (bfloat16 through ml_dtypes) is added here."""
    return dtype.kind == "f"


def is_real_number(dtype) -> bool:
    """Whether values of `dtype` are real numbers: floating or integral (not bool, not complex)."""
    return is_floating(dtype) or dtype.kind in "iu"


def sum_dtype(dtype):
    """The dtype the Array API sums (and multiplies) `dtype` in when none is given: integers and
    bools narrower than 64 bits widen to the default integer's width (unsigned stay unsigned);
    None for any other dtype (it keeps its own)."""
    if dtype.kind in "biu" and dtype.itemsize < 8:
        return numpy.dtype("uint64" if dtype.kind == "u" else "int64")
    return None


def is_complex(dtype) -> bool:
    """Whether values of `dtype` are complex numbers (complex64, complex128)."""
    return dtype.kind == "c"


def is_differentiable(dtype) -> bool:
    """Whether tapes differentiate values of `dtype`: the real floating dtypes and the complex
    ones (TensorFlow's convention for complex gradients: accel.autodiff.complex_grads). THE
    predicate of autodiff: tapes, the walk and accel.function ask it; everything that means "a
    real number" (optimizers, initializers, losses) asks is_floating."""
    return dtype.kind in "fc"


FLOATING = tuple(dt for dt in SUPPORTED if is_floating(dt))  # the floating dtypes, narrowest first
COMPLEX = tuple(dt for dt in SUPPORTED if is_complex(dt))
DIFFERENTIABLE = FLOATING + COMPLEX
