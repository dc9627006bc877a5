"""Every worked value of docs/semantics.md sections 3-5, with those exact numbers."""

import math

import numpy
import pytest

import accel as ac
from accel.optimizers import schedules


def _var(values):
    return ac.Variable(values, dtype="float64")


def _grad(values):
    return ac.tensor(values, dtype="float64")


def test_sgd_worked_value():
    v0, v1 = _var([1.0, 2.0]), _var([3.0, 4.0])
    opt = ac.optimizers.SGD(3.0)
    assert opt.iterations == 0
    opt.minimize(lambda: ac.sum(5 * v0 + 3 * v1), [v0, v1])
    numpy.testing.assert_array_equal(v0.numpy(), [-14.0, -13.0])
    numpy.testing.assert_array_equal(v1.numpy(), [-6.0, -5.0])
    assert opt.iterations == 1


def test_adagrad_worked_value():
    v0 = _var([1.0, 2.0])
    opt = ac.optimizers.Adagrad(3.0, initial_accumulator_value=0.1, epsilon=0)
    for _ in range(3):
        opt.apply_gradients([(_grad([0.1, 0.1]), v0)])
    # semantics.md's "~ -1.6026099" is TF's float32 result; in float64 the exact value is
    # 1 - 0.3 * (0.11**-0.5 + 0.12**-0.5 + 0.13**-0.5) = -1.60260973...
    exact = 1 - 0.3 * sum(a ** -0.5 for a in (0.11, 0.12, 0.13))
    numpy.testing.assert_allclose(v0.numpy(), [exact, exact + 1], rtol=1e-14)
    numpy.testing.assert_allclose(v0.numpy(), [-1.6026099, -0.6026099], atol=2e-7)
    v32 = ac.Variable([1.0, 2.0], dtype="float32")
    opt32 = ac.optimizers.Adagrad(3.0, initial_accumulator_value=0.1, epsilon=0)
    for _ in range(3):
        opt32.apply_gradients([(ac.tensor([0.1, 0.1]), v32)])
    numpy.testing.assert_allclose(v32.numpy(), [-1.6026098728179932, -0.6026098728179932], rtol=1e-6)


def test_adagrad_decay_worked_value():
    v0 = _var([1.0, 2.0])
    opt = ac.optimizers.AdagradDecay(learning_rate=1, accumulator_decay_step=3, accumulator_decay_rate=0.9,
                                     initial_accumulator_value=0.1)
    accumulators = []
    for _ in range(4):
        opt.apply_gradients([(_grad([0.1, 0.1]), v0)])
        accumulators.append(opt.get_slot(v0, "accumulator").numpy()[0])
    numpy.testing.assert_allclose(accumulators, [0.11, 0.12, 0.118, 0.128])  # the decay happens on step 3
    numpy.testing.assert_allclose(opt.get_slot(v0, "accumulator").numpy(), [0.128, 0.128], rtol=1e-12)
    numpy.testing.assert_allclose(v0.numpy(), [-0.160806, 0.839194], atol=1e-6)
    assert opt.get_slot(v0, "accumulator_decay_power").numpy().tolist() == [1, 1]  # one power per row


def test_adagrad_decay_is_clamped_at_the_initial_value():
    v0 = _var([1.0])
    opt = ac.optimizers.AdagradDecay(initial_accumulator_value=1.0, accumulator_decay_rate=0.6,
                                     accumulator_decay_step=3)
    for _ in range(4):
        opt.apply_gradients([(_grad([0.1]), v0)])
    numpy.testing.assert_allclose(opt.get_slot(v0, "accumulator").numpy(), [1.02], rtol=1e-12)


def test_adagrad_decay_at_most_once_per_step():
    v0 = _var([1.0])
    opt = ac.optimizers.AdagradDecay(accumulator_decay_step=1, initial_accumulator_value=0.5)
    opt.iterations = 10  # t // decay_step jumps far ahead of the power
    opt.apply_gradients([(_grad([0.1]), v0)])
    assert opt.get_slot(v0, "accumulator_decay_power").numpy().tolist() == [1]


def test_clip_by_global_norm_worked_example():
    a, b = ac.tensor([[-2.0, 0, 0], [4.0, 0, 0]]), ac.tensor([1.0, -2.0])
    (ca, cb), norm = ac.clip_by_global_norm([a, b], 4.0)
    assert norm.item() == pytest.approx(5.0)
    numpy.testing.assert_allclose(ca.numpy(), [[-1.6, 0, 0], [3.2, 0, 0]], rtol=1e-6)
    numpy.testing.assert_allclose(cb.numpy(), [0.8, -1.6], rtol=1e-6)
    (ua, ub), norm6 = ac.clip_by_global_norm([a, b], 6.0)
    numpy.testing.assert_array_equal(ua.numpy(), a.numpy())
    numpy.testing.assert_array_equal(ub.numpy(), b.numpy())


