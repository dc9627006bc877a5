"""accel's ops: one module per family, each op one record of the op table (table.py), its
forward beside its VJPs. The names below are the table's: importing the families fills it, and
`__all__` (so `from accel import *` and the top-level exports) is every op of the `ops` namespace
with its aliases."""

import sys as _sys

from .. import tensor as _tensor, variable as _variable
from . import table as _table
from . import (activations, attention, classification, conversion, convolution, convolution_core,  # noqa: F401
               complex_parts, creation, decompositions, einsum, elementwise, fft, indexing, linalg, manipulation,
               matrix_functions, noise, normalization, padding, pooling, reduce, rounding, scan, searching, shape,
               sorting, svd, trigonometry, windows)
from . import numpy_protocol  # noqa: F401,E402

registry = _table.registry  # name -> OpRecord, read-only

__all__ = []
for _record in registry.values():
    if _record.namespace == "ops":
        for _name in (_record.name, *_record.aliases):
            globals()[_name] = _record.fn
            __all__.append(_name)
__all__.sort()
del _record, _name

# Tensor's operators and methods are the ops' `methods`: bind them (tensor.py does the binding);
# Variable's writes become steps of accel.function's traces (variable.py).
_tensor.bind_operators(_sys.modules[__name__])
_variable.bind_writes(_sys.modules[__name__])
