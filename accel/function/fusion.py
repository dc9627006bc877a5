"""Fusing chains of elementwise steps into one kernel: on the CPU a numexpr program, on a CUDA
device a generated kernel (fusion_cuda.py); either compiled once per chain and cached.

An elementwise op whose record has a math form (ops/table.py: `fusable`) is a candidate when its
tensor operands share one floating dtype (float32 or float64) and one device. A candidate's
operand that another candidate produced, that nothing else reads and that the form names once,
is inlined into its expression; every other operand is an input of the kernel. A chain of two or
more ops runs as one kernel at the position of its last op: always on a GPU (one launch and one
pass over memory instead of one per op); on the CPU only where numexpr beats NumPy's own
kernels, which on the measured host means small chains (`_pays_on_cpu`: NumPy's SIMD loops are
several times faster than numexpr's per element, so fusion pays only where the per-op call
dominates). jit_compile=True fuses every chain regardless.

Numerical contract: a fused chain computes in its own dtype, as eager does, with the same
arithmetic (+, -, *, / and sqrt are correctly rounded in both, so bit-identical), but numexpr's
transcendental functions are not NumPy's: each agrees with NumPy's to 3 units in the last place
(measured over [-3, 3]: sin, cos 1 ulp; exp, expm1, log1p 2; tanh, log 3; float32 and float64),
and the tests hold every fused op to 4. A chain propagates those differences like any rounding
(tests/function/test_fusion.py: 30 ops within 16 ulp). Python constants become inputs of the
operands' dtype, never double-precision literals (numexpr would promote float32 to float64).
"""

from __future__ import annotations

import re

import numpy

from ..ops.table import MATH_FUNCTIONS, derived, registry
from .fusion_cuda import CudaFused

__all__ = ["plan_fusion", "fusable"]

from ..threads import import_numexpr

_KINDS = {numpy.dtype("float32"): float, numpy.dtype("float64"): numpy.double}
_MAX_INLINED = 48  # ops per expression: numexpr's programs stay small and compile fast
_programs: dict = {}  # (expression, signature) -> compiled numexpr program


def forms() -> dict:
    """{op: its math form} for every fusable op of the table."""
    return {record.fn: record.math for record in registry.values() if record.math is not None}


_forms = derived(forms)


def fusable(step, trace) -> numpy.dtype | None:
    """The dtype a step would be fused in, or None: an elementwise op with a numexpr form, plain
    operands (tensors of one float dtype on the CPU, or Python numbers) and an output of that
    dtype."""
    if step.kwargs or len(step.out_slots) != 1:
        return None
    form = _forms().get(step.op)
    if form is None:
        return None
    out_shape, dtype, out_device = trace.meta[step.out_slots[0]]
    if dtype not in _KINDS:
        return None
    backend = getattr(out_device, "fusion", None)
    cuda = backend == "cuda"
    if backend is None or backend == "numexpr" and import_numexpr() is None:
        return None
    for arg in step.args:
        if hasattr(arg, "slot"):
            shape, arg_dtype, device = trace.meta[arg.slot]
            if arg_dtype != dtype or device != out_device:
                return None
            if cuda and shape != out_shape and shape != ():  # the kernel indexes, never broadcasts
                return None
        elif arg.__class__ not in (int, float):
            return None
    return dtype


class _Fused:
    """One numexpr program over slots and constants: `values[out] = program(*inputs)`."""

    __slots__ = ("program", "inputs", "out", "expression")

    def __init__(self, expression, leaves, out, dtype):
        kind = _KINDS[dtype]
        names = [name for name, _ in leaves]
        key = (expression, tuple(names), dtype.str)
        program = _programs.get(key)
        if program is None:
            program = import_numexpr().NumExpr(expression, signature=[(name, kind) for name in names])
            _programs[key] = program
        self.program, self.expression, self.out = program, expression, out
        self.inputs = [source for _, source in leaves]  # a slot (int) or a 0-d constant array

    def __call__(self, values, objects):
        args = [values[s] if s.__class__ is int else s for s in self.inputs]
        values[self.out] = self.program(*args, ex_uses_vml=False)


def plan_fusion(steps, trace, uses: dict, outputs: set, fuse) -> dict:
    """{position: _Fused or None}: the steps that run fused (None: inlined into a later one).
    fuse: accel.function's jit_compile: None (where it helps), True (every chain), False (none)."""
    if fuse is False:
        return {}
    dtypes = [fusable(step, trace) for step in steps]
    table = _forms()
    producer = {step.out_slots[0]: i for i, step in enumerate(steps) if dtypes[i] is not None}
    inlined_into = {}
    expressions = {}  # position -> (expression, leaves, ops)
    for i, step in enumerate(steps):
        dtype = dtypes[i]
        if dtype is None:
            continue
        form = table[step.op]
        parts, leaves, ops = [], [], 1
        for k, arg in enumerate(step.args):
            if hasattr(arg, "slot"):
                p = producer.get(arg.slot)
                if (p is not None and dtypes[p] == dtype and uses.get(arg.slot, 0) == 1
                        and arg.slot not in outputs and form.count("{%d}" % k) == 1
                        and ops + expressions[p][2] <= _MAX_INLINED):
                    expression, inner, n = expressions[p]
                    inlined_into[p] = i
                    parts.append(expression)
                    leaves.extend(inner)
                    ops += n
                else:
                    parts.append(f"v{arg.slot}")
                    leaves.append((f"v{arg.slot}", arg.slot))
            else:
                name = f"c{i}_{k}"
                parts.append(name)
                leaves.append((name, numpy.asarray(arg, dtype)))
        expressions[i] = ("(" + form.format(*parts) + ")", leaves, ops)
    plan = {}
    for i, (expression, leaves, ops) in expressions.items():
        if i in inlined_into or ops < 2:  # one op alone is the library's own kernel
            continue
        unique = list(dict((name, source) for name, source in leaves).items())
        out = steps[i].out_slots[0]
        shape, dtype, device = trace.meta[out]
        if device.fusion == "cuda":
            zero_d = {s for _, s in unique if s.__class__ is int and trace.meta[s][0] == ()}
            plan[i] = CudaFused(expression, unique, out, dtype, shape, device, zero_d)
        elif fuse is True or _pays_on_cpu(expression, shape):
            plan[i] = _Fused(expression, unique, out, dtype)
    for p in inlined_into:  # computed inside the chain that reads it, if that chain fused
        root = p
        while root in inlined_into:
            root = inlined_into[root]
        if root in plan:
            plan[p] = None
    return plan


_TRANSCENDENTAL = re.compile(r"\b(" + "|".join(name for name in MATH_FUNCTIONS if name != "abs") + r")\(")


def _pays_on_cpu(expression: str, shape) -> bool:
    """Whether numexpr beats NumPy's own kernels on this chain. numexpr saves the per-op call
    (~0.4 µs each) but its kernels are slower than NumPy's SIMD loops: measured on the 2-core
    AVX-512 host (numexpr 2.14 without VML), a 4-op float32 chain with sin and tanh takes 1.7 µs
    fused against 2.1 µs in NumPy at 16 elements, 2.6 against 2.1 at 64, and 10x NumPy's time
    from 1,000 elements on; an arithmetic chain breaks even near 256 elements."""
    size = int(numpy.prod(shape, dtype=numpy.int64))
    return size <= (32 if _TRANSCENDENTAL.search(expression) else 256)
