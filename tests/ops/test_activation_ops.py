"""The tf.nn activations (gelu, leaky_relu, elu, selu, silu, softsign, log_sigmoid): TensorFlow's
values (docs/semantics.md section 16, TF 2.21 in float64), its special cases, dtypes and errors.
Gradients (first and second order) are tests/autodiff/test_op_gradients.py's cases."""

import math

import numpy
import pytest

import accel as ac
from accel.nn import activations

SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def f64(values):
    return ac.tensor(numpy.array(values, dtype=numpy.float64))


def test_worked_values_in_float64():
    assert ac.gelu(f64([1.0])).numpy()[0] == pytest.approx(0.8413447460685429, rel=1e-15)
    assert ac.gelu(f64([1.0]), approximate=True).numpy()[0] == pytest.approx(0.8411919906082768, rel=1e-15)
    assert ac.elu(f64([-1.0, 2.0])).numpy().tolist() == [math.expm1(-1.0), 2.0]
    numpy.testing.assert_allclose(ac.selu(f64([-1.0, 2.0])).numpy(),
                                  [SELU_SCALE * SELU_ALPHA * math.expm1(-1.0), SELU_SCALE * 2.0], rtol=1e-15)
    assert ac.leaky_relu(f64([-1.0, 0.0, 3.0])).numpy().tolist() == [-0.2, 0.0, 3.0]
    assert ac.leaky_relu(f64([-2.0]), alpha=0.5).numpy().tolist() == [-1.0]
    assert ac.silu(f64([1.0])).numpy()[0] == pytest.approx(0.7310585786300049, rel=1e-15)
    assert ac.softsign(f64([-3.0, 1.0])).numpy().tolist() == [-0.75, 0.5]
    assert ac.log_sigmoid(f64([0.0])).numpy()[0] == pytest.approx(-math.log(2.0), rel=1e-15)


def test_no_overflow_and_tensorflows_special_cases():
    with numpy.errstate(over="raise", invalid="raise", divide="raise"):  # no branch overflows
        big = f64([-800.0, 800.0])
        assert ac.elu(big).numpy().tolist() == [-1.0, 800.0]
        assert ac.selu(big).numpy()[1] == SELU_SCALE * 800.0
        assert ac.log_sigmoid(big).numpy().tolist() == [-800.0, 0.0]
        assert ac.silu(big).numpy().tolist() == [-0.0, 800.0]
    # TensorFlow selects on x < 0: -0.0 passes through elu and selu, as does NaN
    out = ac.elu(f64([-0.0, numpy.nan])).numpy()
    assert math.copysign(1.0, out[0]) == -1.0 and math.isnan(out[1])
    assert math.copysign(1.0, ac.selu(f64([-0.0])).numpy()[0]) == -1.0


@pytest.mark.parametrize("op", [ac.gelu, ac.leaky_relu, ac.elu, ac.selu, ac.silu, ac.softsign, ac.log_sigmoid])
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_dtypes_are_kept_and_agree_with_float64(op, dtype):
    x = numpy.linspace(-4, 4, 33)
    want = op(ac.tensor(x)).numpy()
    got = op(ac.tensor(x.astype(dtype)))
    assert got.dtype == dtype
    tolerance = {"float16": 4e-3, "float32": 1e-6, "float64": 1e-15}[dtype]
    numpy.testing.assert_allclose(got.numpy().astype(float), want, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("op", [ac.gelu, ac.leaky_relu, ac.elu, ac.selu, ac.silu, ac.softsign, ac.log_sigmoid])
def test_integers_are_computed_as_float32(op):
    out = op(ac.tensor([-2, 0, 3]))
    assert out.dtype == "float32"
    numpy.testing.assert_allclose(out.numpy(), op(ac.tensor([-2.0, 0.0, 3.0], dtype="float32")).numpy())


def test_bad_arguments_are_named():
    with pytest.raises(TypeError, match="gelu: approximate must be a bool"):
        ac.gelu(f64([1.0]), approximate="tanh")
    with pytest.raises(TypeError, match="leaky_relu: alpha must be a real number"):
        ac.leaky_relu(f64([1.0]), alpha=f64([0.1]))
    with pytest.raises(TypeError, match="leaky_relu: alpha must be a real number"):
        ac.leaky_relu(f64([1.0]), alpha=True)


def test_keras_names_are_these_ops():
    x = f64([-1.5, 0.5, 2.0])
    for name, op in [("gelu", ac.gelu), ("silu", ac.silu), ("swish", ac.silu), ("elu", ac.elu), ("selu", ac.selu),
                     ("softsign", ac.softsign), ("log_sigmoid", ac.log_sigmoid), ("leaky_relu", ac.leaky_relu)]:
        assert activations.get(name)(x).numpy().tolist() == op(x).numpy().tolist(), name
    assert activations.elu(x, alpha=2.0).numpy()[0] == pytest.approx(2.0 * math.expm1(-1.5))


def test_traced_equals_eager_on_every_call():
    fn = ac.function(lambda x: ac.gelu(x) + ac.leaky_relu(x, 0.1) + ac.elu(x) + ac.selu(x) + ac.silu(x)
                     + ac.softsign(x) + ac.log_sigmoid(x))
    rng = numpy.random.default_rng(0)
    for _ in range(3):
        x = ac.tensor(rng.standard_normal(7))
        want = (ac.gelu(x) + ac.leaky_relu(x, 0.1) + ac.elu(x) + ac.selu(x) + ac.silu(x) + ac.softsign(x)
                + ac.log_sigmoid(x))
        numpy.testing.assert_allclose(fn(x).numpy(), want.numpy(), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gelu_one_pass_loops_equal_their_numpy_forms(monkeypatch, dtype):
    """csrc/cpu/activations.cpp's gelu and gelu_grad against the NumPy forms they state."""
    from accel.ops import activations

    rng = numpy.random.default_rng(4)
    x = rng.normal(scale=3.0, size=4099).astype(dtype)
    g = rng.normal(size=4099).astype(dtype)
    fast = activations._gelu_array(numpy, x), activations._gelu_grad_array(numpy, g, x)
    monkeypatch.setattr(activations, "_COMPILED", ())
    slow = activations._gelu_array(numpy, x), activations._gelu_grad_array(numpy, g, x)
    tolerance = {"float32": 2e-6, "float64": 1e-15}[dtype]
    for a, b in zip(fast, slow):
        assert a.dtype == numpy.dtype(dtype)
        numpy.testing.assert_allclose(a, b, rtol=tolerance, atol=tolerance)
