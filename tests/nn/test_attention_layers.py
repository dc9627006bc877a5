"""MultiHeadAttention: Keras's weights and order, the formula of docs/semantics.md section 16
against NumPy (cross-checked against Keras 3.15 in float64 when written: 1e-15 causal, 3e-9 with
TF's float32 scale), masks, dropout only in training, errors."""

import numpy
import pytest

import accel as ac
from accel.nn import MultiHeadAttention

R = numpy.random.default_rng(9)


def reference(layer, query, value, keep):
    w = [v.numpy() for v in layer.variables]
    q = numpy.einsum("btd,dnh->btnh", query, w[0]) + w[1]
    k = numpy.einsum("bsd,dnh->bsnh", value, w[2]) + w[3]
    v = numpy.einsum("bsd,dnh->bsnh", value, w[4]) + w[5]
    scores = numpy.einsum("btnh,bsnh->bnts", q, k) / numpy.sqrt(layer.key_dim)
    scores = numpy.where(keep, scores, -numpy.inf)
    weights = numpy.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    a = numpy.einsum("bnts,bsnh->btnh", weights, v)
    return numpy.einsum("btnh,nhd->btd", a, w[6]) + w[7]


def test_weights_and_values():
    layer = MultiHeadAttention(2, 3, value_dim=4, dtype="float64", bias_initializer="random_normal")
    query, value = R.normal(size=(2, 5, 8)), R.normal(size=(2, 4, 6))
    mask = numpy.array([[[1, 1, 0, 1]] * 5, [[1, 0, 1, 1]] * 5], bool)
    y = layer(query, value, attention_mask=mask)
    assert [v.name.split("/", 1)[1] for v in layer.variables] == [
        "query/kernel", "query/bias", "key/kernel", "key/bias", "value/kernel", "value/bias",
        "attention_output/kernel", "attention_output/bias"]
    assert [v.shape for v in layer.variables] == [(8, 2, 3), (2, 3), (6, 2, 3), (2, 3), (6, 2, 4), (2, 4), (2, 4, 8),
                                                 (8,)]
    numpy.testing.assert_allclose(y.numpy(), reference(layer, query, value, mask[:, None]), rtol=1e-12, atol=1e-13)


def test_causal_mask_and_scores():
    layer = MultiHeadAttention(2, 4, output_shape=6, dtype="float64")
    x = R.normal(size=(2, 5, 8))
    y, scores = layer(x, x, use_causal_mask=True, return_attention_scores=True)
    assert y.shape == (2, 5, 6) and scores.shape == (2, 2, 5, 5)
    causal = numpy.tril(numpy.ones((5, 5), bool))
    numpy.testing.assert_allclose(y.numpy(), reference(layer, x, x, causal), rtol=1e-12, atol=1e-13)
    assert numpy.all(scores.numpy()[..., ~causal] == 0)


def test_keras_keywords():
    layer = MultiHeadAttention(2, 3, dtype="float64")
    x = R.normal(size=(2, 4, 5))
    numpy.testing.assert_array_equal(layer(query=x, value=x, use_causal_mask=True).numpy(),
                                     layer(x, x, use_causal_mask=True).numpy())


def test_dropout_applies_only_in_training():
    layer = MultiHeadAttention(2, 4, dropout=0.5, seed=1)
    x = R.normal(size=(2, 5, 8)).astype("float32")
    numpy.testing.assert_array_equal(layer(x, x).numpy(), layer(x, x, training=False).numpy())
    assert not numpy.allclose(layer(x, x, training=True).numpy(), layer(x, x).numpy())


def test_gradients_reach_every_weight():
    layer = MultiHeadAttention(2, 3, dtype="float64")
    x = R.normal(size=(2, 4, 5))
    with ac.GradientTape() as tape:
        loss = ac.sum(layer(x, x, use_causal_mask=True) ** 2)
    grads = tape.gradient(loss, layer.trainable_variables)
    assert len(grads) == 8 and all(g is not None and numpy.abs(g.numpy()).sum() > 0 for g in grads)


@pytest.mark.parametrize("call,match", [
    (lambda: MultiHeadAttention(0, 3), "num_heads must be a positive int"),
    (lambda: MultiHeadAttention(2, 3, dropout=1.0), r"dropout must be a number in \[0, 1\)"),
    (lambda: MultiHeadAttention(2, 3)(numpy.ones((2, 4)), numpy.ones((2, 4))), "query must be"),
    (lambda: MultiHeadAttention(2, 3)(numpy.ones((2, 4, 5)), numpy.ones((2, 3, 5)),
                                      attention_mask=numpy.ones((2, 4, 4), bool)), "does not broadcast"),
    (lambda: (lambda layer: (layer(numpy.ones((1, 2, 5)), numpy.ones((1, 2, 5))),
                         layer(numpy.ones((1, 2, 6)), numpy.ones((1, 2, 6)))))(MultiHeadAttention(2, 3)),
     r"built for \(query, key, value\) features \(5, 5, 5\), got \(6, 6, 6\)"),
])
def test_bad_arguments_are_named(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
