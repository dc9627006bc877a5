"""LossScaleOptimizer against Keras's worked values (docs/semantics.md section 9) and an
independent NumPy reference of its algorithm around Adam."""

import numpy
import pytest

import accel as ac
from accel.optimizers import SGD, Adam, LossScaleOptimizer


def test_keras_worked_example():
    """inner SGD(0.5), initial_scale=4, growth 2, v = 1, scaled gradients 4, inf, 2, 2, 8."""
    lso = LossScaleOptimizer(SGD(0.5), initial_scale=4.0, dynamic_growth_steps=2)
    v = ac.Variable(numpy.array([1.0]))
    seen = []
    for g in [4.0, numpy.inf, 2.0, 2.0, 8.0]:
        lso.apply_gradients([(ac.tensor([g], dtype="float64"), v)])
        seen.append((float(v.numpy()[0]), float(lso.dynamic_scale.numpy()), int(lso.step_counter.numpy()),
                     lso.iterations))
    assert seen == [(0.5, 4.0, 1, 1), (0.5, 2.0, 0, 1), (0.0, 2.0, 1, 2), (-0.5, 4.0, 0, 3), (-1.5, 4.0, 1, 4)]
    assert lso.skipped_steps == 1 and lso.inner_optimizer.skipped_steps == 0


def _reference_adam(w, m, v, g, lr, t, b1=0.9, b2=0.999, eps=1e-7):
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    alpha = lr * numpy.sqrt(1 - b2 ** t) / (1 - b1 ** t)
    return w - alpha * m / (numpy.sqrt(v) + eps), m, v


def test_thirty_steps_with_forced_overflows_match_the_reference():
    rng = numpy.random.default_rng(0)
    w0 = rng.normal(size=(3, 4))
    grads = [rng.normal(size=(3, 4)) * 100 for _ in range(30)]
    grads[6][1, 2] = numpy.inf
    grads[7][0, 0] = numpy.nan
    grads[19][2, 3] = -numpy.inf
    lr, growth = 0.01, 4
    lso = LossScaleOptimizer(Adam(lr), initial_scale=8.0, dynamic_growth_steps=growth)
    var = ac.Variable(w0.copy(), name="w")
    w, m, v = w0.copy(), numpy.zeros_like(w0), numpy.zeros_like(w0)
    scale, counter, t = 8.0, 0, 0
    for g in grads:
        lso.apply_gradients([(ac.tensor(g), var)])
        if numpy.isfinite(g).all():
            t += 1
            w, m, v = _reference_adam(w, m, v, g / scale, lr, t)
            counter, scale = (0, scale * 2) if counter == growth - 1 else (counter + 1, scale)
        else:
            counter, scale = 0, scale / 2
        assert (float(lso.dynamic_scale.numpy()), int(lso.step_counter.numpy()), lso.iterations) == (scale, counter, t)
        numpy.testing.assert_allclose(var.numpy(), w, rtol=1e-12, atol=1e-15)
    numpy.testing.assert_allclose(lso.get_slot(var, "m").numpy(), m, rtol=1e-12)
    numpy.testing.assert_allclose(lso.get_slot(var, "v").numpy(), v, rtol=1e-12)
    assert t == 27 and lso.skipped_steps == 3


def test_an_overflowing_step_changes_no_variable_or_slot():
    lso = LossScaleOptimizer(Adam(0.1, global_clipnorm=1.0), initial_scale=2.0 ** 10)
    var = ac.Variable(numpy.ones((2, 3), numpy.float32))
    lso.apply_gradients([(ac.ones((2, 3)), var)])
    before = (var.numpy(), lso.get_slot(var, "m").numpy(), lso.get_slot(var, "v").numpy(), lso.iterations)
    bad = numpy.ones((2, 3), numpy.float32)
    bad[0, 1] = numpy.inf
    lso.apply_gradients([(ac.tensor(bad), var)])
    after = (var.numpy(), lso.get_slot(var, "m").numpy(), lso.get_slot(var, "v").numpy(), lso.iterations)
    for a, b in zip(before[:3], after[:3]):
        numpy.testing.assert_array_equal(a, b)
    assert after[3] == before[3] == 1 and float(lso.dynamic_scale.numpy()) == 2.0 ** 9
    # three overflows in a row: no floor
    small = LossScaleOptimizer(SGD(0.1), initial_scale=2.0)
    x = ac.Variable(numpy.ones(1, numpy.float32))
    for _ in range(3):
        small.apply_gradients([(ac.tensor([numpy.inf], dtype="float32"), x)])
    assert float(small.dynamic_scale.numpy()) == 0.25


