"""The op table: every op is one record, and everything that lists ops reads this table.

A record says what an op is (name, kind, whether it has a gradient, its dtype rule), where it
appears (accel.ops or another namespace, Tensor methods and operators, the NumPy function that
dispatches to it), and, for an elementwise op, its math written once in numexpr's syntax
(``"{0} * cos({1})"``: {i} is operand i, only integer literals). From that one form come the
eager NumPy/CuPy forward (`forward_of`, unless the op gives a faster one of its own, which
tests/ops/test_table.py holds to the form), the numexpr program of a fused chain
(function/fusion.py) and its CUDA C (function/fusion_cuda.py).

Derived from the table, never kept by hand: `accel.ops.__all__` (and so the top-level exports),
Tensor's operators and methods (tensor.bind_operators), the NumPy protocol tables
(numpy_protocol.py), the fusion forms, accel.testing's differentiable and non-differentiable
lists, and docs/ops.md (`reference()`).

`registry` is the read-only view users get: ``accel.ops.registry["tanh"].fusable``.
"""

from __future__ import annotations

import ast
import dataclasses
import types
from typing import Callable

__all__ = ["OpRecord", "registry", "register", "derived", "forward_of", "record_of", "reference"]

KINDS = ("pure", "stateful", "effect", "composite")
# pure: the same inputs give the same value (a replay may skip or fold it); stateful: each call
# draws new values (random), so every replay runs it; effect: acts on the world (prints, writes a
# Variable), recorded while tracing and run on every replay; composite: a function of other ops
# (moments, batch_normalization) with no VJP or kernel of its own: its parts record on tapes and
# are traced one by one, so a gradient taken inside accel.function sees every intermediate.
DTYPE_RULES = ("same", "float", "bool", "int64", "given")
# same: the operands' (promoted) dtype; float: integers computed as float32, floats kept (exp,
# mean); bool: a comparison or test; int64: an index or count; given: a dtype argument or the
# op's own rule (cast, creation, one_hot), said in its docstring.
# Where tests draw an elementwise op's operands, by its record's `domain`: (low, high, edge values
# every derived form must keep as the eager op does).
DOMAINS = {"real": (-3.0, 3.0, (0.0, -0.0, 1.0, -1.0)), "positive": (0.05, 3.0, (0.5, 1.0, 2.0, 3.0)),
           "unit": (-0.95, 0.95, (0.0, -0.0, 0.5, -0.5)), "above_one": (1.05, 3.0, (1.5, 2.0, 2.5, 3.0))}
NAMESPACES = ("ops", "random", "function", "linalg", "fft", "internal")
# ops: accel.ops and the top level (accel.exp); random: accel.random; function: accel.print;
# linalg: accel.linalg (the Array API's extension; matmul and friends are in both); fft: accel.fft;
# internal: an op that VJPs call (tanh_grad, ...), in the table so it traces, fuses and is
# gradient-checked like any other.


@dataclasses.dataclass(frozen=True, eq=False)
class OpRecord:
    """One op. `methods` are Tensor's names for it: a plain name is the op itself bound as a
    method (`t.sum(0)` is `sum(t, 0)`); ``__r<op>__`` calls it with the operands swapped (for
    `commutative` ops the op itself); ``"name*"`` takes its positional arguments as one sequence
    (`t.reshape(2, 3)`); ``"@name"`` is a property (`t.T`)."""

    name: str
    fn: Callable
    family: str
    kind: str = "pure"
    differentiable: bool = True
    dtype: str = "same"
    namespace: str = "ops"
    math: str | None = None
    arity: int | None = None
    numpy: str | None = None
    numpy_keywords: frozenset = frozenset()
    methods: tuple = ()
    commutative: bool = False
    aliases: tuple = ()
    domain: str = "real"  # where a generated test draws an elementwise op's operands: a DOMAINS key
    # what accel.function's replay uses: `kernel(xp, *arrays, **params)` computes the op on raw
    # arrays (no Tensor, no tape) when every operand is plain; `kernel_views`: its result may be
    # a view of an operand; `shape_from_values(args, kwargs)`: whether this call's output shape
    # depends on values (a boolean mask), so a replay must check it (trace.Step.guard)
    kernel: Callable | None = None
    kernel_views: bool = False
    shape_from_values: Callable | None = None

    @property
    def fusable(self) -> bool:
        """Whether accel.function may fuse it into a chain (it has a numexpr form)."""
        return self.math is not None

    @property
    def public(self) -> bool:
        return self.namespace != "internal"

    @property
    def doc(self) -> str:
        """The docstring's first paragraph, as one line (the op reference's description)."""
        paragraph = (self.fn.__doc__ or "").strip().split("\n\n")[0]
        return " ".join(line.strip() for line in paragraph.splitlines())


