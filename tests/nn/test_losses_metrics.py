"""Keras's loss objects and metrics against NumPy formulas; float64 gradient checks of each loss."""

import numpy
import pytest

import accel as ac
from accel.nn import losses, metrics

EPS = 1e-7


def _probabilities(rng, rows, classes):
    p = rng.uniform(0.05, 1.0, size=(rows, classes))
    return p / p.sum(axis=1, keepdims=True)


def test_losses_match_keras_formulas(rng):
    y_reg, p_reg = rng.normal(size=(6, 2)), rng.normal(size=(6, 2))
    w = rng.uniform(0.1, 2.0, size=6)
    per = numpy.mean((p_reg - y_reg) ** 2, axis=1)
    assert float(losses.get("mse")(y_reg, p_reg, w)) == pytest.approx(numpy.sum(w * per) / 6, rel=1e-12)
    assert float(losses.MeanAbsoluteError()(y_reg, p_reg)) == pytest.approx(numpy.mean(abs(p_reg - y_reg)), rel=1e-12)
    assert float(losses.MeanSquaredError(reduction="sum")(y_reg, p_reg, w)) == pytest.approx(numpy.sum(w * per))
    numpy.testing.assert_allclose(losses.MeanSquaredError(reduction="none")(y_reg, p_reg).numpy(), per)

    labels = rng.integers(0, 4, size=6)
    probs = _probabilities(rng, 6, 4)
    onehot = numpy.eye(4)[labels]
    expected = -numpy.log(numpy.clip(probs[numpy.arange(6), labels], EPS, 1 - EPS)).mean()
    assert float(losses.get("sparse_categorical_crossentropy")(labels, probs)) == pytest.approx(expected, rel=1e-12)
    assert float(losses.get("categorical_crossentropy")(onehot, probs)) == pytest.approx(expected, rel=1e-12)
    assert float(losses.SparseCategoricalCrossentropy()(labels[:, None], probs)) == pytest.approx(expected, rel=1e-12)
    logits = rng.normal(size=(6, 4)) * 3
    log_softmax = logits - numpy.log(numpy.exp(logits).sum(axis=1, keepdims=True))
    expected = -log_softmax[numpy.arange(6), labels].mean()
    assert float(losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits)) == pytest.approx(expected)
    assert float(losses.CategoricalCrossentropy(from_logits=True)(onehot, logits)) == pytest.approx(expected)
    smoothed = onehot * 0.9 + 0.1 / 4
    assert float(losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)(onehot, logits)) == \
        pytest.approx(-(smoothed * log_softmax).sum(axis=1).mean())

    targets = rng.integers(0, 2, size=(6, 1)).astype(float)
    p = rng.uniform(0.01, 0.99, size=(6, 1))
    bce = -(targets * numpy.log(p) + (1 - targets) * numpy.log(1 - p))
    assert float(losses.get("binary_crossentropy")(targets, p)) == pytest.approx(bce.mean(), rel=1e-12)
    z = rng.normal(size=(6, 1)) * 4
    bce_logits = numpy.maximum(z, 0) - z * targets + numpy.log1p(numpy.exp(-abs(z)))
    assert float(losses.BinaryCrossentropy(from_logits=True)(targets[:, 0], z)) == pytest.approx(bce_logits.mean())


def test_probabilities_are_clipped_as_in_keras():
    assert float(losses.BinaryCrossentropy()(numpy.array([[1.0]]), numpy.array([[0.0]]))) == \
        pytest.approx(-numpy.log(EPS), rel=1e-6)
    assert float(losses.SparseCategoricalCrossentropy()(numpy.array([0]), numpy.array([[0.0, 1.0]]))) == \
        pytest.approx(-numpy.log(EPS), rel=1e-6)


