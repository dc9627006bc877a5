"""LayerNormalization and BatchNormalization: Keras's weights and order, the formulas of
docs/semantics.md section 16 (values cross-checked against Keras 3.15 in float64 when written:
1e-15), moving statistics only in training, float16 computed in float32."""

import numpy
import pytest

import accel as ac
from accel.nn import BatchNormalization, LayerNormalization

R = numpy.random.default_rng(8)


def test_layer_normalization_formula_and_weights():
    layer = LayerNormalization(dtype="float64", gamma_initializer="random_normal", beta_initializer="random_normal")
    x = R.normal(size=(2, 3, 5))
    y = layer(x).numpy()
    assert [v.name.split("/")[-1] for v in layer.variables] == ["gamma", "beta"] and layer.gamma.shape == (5,)
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    want = (x - mean) / numpy.sqrt(var + 1e-3) * layer.gamma.numpy() + layer.beta.numpy()
    numpy.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-12)
    two_axes = LayerNormalization(axis=[1, 2], dtype="float64", center=False)
    assert two_axes(x).shape == x.shape and two_axes.gamma.shape == (3, 5) and two_axes.beta is None


def test_batch_normalization_training_and_inference():
    layer = BatchNormalization(momentum=0.9, dtype="float64")
    x = R.normal(size=(6, 4, 3)) * 2 + 1
    assert layer(x).shape == x.shape  # inference: moving statistics (0, 1) at first
    assert [v.name.split("/")[-1] for v in layer.variables] == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert [v.trainable for v in layer.variables] == [True, True, False, False]
    numpy.testing.assert_array_equal(layer.moving_mean.numpy(), 0)  # a plain call changes nothing
    y = layer(x, training=True).numpy()
    mean, var = x.mean(axis=(0, 1)), x.var(axis=(0, 1))
    numpy.testing.assert_allclose(y, (x - mean) / numpy.sqrt(var + 1e-3), rtol=1e-12, atol=1e-12)
    numpy.testing.assert_allclose(layer.moving_mean.numpy(), 0.1 * mean, rtol=1e-13)
    numpy.testing.assert_allclose(layer.moving_variance.numpy(), 0.9 + 0.1 * var, rtol=1e-13)  # population variance
    inference = layer(x, training=False).numpy()
    numpy.testing.assert_allclose(inference, (x - 0.1 * mean) / numpy.sqrt(0.9 + 0.1 * var + 1e-3), rtol=1e-12)


def test_batch_normalization_moving_statistics_follow_fit_not_evaluate_or_predict():
    x = R.normal(size=(32, 4)).astype("float32") * 3 + 2
    y = R.normal(size=(32, 1)).astype("float32")
    model = ac.nn.Sequential([BatchNormalization(), ac.nn.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.predict(x, verbose=0)
    model.evaluate(x, y, verbose=0)
    bn = model.layers[0]
    numpy.testing.assert_array_equal(bn.moving_mean.numpy(), 0)
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    numpy.testing.assert_allclose(bn.moving_mean.numpy(), 0.01 * x.mean(0), rtol=1e-5)
    weights = model.get_weights()
    assert len(weights) == 6 and numpy.allclose(weights[2], bn.moving_mean.numpy())  # saved with the model


def test_float16_is_computed_in_float32():
    layer = LayerNormalization(dtype="mixed_float16")
    x = (R.normal(size=(2, 64)) * 300).astype("float16")
    y = layer(x)
    assert y.dtype == numpy.float16 and layer.gamma.dtype == numpy.float32
    xf = x.astype("float64")
    want = (xf - xf.mean(-1, keepdims=True)) / numpy.sqrt(xf.var(-1, keepdims=True) + 1e-3)
    numpy.testing.assert_allclose(y.numpy().astype(float), want, atol=4e-3)
    bn = BatchNormalization(dtype="mixed_float16")
    assert bn(x, training=True).dtype == numpy.float16 and bn.moving_mean.dtype == numpy.float32


@pytest.mark.parametrize("call,match", [
    (lambda: BatchNormalization(momentum=1.5), r"momentum must be a number in \[0, 1\]"),
    (lambda: LayerNormalization(epsilon=0), "epsilon must be a positive number"),
    (lambda: LayerNormalization(axis=3)(numpy.ones((2, 3))), "axis 3 is out of range"),
    (lambda: (lambda layer: (layer(numpy.ones((2, 3))), layer(numpy.ones((2, 4)))))(BatchNormalization()),
     r"built for size \(3,\) along axis \(1,\)"),
    (lambda: (lambda layer: (layer(numpy.ones((2, 3))), layer(numpy.ones((2, 2, 3)))))(LayerNormalization()),
     "built for inputs of rank 2"),
])
def test_bad_arguments_are_named(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