_records: dict = {}
_by_fn: dict = {}
_names: set = set()  # every name and alias entered
registry = types.MappingProxyType(_records)


def register(fn: Callable, *, family: str, name: str | None = None, **facts) -> Callable:
    """Enter `fn` in the table (`facts` are OpRecord's fields) and return it. A name is entered
    once: a second op of the same name is an error, never a silent replacement."""
    record = OpRecord(name=name or fn.__name__, fn=fn, family=family, **facts)
    if record.kind not in KINDS:
        raise ValueError(f"register: kind must be one of {KINDS}, got {record.kind!r}")
    if record.dtype not in DTYPE_RULES:
        raise ValueError(f"register: dtype must be one of {DTYPE_RULES}, got {record.dtype!r}")
    if record.domain not in DOMAINS:
        raise ValueError(f"register: domain must be one of {sorted(DOMAINS)}, got {record.domain!r}")
    if record.namespace not in NAMESPACES:
        raise ValueError(f"register: namespace must be one of {NAMESPACES}, got {record.namespace!r}")
    if record.math is not None and record.arity is None:
        raise ValueError(f"register: {record.name} has math but no arity")
    for key in (record.name, *record.aliases):
        if key in _names:
            raise ValueError(f"register: an op named {key!r} is in the table already")
    _names.update((record.name, *record.aliases))
    _records[record.name] = record
    _by_fn[id(fn)] = record
    return fn


def derived(build: Callable) -> Callable:
    """`build()` (a table derived from the records) computed on first use and again whenever the
    table has grown since: ops outside accel.ops (random draws, accel.print) enter it after the
    modules that derive from it are imported."""
    cache = [-1, None]

    def current():
        if cache[0] != len(_records):
            cache[:] = [len(_records), build()]
        return cache[1]

    return current


def record_of(fn) -> OpRecord | None:
    """The record of the op `fn` (what users call), or None for anything else."""
    record = _by_fn.get(id(fn))
    return record if record is not None and record.fn is fn else None


# -- the math form -> an eager forward ------------------------------------------------------------
# The functions a form may call: numexpr's names, which are NumPy's (and CuPy's) too, each with its
# CUDA C math function (double precision; fusion_cuda adds the `f` of float32). `where` is a select.
MATH_FUNCTIONS = {
    "sin": "sin", "cos": "cos", "tan": "tan", "arcsin": "asin", "arccos": "acos", "arctan": "atan",
    "arctan2": "atan2", "sinh": "sinh", "cosh": "cosh", "tanh": "tanh", "arcsinh": "asinh",
    "arccosh": "acosh", "arctanh": "atanh", "exp": "exp", "expm1": "expm1", "log": "log",
    "log1p": "log1p", "log10": "log10", "sqrt": "sqrt", "abs": "fabs",
}
_XP_FUNCTIONS = frozenset(MATH_FUNCTIONS) | {"where"}


class _ToXp(ast.NodeTransformer):
    def visit_Call(self, node):
        self.generic_visit(node)
        if not isinstance(node.func, ast.Name) or node.func.id not in _XP_FUNCTIONS:
            raise ValueError(f"math form: unknown function {ast.unparse(node.func)!r}")
        node.func = ast.Attribute(value=ast.Name("xp", ast.Load()), attr=node.func.id, ctx=ast.Load())
        return node

    def visit_Constant(self, node):
        if not isinstance(node.value, int) or isinstance(node.value, bool):
            # a float literal is double precision in numexpr and would promote float32 operands
            raise ValueError(f"math form: only integer literals, got {node.value!r}")
        return node