def test_clip_by_global_norm_edge_cases():
    clipped, norm = ac.clip_by_global_norm([None, ac.zeros((2,))], 1.0)
    assert clipped[0] is None and norm.item() == 0.0 and clipped[1].numpy().tolist() == [0.0, 0.0]
    clipped, norm = ac.clip_by_global_norm([ac.tensor([numpy.inf, 1.0])], 1.0)
    assert math.isinf(norm.item()) and numpy.isnan(clipped[0].numpy()).all()
    clipped, norm = ac.clip_by_global_norm([ac.tensor([numpy.nan, 1.0])], 1.0)
    assert numpy.isnan(clipped[0].numpy()).all()


def test_clip_by_global_norm_is_differentiable_under_a_tape():
    x = ac.tensor([3.0, 4.0], dtype="float64")
    with ac.GradientTape() as tape:
        tape.watch(x)
        (clipped,), norm = ac.clip_by_global_norm([x], 1.0)  # x / ||x||
        y = ac.sum(clipped * ac.tensor([1.0, 0.0], dtype="float64"))
    # d(x0/||x||)/dx = (1/||x|| - x0^2/||x||^3, -x0 x1/||x||^3)
    numpy.testing.assert_allclose(tape.gradient(y, x).numpy(), [0.2 - 9 / 125, -12 / 125], rtol=1e-12)


def test_clip_by_norm_and_value():
    numpy.testing.assert_allclose(ac.clip_by_norm(ac.tensor([3.0, 4.0]), 1.0).numpy(), [0.6, 0.8], rtol=1e-6)
    numpy.testing.assert_array_equal(ac.clip_by_norm(ac.tensor([0.3, 0.4]), 1.0).numpy(), ac.tensor([0.3, 0.4]).numpy())
    numpy.testing.assert_array_equal(ac.clip_by_value(ac.tensor([-3.0, 0.5, 2.0]), -1, 1).numpy(), [-1, 0.5, 1])
    with pytest.raises(ValueError, match=r"clip_value_min \(2\) must be <= clip_value_max \(1\)"):
        ac.clip_by_value(ac.tensor([1.0]), 2, 1)
    with pytest.raises(ValueError, match="clip_by_norm: clip_norm must be > 0, got -1.0"):
        ac.clip_by_norm(ac.tensor([1.0]), -1)


@pytest.mark.parametrize("schedule,steps,want", [
    (schedules.ExponentialDecay(0.05, 10, 0.96), [5], [0.0489898]),
    (schedules.ExponentialDecay(0.1, 3, 0.96, staircase=True), [100], [0.0259986]),
    (schedules.PiecewiseConstantDecay([100, 110, 120], [1, 0.1, 0.01, 0.001]), [100, 105, 110, 120, 999],
     [1.0, 0.1, 0.1, 0.01, 0.001]),
    (schedules.PolynomialDecay(0.05, 10, 0.001), [15], [0.001]),
    (schedules.PolynomialDecay(0.05, 10, 0.001, cycle=True), [15], [0.01325]),
    (schedules.InverseTimeDecay(0.1, 10, 0.96), [5], [0.067568]),
    (schedules.CosineDecay(1.0, 1000), [250], [0.853553]),
    (schedules.CosineDecay(0.0, 1000, warmup_target=10, warmup_steps=2000), [1000, 2250], [5.0, 8.53553]),
    (schedules.CosineDecayRestarts(1.0, 1000), [1250], [0.961940]),
], ids=["exp", "exp_staircase", "piecewise", "poly", "poly_cycle", "inverse_time", "cosine",
        "cosine_warmup", "cosine_restarts"])
def test_schedule_worked_values(schedule, steps, want):
    got = [schedule(step) for step in steps]
    numpy.testing.assert_allclose(got, want, rtol=1e-5)
    assert schedules.deserialize(schedules.serialize(schedule))(steps[-1]) == pytest.approx(got[-1])


def test_schedule_is_evaluated_before_the_increment():
    seen = []

    def lr(step):
        seen.append(step)
        return 0.1

    v = _var([1.0])
    opt = ac.optimizers.SGD(learning_rate=lr)
    for _ in range(3):
        opt.apply_gradients([(_grad([1.0]), v)])
    assert seen == [0, 1, 2]
    assert opt.learning_rate == 0.1


def test_schedule_validation():
    with pytest.raises(ValueError, match="ExponentialDecay: decay_steps must be > 0"):
        schedules.ExponentialDecay(0.1, 0, 0.9)
    with pytest.raises(ValueError, match="len\\(boundaries\\) must be len\\(values\\) - 1"):
        schedules.PiecewiseConstantDecay([1, 2], [1.0])
    with pytest.raises(ValueError, match="unknown schedule"):
        schedules.deserialize({"class_name": "Nope", "config": {}})
