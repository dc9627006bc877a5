"""Activation, Dropout, Flatten, Reshape, Add, Concatenate, Embedding: Keras's behaviour."""

import numpy
import pytest

import accel as ac
from accel.nn import Activation, Add, Concatenate, Dropout, Embedding, Flatten, Reshape

R = numpy.random.default_rng(6)


def test_activation_by_name():
    x = R.normal(size=(3, 4))
    numpy.testing.assert_allclose(Activation("gelu")(x).numpy(), ac.gelu(ac.tensor(x, dtype="float32")).numpy())
    with pytest.raises(ValueError, match="activation must be a name or a callable"):
        Activation(None)


def test_dropout_is_the_identity_unless_training():
    x = ac.ones((200, 50))
    layer = Dropout(0.4, seed=3)
    assert layer(x) is not None and numpy.array_equal(layer(x).numpy(), x.numpy())
    assert numpy.array_equal(layer(x, training=False).numpy(), x.numpy())
    a, b = layer(x, training=True).numpy(), layer(x, training=True).numpy()
    assert not numpy.array_equal(a, b)  # a new mask every call
    assert set(numpy.unique(a)) <= {0.0, numpy.float32(1 / 0.6)} and abs((a == 0).mean() - 0.4) < 0.02
    again = Dropout(0.4, seed=3)
    numpy.testing.assert_array_equal(again(x, training=True).numpy(), a)  # the same sequence from the seed
    shared = Dropout(0.5, noise_shape=(None, 1), seed=1)(x, training=True).numpy()
    assert all(len(set(row)) == 1 for row in shared)  # one mask value per row
    with pytest.raises(ValueError, match=r"rate must be a number in \[0, 1\)"):
        Dropout(1.0)


def test_flatten_and_reshape():
    x = R.normal(size=(2, 3, 4, 5))
    numpy.testing.assert_array_equal(Flatten()(x).numpy(), x.reshape(2, -1).astype("float32"))
    # channels_first: moved to channels last first (Keras), so both layouts flatten alike
    numpy.testing.assert_array_equal(Flatten(data_format="channels_first")(x.transpose(0, 3, 1, 2)).numpy(),
                                     x.reshape(2, -1).astype("float32"))
    assert Reshape((5, -1))(x).shape == (2, 5, 12)
    with pytest.raises(ValueError, match="at most one -1"):
        Reshape((-1, -1))


def test_add_and_concatenate():
    a, b = R.normal(size=(2, 3)), R.normal(size=(2, 3))
    numpy.testing.assert_allclose(Add()([a, b, a]).numpy(), (2 * a + b).astype("float32"), rtol=1e-6)
    assert Concatenate()([a, b]).shape == (2, 6)
    with pytest.raises(ValueError, match="expected a list of at least 2 tensors"):
        Add()(ac.tensor(a))


def test_embedding_weights_and_lookup():
    layer = Embedding(10, 3)
    ids = numpy.array([[1, 4], [9, 1]])
    y = layer(ids)
    assert [v.name for v in layer.variables] == [f"{layer.name}/embeddings"] and layer.embeddings.shape == (10, 3)
    assert numpy.abs(layer.embeddings.numpy()).max() <= 0.05  # Keras's "uniform": U(-0.05, 0.05)
    numpy.testing.assert_array_equal(y.numpy(), layer.embeddings.numpy()[ids])
    numpy.testing.assert_array_equal(layer(ids.astype("float32")).numpy(), y.numpy())
    with pytest.raises(ValueError, match="whole numbers"):
        layer(numpy.array([1.5]))
    with pytest.raises(IndexError, match=r"ids\[1\] = 10 is not in \[0, 10\)"):
        layer(numpy.array([3, 10]))
    with pytest.raises(TypeError, match="ids must be integers"):
        layer(numpy.array([True]))


def test_embedding_gradient_sums_repeated_ids():
    layer = Embedding(4, 2, dtype="float64")
    with ac.GradientTape() as tape:
        loss = ac.sum(layer(numpy.array([1, 3, 1])))
    g = tape.gradient(loss, layer.embeddings)
    numpy.testing.assert_array_equal(g.numpy(), [[0, 0], [2, 2], [0, 0], [1, 1]])
