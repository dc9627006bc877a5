"""The op table (accel/ops/table.py): one record per op, and everything that lists ops derived from
it. Each derived surface is checked against the table here, and each elementwise op's math form
(the one written form) against the eager forward it stands for: the numexpr program of a fused
chain within fusion's 4-ulp contract, the forward derived from the form exactly, and an op's own
faster forward (relu, sigmoid, square) to the form (the CUDA C of the forms: tests/cuda_emu)."""

import inspect
import pathlib

import numpy
import pytest

import accel as ac
from accel import testing
from accel.function import fusion
from accel.ops import numpy_protocol, table
from accel.threads import import_numexpr

REGISTRY = ac.ops.registry
DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs" / "ops.md"
FUSABLE = sorted(name for name, r in REGISTRY.items() if r.fusable)


def operands(record, dtype, rng, n=2000):
    """Operands in the record's domain, with the edge values every form must keep as eager does."""
    low, high, edges = table.DOMAINS[record.domain]
    out = []
    for _ in range(record.arity):
        x = rng.uniform(low, high, n).astype(dtype)
        x[:4] = edges
        out.append(x)
    return out


def ulps(got, want):
    got, want = numpy.asarray(got), numpy.asarray(want)
    spacing = numpy.spacing(numpy.maximum(numpy.abs(want), numpy.finfo(want.dtype).tiny).astype(want.dtype))
    same = (got == want) | (numpy.isnan(got) & numpy.isnan(want))
    return numpy.where(same, 0, numpy.abs(got.astype(float) - want.astype(float)) / spacing)


# -- the table itself --------------------------------------------------------------------------------

def test_the_registry_is_read_only_and_knows_every_op():
    with pytest.raises(TypeError):
        REGISTRY["tanh"] = REGISTRY["exp"]
    tanh = REGISTRY["tanh"]
    assert (tanh.name, tanh.kind, tanh.differentiable, tanh.fusable, tanh.numpy, tanh.methods) == \
        ("tanh", "pure", True, True, "tanh", ("tanh",))
    assert tanh.fn is ac.tanh and table.record_of(ac.tanh) is tanh and table.record_of(len) is None
    assert REGISTRY["normal"].kind == "stateful" and REGISTRY["normal"].namespace == "random"
    assert REGISTRY["print"].kind == "effect"
    assert REGISTRY["equal"].dtype == "bool" and not REGISTRY["equal"].differentiable
    assert REGISTRY["tanh_grad"].namespace == "internal" and not REGISTRY["tanh_grad"].public
    for record in REGISTRY.values():
        assert record.kind in table.KINDS and record.dtype in table.DTYPE_RULES and callable(record.fn)
        assert record.name == getattr(record.fn, "__name__", record.name) or record.namespace == "random"
        assert record.math is None or record.arity in (1, 2)


def test_a_name_is_entered_once_and_facts_are_checked():
    def op(x):
        return x

    with pytest.raises(ValueError, match="an op named 'tanh' is in the table already"):
        table.register(op, family="elementwise", name="tanh")
    with pytest.raises(ValueError, match="an op named 'pow' is in the table already"):
        table.register(op, family="elementwise", name="pow")  # an alias of power
    with pytest.raises(ValueError, match="kind must be one of"):
        table.register(op, family="elementwise", name="not_an_op_1", kind="pure-ish")
    with pytest.raises(ValueError, match="has math but no arity"):
        table.register(op, family="elementwise", name="not_an_op_2", math="{0}")
    assert "not_an_op_1" not in REGISTRY and "not_an_op_2" not in REGISTRY


# -- what is derived from it ----------------------------------------------------------------------------

def test_exports_are_the_ops_namespace():
    want = sorted(n for r in REGISTRY.values() if r.namespace == "ops" for n in (r.name, *r.aliases))
    assert ac.ops.__all__ == want
    for name in want:
        assert getattr(ac, name) is getattr(ac.ops, name) is REGISTRY[getattr(ac.ops, name).__name__].fn
    assert ac.pow is ac.power and "pow" in REGISTRY["power"].aliases
    for name in ("normal", "uniform", "randint"):
        assert name not in ac.ops.__all__ and hasattr(ac.random, name)


