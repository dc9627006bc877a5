"""Fusion's numerical contract (accel/function/fusion.py): a fused op agrees with eager to 4 units
in the last place, dtypes never change, and what cannot fuse runs unfused."""

import numpy
import pytest

import accel as ac
from accel.function.fusion import _Fused, forms

FUSED = forms()  # {op: its math form}, from the op table


def graph_of(f):
    (concrete,) = f._concrete
    (graph,) = concrete._graphs.values()
    return graph


def fused_programs(f):
    return [p for p in graph_of(f).plan if isinstance(p, _Fused)]


UNARY = {name: r.fn for name, r in ac.ops.registry.items() if r.fusable and r.arity == 1}  # from the op table
BINARY = {"add": ac.add, "subtract": ac.subtract, "multiply": ac.multiply, "divide": ac.divide}


def ulps(got, want):
    got, want = numpy.asarray(got, numpy.float64), numpy.asarray(want)
    return numpy.abs(got - want) / numpy.spacing(numpy.abs(want).astype(want.dtype)).astype(numpy.float64)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(UNARY))
def test_each_fused_unary_op_is_within_4_ulp_of_eager(name, dtype):
    op = UNARY[name]
    rng = numpy.random.default_rng(1)
    low, high, _ = ac.ops.table.DOMAINS[ac.ops.registry[name].domain]
    data = rng.uniform(low, high, 4096)
    f = ac.function(lambda x: op(x) * 2.0, jit_compile=True)  # two ops: a chain, fused at any size
    x = ac.tensor(data, dtype=dtype)
    got, want = f(x), op(x) * 2.0
    assert fused_programs(f), "the chain did not fuse"
    assert got.dtype == want.dtype == numpy.dtype(dtype)
    assert ulps(got.numpy(), want.numpy()).max() <= 4


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(BINARY))
def test_fused_arithmetic_is_exact(name, dtype):
    op = BINARY[name]
    rng = numpy.random.default_rng(2)
    x = ac.tensor(rng.uniform(-3, 3, (64, 8)), dtype=dtype)
    y = ac.tensor(rng.uniform(0.5, 3, (8,)), dtype=dtype)  # broadcast, as numexpr does
    f = ac.function(lambda x, y: op(x, y) * 3.0, jit_compile=True)
    numpy.testing.assert_array_equal(f(x, y).numpy(), (op(x, y) * 3.0).numpy())
    assert fused_programs(f)


def test_gradient_forms_match_their_ops():
    rng = numpy.random.default_rng(3)
    g, y = (ac.tensor(rng.uniform(-2, 2, 1000)) for _ in range(2))
    elementwise = ac.ops.elementwise
    for op in (elementwise.tanh_grad, elementwise.sigmoid_grad, elementwise.sin_grad, elementwise.cos_grad,
               elementwise.relu_grad):
        assert op in FUSED
        f = ac.function(lambda g, y, op=op: op(g, y) * 2.0, jit_compile=True)
        got, want = f(g, y).numpy(), (op(g, y) * 2.0).numpy()
        assert ulps(got, want).max() <= 4, op.__name__


def test_relu_and_its_gradient_keep_nan_and_inf_as_eager():
    x = ac.tensor([numpy.nan, -numpy.inf, -1.0, 0.0, 2.0, numpy.inf])
    g = ac.tensor([1.0, numpy.nan, 3.0, 4.0, 5.0, 6.0])
    f = ac.function(lambda x: ac.relu(x) * 1.0, jit_compile=True)
    numpy.testing.assert_array_equal(f(x).numpy(), ac.relu(x).numpy())
    grad = ac.function(lambda g, x: ac.ops.elementwise.relu_grad(g, x) * 1.0, jit_compile=True)
    numpy.testing.assert_array_equal(grad(g, x).numpy(), ac.ops.elementwise.relu_grad(g, x).numpy())


def test_a_long_chain_is_one_program_within_its_bound():
    def chain(x):
        for _ in range(10):
            x = ac.tanh(x * 0.9 + 0.1)
        return x

    f = ac.function(chain, jit_compile=True)
    x = ac.tensor(numpy.linspace(-2, 2, 1000), dtype="float32")
    got = f(x)
    assert len(fused_programs(f)) == 1
    # 30 ops, each within a few ulp; tanh contracts errors, so the result stays within ~10 ulp
    assert ulps(got.numpy(), chain(x).numpy()).max() <= 16


def test_jit_compile_false_turns_fusion_off_and_is_bit_exact():
    def f(x):
        return ac.tanh(ac.sin(x) * 1.5 + 0.5)

    x = ac.tensor(numpy.linspace(-1, 1, 100), dtype="float32")
    plain = ac.function(f, jit_compile=False)
    numpy.testing.assert_array_equal(plain(x).numpy(), f(x).numpy())
    assert not fused_programs(plain)


def test_what_cannot_fuse_runs_unfused():
    a32 = ac.tensor(numpy.linspace(0, 1, 10), dtype="float32")
    a64 = ac.tensor(numpy.linspace(0, 1, 10), dtype="float64")
    ints = ac.tensor(numpy.arange(10))
    for fn, args in [(lambda x, y: ac.exp(x) * y, (a32, a64)),  # mixed dtypes
                     (lambda x, y: (x + 1) * 2, (ints, ints))]:  # integers
        f = ac.function(fn)
        got, want = f(*args), fn(*args)
        assert got.dtype == want.dtype and not fused_programs(f)
        numpy.testing.assert_array_equal(got.numpy(), want.numpy())


def test_ops_without_a_form_split_the_chain():
    def fn(x):
        return ac.softplus(ac.exp(x) * 2.0) * 3.0 + 1.0  # softplus has no numexpr form

    f = ac.function(fn, jit_compile=True)
    x = ac.tensor(numpy.linspace(-1, 1, 10), dtype="float32")
    got = f(x)
    assert len(fused_programs(f)) == 2  # exp * 2 before softplus, * 3 + 1 after it
    numpy.testing.assert_allclose(got.numpy(), fn(x).numpy(), rtol=1e-6)


def test_python_constants_never_promote_float32():
    f = ac.function(lambda x: ac.exp(x * 0.1) + 1e-3, jit_compile=True)
    out = f(ac.tensor([1.0, 2.0], dtype="float32"))
    assert out.dtype == numpy.float32
    assert fused_programs(f)


@pytest.mark.parametrize("size, arithmetic, fused", [
    (16, False, True), (64, False, False), (4096, False, False),  # a chain with sin and tanh
    (16, True, True), (200, True, True), (4096, True, False),  # arithmetic only
])
def test_by_default_the_cpu_fuses_only_where_numexpr_pays(size, arithmetic, fused):
    def chain(x):
        return (x * 1.5 + 0.5) * (x - 0.25) if arithmetic else ac.tanh(ac.sin(x) * 1.5 + 0.5)

    x = ac.tensor(numpy.linspace(-1, 1, size), dtype="float32")
    default, forced = ac.function(chain), ac.function(chain, jit_compile=True)
    numpy.testing.assert_allclose(default(x).numpy(), chain(x).numpy(), rtol=1e-6)
    forced(x)
    assert bool(fused_programs(default)) == fused
    assert len(fused_programs(forced)) == 1
