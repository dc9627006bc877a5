"""cond and while_loop, eagerly: TensorFlow's results and gradients through what ran."""

import numpy
import pytest

import accel as ac
from accel.testing import check_gradients


def test_cond_runs_the_branch_the_predicate_picks():
    assert ac.cond(True, lambda: 1.0, lambda: 2.0) == 1.0  # a Python value stays one
    x = ac.tensor(3.0)
    assert float(ac.cond(x > 1, lambda: x * 2, lambda: x * 10)) == 6.0
    assert float(ac.cond(ac.tensor(False), lambda: x * 2, lambda: x * 10)) == 30.0


def test_cond_gradient_flows_through_the_taken_branch():
    def f(x):
        return ac.cond(ac.sum(x) > 0, lambda: ac.sum(ac.sin(x) * x), lambda: ac.sum(x ** 3))

    check_gradients(f, [numpy.array([0.3, 1.2, 0.5])], order=2)
    check_gradients(f, [numpy.array([-0.3, -1.2, 0.5])], order=2)


def test_cond_arguments_are_checked():
    with pytest.raises(ValueError, match="cond: pred must be a scalar, got a tensor of shape \\(2,\\)"):
        ac.cond(ac.tensor([True, False]), lambda: 1, lambda: 2)
    with pytest.raises(TypeError, match="cond: pred must be boolean, got a float32 tensor"):
        ac.cond(ac.tensor(1.0), lambda: 1, lambda: 2)
    with pytest.raises(TypeError, match="cond: false_fn must be callable, got NoneType"):
        ac.cond(True, lambda: 1)


def test_while_loop_iterates_and_keeps_the_structure():
    i, total = ac.while_loop(lambda i, s: i < 4, lambda i, s: (i + 1, s + i), (0, ac.tensor(0.0)))
    assert i == 4 and float(total) == 6.0
    (x,) = ac.while_loop(lambda x: x < 100, lambda x: x * 2, [ac.tensor(3.0)])  # a bare body result
    assert float(x) == 192.0
    assert ac.while_loop(lambda n: True, lambda n: n + 1, [0], maximum_iterations=5) == [5]
    assert ac.while_loop(lambda n: n < 3, lambda n: n + 1, [10]) == [10]  # never runs


def test_while_loop_gradient_flows_through_every_iteration():
    def f(x):
        _, y = ac.while_loop(lambda i, y: i < 3, lambda i, y: (i + 1, ac.sin(y) * x), [0, x])
        return ac.sum(y)

    check_gradients(f, [numpy.array([0.4, -0.7, 1.1])], order=2)


def test_while_loop_arguments_are_checked():
    with pytest.raises(TypeError, match="loop_vars must be a list or a tuple, got Tensor"):
        ac.while_loop(lambda x: x < 3, lambda x: x + 1, ac.tensor(0.0))
    with pytest.raises(ValueError, match="body returned 2 values for 1 loop variables"):
        ac.while_loop(lambda x: x < 3, lambda x: (x, x), [0])
    with pytest.raises(ValueError, match="maximum_iterations must be an int >= 0, got -1"):
        ac.while_loop(lambda x: x < 3, lambda x: x + 1, [0], maximum_iterations=-1)
    with pytest.raises(TypeError, match="cond's result must be a bool"):
        ac.while_loop(lambda x: "yes", lambda x: x + 1, [0])


def test_pow_is_power():
    assert ac.pow is ac.power
    numpy.testing.assert_allclose(ac.pow(ac.tensor([2.0, 3.0]), 3).numpy(), [8.0, 27.0])