def test_tensor_methods_and_operators_are_the_records_methods():
    x = ac.tensor([[1.5, -2.0], [3.0, 4.0]], dtype="float64")
    i = ac.tensor([[6, 3], [5, 1]])
    seen = set()
    for record in REGISTRY.values():
        for method in record.methods:
            name = method.strip("@*")
            seen.add(name)
            bound = inspect.getattr_static(ac.Tensor, name)
            if method.startswith("@"):
                assert isinstance(bound, property) and bound.fget is record.fn
            elif method.endswith("*") or (method.startswith("__r") and "__" + method[3:] in record.methods
                                          and not record.commutative):
                assert bound is not record.fn  # a wrapper that calls the op
            else:
                assert bound is record.fn, name
    # each form calls its op as the operator says
    assert (2.0 - x).numpy().tolist() == ac.subtract(2.0, x).numpy().tolist()
    assert (3 << i).numpy().tolist() == ac.left_shift(3, i).numpy().tolist()
    assert (i >> 1).numpy().tolist() == ac.right_shift(i, 1).numpy().tolist()
    assert x.reshape(4).shape == x.reshape((4,)).shape == (4,) and x.transpose().shape == (2, 2)
    assert x.T.numpy().tolist() == ac.transpose(x).numpy().tolist()
    assert x.astype("float32").dtype == numpy.float32 and x.to("cpu").device == x.device
    assert {"__add__", "__radd__", "__rsub__", "__matmul__", "__getitem__", "sum", "T", "reshape"} <= seen


def test_numpy_protocol_tables_are_the_records_numpy_names():
    ufuncs, functions = numpy_protocol._derived()
    for record in REGISTRY.values():
        if record.numpy is None:
            continue
        target = getattr(numpy, record.numpy)
        if isinstance(target, numpy.ufunc):
            assert ufuncs[record.numpy] is record.fn
        else:
            assert functions[target] == (record.fn, record.numpy_keywords)
    assert len(ufuncs) + len(functions) == sum(r.numpy is not None for r in REGISTRY.values())


@pytest.mark.parametrize("name", sorted(n for n, r in REGISTRY.items() if r.numpy and r.family == "elementwise"
                                        and r.arity))
def test_numpy_name_runs_the_op(name):
    record = REGISTRY[name]
    ints = record.dtype == "same" and name in {"bitwise_and", "bitwise_or", "bitwise_xor", "invert", "left_shift",
                                               "right_shift", "floor_divide"}
    values = [0.5, 1.0, 2.0] if record.domain in ("real", "positive") else list(table.DOMAINS[record.domain][2][1:])
    args = [ac.tensor([1, 2, 3]) if ints else ac.tensor(values, dtype="float64")] * record.arity
    got = getattr(numpy, record.numpy)(*args)
    assert isinstance(got, ac.Tensor)
    numpy.testing.assert_array_equal(got.numpy(), record.fn(*args).numpy())


def test_fusion_forms_and_gradient_lists_are_the_tables():
    assert fusion.forms() == {r.fn: r.math for r in REGISTRY.values() if r.math is not None}
    assert testing.NOT_DIFFERENTIABLE == {n for n, r in REGISTRY.items() if r.public and not r.differentiable}
    assert set(testing.differentiable_ops()) == {n for r in REGISTRY.values() if r.differentiable
                                                 for n in (r.name, *r.aliases)}


def test_the_docs_op_reference_is_generated_from_the_table():
    assert DOCS.read_text() == table.reference(), "regenerate: python -m accel.ops > docs/ops.md"
    for name, record in REGISTRY.items():
        if record.public:
            assert f"| `{name}" in DOCS.read_text()


