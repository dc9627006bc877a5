"""top_k (tf.math.top_k): TensorFlow's order (largest first, equal entries by index, NaN largest),
int32 indices, integers at their extremes, errors. Gradients are test_op_gradients.py's cases."""

import numpy
import pytest

import accel as ac


def test_values_and_indices_in_tensorflows_order():
    x = ac.tensor([[1.0, 3.0, 3.0, -2.0], [0.5, 0.1, 0.9, 0.9]], dtype="float64")
    values, indices = ac.top_k(x, k=3)
    assert values.numpy().tolist() == [[3.0, 3.0, 1.0], [0.9, 0.9, 0.5]]
    assert indices.dtype == "int32" and indices.numpy().tolist() == [[1, 2, 0], [2, 3, 0]]
    values, indices = ac.top_k(ac.tensor([2.0, numpy.nan, 5.0]), 2)
    assert numpy.isnan(values.numpy()[0]) and indices.numpy().tolist() == [1, 2]
    assert ac.top_k(x)[1].shape == (2, 1)


def test_integers_at_their_extremes_and_empty_k():
    for dtype in ("int8", "uint8", "int16", "int64"):
        info = numpy.iinfo(dtype)
        x = numpy.array([info.min, info.max, 1, info.max], dtype)
        values, indices = ac.top_k(ac.tensor(x), 3)
        assert values.numpy().tolist() == [info.max, info.max, 1] and indices.numpy().tolist() == [1, 3, 2], dtype
    values, indices = ac.top_k(ac.tensor([[1.0, 2.0]]), 0)
    assert values.shape == indices.shape == (1, 0)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match=r"top_k: k must be in \[0, 3\] \(the last axis\), got 4"):
        ac.top_k(ac.tensor([1.0, 2.0, 3.0]), 4)
    with pytest.raises(TypeError, match="top_k: k must be an int"):
        ac.top_k(ac.tensor([1.0]), 1.0)
    with pytest.raises(ValueError, match="top_k: input must have at least 1 dimension"):
        ac.top_k(ac.tensor(1.0), 1)
    with pytest.raises(TypeError, match="top_k: sorted must be a bool"):
        ac.top_k(ac.tensor([1.0]), 1, sorted="yes")


def test_traced_equals_eager_on_every_call():
    fn = ac.function(lambda x: ac.top_k(x, 2))
    rng = numpy.random.default_rng(0)
    for _ in range(3):
        x = ac.tensor(rng.standard_normal((3, 5)))
        got, want = fn(x), ac.top_k(x, 2)
        assert got[0].numpy().tolist() == want[0].numpy().tolist()
        assert got[1].numpy().tolist() == want[1].numpy().tolist()
