"""Hardening (issue 17): bad input is a clear error naming the argument, raised before anything is
modified; no silent coercion; empty tensors behave like NumPy / PyTorch."""

import math
import re

import numpy
import pytest

import accel as ac
from accel.optimizers import schedules

T = ac.tensor([[1.0, 2.0], [3.0, 4.0]])


@pytest.mark.parametrize("call,error,message", [
    (lambda: ac.one_hot(ac.tensor([0, 1]), 2.5), TypeError, "one_hot: depth must be an int, got 2.5"),
    (lambda: ac.gather(T, [0.5]), TypeError, "gather: indices must be integers, got float64"),
    (lambda: ac.sum(T, axis=True), TypeError, "sum: axis must be an int or a sequence of ints, got True"),
    (lambda: ac.mean(T, axis=[0, False]), TypeError, "mean: axis must be an int or a sequence of ints"),
    (lambda: ac.cast(T, None), TypeError, "a dtype is required, got None"),
    (lambda: ac.transpose(T, (1.0, 0.0)), TypeError, r"transpose: perm must be a sequence of ints, got \(1.0, 0.0\)"),
    (lambda: ac.transpose(T, "ab"), TypeError, "transpose: perm must be a sequence of ints, got 'ab'"),
    (lambda: ac.expand_dims(T, "a"), TypeError, "expand_dims: axis must be an int, got 'a'"),
    (lambda: ac.unstack(ac.tensor(1.0)), ValueError, "unstack: a 0-d tensor has no axis to unstack"),
    (lambda: ac.random.Generator(0).normal((2,), stddev=math.nan), ValueError, "normal: stddev must be a finite"),
    (lambda: ac.random.Generator(0).normal((2,), mean=math.inf), ValueError, "normal: mean must be a finite"),
    (lambda: ac.kernels.set_num_threads(1.5), TypeError, "set_num_threads: n must be an int, got 1.5"),
    (lambda: ac.full((2,), None), TypeError, "full: fill_value must be a number, got None"),
])
def test_silent_coercions_raise(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("value,error", [("5", TypeError), (1.5, TypeError), (True, TypeError), (-1, ValueError)])
def test_iterations_must_be_a_non_negative_int(value, error):
    opt = ac.optimizers.SGD(0.1)
    with pytest.raises(error, match="iterations must be"):
        opt.iterations = value
    assert opt.iterations == 0
    opt.iterations = numpy.int64(3)
    assert opt.iterations == 3


@pytest.mark.parametrize("make,message", [
    (lambda: ac.optimizers.SGD(math.inf), "SGD: learning_rate must be a finite real number, got inf"),
    (lambda: ac.optimizers.SGD(0.1, weight_decay=math.inf), "SGD: weight_decay must be a finite real number"),
    (lambda: ac.optimizers.Adam(epsilon=math.inf), "Adam: epsilon must be a finite real number"),
    (lambda: ac.optimizers.Adagrad(initial_accumulator_value=math.inf), "initial_accumulator_value must be a finite"),
    (lambda: schedules.ExponentialDecay(0.1, 10, -1), "ExponentialDecay: decay_rate must be >= 0, got -1"),
    (lambda: schedules.ExponentialDecay(math.nan, 10, 0.9), "ExponentialDecay: initial_learning_rate must be a finite"),
    (lambda: schedules.InverseTimeDecay(0.1, 10, -0.5), "InverseTimeDecay: decay_rate must be >= 0"),
    (lambda: schedules.PolynomialDecay(0.1, 10, power=-1), "PolynomialDecay: power must be > 0, got -1"),
    (lambda: schedules.CosineDecay(math.inf, 10), "CosineDecay: initial_learning_rate must be a finite"),
    (lambda: schedules.CosineDecayRestarts(0.1, 10, m_mul=-1), "CosineDecayRestarts: m_mul must be >= 0"),
])
def test_hyperparameters_are_validated_at_construction(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_messages_name_the_problem():
    w = ac.Variable(ac.tensor([1.0]), name="w")
    with pytest.raises(TypeError, match="apply_gradients: the gradient for 'w' is not a tensor or a numeric array"):
        ac.optimizers.SGD(0.1).apply_gradients([("abc", w)])
    assert w.numpy().tolist() == [1.0]
    with pytest.raises(TypeError, match=r"deserialize: expected \{'class_name'"):
        schedules.deserialize(None)


def test_softmax_over_an_empty_axis_is_empty():
    for op in (ac.softmax, ac.log_softmax):
        out = op(ac.zeros((2, 0)))
        assert out.shape == (2, 0)
        x = ac.Variable(ac.zeros((2, 0)))
        with ac.GradientTape() as tape:
            y = ac.sum(op(x))
        assert tape.gradient(y, x).shape == (2, 0)


def test_argmax_of_an_empty_tensor_along_a_non_empty_axis():
    assert ac.argmax(ac.zeros((0, 1)), 1).shape == (0,)
    assert ac.argmin(ac.zeros((0, 3)), 1).shape == (0,)
    with pytest.raises(ValueError, match="argmax: the tensor is empty along the reduced axis"):
        ac.argmax(ac.zeros((0, 1)), 0)
    with pytest.raises(ValueError, match="argmax: the tensor is empty"):
        ac.argmax(ac.zeros((0,)))


def test_mean_of_nothing_is_nan_without_a_warning():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert numpy.isnan(ac.mean(ac.zeros((0,))).item())
        out = ac.mean(ac.zeros((2, 0)), axis=1, keepdims=True)
        assert out.shape == (2, 1) and numpy.isnan(out.numpy()).all()
        assert ac.mean(ac.zeros((0, 3), dtype="int64"), axis=0).dtype == numpy.float32


def test_optimizers_get_none_is_none_as_keras():
    assert ac.optimizers.get(None) is None


def test_messages_name_an_unnamed_variable_by_position_and_shape():
    w, v = ac.Variable(ac.zeros((2,))), ac.Variable(ac.zeros((3,)))
    with pytest.raises(ValueError, match=r"the gradient for variable 1 \(unnamed, shape \(3,\)\) has shape \(4,\)"):
        ac.optimizers.SGD(0.1).apply_gradients([(ac.zeros((2,)), w), (ac.zeros((4,)), v)])
    bad = ac.Variable(ac.zeros((2,)), constraint=lambda x: ac.zeros((5,)))
    with pytest.raises(ValueError, match=r"the constraint of variable 0 \(unnamed, shape \(2,\)\) returned"):
        ac.optimizers.SGD(0.1).apply_gradients([(ac.zeros((2,)), bad)])


@pytest.mark.parametrize("index,shown", [(0, "v[0]"), (slice(1, None), "v[1:]"), ((0, slice(None, 2)), "v[0, :2]")])
def test_item_assignment_on_a_variable_suggests_assign(index, shown):
    v = ac.Variable(ac.zeros((3, 3)))
    with pytest.raises(TypeError, match=rf"write {re.escape(shown)}\.assign\(value\)"):
        v[index] = 5.0
    assert v.numpy().sum() == 0.0
