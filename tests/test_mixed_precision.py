"""Dtype policies: names, the global policy, layers that keep float32 variables and compute in
float16, float32 losses, compile's LossScaleOptimizer, and the digits MLP under mixed_float16."""

import numpy
import pytest

import accel as ac
from accel import mixed_precision as mp


@pytest.fixture(autouse=True)
def _float32_afterwards():
    yield
    mp.set_global_policy(None)


def test_policy_names():
    mixed = mp.Policy("mixed_float16")
    assert (mixed.compute_dtype, mixed.variable_dtype, mixed.name) == ("float16", "float32", "mixed_float16")
    assert mp.Policy("float64").compute_dtype == mp.Policy("float64").variable_dtype == "float64"
    assert mp.DTypePolicy is mp.Policy and mp.Policy("float16") == mp.Policy("float16")
    with pytest.raises(ValueError, match="Cannot convert 'mixed_float32'"):
        mp.Policy("mixed_float32")
    with pytest.raises(ValueError, match="no bfloat16"):
        mp.Policy("mixed_bfloat16")
    with pytest.raises(ValueError, match="Cannot convert 'int32'"):
        mp.Policy("int32")
    with pytest.raises(TypeError, match="'name' must be a string"):
        mp.Policy(16)


def test_global_policy_applies_to_new_layers():
    assert mp.global_policy().name == "float32"
    mp.set_global_policy("mixed_float16")
    layer = ac.nn.Dense(3, seed=0)
    mp.set_global_policy(None)
    assert layer.dtype_policy.name == "mixed_float16" and ac.nn.Dense(3).dtype_policy.name == "float32"


def test_mixed_layers_keep_float32_variables_and_compute_in_float16():
    model = ac.nn.Sequential([ac.nn.Dense(8, activation="relu", dtype="mixed_float16", seed=0),
                              ac.nn.Dense(3, dtype="mixed_float16", seed=1)])
    x = numpy.random.default_rng(0).normal(size=(4, 5))  # float64 inputs are cast to float16 too
    labels = ac.tensor([0, 1, 2, 0])
    with ac.GradientTape() as tape:
        logits = model(x)
        loss = ac.nn.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits)
    grads = tape.gradient(loss, model.trainable_variables)
    assert logits.dtype == numpy.float16 and loss.dtype == numpy.float32
    assert all(v.dtype == numpy.float32 for v in model.variables)
    assert all(g.dtype == numpy.float32 for g in grads)
    # the same model in float32 gives the same gradients to float16 rounding
    reference = ac.nn.Sequential([ac.nn.Dense(8, activation="relu", seed=0), ac.nn.Dense(3, seed=1)])
    reference(x)
    reference.set_weights(model.get_weights())
    with ac.GradientTape() as tape:
        ref_loss = ac.nn.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, reference(x))
    for g, r in zip(grads, tape.gradient(ref_loss, reference.trainable_variables)):
        numpy.testing.assert_allclose(g.numpy(), r.numpy(), rtol=2e-2, atol=2e-3)
    assert ac.nn.sparse_softmax_cross_entropy(labels, logits).dtype == numpy.float32


def test_compile_wraps_a_mixed_model_in_a_loss_scale_optimizer():
    mixed = ac.nn.Sequential([ac.nn.Dense(2, dtype="mixed_float16")])
    mixed.compile(optimizer="adam", loss="mse")
    assert isinstance(mixed.optimizer, ac.optimizers.LossScaleOptimizer)
    assert mixed.optimizer.name == "loss_scale_optimizer" and isinstance(mixed.optimizer.inner_optimizer,
                                                                           ac.optimizers.Adam)
    mixed.compile(optimizer="adam", loss="mse", auto_scale_loss=False)
    assert isinstance(mixed.optimizer, ac.optimizers.Adam)
    plain = ac.nn.Sequential([ac.nn.Dense(2)])
    plain.compile(optimizer="adam", loss="mse")
    assert isinstance(plain.optimizer, ac.optimizers.Adam)


def test_mixed_fit_recovers_from_an_overflowing_scale():
    """A scale too large for float16 overflows the first steps: they are skipped, the scale halves
    until the gradients are finite, then training proceeds."""
    rng = numpy.random.default_rng(0)
    x = rng.normal(size=(64, 4))
    y = x @ numpy.array([[1.0], [-1.0], [0.5], [2.0]])
    model = ac.nn.Sequential([ac.nn.Dense(1, dtype="mixed_float16", seed=0)])
    model.compile(optimizer=ac.optimizers.LossScaleOptimizer(ac.optimizers.SGD(0.05), initial_scale=2.0 ** 24),
                  loss="mse")
    history = model.fit(x, y, batch_size=16, epochs=10, shuffle=False, verbose=0)
    assert model.optimizer.skipped_steps >= 1
    assert model.optimizer.iterations == 40 - model.optimizer.skipped_steps
    assert float(model.optimizer.dynamic_scale.numpy()) < 2.0 ** 24
    assert history.history["loss"][-1] < 0.05 * history.history["loss"][1]


@pytest.mark.slow
def test_digits_under_mixed_float16():
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(digits.data / 16.0, digits.target, test_size=0.2,
                                                        stratify=digits.target, random_state=0)
    mp.set_global_policy("mixed_float16")
    model = ac.nn.Sequential([ac.nn.Dense(128, activation="relu", seed=0), ac.nn.Dense(10, seed=1)])
    mp.set_global_policy(None)
    model.compile(optimizer=ac.optimizers.Adam(3e-3),
                  loss=ac.nn.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    ac.random.set_seed(0)
    model.fit(x_train, y_train, batch_size=64, epochs=25, verbose=0)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert isinstance(model.optimizer, ac.optimizers.LossScaleOptimizer)
    assert model.predict(x_test[:2], verbose=0).dtype == numpy.float16
    assert accuracy >= 0.96
