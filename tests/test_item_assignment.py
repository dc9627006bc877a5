"""Item assignment on Tensors (accel/item_assignment.py): the Array API's __setitem__, copy on write,
refused where a later computation reads the tensor."""

import numpy
import pytest

import accel as ac


def test_writes_like_numpy_and_keeps_what_was_taken_before():
    t = ac.tensor(numpy.arange(6.0).reshape(2, 3))
    row, view, host = t[0], ac.reshape(t, (3, 2)), t.numpy()
    t[0, 1] = 10.0
    t[1] = ac.tensor([7.0, 8.0, 9.0])
    t[:, 2] = [5, 6]  # Python numbers take the tensor's dtype
    t[ac.tensor([[True, False, False], [False, False, True]])] = -1.0
    expected = numpy.array([[-1.0, 10.0, 5.0], [7.0, 8.0, -1.0]])
    numpy.testing.assert_array_equal(t.numpy(), expected)
    numpy.testing.assert_array_equal(row.numpy(), [0.0, 1.0, 2.0])  # copy on write: taken before, unchanged
    numpy.testing.assert_array_equal(view.numpy(), numpy.arange(6.0).reshape(3, 2))
    numpy.testing.assert_array_equal(host, numpy.arange(6.0).reshape(2, 3))
    i = ac.tensor([0, 2])
    u = ac.zeros((3,), dtype="int32")
    u[i] = 4
    numpy.testing.assert_array_equal(u.numpy(), [4, 0, 4])


def test_values_that_would_change_the_dtype_are_refused_before_writing():
    t = ac.zeros((3,), dtype="int32")
    with pytest.raises(TypeError, match="float"):
        t[0] = 1.5
    with pytest.raises(TypeError, match="float64 value does not fit a int32"):
        t[0] = ac.tensor(numpy.array([1.0]), dtype="float64")
    with pytest.raises(IndexError):
        t[5] = 1
    numpy.testing.assert_array_equal(t.numpy(), [0, 0, 0])


def test_refused_where_a_gradient_or_a_replay_would_read_the_tensor():
    x = ac.tensor([1.0, 2.0])
    w = ac.Variable([3.0, 4.0])
    with ac.GradientTape(persistent=True) as tape:
        y = x * w  # the VJP for w reads x
        with pytest.raises(TypeError, match="an active GradientTape watches it"):
            watched = ac.tensor([1.0])
            tape.watch(watched)
            watched[0] = 2.0
    with pytest.raises(TypeError, match="a recorded op or a traced function reads it"):
        x[0] = 5.0
    with pytest.raises(TypeError, match="a tape recorded the op that produced it"):
        y[0] = 5.0
    numpy.testing.assert_array_equal(tape.gradient(y, w).numpy(), [1.0, 2.0])
    with pytest.raises(TypeError, match=r"v\[0\].assign"):
        w[0] = 1.0
    copy = ac.asarray(x, copy=True)
    copy[0] = 5.0  # a copy is free to change
    assert copy.numpy()[0] == 5.0 and x.numpy()[0] == 1.0

    captured = ac.tensor([1.0, 1.0])

    @ac.function
    def f(a):
        return a + captured

    f(ac.tensor([0.0, 0.0]))
    with pytest.raises(TypeError, match="a recorded op or a traced function reads it"):
        captured[0] = 3.0

    @ac.function
    def g(a):
        local = ac.zeros((2,))
        local[0] = 1.0
        return a + local

    with pytest.raises(TypeError, match="accel.function is tracing"):
        g(ac.tensor([0.0, 0.0]))