def forward_of(math: str, arity: int) -> Callable:
    """The eager forward ``f(xp, a0, ..., a{arity-1})`` of a math form: the same expression with
    numexpr's functions taken from `xp` (NumPy on the CPU, CuPy on a GPU)."""
    names = [f"a{i}" for i in range(arity)]
    tree = ast.parse(math.format(*names), mode="eval")
    body = ast.unparse(_ToXp().visit(tree))
    code = f"lambda xp, {', '.join(names)}: {body}"
    forward = eval(compile(code, f"<math {math}>", "eval"), {})  # noqa: S307 (our own forms only)
    forward.math = math
    forward.host = _host_ufunc(tree.body, names)
    return forward


_BINARY_UFUNCS = {ast.Add: "add", ast.Sub: "subtract", ast.Mult: "multiply", ast.Div: "true_divide"}


def _host_ufunc(body, names):
    """The NumPy ufunc the form is, when it is one function or operator applied to the operands
    in order (`exp({0})`, `{0} + {1}`): the compiled front then calls it on the arrays directly
    (`numpy.add(x, y)` is what `x + y` runs, so the same values). None for any other form."""
    import numpy

    def operands(nodes):
        return [n.id for n in nodes if isinstance(n, ast.Name)] == names and len(nodes) == len(names)

    name = None
    if isinstance(body, ast.Call) and isinstance(body.func, ast.Attribute) and operands(body.args) \
            and not body.keywords:
        name = body.func.attr
    elif isinstance(body, ast.BinOp) and type(body.op) in _BINARY_UFUNCS and operands([body.left, body.right]):
        name = _BINARY_UFUNCS[type(body.op)]
    elif isinstance(body, ast.UnaryOp) and isinstance(body.op, ast.USub) and operands([body.operand]):
        name = "negative"
    ufunc = getattr(numpy, name, None) if name else None
    return ufunc if isinstance(ufunc, numpy.ufunc) else None


# -- the generated op reference (docs/ops.md) -------------------------------------------------------
def reference() -> str:
    """docs/ops.md: every public op with its facts, generated from the table (a test keeps the
    file equal to this text)."""
    lines = ["# Op reference", "",
             "Generated from `accel.ops.registry` by `python -m accel.ops` (tests/ops/test_table.py",
             "fails when this file and the table differ). *fusable*: accel.function may fuse it into one",
             "kernel with its neighbours; *NumPy*: the NumPy function that runs it on a tensor",
             "(`numpy.exp(t)`); *methods*: Tensor's names for it.", ""]
    titles = {"ops": "accel (accel.ops)", "random": "accel.random", "function": "accel",
              "linalg": "accel.linalg (with matmul, matrix_transpose, tensordot, vecdot)", "fft": "accel.fft",
              "internal": "internal (the fused gradient ops VJPs call, packed multi-output ops)"}
    for namespace in NAMESPACES:
        title = titles[namespace]
        records = sorted((r for r in _records.values() if r.namespace == namespace), key=lambda r: r.name)
        if not records:
            continue
        lines += [f"## {title}", "",
                  "| op | family | kind | differentiable | fusable | dtype | NumPy | methods | |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for r in records:
            name = r.name + "".join(f", {a}" for a in r.aliases)
            methods = " ".join(f"`{m}`" for m in r.methods)
            numpy_name = f"`numpy.{r.numpy}`" if r.numpy else ""
            doc = r.doc.replace("|", "\\|")
            lines.append(f"| `{name}` | {r.family} | {r.kind} | {'yes' if r.differentiable else 'no'} | "
                         f"{'yes' if r.fusable else 'no'} | {r.dtype} | {numpy_name} | {methods} | {doc} |")
        lines.append("")
    return "\n".join(lines)
