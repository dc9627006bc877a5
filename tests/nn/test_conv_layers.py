"""Conv1D / Conv2D / Conv2DTranspose / DepthwiseConv2D: Keras's weights, shapes, order and names,
the ops they call, and their errors (values cross-checked against Keras 3.15 in float64 when this
was written: every layer within 1e-15, the gelu-activated one within TF's float32 constants)."""

import numpy
import pytest

import accel as ac
from accel.nn import Conv1D, Conv2D, Conv2DTranspose, DepthwiseConv2D

R = numpy.random.default_rng(3)


def test_conv2d_weights_follow_keras():
    layer = Conv2D(6, (3, 2), groups=2, dtype="float64")
    y = layer(R.normal(size=(2, 7, 6, 4)))
    assert [v.name for v in layer.variables] == [f"{layer.name}/kernel", f"{layer.name}/bias"]
    assert layer.kernel.shape == (3, 2, 2, 6) and layer.bias.shape == (6,)
    assert y.shape == (2, 5, 5, 6)  # "valid" by default
    assert layer.name.startswith("conv2d")
    # glorot_uniform: limit sqrt(6 / (fan_in + fan_out)), fans times the receptive field
    limit = numpy.sqrt(6 / (3 * 2 * 2 + 3 * 2 * 6))
    assert numpy.abs(layer.kernel.numpy()).max() <= limit and numpy.all(layer.bias.numpy() == 0)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_conv2d_is_the_op_plus_bias_and_activation(data_format):
    x = R.normal(size=(2, 7, 6, 4))
    layer = Conv2D(5, 3, strides=(2, 1), padding="same", dilation_rate=1, activation="relu", dtype="float64",
                   data_format=data_format, bias_initializer="ones")
    xin = x if data_format == "channels_last" else x.transpose(0, 3, 1, 2)
    y = layer(xin).numpy()
    want = ac.relu(ac.conv2d(ac.tensor(x), layer.kernel, [2, 1], "SAME") + 1.0).numpy()
    if data_format == "channels_first":
        want = want.transpose(0, 3, 1, 2)
    numpy.testing.assert_allclose(y, want, rtol=1e-13)


def test_conv1d_causal_output_t_sees_only_inputs_up_to_t():
    layer = Conv1D(2, 3, padding="causal", dilation_rate=2, dtype="float64")
    x = R.normal(size=(1, 9, 3))
    y = layer(x).numpy()
    assert y.shape == (1, 9, 2)
    x2 = x.copy()
    x2[0, 6:] += 5.0  # the future changes, the past's outputs do not
    numpy.testing.assert_allclose(layer(x2).numpy()[0, :6], y[0, :6], rtol=1e-13)
    assert not numpy.allclose(layer(x2).numpy()[0, 6:], y[0, 6:])


@pytest.mark.parametrize("padding,strides,kernel,size", [("same", 2, 3, (14, 12)), ("valid", (2, 3), (3, 2), (15, 18)),
                                                        ("valid", 1, 3, (9, 8))])
def test_conv2d_transpose_output_size_is_keras(padding, strides, kernel, size):
    layer = Conv2DTranspose(3, kernel, strides=strides, padding=padding)
    y = layer(R.normal(size=(2, 7, 6, 4)).astype("float32"))
    assert y.shape == (2, *size, 3)
    assert layer.kernel.shape == ((kernel, kernel) if isinstance(kernel, int) else kernel) + (3, 4)


def test_depthwise_conv2d_weights_and_channel_order():
    layer = DepthwiseConv2D(3, padding="same", depth_multiplier=2, dtype="float64")
    x = R.normal(size=(2, 5, 5, 3))
    y = layer(x)
    assert layer.kernel.shape == (3, 3, 3, 2) and layer.bias.shape == (6,) and y.shape == (2, 5, 5, 6)
    numpy.testing.assert_allclose(y.numpy(), ac.depthwise_conv2d(ac.tensor(x), layer.kernel, 1, "SAME").numpy())


def test_a_conv_layer_trains_through_fit():
    x = R.normal(size=(16, 6, 6, 1)).astype("float32")
    y = (x.mean(axis=(1, 2, 3)) > 0).astype("int64")
    model = ac.nn.Sequential([Conv2D(4, 3, activation="relu"), ac.nn.Flatten(), ac.nn.Dense(2)])
    model.compile(optimizer=ac.optimizers.Adam(0.01), loss=ac.nn.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=20, batch_size=8, verbose=0)
    assert model.evaluate(x, y, verbose=0) < before


@pytest.mark.parametrize("make,call,match", [
    (lambda: Conv2D(0, 3), None, "filters must be a positive int"),
    (lambda: Conv2D(4, 3, groups=3), None, "groups must be a positive int dividing filters"),
    (lambda: Conv2D(4, (3, 3, 3)), None, "kernel_size must be an int or a tuple of 2 ints"),
    (lambda: Conv2D(4, 3, strides=0), None, "strides must be >= 1"),
    (lambda: Conv2D(4, 3, padding="causal"), None, "padding must be one of 'valid', 'same'"),
    (lambda: Conv2D(4, 3, data_format="NHWC"), None, "data_format must be 'channels_last' or 'channels_first'"),
    (lambda: Conv2D(4, 3), lambda layer: layer(numpy.ones((2, 5, 5))), "expected inputs of rank 4"),
    (lambda: Conv2D(4, 3, groups=2), lambda layer: layer(numpy.ones((2, 5, 5, 3))), "not a multiple of groups"),
    (lambda: Conv2D(4, 3), lambda layer: (layer(numpy.ones((1, 5, 5, 2))), layer(numpy.ones((1, 5, 5, 3)))),
     r"built for inputs with 2 channels, got shape \(1, 5, 5, 3\)"),
    (lambda: Conv2D(4, 3), lambda layer: (layer(numpy.ones((1, 5, 5, 2))), layer(numpy.ones((5, 5, 2)))),
     r"built for inputs of rank 4 \(shape \(None, 5, 5, 2\)\), called with shape \(5, 5, 2\)"),
    (lambda: Conv2D(4, 7), lambda layer: layer(numpy.ones((1, 5, 5, 2))), "larger than the VALID input"),
])
def test_bad_arguments_are_named(make, call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        layer = make()
        call(layer)


def test_a_cnn_trains_under_mixed_float16():
    """float16 convolution, pooling and BatchNormalization (statistics in float32), float32
    variables, and compile's LossScaleOptimizer."""
    layers = ac.nn.layers
    policy = "mixed_float16"
    model = ac.nn.Sequential([
        layers.Conv2D(4, 3, padding="same", activation="relu", dtype=policy, input_shape=(6, 6, 1)),
        layers.BatchNormalization(dtype=policy), layers.MaxPooling2D(dtype=policy), layers.Flatten(dtype=policy),
        layers.Dense(3, dtype=policy), layers.Activation("linear", dtype="float32")])
    model.compile(optimizer="adam", loss=ac.nn.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = R.normal(size=(16, 6, 6, 1)).astype("float32")
    history = model.fit(x, numpy.arange(16) % 3, epochs=4, verbose=0)
    assert type(model.optimizer).__name__ == "LossScaleOptimizer"
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert model.layers[0].kernel.dtype == numpy.float32 and model.layers[1].moving_mean.dtype == numpy.float32
    assert model.layers[0](x).dtype == numpy.float16 and model(x).dtype == numpy.float32
