import numpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import accel as ac

POSITIVE = lambda rng, shape: rng.uniform(0.1, 3.0, shape)  # noqa: E731
ANY = lambda rng, shape: rng.uniform(-3.0, 3.0, shape)  # noqa: E731

UNARY = [
    ("negative", numpy.negative, ANY), ("exp", numpy.exp, ANY), ("log", numpy.log, POSITIVE),
    ("log1p", numpy.log1p, POSITIVE), ("expm1", numpy.expm1, ANY), ("sqrt", numpy.sqrt, POSITIVE),
    ("rsqrt", lambda x: 1 / numpy.sqrt(x), POSITIVE), ("square", numpy.square, ANY),
    ("abs", numpy.abs, ANY), ("sign", numpy.sign, ANY), ("sin", numpy.sin, ANY),
    ("cos", numpy.cos, ANY), ("tanh", numpy.tanh, ANY),
    ("sigmoid", lambda x: 1 / (1 + numpy.exp(-x)), ANY), ("relu", lambda x: numpy.maximum(x, 0), ANY),
    ("softplus", lambda x: numpy.log1p(numpy.exp(x)), ANY),
]
BINARY = [
    ("add", numpy.add, ANY), ("subtract", numpy.subtract, ANY), ("multiply", numpy.multiply, ANY),
    ("divide", numpy.divide, POSITIVE), ("power", numpy.power, POSITIVE),
    ("maximum", numpy.maximum, ANY), ("minimum", numpy.minimum, ANY),
    ("floor_divide", numpy.floor_divide, POSITIVE), ("mod", numpy.mod, POSITIVE),
]
COMPARISONS = [
    ("equal", numpy.equal), ("not_equal", numpy.not_equal), ("less", numpy.less),
    ("less_equal", numpy.less_equal), ("greater", numpy.greater), ("greater_equal", numpy.greater_equal),
]
EDGE_SHAPES = [(), (0,), (1,), (3,), (2, 1, 3), (4, 0)]
BROADCAST_PAIRS = [((), (3,)), ((3,), ()), ((2, 3), (3,)), ((2, 1), (1, 4)), ((1,), (5, 1, 2)),
                   ((0, 3), (1, 3)), ((2, 1, 3), (4, 1))]


