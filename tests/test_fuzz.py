"""Property-based checks (hypothesis): every op on random shapes (empty and 0-d included) and dtypes
against NumPy in value, dtype and shape, and random small programs against finite differences.

Small by default so `pytest` stays fast; ACCEL_FUZZ_EXAMPLES=500 (say) searches harder."""

import os
import warnings

import numpy
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import accel as ac

EXAMPLES = int(os.environ.get("ACCEL_FUZZ_EXAMPLES", "15"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FLOATS = st.sampled_from([numpy.float32, numpy.float64])


def arrays(dtype=FLOATS, shape=None, low=-3.0, high=3.0):
    shapes = shape if shape is not None else hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)
    return dtype.flatmap(lambda dt: hnp.arrays(dt, shapes, elements=st.floats(
        low, high, width=32, allow_nan=False, allow_infinity=False)))


def same(actual, expected, rtol=2e-6, atol=1e-6):
    actual_np = actual.numpy() if isinstance(actual, ac.Tensor) else numpy.asarray(actual)
    expected = numpy.asarray(expected)
    assert actual_np.shape == expected.shape, (actual_np.shape, expected.shape)
    assert actual_np.dtype == expected.dtype, (actual_np.dtype, expected.dtype)
    numpy.testing.assert_allclose(actual_np, expected, rtol=rtol, atol=atol)


UNARY = {
    "negative": numpy.negative, "abs": numpy.abs, "square": numpy.square, "exp": numpy.exp, "tanh": numpy.tanh,
    "sin": numpy.sin, "cos": numpy.cos, "expm1": numpy.expm1, "sign": numpy.sign,
    "relu": lambda x: numpy.maximum(x, 0).astype(x.dtype),
    "sigmoid": lambda x: (1 / (1 + numpy.exp(-x.astype(numpy.float64)))).astype(x.dtype),
    "softplus": lambda x: numpy.logaddexp(0, x),
}
POSITIVE = {"log": numpy.log, "sqrt": numpy.sqrt, "log1p": numpy.log1p}


@pytest.mark.parametrize("name", list(UNARY) + list(POSITIVE))
@SETTINGS
@given(data=st.data())
def test_unary_ops_match_numpy(name, data):
    low = 0.125 if name in POSITIVE else -3.0
    x = data.draw(arrays(low=low))
    reference = (UNARY | POSITIVE)[name](x)
    same(getattr(ac, name)(ac.tensor(x)), reference, rtol=2e-5 if x.dtype == numpy.float32 else 1e-12)


BINARY = {"add": numpy.add, "subtract": numpy.subtract, "multiply": numpy.multiply, "maximum": numpy.maximum,
          "minimum": numpy.minimum, "divide": numpy.true_divide}


@pytest.mark.parametrize("name", list(BINARY))
@SETTINGS
@given(data=st.data())
def test_binary_ops_broadcast_like_numpy(name, data):
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=0,
                                                         max_side=3))
    dtype = data.draw(FLOATS)
    x = data.draw(arrays(st.just(dtype), st.just(shapes.input_shapes[0])))
    y = data.draw(arrays(st.just(dtype), st.just(shapes.input_shapes[1]), low=0.5, high=3.0))
    same(getattr(ac, name)(ac.tensor(x), ac.tensor(y)), BINARY[name](x, y))
    scalar = 1.5  # Python scalars never upcast (NumPy 2 rules)
    same(getattr(ac, name)(ac.tensor(x), scalar), BINARY[name](x, scalar))


REDUCTIONS = {"sum": numpy.sum, "mean": numpy.mean, "max": numpy.max, "min": numpy.min, "prod": numpy.prod}