def test_scaling_the_loss_and_minimize():
    lso = LossScaleOptimizer(SGD(0.1), initial_scale=8.0)
    assert float(lso.scale_loss(ac.tensor(2.0, dtype="float64"))) == 16.0
    assert lso.scale_loss(ac.tensor(2.0, dtype="float16")).dtype == numpy.float32
    # minimize scales the loss and apply_gradients divides it back: plain SGD's step
    w = ac.Variable(numpy.array([1.0, -2.0]))
    plain = ac.Variable(numpy.array([1.0, -2.0]))
    lso.minimize(lambda: ac.sum(w * w), [w])
    SGD(0.1).minimize(lambda: ac.sum(plain * plain), [plain])
    numpy.testing.assert_array_equal(w.numpy(), plain.numpy())
    with ac.GradientTape() as tape:
        loss = ac.sum(w * w)
    grads = lso.compute_gradients(loss, [w], tape=tape)
    numpy.testing.assert_allclose(grads[0][0].numpy(), 2 * w.numpy() * float(lso.dynamic_scale.numpy()))


def test_arguments_defaults_and_proxies():
    with pytest.raises(ValueError, match="dynamic=False"):
        LossScaleOptimizer(SGD(), dynamic=False)
    with pytest.raises(ValueError, match="does not support `clipnorm`"):
        LossScaleOptimizer(SGD(), clipnorm=1.0)
    with pytest.raises(TypeError, match="inner_optimizer must be an accel optimizer"):
        LossScaleOptimizer("adam")
    with pytest.raises(ValueError, match="initial_scale must be"):
        LossScaleOptimizer(SGD(), initial_scale=0.0)
    inner = SGD(loss_scale_factor=4.0)
    lso = LossScaleOptimizer(inner)
    assert inner.loss_scale_factor is None
    assert lso.initial_scale == 2.0 ** 15 and lso.dynamic_growth_steps == 2000 and lso.name == "loss_scale_optimizer"
    assert lso.learning_rate == 0.01
    lso.learning_rate = 0.5
    assert inner.learning_rate == 0.5
    config = ac.optimizers.serialize(lso)
    again = ac.optimizers.deserialize(config)
    assert isinstance(again, LossScaleOptimizer) and isinstance(again.inner_optimizer, SGD)
    assert again.get_config() == lso.get_config() and set(lso.get_config()) == {
        "name", "inner_optimizer", "initial_scale", "dynamic_growth_steps"}


def test_checkpoint_keeps_the_scale_counter_and_inner_state(tmp_path):
    var = ac.Variable(numpy.ones(4, numpy.float32), name="w")
    lso = LossScaleOptimizer(Adam(0.1), initial_scale=16.0, dynamic_growth_steps=3)
    for g in (1.0, 2.0, numpy.inf, 1.0):
        lso.apply_gradients([(ac.full((4,), g), var)])
    ac.Checkpoint(w=var, optimizer=lso).save(tmp_path / "ckpt.npz")
    fresh_var = ac.Variable(numpy.zeros(4, numpy.float32), name="w")
    fresh = LossScaleOptimizer(Adam(0.1), initial_scale=16.0, dynamic_growth_steps=3)
    ac.Checkpoint(w=fresh_var, optimizer=fresh).restore(tmp_path / "ckpt.npz")
    assert float(fresh.dynamic_scale.numpy()) == 8.0 and int(fresh.step_counter.numpy()) == 1
    assert fresh.iterations == lso.iterations == 3
    numpy.testing.assert_array_equal(fresh.get_slot(fresh_var, "v").numpy(), lso.get_slot(var, "v").numpy())
    with pytest.raises(ac.CheckpointError, match="optimizer/dynamic_scale"):
        ac.Checkpoint(w=fresh_var, optimizer=Adam(0.1)).restore(tmp_path / "ckpt.npz")
    weights = lso.get_weights()
    assert float(weights[1]) == 8.0 and int(weights[0]) == 1
    fresh.set_weights(weights)


def test_reduce_lr_on_plateau_reaches_the_inner_optimizer():
    model = ac.nn.Sequential([ac.nn.Dense(1, input_dim=1, seed=0)])
    model.compile(optimizer=LossScaleOptimizer(SGD(0.4)), loss="mse")
    callback = ac.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0, min_delta=1e9)
    model.fit(numpy.ones((8, 1)), numpy.ones((8, 1)), epochs=3, verbose=0, callbacks=[callback])
    assert model.optimizer.inner_optimizer.learning_rate == pytest.approx(0.1)