@pytest.mark.parametrize("loss, make_targets, make_predictions", [
    (losses.MeanSquaredError(), lambda r: r.normal(size=(4, 3)), lambda r: r.normal(size=(4, 3))),
    (losses.MeanAbsoluteError(), lambda r: r.normal(size=(4, 3)), lambda r: r.normal(size=(4, 3))),
    (losses.BinaryCrossentropy(), lambda r: r.integers(0, 2, (4, 1)).astype(float), lambda r: r.uniform(.1, .9, (4, 1))),
    (losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.2), lambda r: r.integers(0, 2, (4, 2)).astype(float),
     lambda r: r.normal(size=(4, 2))),
    (losses.CategoricalCrossentropy(), lambda r: numpy.eye(3)[r.integers(0, 3, 4)], lambda r: r.uniform(.1, 1, (4, 3))),
    (losses.CategoricalCrossentropy(from_logits=True), lambda r: numpy.eye(3)[r.integers(0, 3, 4)],
     lambda r: r.normal(size=(4, 3))),
    (losses.SparseCategoricalCrossentropy(), lambda r: r.integers(0, 3, 4), lambda r: r.uniform(.1, .9, (4, 3))),
    (losses.SparseCategoricalCrossentropy(from_logits=True), lambda r: r.integers(0, 3, 4), lambda r: r.normal(size=(4, 3))),
], ids=lambda v: type(v).__name__ if isinstance(v, losses.Loss) else "")
def test_loss_gradients_float64(loss, make_targets, make_predictions):
    rng = numpy.random.default_rng(5)
    targets, predictions = ac.tensor(make_targets(rng)), ac.tensor(make_predictions(rng), dtype="float64")
    weights = ac.tensor(rng.uniform(0.5, 1.5, size=4))
    ac.testing.check_gradients(lambda p: loss(targets, p, weights), [predictions])
    ac.testing.check_gradients(lambda p: loss(targets, p), [predictions], order=2)


def test_loss_errors():
    with pytest.raises(ValueError, match="reduction must be one of"):
        losses.MeanSquaredError(reduction="mean_of_everything")
    with pytest.raises(ValueError, match="labels must be integer class indices"):
        losses.SparseCategoricalCrossentropy()(numpy.array([0.5, 1.0]), numpy.full((2, 2), 0.5))
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        losses.CategoricalCrossentropy()(numpy.array([0, 1]), numpy.full((2, 2), 0.5))


def test_metrics_accumulate_on_the_device(rng):
    mean = metrics.Mean()
    assert float(mean.result()) == 0.0
    mean.update_state(ac.tensor([1.0, 2.0, 3.0]))
    mean.update_state(ac.tensor([10.0]), sample_weight=ac.tensor([3.0]))
    assert float(mean.result()) == pytest.approx((1 + 2 + 3 + 30) / 6)
    assert isinstance(mean.result(), ac.Tensor)
    mean.reset_state()
    assert float(mean.result()) == 0.0

    labels = rng.integers(0, 4, size=20)
    scores = rng.normal(size=(20, 4))
    sparse = metrics.SparseCategoricalAccuracy()
    sparse.update_state(labels[:12], scores[:12])
    sparse.update_state(labels[12:], scores[12:])
    assert float(sparse.result()) == pytest.approx(numpy.mean(scores.argmax(1) == labels))
    assert float(metrics.CategoricalAccuracy()(numpy.eye(4)[labels], scores)) == \
        pytest.approx(numpy.mean(scores.argmax(1) == labels))
    truth = rng.integers(0, 2, size=(20, 1))
    prob = rng.uniform(size=(20, 1))
    assert float(metrics.BinaryAccuracy()(truth, prob)) == pytest.approx(numpy.mean((prob > 0.5) == truth))
    assert float(metrics.get("mae")(numpy.zeros(20), prob)) == pytest.approx(prob.mean())
    assert float(metrics.get("mse")(numpy.zeros(20), prob)) == pytest.approx((prob ** 2).mean())
    assert metrics.get("mae").name == "mae" and metrics.MeanAbsoluteError().direction == "down"
    assert metrics.get("acc", ac.tensor(labels), ac.tensor(scores)).name == "acc"
    custom = metrics.get(lambda t, p: ac.abs(ac.tensor(t, dtype="float64") - p)[:, 0])
    assert float(custom(numpy.ones((2, 1)), ac.tensor([[0.5], [2.0]], dtype="float64"))) == pytest.approx(0.75)
    with pytest.raises(ValueError, match="unknown metric 'f1'"):
        metrics.get("f1")