@pytest.mark.parametrize("name", list(REDUCTIONS))
@SETTINGS
@given(data=st.data())
def test_reductions_match_numpy(name, data):
    x = data.draw(arrays(low=-1.5, high=1.5))
    axis = data.draw(st.one_of(st.none(), st.integers(-max(x.ndim, 1), max(x.ndim - 1, 0))) if x.ndim else st.none())
    keepdims = data.draw(st.booleans())
    reduced = x.size if axis is None else (x.shape[axis] if x.ndim else 1)
    if name in ("max", "min") and reduced == 0:
        with pytest.raises(ValueError, match="empty axis"):
            getattr(ac, name)(ac.tensor(x), axis, keepdims)
        return
    with numpy.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's "Mean of empty slice": accel gives NaN quietly
        expected = REDUCTIONS[name](x, axis=axis, keepdims=keepdims)
    same(getattr(ac, name)(ac.tensor(x), axis, keepdims), numpy.asarray(expected, dtype=x.dtype), rtol=1e-5)


@SETTINGS
@given(data=st.data())
def test_shape_ops_match_numpy(data):
    x = data.draw(arrays())
    t = ac.tensor(x)
    same(ac.reshape(t, (-1,)), x.reshape(-1))
    same(ac.transpose(t), x.transpose())
    axis = data.draw(st.integers(-x.ndim - 1, x.ndim))
    same(ac.expand_dims(t, axis), numpy.expand_dims(x, axis))
    same(ac.squeeze(t), numpy.squeeze(x))
    if x.ndim:
        axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
        same(ac.concat([t, t], axis), numpy.concatenate([x, x], axis))
        same(ac.stack([t, t], axis), numpy.stack([x, x], axis))
        if x.shape[axis]:
            for got, want in zip(ac.unstack(t, axis), numpy.moveaxis(x, axis, 0)):
                same(got, want)
        same(ac.softmax(t, axis), _softmax(x, axis), rtol=2e-5)
        if x.shape[axis]:
            same(ac.argmax(t, axis), numpy.argmax(x, axis))
    same(ac.where(t > 0, t, 0.0), numpy.where(x > 0, x, numpy.zeros((), x.dtype)))
    same(ac.clip(t, -1.0, 1.0), numpy.clip(x, -1, 1))


def _softmax(x, axis):
    if x.shape[axis] == 0:
        return x.copy()
    e = numpy.exp(x - x.max(axis=axis, keepdims=True))
    return (e / e.sum(axis=axis, keepdims=True)).astype(x.dtype)


@SETTINGS
@given(data=st.data())
def test_matmul_matches_numpy(data):
    n, k, m = (data.draw(st.integers(0, 4)) for _ in range(3))
    batch = data.draw(st.sampled_from([(), (2,), (0,)]))
    dtype = data.draw(FLOATS)
    a = data.draw(arrays(st.just(dtype), st.just(batch + (n, k))))
    b = data.draw(arrays(st.just(dtype), st.just((k, m))))
    same(ac.matmul(ac.tensor(a), ac.tensor(b)), a @ b, rtol=1e-5, atol=1e-5)


# ---- random programs against finite differences --------------------------------------------------
SMOOTH_UNARY = [ac.tanh, ac.sigmoid, ac.exp, ac.sin, ac.softplus, lambda t: ac.square(t) * 0.5,
                lambda t: ac.log(ac.square(t) + 1.0), lambda t: ac.sqrt(ac.square(t) + 0.5)]
SMOOTH_BINARY = [ac.add, ac.subtract, ac.multiply, lambda a, b: a / (ac.square(b) + 1.0)]


@SETTINGS
@given(data=st.data())
def test_random_programs_match_finite_differences(data):
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=3))
    inputs = [data.draw(arrays(st.just(numpy.float64), st.just(shape), low=-1.0, high=1.0)) for _ in range(2)]
    steps = data.draw(st.lists(st.tuples(st.integers(0, 100), st.integers(0, 100), st.booleans()),
                               min_size=1, max_size=6))
    reduce_last = data.draw(st.sampled_from(["sum", "mean", "logsumexp", "none"]))

    def program(x, y):
        values = [x, y]
        for op, other, binary in steps:
            a = values[-1]
            if binary:
                values.append(SMOOTH_BINARY[op % len(SMOOTH_BINARY)](a, values[other % len(values)]))
            else:
                values.append(SMOOTH_UNARY[op % len(SMOOTH_UNARY)](a))
        out = values[-1]
        return out if reduce_last == "none" else getattr(ac, reduce_last)(out)

    ac.testing.check_gradients(program, inputs, rtol=1e-4, atol=1e-6)
