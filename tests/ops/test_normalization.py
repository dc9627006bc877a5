"""moments and batch_normalization (tf.nn): TensorFlow's definitions, float16, errors. Gradients are
tests/autodiff/test_op_gradients.py's cases."""

import numpy
import pytest

import accel as ac


def test_moments_are_the_mean_and_the_population_variance():
    x = numpy.random.default_rng(0).standard_normal((4, 3, 5))
    m, v = ac.moments(ac.tensor(x), axes=[0, 2])
    numpy.testing.assert_allclose(m.numpy(), x.mean(axis=(0, 2)), rtol=1e-14)
    numpy.testing.assert_allclose(v.numpy(), x.var(axis=(0, 2)), rtol=1e-13)
    m, v = ac.moments(ac.tensor(x), axes=-1, keepdims=True)
    assert m.shape == v.shape == (4, 3, 1)


def test_float16_statistics_are_computed_in_float32():
    x = numpy.full(4096, 60.0, numpy.float16) + numpy.tile(numpy.array([0.0, 0.5], numpy.float16), 2048)
    m, v = ac.moments(ac.tensor(x), [0])
    assert m.dtype == v.dtype == "float16"
    assert float(m.numpy()) == 60.25 and float(v.numpy()) == 0.0625


def test_batch_normalization_is_tensorflows_formula():
    rng = numpy.random.default_rng(1)
    x, mean, var, offset, scale = rng.standard_normal((5, 3)), rng.standard_normal(3), rng.uniform(0.5, 2, 3), \
        rng.standard_normal(3), rng.standard_normal(3)
    got = ac.batch_normalization(ac.tensor(x), ac.tensor(mean), ac.tensor(var), ac.tensor(offset),
                                 ac.tensor(scale), 1e-3).numpy()
    numpy.testing.assert_allclose(got, (x - mean) / numpy.sqrt(var + 1e-3) * scale + offset, rtol=1e-13)
    got = ac.batch_normalization(ac.tensor(x), ac.tensor(mean), ac.tensor(var), None, None, 0.0).numpy()
    numpy.testing.assert_allclose(got, (x - mean) / numpy.sqrt(var), rtol=1e-13)


def test_bad_arguments_are_named():
    with pytest.raises(TypeError, match="moments: x must be floating point"):
        ac.moments(ac.tensor([1, 2]), [0])
    with pytest.raises(TypeError, match="moments: axes must be an int or a sequence of ints, got None"):
        ac.moments(ac.tensor([1.0]), None)
    with pytest.raises(ValueError, match="moments: axis 3 is out of range"):
        ac.moments(ac.tensor([[1.0]]), [3])
    with pytest.raises(ValueError, match="variance_epsilon must be a number >= 0"):
        ac.batch_normalization(ac.tensor([1.0]), 0.0, 1.0, None, None, -1.0)


def test_traced_equals_eager_on_every_call():
    def normalized(x):
        m, v = ac.moments(x, [0])
        return ac.batch_normalization(x, m, v, None, None, 1e-3)

    fn = ac.function(normalized)
    rng = numpy.random.default_rng(2)
    for _ in range(3):
        x = ac.tensor(rng.standard_normal((6, 3)))
        numpy.testing.assert_array_equal(fn(x).numpy(), normalized(x).numpy())
