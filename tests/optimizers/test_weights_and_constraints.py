"""Keras's optimizer state API (`variables`, `get_weights` / `set_weights`) and Variable
`constraint=`, applied after each update as Keras does (semantics.md section 8)."""

import warnings

import numpy
import pytest

import accel as ac
from accel import optimizers as opts


def f64(values):
    return ac.tensor(values, dtype="float64")


def _trained(make=lambda: opts.Adam(0.1), steps=2):
    a, b = ac.Variable(f64([1.0, 2.0]), name="a"), ac.Variable(f64([[3.0]]), name="b")
    opt = make()
    for _ in range(steps):
        opt.apply_gradients([(f64([0.5, -0.5]), a), (f64([[1.0]]), b)])
    return opt, a, b


# ---- variables, get_weights, set_weights ---------------------------------------------------------
def test_variables_is_keras_3s_list():
    """[iteration, learning_rate, *slots] (Keras 3: adam/iteration, adam/learning_rate, then the
    slots), live Variables; a schedule's learning rate is not listed."""
    opt, a, b = _trained()
    assert isinstance(opt.variables, list)
    assert [v.name for v in opt.variables] == ["iteration", "learning_rate", "a/m", "a/v", "b/m", "b/v"]
    assert opt.variables[2] is opt.get_slot(a, "m")  # live handles, not copies
    assert opt.variables[0].dtype == numpy.int64 and opt.variables[0].numpy() == 2 and not opt.variables[0].trainable
    assert opt.variables[1].numpy() == 0.1
    assert [v.name for v in opts.SGD(0.1).variables] == ["iteration", "learning_rate"]
    schedule = opts.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    assert [v.name for v in opts.SGD(schedule).variables] == ["iteration"]


def test_the_iteration_and_learning_rate_variables_are_the_optimizers_own():
    opt, a, b = _trained()
    iteration, lr = opt.variables[:2]
    opt.apply_gradients([(f64([0.5, -0.5]), a), (f64([[1.0]]), b)])
    assert iteration.numpy() == 3 == opt.iterations
    lr.assign(0.5)
    assert opt.learning_rate == 0.5
    opt.learning_rate = 0.25  # the same Variable takes the new rate
    assert opt.variables[1] is lr and lr.numpy() == 0.25
    iteration.assign(7)
    assert opt.iterations == 7


def test_set_weights_takes_another_optimizers_variables_as_keras():
    opt, a, b = _trained()
    fresh = opts.Adam(0.3)
    fresh.build([a, b])
    fresh.set_weights(opt.variables)
    assert fresh.iterations == 2 and fresh.learning_rate == 0.1
    for x, y in zip(fresh.variables, opt.variables):
        assert x is not y
        numpy.testing.assert_array_equal(x.numpy(), y.numpy())
    other = opts.Adam(0.3)
    other.build([a, b])
    other.set_weights([v.numpy() for v in opt.variables])
    for x, y in zip(other.get_weights(), opt.get_weights()):
        numpy.testing.assert_array_equal(x, y)


def test_set_weights_accepts_tf_keras_layout_without_the_learning_rate():
    opt, a, b = _trained()
    old_layout = [numpy.int64(2)] + [s.numpy() for s in opt.variables[2:]]
    fresh = opts.Adam(0.3)
    fresh.build([a, b])
    fresh.set_weights(old_layout)
    assert fresh.iterations == 2 and fresh.learning_rate == 0.3  # the rate is not in that layout
    numpy.testing.assert_array_equal(fresh.get_slot(b, "v").numpy(), opt.get_slot(b, "v").numpy())


def test_get_weights_then_set_weights_restores_the_state():
    opt, a, b = _trained()
    saved = opt.get_weights()
    assert saved[0].dtype == numpy.int64 and int(saved[0]) == 2 and saved[1] == 0.1
    assert [w.shape for w in saved[2:]] == [(2,), (2,), (1, 1), (1, 1)]
    values = (a.numpy(), b.numpy())
    opt.apply_gradients([(f64([0.5, -0.5]), a), (f64([[1.0]]), b)])
    after_three = a.numpy()
    a.assign(values[0])
    b.assign(values[1])
    opt.set_weights(saved)
    assert opt.iterations == 2
    opt.apply_gradients([(f64([0.5, -0.5]), a), (f64([[1.0]]), b)])
    numpy.testing.assert_array_equal(a.numpy(), after_three)


