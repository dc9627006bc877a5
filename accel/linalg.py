"""accel.linalg: the Array API standard's linear algebra extension (`xp.linalg`), every function
an op of the op table (namespace "linalg": ops/decompositions.py, ops/matrix_functions.py) plus
the four the standard puts in both namespaces (matmul, matrix_transpose, tensordot, vecdot).
Stacked matrices (..., M, N) throughout; real and complex floating dtypes (integers computed in
float64)."""

from .ops import registry as _registry
from .ops.linalg import matmul, tensordot, vecdot
from .ops.shape import matrix_transpose

__all__ = ["matmul", "matrix_transpose", "tensordot", "vecdot"]
for _record in _registry.values():
    if _record.namespace == "linalg":
        globals()[_record.name] = _record.fn
        __all__.append(_record.name)
__all__.sort()
del _record
