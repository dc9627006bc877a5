import numpy
import pytest

import accel as ac


def test_constructors(device):
    assert ac.zeros((2, 3), device=device).numpy().tolist() == [[0, 0, 0]] * 2
    assert ac.ones(2, dtype="int32", device=device).dtype == ac.int32
    assert ac.full((2,), 7, device=device).dtype == ac.int64
    assert ac.full((2,), 7.0, device=device).dtype == ac.float32
    assert ac.full((2,), 7, dtype="float64", device=device).numpy().tolist() == [7.0, 7.0]
    x = ac.tensor([[1.0, 2.0]], dtype="float64", device=device)
    assert ac.zeros_like(x).dtype == ac.float64 and ac.ones_like(x).shape == (1, 2)
    assert ac.full_like(x, 3.0).numpy().tolist() == [[3.0, 3.0]]
    assert ac.arange(5, device=device).numpy().tolist() == [0, 1, 2, 3, 4]
    assert ac.arange(5, device=device).dtype == ac.int64
    assert ac.arange(0, 1, 0.25, device=device).dtype == ac.float32
    numpy.testing.assert_allclose(ac.linspace(0, 1, 5, device=device).numpy(), [0, 0.25, 0.5, 0.75, 1])
    numpy.testing.assert_array_equal(ac.eye(2, 3, device=device).numpy(), numpy.eye(2, 3))
    assert ac.zeros((0, 2), device=device).shape == (0, 2)
    for t in (ac.zeros((1,), device=device), ac.arange(2, device=device), ac.eye(1, device=device)):
        assert t.device == device


def test_constructor_errors():
    with pytest.raises(ValueError, match="full: shape must not have negative dimensions"):
        ac.zeros((2, -1))
    with pytest.raises(ValueError, match="arange: step must not be 0"):
        ac.arange(0, 3, 0)
    with pytest.raises(TypeError, match="shape must be an int or a sequence of ints"):
        ac.zeros("abc")
