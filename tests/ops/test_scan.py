"""cumsum (tf.math.cumsum): TensorFlow's values for every exclusive / reverse combination, dtypes
and errors. Gradients are tests/autodiff/test_op_gradients.py's cases."""

import numpy
import pytest

import accel as ac


@pytest.mark.parametrize("exclusive,reverse,want", [
    (False, False, [1, 3, 6, 10]), (True, False, [0, 1, 3, 6]),
    (False, True, [10, 9, 7, 4]), (True, True, [9, 7, 4, 0]),
])
def test_tensorflows_four_scans(exclusive, reverse, want):
    x = ac.tensor([1.0, 2.0, 3.0, 4.0])
    assert ac.cumsum(x, exclusive=exclusive, reverse=reverse).numpy().tolist() == want


def test_axes_and_dtypes():
    x = numpy.arange(12, dtype=numpy.int32).reshape(3, 4)
    out = ac.cumsum(ac.tensor(x), axis=-1)
    assert out.dtype == "int32" and out.numpy().tolist() == numpy.cumsum(x, axis=1).tolist()
    assert ac.cumsum(ac.tensor(x.astype("float16")), axis=0).dtype == "float16"
    assert ac.cumsum(ac.tensor(numpy.zeros((0, 3))), exclusive=True).shape == (0, 3)
    assert ac.cumsum(ac.tensor(2.5)).numpy() == 2.5


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="cumsum: axis 2 is out of range"):
        ac.cumsum(ac.tensor([[1.0]]), axis=2)
    with pytest.raises(TypeError, match="cumsum: axis must be an int"):
        ac.cumsum(ac.tensor([1.0]), axis=None)
    with pytest.raises(TypeError, match="cumsum: exclusive must be a bool"):
        ac.cumsum(ac.tensor([1.0]), exclusive=1)
    with pytest.raises(TypeError, match="cumsum: x must be numbers, got bool"):
        ac.cumsum(ac.tensor([True, False]))


def test_traced_equals_eager_on_every_call():
    fn = ac.function(lambda x: ac.cumsum(x, axis=0, exclusive=True) * ac.cumsum(x, axis=1, reverse=True))
    rng = numpy.random.default_rng(0)
    for _ in range(3):
        x = ac.tensor(rng.standard_normal((3, 4)))
        want = ac.cumsum(x, axis=0, exclusive=True) * ac.cumsum(x, axis=1, reverse=True)
        numpy.testing.assert_array_equal(fn(x).numpy(), want.numpy())