def test_set_weights_into_a_fresh_built_optimizer_and_from_tensors():
    opt, a, b = _trained()
    fresh = opts.Adam(0.1)
    fresh.build([a, b])
    fresh.set_weights([ac.tensor(w) if w.ndim else w for w in opt.get_weights()])
    for x, y in zip(fresh.get_weights(), opt.get_weights()):
        numpy.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("change,error,message", [
    (lambda w: w[:-2], ValueError, r"expected 6 arrays \(the step count, the learning rate, then 4 slots\), got 4"),
    (lambda w: [numpy.float64(2.0)] + w[1:], ValueError, "weights\\[0\\] must be the step count"),
    (lambda w: [numpy.int64(-1)] + w[1:], ValueError, "weights\\[0\\] must be the step count"),
    (lambda w: w[:1] + [numpy.float64(-1.0)] + w[2:], ValueError, "weights\\[1\\] must be the learning rate"),
    (lambda w: w[:1] + [numpy.zeros(2)] + w[2:], ValueError, "weights\\[1\\] must be the learning rate"),
    (lambda w: w[:3] + [numpy.zeros(3)] + w[4:], ValueError, r"weights\[3\] \(a/v\) has shape \(3,\)"),
    (lambda w: w[:2] + [w[2].astype(numpy.complex128)] + w[3:], TypeError, "without losing information"),
])
def test_set_weights_checks_everything_before_assigning(change, error, message):
    opt, a, b = _trained()
    before = opt.get_weights()
    with pytest.raises(error, match=message):
        opt.set_weights(change([numpy.zeros_like(w) for w in before]))
    for x, y in zip(opt.get_weights(), before):
        numpy.testing.assert_array_equal(x, y)


def test_set_weights_before_build_says_so():
    with pytest.raises(ValueError, match="has not been built yet"):
        opts.Adam().set_weights([numpy.int64(0)])


def test_ema_and_accumulator_slots_are_among_the_weights():
    opt, a, b = _trained(lambda: opts.SGD(0.1, use_ema=True, gradient_accumulation_steps=2), steps=3)
    assert [v.name for v in opt.variables] == ["iteration", "learning_rate", "a/average", "a/gradient_accumulator",
                                               "b/average", "b/gradient_accumulator"]
    assert int(opt.get_weights()[0]) == 3 and opt.iterations == 1


# ---- constraints ---------------------------------------------------------------------------------
def non_negative(w):
    return ac.maximum(w, 0.0)


def test_a_constraint_runs_after_each_update():
    w = ac.Variable(f64([0.3, 1.0]), constraint=non_negative)
    opt = opts.SGD(1.0)
    opt.apply_gradients([(f64([0.5, 0.5]), w)])
    assert w.numpy().tolist() == [0.0, 0.5]
    opt.apply_gradients([(f64([-1.0, 0.0]), w)])
    assert w.numpy().tolist() == [1.0, 0.5]


def test_a_constraint_set_later_and_on_every_kind_of_optimizer():
    class Plain(opts.Optimizer):
        def update_step(self, gradient, variable, learning_rate):
            variable.assign_sub(gradient * learning_rate)

    for opt in (opts.Adam(1.0), Plain(1.0), opts.Lamb(1.0)):
        w = ac.Variable(f64([0.1, -0.1]))
        w.constraint = lambda v: ac.clip_by_value(v, -0.05, 0.05)
        opt.apply_gradients([(f64([-1.0, 1.0]), w)])
        assert w.numpy().tolist() == [0.05, -0.05], type(opt).__name__


def test_constraints_apply_on_accumulating_calls_too_and_not_on_skipped_ones():
    """Keras applies constraints after every apply call, update or not."""
    w = ac.Variable(f64([-1.0]), constraint=non_negative)
    opt = opts.SGD(1.0, gradient_accumulation_steps=2, skip_nonfinite=True)
    w.assign(f64([-1.0]))
    opt.apply_gradients([(f64([1.0]), w)])
    assert w.numpy().tolist() == [0.0]
    w.assign(f64([-1.0]))
    opt.apply_gradients([(f64([numpy.nan]), w)])  # skipped: nothing at all happens
    assert w.numpy().tolist() == [-1.0]


def test_only_the_variables_with_a_gradient_are_constrained():
    w = ac.Variable(f64([-1.0]), name="w", constraint=non_negative)
    u = ac.Variable(f64([-1.0]), name="u", constraint=non_negative)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        opts.SGD(1.0).apply_gradients([(f64([0.0]), w), (None, u)])
    assert (w.numpy().tolist(), u.numpy().tolist()) == ([0.0], [-1.0])


def test_constraint_must_be_callable():
    with pytest.raises(TypeError, match="constraint must be a callable"):
        ac.Variable(f64([1.0]), constraint=3.0)
    w = ac.Variable(f64([1.0]))
    with pytest.raises(TypeError, match="constraint must be a callable"):
        w.constraint = "non_neg"
    assert w.constraint is None


def test_a_constraint_of_the_wrong_shape_is_an_error_naming_the_variable():
    w = ac.Variable(f64([1.0, 2.0]), name="w", constraint=lambda v: ac.sum(v, axis=0, keepdims=True) * ac.ones((3,),
                                                                                                             dtype="float64"))
    with pytest.raises(ValueError, match="the constraint of variable 'w' returned an unusable value: Variable.assign: value "
                                         "has shape"):
        opts.SGD(0.1).apply_gradients([(f64([1.0, 1.0]), w)])
