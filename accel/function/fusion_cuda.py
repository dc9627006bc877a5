"""Fused elementwise chains on CUDA devices: one generated kernel per chain, compiled by CuPy
(NVRTC) once per chain signature (expression, dtype) and cached.

fusion.py plans the chains for every device; on a CUDA device a chain becomes this kernel: a
grid-stride loop over the output's elements, each operand a contiguous array of the output's
shape (indexed by the element) or a 0-d array (index 0), each Python constant a kernel argument
of the chain's dtype. The expression is the numexpr form of fusion.py translated to CUDA C (the
same forms, so the two backends cannot drift; the names: ops/table.py MATH_FUNCTIONS):
single-precision chains call the `f`-suffixed math functions (sinf, tanhf, ...), as CuPy's own
float32 kernels do.
"""

from __future__ import annotations

import re

import numpy

from ..ops.table import MATH_FUNCTIONS

__all__ = ["CudaFused", "source", "KERNEL_NAME"]

_THREADS = 256
_MAX_BLOCKS = 65535
KERNEL_NAME = "accel_fused"
_C_TYPES = {numpy.dtype("float32"): "float", numpy.dtype("float64"): "double"}
_cache: dict = {}  # (device, source) -> compiled kernel


def translate(expression: str, dtype: numpy.dtype, scalar_leaves: set) -> str:
    """A numexpr form as CUDA C: math functions for the dtype, where() as a select, leaves
    indexed (arrays by the element, 0-d arrays at 0)."""
    suffix = "f" if dtype == numpy.float32 else ""
    out = re.sub(r"\b(" + "|".join(MATH_FUNCTIONS) + r")\(", lambda m: f"{MATH_FUNCTIONS[m.group(1)]}{suffix}(",
                 expression)
    out = re.sub(r"\bwhere\(", "accel_where(", out)
    return re.sub(r"\b(v\d+)\b", lambda m: f"{m.group(1)}[0]" if m.group(1) in scalar_leaves else f"{m.group(1)}[i]",
                  out)


PRELUDE = ("template <class A, class B>\n"
           "__device__ __forceinline__ auto accel_where(bool c, A a, B b) -> decltype(a + b) { return c ? a : b; }\n")


def source(expression: str, dtype: numpy.dtype, arrays: list, scalars: list, zero_d: set,
           kernel_name: str = KERNEL_NAME, prelude: bool = True) -> str:
    """The kernel of one chain: `arrays` are the array operands' names, `scalars` the constants'.
    `kernel_name` and `prelude` (the helpers every kernel uses, once per source) let a test compile the
    kernels of many forms as one source."""
    t = _C_TYPES[dtype]
    params = [f"const {t}* __restrict__ {name}" for name in arrays] + [f"const {t} {name}" for name in scalars]
    params += [f"{t}* __restrict__ out", "const long long n"]
    body = translate(expression, dtype, zero_d)
    return (
        (PRELUDE if prelude else "") +
        f'extern "C" __global__ void {kernel_name}({", ".join(params)}) {{\n'
        "  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;\n"
        "       i += (long long)blockDim.x * gridDim.x) {\n"
        f"    out[i] = ({t})({body});\n"
        "  }\n"
        "}\n")


class CudaFused:
    """One chain on one CUDA device: `values[out] = kernel(*operands)` (fusion._Fused's role)."""

    __slots__ = ("kernel", "inputs", "out", "shape", "dtype", "device", "expression", "code")

    def __init__(self, expression, leaves, out, dtype, shape, device, zero_d):
        arrays = [name for name, source_ in leaves if source_.__class__ is int]
        scalars = [name for name, source_ in leaves if source_.__class__ is not int]
        zero_d = {f"v{slot}" for slot in zero_d}
        self.code = source(expression, dtype, arrays, scalars, zero_d)
        self.expression, self.out, self.shape, self.dtype, self.device = expression, out, shape, dtype, device
        # arrays first, then constants (as the kernel's parameters), each constant typed
        self.inputs = [s for _, s in leaves if s.__class__ is int] + [
            numpy.asarray(s, dtype)[()] for _, s in leaves if s.__class__ is not int]
        self.kernel = None

    def _compiled(self):
        key = (self.device, self.code)
        kernel = _cache.get(key)
        if kernel is None:
            # the source is the whole key (no headers): CuPy's disk cache keys on it too
            module = self.device.xp.RawModule(code=self.code, options=("-std=c++17",),
                                              name_expressions=[KERNEL_NAME])
            kernel = module.get_function(KERNEL_NAME)
            _cache[key] = kernel
        return kernel

    def __call__(self, values, objects):
        device = self.device
        xp = device.xp
        with device.activate():
            kernel = self.kernel or self._compiled()
            self.kernel = kernel
            args = [xp.ascontiguousarray(values[s]) if s.__class__ is int else s for s in self.inputs]
            # the operands' shape, not the trace's: an op upstream may size its result by values
            shape = next((a.shape for a in args if getattr(a, "ndim", 0)), self.shape)
            out = xp.empty(shape, self.dtype)
            n = out.size
            if n:
                blocks = max(1, min(-(-n // _THREADS), _MAX_BLOCKS))
                kernel((blocks,), (_THREADS,), (*args, out, numpy.int64(n)))
        values[self.out] = out
