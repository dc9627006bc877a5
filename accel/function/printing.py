"""print: TensorFlow's tf.print. Values are written separated by `sep` and followed by `end`, to
the process's stderr (file descriptor 2, as TensorFlow's C++ logging writes) unless
`output_stream` names sys.stdout, sys.stderr or another writable stream.

A tensor prints its values without dtype or shape: scalars as numbers, arrays in nested brackets
with spaces between elements and rows on their own lines (`[[1 2]\\n [3 4]]`); a dimension longer
than 2 * summarize shows its first and last `summarize` entries around "..." (summarize=-1:
everything). Floats take the fewest of 6 (float16/32) or 15 (float64) significant digits that
read back exactly, else 9 / 17 ("37.3375", "19.8264446", "37.337500000000006"; -4.0 prints
"-4"); booleans print as 1 and 0. Other values print as str() does.
"""

from __future__ import annotations

import os
import sys

import numpy

from ..device import CPU
from ..ops._core import defop
from ..tensor import Tensor
from ..dtypes import is_floating

__all__ = ["print"]


def _float(value, dtype) -> str:
    short, long = (15, 17) if dtype == numpy.float64 else (6, 9)
    text = f"{value:.{short}g}"
    if dtype.type(text) != value and not numpy.isnan(value):
        text = f"{value:.{long}g}"
    return text


def _scalar(value, dtype) -> str:
    if is_floating(dtype):
        return _float(value, dtype)
    if dtype.kind == "b":
        return "1" if value else "0"
    return str(value)


def _array(array, summarize: int, indent: int = 0) -> str:
    if array.ndim == 0:
        return _scalar(array[()], array.dtype)
    n = array.shape[0]
    shown = range(n) if summarize < 0 or n <= 2 * summarize else \
        [*range(summarize), None, *range(n - summarize, n)]
    parts = ["..." if i is None else _array(array[i], summarize, indent + 1) for i in shown]
    separator = " " if array.ndim == 1 else "\n" + " " * (indent + 1)
    return "[" + separator.join(parts) + "]"


def format_value(value, summarize: int = 3) -> str:
    """How print writes one value."""
    if isinstance(value, Tensor):
        return _array(CPU.send(value._data), summarize)
    if isinstance(value, numpy.ndarray):
        return _array(value, summarize)
    if isinstance(value, (float, numpy.floating)):
        dtype = numpy.dtype(type(value)) if isinstance(value, numpy.floating) else numpy.dtype(numpy.float64)
        return _float(float(value), dtype)
    if isinstance(value, (list, tuple)):
        inner = ", ".join(format_value(v, summarize) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner}{',' if len(value) == 1 else ''})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {format_value(v, summarize)}" for k, v in value.items()) + "}"
    return str(value)


@defop("printing", kind="effect", effect=True, namespace="function", differentiable=False)  # printed on every call
def print(*inputs, output_stream=None, summarize: int = 3, sep: str = " ", end: str = "\n") -> None:  # noqa: A001
    """Writes `inputs` (tensors, arrays, Python values and containers of them)."""
    if isinstance(summarize, bool) or not isinstance(summarize, int) or summarize < -1:
        raise ValueError(f"print: summarize must be an int >= -1, got {summarize!r}")
    text = sep.join(format_value(v, summarize) for v in inputs) + end
    if output_stream is None:
        sys.stderr.flush()
        os.write(2, text.encode())
    elif hasattr(output_stream, "write"):
        output_stream.write(text)
    else:
        raise TypeError(f"print: output_stream must be a writable stream, got {type(output_stream).__name__}")

