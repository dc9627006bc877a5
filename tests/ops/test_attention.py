"""dot_product_attention (keras.ops): the formula per head, bias, mask, is_causal, scale, a fully
masked row (NaN, as TensorFlow), shapes and errors. Gradients are test_op_gradients.py's cases."""

import math

import numpy
import pytest

import accel as ac

RNG = numpy.random.default_rng(0)
Q, K, V = RNG.standard_normal((2, 3, 2, 4)), RNG.standard_normal((2, 5, 2, 4)), RNG.standard_normal((2, 5, 2, 6))


def reference(q, k, v, bias=None, keep=None, scale=None):
    q, k, v = (x.transpose(0, 2, 1, 3) for x in (q, k, v))
    scores = q @ k.swapaxes(-1, -2) * (1 / math.sqrt(q.shape[-1]) if scale is None else scale)
    if bias is not None:
        scores = scores + bias
    if keep is not None:
        scores = numpy.where(keep, scores, -numpy.inf)
    with numpy.errstate(invalid="ignore"):
        w = numpy.exp(scores - scores.max(-1, keepdims=True))
        w = w / w.sum(-1, keepdims=True)
    return (w @ v).transpose(0, 2, 1, 3)


def attend(*args, **kwargs):
    return ac.dot_product_attention(*[ac.tensor(a) for a in args], **kwargs).numpy()


def test_the_formula_per_head_with_bias_mask_and_scale():
    numpy.testing.assert_allclose(attend(Q, K, V), reference(Q, K, V), rtol=1e-13)
    bias = RNG.standard_normal((1, 2, 3, 5))
    keep = RNG.random((2, 1, 3, 5)) < 0.7
    keep[..., 0] = True
    got = ac.dot_product_attention(ac.tensor(Q), ac.tensor(K), ac.tensor(V), bias=ac.tensor(bias),
                                   mask=ac.tensor(keep), scale=0.3).numpy()
    numpy.testing.assert_allclose(got, reference(Q, K, V, bias, keep, 0.3), rtol=1e-13)


def test_causal_queries_see_only_earlier_keys():
    q, k, v = Q, K[:, :3], V[:, :3]
    keep = numpy.tril(numpy.ones((3, 3), bool))
    numpy.testing.assert_allclose(attend(q, k, v, is_causal=True), reference(q, k, v, keep=keep), rtol=1e-13)
    numpy.testing.assert_allclose(attend(q, k, v, is_causal=True)[:, 0], v[:, 0], rtol=1e-13)


def test_a_fully_masked_row_is_nan_as_tensorflow():
    keep = numpy.ones((1, 1, 3, 5), bool)
    keep[..., 1, :] = False
    out = ac.dot_product_attention(ac.tensor(Q), ac.tensor(K), ac.tensor(V), mask=ac.tensor(keep)).numpy()
    assert numpy.isnan(out[:, 1]).all() and numpy.isfinite(out[:, [0, 2]]).all()


def test_float32_and_shapes():
    out = ac.dot_product_attention(*[ac.tensor(a.astype("float32")) for a in (Q, K, V)])
    assert out.dtype == "float32" and out.shape == (2, 3, 2, 6)


def test_bad_arguments_are_named():
    q, k, v = ac.tensor(Q), ac.tensor(K), ac.tensor(V)
    with pytest.raises(ValueError, match="query must be 4-D"):
        ac.dot_product_attention(ac.tensor(Q[0]), k, v)
    with pytest.raises(ValueError, match=r"key has shape \(2, 5, 2, 3\), expected \(2, S, 2, 4\)"):
        ac.dot_product_attention(q, ac.tensor(K[..., :3]), v)
    with pytest.raises(ValueError, match="value has shape"):
        ac.dot_product_attention(q, k, ac.tensor(V[:, :4]))
    with pytest.raises(ValueError, match=r"mask of shape \(4,\) does not broadcast"):
        ac.dot_product_attention(q, k, v, mask=ac.tensor(numpy.ones(4, bool)))
    with pytest.raises(TypeError, match="mask must be bool"):
        ac.dot_product_attention(q, k, v, mask=ac.tensor(numpy.ones(5)))
    with pytest.raises(TypeError, match="is_causal must be a bool"):
        ac.dot_product_attention(q, k, v, is_causal=1)