# -- the math form, written once --------------------------------------------------------------------------

def test_forward_of_gives_the_same_expression_on_xp():
    forward = table.forward_of("{0} * cos({1}) - where({0} > 0, 1, 0)", 2)
    a, b = numpy.array([0.5, -1.0]), numpy.array([2.0, 3.0])
    numpy.testing.assert_array_equal(forward(numpy, a, b), a * numpy.cos(b) - numpy.where(a > 0, 1, 0))
    with pytest.raises(ValueError, match="only integer literals"):
        table.forward_of("{0} * 0.5", 1)  # numexpr would compute a float32 chain in float64
    with pytest.raises(ValueError, match="unknown function"):
        table.forward_of("erf({0})", 1)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", FUSABLE)
def test_the_eager_forward_is_the_math_form(name, dtype):
    """Derived forwards equal the form's expression exactly; an op's own forward (faster on NumPy)
    agrees with it to 2 ulps and keeps NaN, inf and signed zeros where the form does."""
    record = REGISTRY[name]
    rng = numpy.random.default_rng(0)
    args = operands(record, dtype, rng)
    special = numpy.array([numpy.nan, numpy.inf, -numpy.inf, 0.0, -0.0, 1e-30], dtype)
    form = table.forward_of(record.math, record.arity)
    with numpy.errstate(all="ignore"):
        for xs in (args, [special] * record.arity):
            got, want = record.kernel(numpy, *xs), form(numpy, *xs)
            assert got.dtype == want.dtype == numpy.dtype(dtype)
            assert ulps(got, want).max() <= (0 if getattr(record.kernel, "math", None) else 2), name


@pytest.mark.skipif(import_numexpr() is None, reason="numexpr is not installed")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", FUSABLE)
def test_the_numexpr_program_of_the_form_is_the_eager_op(name, dtype):
    """What a fused chain computes for the op (the form as numexpr compiles it, in the operands'
    dtype) against the eager op: within fusion's 4-ulp contract."""
    record = REGISTRY[name]
    args = operands(record, dtype, numpy.random.default_rng(1))
    names = [f"v{i}" for i in range(record.arity)]
    kind = float if dtype == "float32" else numpy.double
    program = import_numexpr().NumExpr(record.math.format(*names), signature=[(n, kind) for n in names])
    with numpy.errstate(all="ignore"):
        got = program(*args, ex_uses_vml=False)
        want = record.fn(*[ac.tensor(a) for a in args]).numpy()
    assert got.dtype == want.dtype
    assert ulps(got, want).max() <= 4, name


# (an op that computes integers as float32 hands the front its host too; its record's kernel is the
# converting wrapper, so it is not listed here: its forward is the same ufunc call)
HOSTED = sorted(name for name, r in REGISTRY.items() if getattr(r.kernel, "host", None) is not None)


@pytest.mark.parametrize("name", HOSTED)
def test_a_host_ufunc_is_the_forward(name):
    """The compiled front calls a forward's `host` ufunc on CPU arrays instead of the forward:
    the same values and dtypes, with a Python number operand too (weakly typed, NEP 50)."""
    record = REGISTRY[name]
    rng = numpy.random.default_rng(3)
    for dtype in ("float32", "float64", "int64"):
        args = [rng.uniform(0.5, 3.0, 7).astype(dtype) + (dtype == "int64") for _ in range(record.arity)]
        with numpy.errstate(all="ignore"):
            calls = [args] + ([[args[0], 2.0], [args[0], 3]] if record.arity == 2 else [])
            for call in calls:
                try:
                    want = record.kernel(numpy, *call)
                except TypeError:
                    with pytest.raises(TypeError):
                        record.kernel.host(*call)
                    continue
                got = record.kernel.host(*call)
                assert got.dtype == want.dtype and got.tobytes() == want.tobytes(), (name, dtype, call)
    assert {"add", "subtract", "multiply", "divide", "negative", "maximum", "less"} <= set(HOSTED)