@pytest.mark.parametrize("name,reference,domain", UNARY, ids=[u[0] for u in UNARY])
@pytest.mark.parametrize("shape", EDGE_SHAPES, ids=str)
def test_unary_matches_numpy(device, rng, name, reference, domain, shape):
    x = domain(rng, shape)
    got = getattr(ac, name)(ac.tensor(x, device=device))
    assert got.shape == shape and got.dtype == ac.float64 and got.device == device
    numpy.testing.assert_allclose(got.numpy(), reference(x), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name,reference,domain", BINARY, ids=[b[0] for b in BINARY])
@pytest.mark.parametrize("shapes", BROADCAST_PAIRS, ids=str)
def test_binary_matches_numpy_with_broadcasting(device, rng, name, reference, domain, shapes):
    x, y = domain(rng, shapes[0]), domain(rng, shapes[1])
    got = getattr(ac, name)(ac.tensor(x, device=device), ac.tensor(y, device=device))
    want = reference(x, y)
    assert got.shape == want.shape
    numpy.testing.assert_allclose(got.numpy(), want, rtol=1e-12)


@pytest.mark.parametrize("name,reference", COMPARISONS, ids=[c[0] for c in COMPARISONS])
def test_comparisons_return_bool(device, name, reference):
    x = numpy.array([[1.0, 2.0, 3.0]])
    y = numpy.array([[2.0], [2.0]])
    got = getattr(ac, name)(ac.tensor(x, device=device), ac.tensor(y, device=device))
    assert got.dtype == ac.bool_
    numpy.testing.assert_array_equal(got.numpy(), reference(x, y))


def test_float32_stays_float32_and_ints_become_float(device):
    x = ac.tensor([1.0, 4.0], device=device)
    assert ac.sqrt(x).dtype == ac.float32 and ac.exp(x * 2).dtype == ac.float32
    assert ac.exp(ac.tensor([0, 1], device=device)).dtype == ac.float32
    assert ac.abs(ac.tensor([-1, 2], device=device)).dtype == ac.int64


def test_sigmoid_and_softplus_do_not_overflow(device):
    x = ac.tensor([-1000.0, -40.0, 0.0, 40.0, 1000.0], dtype="float64", device=device)
    with numpy.errstate(over="raise", divide="raise", invalid="raise"):
        s = ac.sigmoid(x).numpy()
        p = ac.softplus(x).numpy()
    numpy.testing.assert_allclose(s, [0.0, 4.248354255291589e-18, 0.5, 1.0, 1.0], rtol=1e-12)
    numpy.testing.assert_allclose(p, [0.0, 4.248354255291589e-18, numpy.log(2), 40.0, 1000.0], rtol=1e-12)


def test_where_and_clip(device):
    c = ac.tensor([True, False, True], device=device)
    numpy.testing.assert_array_equal(ac.where(c, 1.0, ac.tensor([5.0, 6.0, 7.0], device=device)).numpy(), [1, 6, 1])
    x = ac.tensor([-2.0, 0.5, 3.0], device=device)
    numpy.testing.assert_array_equal(ac.clip(x, -1, 1).numpy(), [-1, 0.5, 1])
    lo = ac.tensor([0.0, 0.0, 0.0], device=device)
    numpy.testing.assert_array_equal(ac.clip(x, lo, 2.0).numpy(), [0, 0.5, 2])
    with pytest.raises(TypeError, match="where: condition must be bool, got float32"):
        ac.where(x, 1.0, 0.0)


def test_logic_and_finiteness(device):
    x = ac.tensor([numpy.inf, numpy.nan, 1.0], device=device)
    numpy.testing.assert_array_equal(ac.isfinite(x).numpy(), [False, False, True])
    numpy.testing.assert_array_equal(ac.isnan(x).numpy(), [False, True, False])
    a, b = ac.tensor([True, False], device=device), ac.tensor([True, True], device=device)
    numpy.testing.assert_array_equal(ac.logical_and(a, b).numpy(), [True, False])
    numpy.testing.assert_array_equal(ac.logical_or(a, b).numpy(), [True, True])
    numpy.testing.assert_array_equal(ac.logical_xor(a, b).numpy(), [False, True])
    numpy.testing.assert_array_equal(ac.logical_not(a).numpy(), [False, True])


def test_incompatible_broadcast_raises():
    with pytest.raises(ValueError, match="broadcast"):
        ac.add(ac.zeros((2, 3)), ac.zeros((4,)))


def test_none_operand():
    with pytest.raises(TypeError, match="got None"):
        ac.add(ac.zeros((2,)), None)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_broadcasting_property(data):
    shape_x, shape_y = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=3)).input_shapes
    x = data.draw(hnp.arrays(numpy.float64, shape_x, elements=st.floats(-100, 100)))
    y = data.draw(hnp.arrays(numpy.float64, shape_y, elements=st.floats(-100, 100)))
    for op, ref in ((ac.add, numpy.add), (ac.multiply, numpy.multiply), (ac.maximum, numpy.maximum)):
        got = op(ac.tensor(x), ac.tensor(y))
        want = ref(x, y)
        assert got.shape == want.shape
        numpy.testing.assert_array_equal(got.numpy(), want)


def test_clip_takes_the_array_apis_keywords_and_open_sides():
    x = ac.tensor([-2.0, 0.5, 3.0])
    assert ac.clip(x, min=0.0).numpy().tolist() == [0.0, 0.5, 3.0]
    assert ac.clip(x, max=1.0).numpy().tolist() == [-2.0, 0.5, 1.0]
    assert ac.clip(x).numpy().tolist() == [-2.0, 0.5, 3.0]
    ints = ac.clip(ac.tensor([5, -5], dtype="int16"), max=3)
    assert ints.dtype == ac.int16 and ints.numpy().tolist() == [3, -5]
    with ac.GradientTape() as tape:
        tape.watch(x)
        y = ac.sum(ac.clip(x, max=1.0) * 2.0)
    assert tape.gradient(y, x).numpy().tolist() == [2.0, 2.0, 0.0]
