import numpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import accel as ac

REDUCTIONS = [("sum", numpy.sum), ("mean", numpy.mean), ("max", numpy.max), ("min", numpy.min),
              ("prod", numpy.prod)]
AXES = [None, 0, 1, -1, (0, 2), (0, 1, 2)]


def _logsumexp(x, axis=None, keepdims=False):
    m = numpy.max(x, axis=axis, keepdims=True)
    out = numpy.log(numpy.sum(numpy.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else numpy.squeeze(out, axis=axis)


@pytest.mark.parametrize("name,reference", REDUCTIONS + [("logsumexp", _logsumexp)], ids=lambda v: getattr(v, "__name__", v))
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions_match_numpy(device, rng, name, reference, axis, keepdims):
    x = rng.uniform(0.5, 1.5, (2, 3, 4))
    got = getattr(ac, name)(ac.tensor(x, device=device), axis=axis, keepdims=keepdims)
    want = reference(x, axis=axis, keepdims=keepdims)
    assert got.shape == numpy.shape(want)
    numpy.testing.assert_allclose(got.numpy(), want, rtol=1e-12)


@pytest.mark.parametrize("shape", [(), (1,), (0,), (3, 0), (1, 1, 1)], ids=str)
def test_edge_shapes(device, shape):
    x = numpy.ones(shape)
    t = ac.tensor(x, device=device)
    assert ac.sum(t).item() == numpy.sum(x)
    assert ac.sum(t, keepdims=True).shape == numpy.sum(x, keepdims=True).shape
    assert ac.prod(t).item() == 1.0
    if x.size:
        assert ac.max(t).item() == 1.0 and ac.mean(t).item() == 1.0


def test_empty_reductions(device):
    empty = ac.zeros((3, 0), device=device)
    assert ac.sum(empty, axis=1).numpy().tolist() == [0, 0, 0]
    assert ac.max(empty, axis=0).shape == (0,)
    with pytest.raises(ValueError, match="max: cannot reduce over an empty axis"):
        ac.max(empty, axis=1)
    with pytest.raises(ValueError, match="argmax: the tensor is empty"):
        ac.argmax(empty)


def test_logsumexp_is_stable(device):
    x = ac.tensor([[1000.0, 1000.0], [-1000.0, -1000.0], [-numpy.inf, -numpy.inf]], dtype="float64", device=device)
    out = ac.logsumexp(x, axis=1).numpy()
    numpy.testing.assert_allclose(out[:2], [1000 + numpy.log(2), -1000 + numpy.log(2)])
    assert out[2] == -numpy.inf


def test_argmax_argmin(device, rng):
    x = rng.standard_normal((3, 4))
    t = ac.tensor(x, device=device)
    assert ac.argmax(t).item() == numpy.argmax(x)
    numpy.testing.assert_array_equal(ac.argmax(t, axis=1).numpy(), numpy.argmax(x, axis=1))
    numpy.testing.assert_array_equal(ac.argmin(t, axis=0).numpy(), numpy.argmin(x, axis=0))
    assert ac.argmax(t, axis=1).dtype == ac.int64
    assert ac.argmax(t, axis=1, keepdims=True).shape == (3, 1)
    with pytest.raises(ValueError, match="argmax: axis must be None or a single int"):
        ac.argmax(t, axis=(0, 1))


def test_any_all_count(device):
    b = ac.tensor([[True, False], [True, True]], device=device)
    assert ac.reduce_any(b).item() and not ac.reduce_all(b).item()
    assert ac.reduce_all(b, axis=0).numpy().tolist() == [True, False]
    assert ac.count_nonzero(b).item() == 3


def test_mean_of_integers_is_float32(device):
    assert ac.mean(ac.tensor([1, 2], device=device)).dtype == ac.float32


@pytest.mark.parametrize("axis", [3, -4, (0, 0), 1.5])
def test_bad_axis(axis):
    x = ac.zeros((2, 3, 4))
    with pytest.raises((ValueError, TypeError), match="sum: "):
        ac.sum(x, axis=axis)


def test_bad_axis_message():
    with pytest.raises(ValueError, match="sum: axis 3 is out of range for a tensor of rank 2"):
        ac.sum(ac.zeros((2, 3)), axis=3)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_reduction_property(data):
    x = data.draw(hnp.arrays(numpy.float64, hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4),
                             elements=st.floats(-10, 10)))
    axes = data.draw(st.lists(st.integers(0, x.ndim - 1), unique=True, max_size=x.ndim).map(tuple))
    keepdims = data.draw(st.booleans())
    for name, ref in (("sum", numpy.sum), ("max", numpy.max), ("mean", numpy.mean)):
        got = getattr(ac, name)(ac.tensor(x), axis=axes, keepdims=keepdims)
        want = ref(x, axis=axes, keepdims=keepdims)
        assert got.shape == numpy.shape(want)
        numpy.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)
