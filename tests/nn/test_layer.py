"""What every layer shares: `training` reaching nested layers (and fit / evaluate / predict's
modes), Keras's default names, `input_shape=`, the rank check."""

import numpy
import pytest

import accel as ac
from accel.nn import BatchNormalization, Dense, Dropout, Layer, Module, Sequential, current_training


class Recorder(Layer):
    """Remembers the training flag of every call."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def call(self, inputs, training=None):
        self.seen.append(training)
        return inputs


class Block(Module):
    """A custom module whose call does not take `training`: its layers still get it."""

    def __init__(self):
        super().__init__()
        self.inner = Recorder()

    def call(self, x):
        assert current_training() in (None, True, False)
        return self.inner(x)


def test_training_reaches_nested_layers_through_a_module_that_ignores_it():
    block = Block()
    model = Sequential([block, Dense(1)])
    model(numpy.ones((2, 3)))
    model(numpy.ones((2, 3)), training=True)
    model(numpy.ones((2, 3)), training=False)
    assert block.inner.seen == [None, True, False]
    assert current_training() is None  # restored after every call
    with pytest.raises(TypeError, match="training must be True, False or None"):
        model(numpy.ones((2, 3)), training="yes")


def test_fit_trains_evaluate_and_predict_infer():
    recorder = Recorder()
    model = Sequential([recorder, Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = numpy.ones((4, 3), "float32"), numpy.ones((4, 1), "float32")
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    assert recorder.seen == [True]
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    model.train_on_batch(x, y)
    model.test_on_batch(x, y)
    assert recorder.seen == [True, False, False, True, False]


def test_fit_under_function_keeps_the_modes():
    """compile(jit_compile=...) aside, a traced step sees training=True; Dropout and
    BatchNormalization behave accordingly inside accel.function."""
    model = Sequential([Dense(4), Dropout(0.5, seed=0), BatchNormalization()])
    step = ac.function(lambda x: model(x, training=True))
    x = ac.tensor(numpy.random.default_rng(0).normal(size=(8, 3)).astype("float32"))
    a, b = step(x).numpy(), step(x).numpy()
    assert not numpy.array_equal(a, b)  # a new dropout mask per call
    assert numpy.any(model.layers[2].moving_mean.numpy() != 0)


def test_keras_default_names():
    names = [ac.nn.Conv2DTranspose(2, 2).name, ac.nn.GlobalAveragePooling2D().name, ac.nn.LayerNormalization().name]
    assert names[0].startswith("conv2d_transpose") and names[1].startswith("global_average_pooling2d")
    assert names[2].startswith("layer_normalization")


def test_input_shape_builds_at_construction():
    layer = ac.nn.Conv2D(4, 3, input_shape=(8, 8, 2))
    assert layer.built and layer.kernel.shape == (3, 3, 2, 4)
    y = layer(numpy.ones((1, 8, 8, 2), "float32"))
    assert layer.output_shape == (None, 6, 6, 4) and y.shape == (1, 6, 6, 4)
    with pytest.raises(TypeError, match="input_shape must be a tuple of ints"):
        ac.nn.Conv2D(4, 3, input_shape=8)


def test_repr_is_readable_and_nested():
    model = Sequential([ac.nn.Conv2D(8, 3, padding="same", activation="relu", name="c"), Dropout(0.2, name="d")],
                       name="net")
    text = repr(model)
    assert text.splitlines()[0] == "Sequential(name='net',"
    assert "  (layers[0]): Conv2D(name='c', filters=8, kernel_size=(3, 3), strides=(1, 1), padding='same'" in text
    assert "activation=relu)" in text and "(layers[1]): Dropout(name='d', rate=0.2" in text and text.endswith("\n)")


@pytest.mark.parametrize("jit_compile,run_eagerly", [(True, False), (False, False), (True, True)])
def test_jit_compile_runs_the_same_steps_through_accel_function(jit_compile, run_eagerly):
    x = numpy.random.default_rng(1).normal(size=(16, 3))
    y = x @ numpy.array([[1.0], [-2.0], [0.5]])
    model = Sequential([Dense(4, activation="tanh", seed=0, dtype="float64"), Dense(1, seed=1, dtype="float64")])
    model.compile(optimizer=ac.optimizers.Adam(0.05), loss="mse", metrics=["mae"], jit_compile=jit_compile,
                  run_eagerly=run_eagerly)
    history = model.fit(x, y, epochs=3, batch_size=5, verbose=0, shuffle=False)  # 3 full batches and a short one
    eager = Sequential([Dense(4, activation="tanh", seed=0, dtype="float64"), Dense(1, seed=1, dtype="float64")])
    eager.compile(optimizer=ac.optimizers.Adam(0.05), loss="mse", metrics=["mae"])
    expected = eager.fit(x, y, epochs=3, batch_size=5, verbose=0, shuffle=False)
    numpy.testing.assert_allclose(history.history["loss"], expected.history["loss"], rtol=1e-12)
    numpy.testing.assert_allclose(history.history["mae"], expected.history["mae"], rtol=1e-12)
    numpy.testing.assert_allclose(model.evaluate(x, y, verbose=0), eager.evaluate(x, y, verbose=0), rtol=1e-12)
    traced = model._step_functions.get("train")
    assert (traced is not None) == (jit_compile and not run_eagerly)
    with pytest.raises(TypeError, match="jit_compile must be True or False"):
        model.compile(optimizer="sgd", loss="mse", jit_compile="auto")


def test_nested_python_lists_are_one_input():
    assert Dense(2, seed=0)([[1.0, 2.0, 3.0]]).shape == (1, 2)
    assert ac.nn.Add()([numpy.ones((2, 3)), numpy.ones((2, 3))]).shape == (2, 3)
