import pytest

import accel as ac
from accel.testing import assert_allclose, check_gradients


@ac.custom_gradient
def wrong_square(x):
    def grad(dy):
        return dy * 3 * x  # should be 2x
    return x * x, grad


def test_check_gradients_catches_a_wrong_gradient():
    with pytest.raises(AssertionError) as info:
        check_gradients(wrong_square, [[1.0, 2.0, -0.5]])
    message = str(info.value)
    assert "wrong_square" in message and "inputs[0] shape (3,) float64" in message
    assert "direction: [[" in message
    assert "backprop directional derivative" in message and "central difference" in message


def test_check_gradients_second_order_catches_a_wrong_second_derivative():
    @ac.custom_gradient
    def cube(x):
        def grad(dy):
            return dy * 3 * ac.stop_gradient(x * x)  # right value, but not differentiable again
        return x * x * x, grad

    check_gradients(cube, [[0.5, 1.5]])
    with pytest.raises(AssertionError, match="gradient of cube"):
        check_gradients(cube, [[0.5, 1.5]], order=2)


def test_check_gradients_passes_integer_inputs_through():
    check_gradients(lambda x, i: x * ac.cast(i, "float64"), [[1.0, 2.0], ac.tensor([3, 4])])


def test_check_gradients_rejects_bad_order():
    with pytest.raises(ValueError, match="order must be 1 or 2"):
        check_gradients(ac.exp, [[1.0]], order=3)


def test_assert_allclose_accepts_tensors():
    assert_allclose(ac.tensor([1.0, 2.0]), [1.0, 2.0])
    with pytest.raises(AssertionError):
        assert_allclose(ac.tensor([1.0]), [1.1])
