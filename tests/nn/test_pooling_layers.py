"""Keras's pooling layers: defaults (pool_size 2, strides = pool_size, "valid"), the ops they
call, global pooling, and errors."""

import numpy
import pytest

import accel as ac
from accel.nn import (AveragePooling1D, AveragePooling2D, GlobalAveragePooling1D, GlobalAveragePooling2D,
                      GlobalMaxPooling1D, GlobalMaxPooling2D, MaxPooling1D, MaxPooling2D)

R = numpy.random.default_rng(4)


def test_defaults_are_keras():
    x = R.normal(size=(2, 7, 6, 3)).astype("float32")
    layer = MaxPooling2D()
    assert layer.pool_size == (2, 2) and layer.strides == (2, 2) and layer.padding == "valid"
    assert layer.name.startswith("max_pooling2d") and layer.variables == []
    numpy.testing.assert_array_equal(layer(x).numpy(), ac.max_pool2d(ac.tensor(x), 2, 2, "VALID").numpy())
    assert AveragePooling1D().pool_size == (2,)


@pytest.mark.parametrize("layer,op", [
    (AveragePooling2D(3, strides=2, padding="same"), lambda x: ac.avg_pool2d(x, 3, 2, "SAME")),
    (MaxPooling2D((2, 3), strides=1, data_format="channels_first"),
     lambda x: ac.max_pool2d(x, [2, 3], 1, "VALID", data_format="NCHW")),
    (MaxPooling1D(3, padding="same"), lambda x: ac.max_pool1d(x[:, 0], 3, 3, "SAME")),
    (AveragePooling1D(2, strides=1), lambda x: ac.avg_pool1d(x[:, 0], 2, 1, "VALID")),
])
def test_pooling_layers_call_the_ops(layer, op):
    x = R.normal(size=(2, 7, 6, 3)).astype("float32")
    xin = x[:, 0] if layer.rank == 1 else x
    numpy.testing.assert_array_equal(layer(xin).numpy(), op(ac.tensor(x)).numpy())


def test_global_pooling():
    x = R.normal(size=(2, 5, 4, 3)).astype("float32")
    numpy.testing.assert_allclose(GlobalAveragePooling2D()(x).numpy(), x.mean(axis=(1, 2)), rtol=1e-6)
    numpy.testing.assert_allclose(GlobalMaxPooling2D(keepdims=True)(x).numpy(), x.max(axis=(1, 2), keepdims=True))
    numpy.testing.assert_allclose(GlobalAveragePooling1D(data_format="channels_first")(x[:, 0]).numpy(),
                                  x[:, 0].mean(axis=2), rtol=1e-6)
    numpy.testing.assert_allclose(GlobalMaxPooling1D()(x[:, 0]).numpy(), x[:, 0].max(axis=1))


@pytest.mark.parametrize("call,match", [
    (lambda: MaxPooling2D(0), "pool_size must be >= 1"),
    (lambda: MaxPooling2D(padding="full"), "padding must be one of"),
    (lambda: MaxPooling2D()(numpy.ones((2, 4, 4))), "expected inputs of rank 4"),
    (lambda: GlobalAveragePooling2D()(numpy.ones((2, 4, 4))), "expected inputs of rank 4"),
    (lambda: AveragePooling2D(5)(numpy.ones((1, 4, 4, 1))), "larger than the VALID input"),
])
def test_bad_arguments_are_named(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
