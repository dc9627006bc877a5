import numpy
import pytest

import accel as ac


def _log_softmax(x, axis=-1):
    m = x.max(axis=axis, keepdims=True)
    return x - m - numpy.log(numpy.exp(x - m).sum(axis=axis, keepdims=True))


def test_softmax_and_log_softmax(device, rng):
    x = rng.standard_normal((3, 5))
    t = ac.tensor(x, device=device)
    numpy.testing.assert_allclose(ac.log_softmax(t).numpy(), _log_softmax(x), rtol=1e-12)
    numpy.testing.assert_allclose(ac.softmax(t, axis=0).numpy(), numpy.exp(_log_softmax(x, 0)), rtol=1e-12)


def test_stable_for_large_logits(device):
    logits = ac.tensor([[1000.0, 0.0, -1000.0]], dtype="float32", device=device)
    with numpy.errstate(over="raise", divide="raise", invalid="raise"):
        s = ac.softmax(logits).numpy()
        ce = ac.sparse_softmax_cross_entropy_with_logits(ac.tensor([1], device=device), logits).numpy()
        dense = ac.softmax_cross_entropy_with_logits(ac.tensor([[0.0, 1.0, 0.0]], device=device), logits).numpy()
    numpy.testing.assert_allclose(s, [[1.0, 0.0, 0.0]])
    numpy.testing.assert_allclose(ce, [1000.0])
    numpy.testing.assert_allclose(dense, [1000.0])


def test_rows_with_infinities_are_shifted_by_zero(device):
    """A row whose maximum is not finite is not shifted (TensorFlow's log_softmax): a -inf entry
    stays -inf, a row of -inf gives NaN, an inf entry gives NaN there and -inf elsewhere; the
    finite rows beside them are exact."""
    inf = numpy.inf
    x = numpy.array([[0.0, -inf, 1.0], [-inf, -inf, -inf], [1.0, inf, 2.0], [3.0, 1.0, 2.0]])
    with numpy.errstate(divide="ignore", invalid="ignore"):
        got = ac.log_softmax(ac.tensor(x, device=device)).numpy()
        ce = ac.sparse_softmax_cross_entropy_with_logits(ac.tensor([2, 0, 0, 0], device=device),
                                                         ac.tensor(x, device=device)).numpy()
    first = numpy.array([0.0, -inf, 1.0]) - numpy.log(1 + numpy.e)
    numpy.testing.assert_allclose(got[0], first, rtol=1e-15)
    assert numpy.isnan(got[1]).all()
    assert got[2][0] == -inf and numpy.isnan(got[2][1]) and got[2][2] == -inf
    numpy.testing.assert_allclose(got[3], _log_softmax(x[3:])[0], rtol=1e-15)
    numpy.testing.assert_allclose(ce[[0, 3]], [-first[2], -_log_softmax(x[3:])[0, 0]], rtol=1e-15)
    assert numpy.isnan(ce[1]) and ce[2] == inf


def test_cross_entropies_match_numpy(device, rng):
    logits = rng.standard_normal((4, 6))
    labels = rng.integers(0, 6, 4)
    probs = rng.dirichlet(numpy.ones(6), 4)
    t = ac.tensor(logits, device=device)
    sparse = ac.sparse_softmax_cross_entropy_with_logits(ac.tensor(labels, device=device), t)
    numpy.testing.assert_allclose(sparse.numpy(), -_log_softmax(logits)[numpy.arange(4), labels], rtol=1e-12)
    dense = ac.softmax_cross_entropy_with_logits(ac.tensor(probs, device=device), t)
    numpy.testing.assert_allclose(dense.numpy(), -(probs * _log_softmax(logits)).sum(-1), rtol=1e-12)
    by_rows = ac.softmax_cross_entropy_with_logits(ac.tensor(probs.T, device=device), ac.tensor(logits.T, device=device), axis=0)
    numpy.testing.assert_allclose(by_rows.numpy(), dense.numpy(), rtol=1e-12)


def test_cross_entropy_errors():
    logits = ac.zeros((2, 3))
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\), got values in \[0, 3\]"):
        ac.sparse_softmax_cross_entropy_with_logits(ac.tensor([0, 3]), logits)
    with pytest.raises(ValueError, match=r"labels have shape \(3,\), expected logits.shape\[:-1\] = \(2,\)"):
        ac.sparse_softmax_cross_entropy_with_logits(ac.tensor([0, 1, 2]), logits)
    with pytest.raises(TypeError, match="labels must be integers"):
        ac.sparse_softmax_cross_entropy_with_logits(ac.tensor([0.0, 1.0]), logits)
    with pytest.raises(ValueError, match=r"labels have shape \(2, 2\) but logits have shape \(2, 3\)"):
        ac.softmax_cross_entropy_with_logits(ac.zeros((2, 2)), logits)
    with pytest.raises(TypeError, match="softmax: logits must be floating point"):
        ac.softmax(ac.tensor([1, 2]))
