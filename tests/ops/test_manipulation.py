"""The Array API's manipulation, statistics, sorting and contraction functions (ops/manipulation.py
and their neighbours) give NumPy's values; their gradients are checked in
tests/autodiff/test_op_gradients.py and their traces in tests/function/test_traced_ops.py."""

import numpy
import pytest

import accel as ac

X = numpy.arange(24, dtype=numpy.float64).reshape(2, 3, 4) * 0.5 - 3


@pytest.mark.parametrize("name, ours, theirs", [
    ("flip all", lambda x: ac.flip(x), lambda x: numpy.flip(x)),
    ("flip axes", lambda x: ac.flip(x, axis=(0, 2)), lambda x: numpy.flip(x, axis=(0, 2))),
    ("roll flat", lambda x: ac.roll(x, 5), lambda x: numpy.roll(x, 5)),
    ("roll axes", lambda x: ac.roll(x, (-1, 7), axis=(1, 2)), lambda x: numpy.roll(x, (-1, 7), axis=(1, 2))),
    ("moveaxis", lambda x: ac.moveaxis(x, (0, 1), (2, 0)), lambda x: numpy.moveaxis(x, (0, 1), (2, 0))),
    ("permute_dims", lambda x: ac.permute_dims(x, (2, 0, 1)), lambda x: numpy.transpose(x, (2, 0, 1))),
    ("tile", lambda x: ac.tile(x, (2, 1, 1, 3)), lambda x: numpy.tile(x, (2, 1, 1, 3))),
    ("tile short", lambda x: ac.tile(x, 2), lambda x: numpy.tile(x, 2)),
    ("repeat int", lambda x: ac.repeat(x, 3, axis=1), lambda x: numpy.repeat(x, 3, axis=1)),
    ("repeat counts", lambda x: ac.repeat(x, [0, 2, 1, 3], axis=-1), lambda x: numpy.repeat(x, [0, 2, 1, 3], axis=-1)),
    ("repeat flat", lambda x: ac.repeat(x, 2), lambda x: numpy.repeat(x, 2)),
    ("tril", lambda x: ac.tril(x, 1), lambda x: numpy.tril(x, 1)),
    ("triu", lambda x: ac.triu(x, -1), lambda x: numpy.triu(x, -1)),
    ("diff", lambda x: ac.diff(x, axis=1, n=2), lambda x: numpy.diff(x, axis=1, n=2)),
    ("diff pads", lambda x: ac.diff(x, prepend=ac.tensor(1.0, dtype="float64"), append=ac.zeros((2, 3, 1),
                                                                                                 dtype="float64")),
     lambda x: numpy.diff(x, prepend=1.0, append=numpy.zeros((2, 3, 1)))),
    ("var", lambda x: ac.var(x, axis=(0, 2), correction=1, keepdims=True),
     lambda x: numpy.var(x, axis=(0, 2), ddof=1, keepdims=True)),
    ("std", lambda x: ac.std(x), lambda x: numpy.std(x)),
    ("tensordot", lambda x: ac.tensordot(x, ac.tensor(X[0].T.copy()), axes=([2, 1], [0, 1])),
     lambda x: numpy.tensordot(x, X[0].T, axes=([2, 1], [0, 1]))),
    ("vecdot", lambda x: ac.vecdot(x, ac.tensor(X[1]), axis=-2), lambda x: numpy.sum(x * X[1], axis=-2)),
    ("sort", lambda x: ac.sort(x, axis=1, descending=True), lambda x: -numpy.sort(-x, axis=1)),
    ("argsort", lambda x: ac.argsort(ac.round(x / 4), axis=2),
     lambda x: numpy.argsort(numpy.round(x / 4), axis=2, kind="stable")),
    ("take_along_axis", lambda x: ac.take_along_axis(x, ac.tensor(numpy.argsort(-X, axis=2)[:, :, :2]), 2),
     lambda x: numpy.take_along_axis(x, numpy.argsort(-X, axis=2)[:, :, :2], 2)),
])
def test_values_are_numpys(name, ours, theirs):
    got = ours(ac.tensor(X))
    numpy.testing.assert_allclose(got.numpy(), theirs(X), rtol=1e-14, atol=1e-14)


def test_argsort_descending_keeps_equal_elements_in_order():
    x = ac.tensor([2, 5, 2, 7, 5, 2])
    assert ac.argsort(x, descending=True).numpy().tolist() == [3, 1, 4, 0, 2, 5]
    assert ac.argsort(x).numpy().tolist() == [0, 2, 5, 1, 4, 3]


def test_meshgrid_and_broadcast_arrays_are_numpys():
    a, b, c = numpy.arange(2.0), numpy.arange(3.0), numpy.arange(4.0)
    for indexing in ("xy", "ij"):
        for got, want in zip(ac.meshgrid(ac.tensor(a), ac.tensor(b), ac.tensor(c), indexing=indexing),
                             numpy.meshgrid(a, b, c, indexing=indexing)):
            numpy.testing.assert_array_equal(got.numpy(), want)
    for got, want in zip(ac.broadcast_arrays(ac.tensor(a[:, None]), ac.tensor(c)), numpy.broadcast_arrays(a[:, None], c)):
        numpy.testing.assert_array_equal(got.numpy(), want)


def test_creation_and_conversion():
    assert ac.empty((2, 3), dtype="int32").shape == (2, 3) and ac.empty_like(ac.ones(4)).dtype == ac.float32
    x = ac.tensor([1.5, 2.5])
    assert ac.astype(x, "float32") is not x and ac.astype(x, "float32", copy=False) is x
    assert ac.astype(x, "int64").numpy().tolist() == [1, 2]
    assert ac.all(ac.tensor([True, True])).item() and not ac.any(ac.tensor([False])).item()


@pytest.mark.parametrize("call, error, match", [
    (lambda: ac.roll(ac.ones(3), (1, 2)), ValueError, "one int"),
    (lambda: ac.moveaxis(ac.ones((2, 3)), (0, 1), 0), ValueError, "as many distinct axes"),
    (lambda: ac.tile(ac.ones(3), -1), ValueError, "repetitions must be >= 0"),
    (lambda: ac.repeat(ac.ones((2, 3)), [1, 2], axis=1), ValueError, "3 counts"),
    (lambda: ac.tril(ac.ones(3)), ValueError, "at least 2 dimensions"),
    (lambda: ac.meshgrid(ac.ones((2, 2))), ValueError, "must be 1-D"),
    (lambda: ac.meshgrid(ac.ones(2), indexing="xyz"), ValueError, "indexing"),
    (lambda: ac.diff(ac.ones(3), n=-1), ValueError, "n must be"),
    (lambda: ac.take_along_axis(ac.ones((2, 3)), ac.tensor([0, 1]), 1), ValueError, "rank"),
    (lambda: ac.var(ac.ones(3), correction=-1), ValueError, "correction"),
    (lambda: ac.tensordot(ac.ones((2, 3)), ac.ones((2, 3)), axes=1), ValueError, "differ"),
    (lambda: ac.vecdot(ac.ones((2, 3)), ac.ones(3), axis=1), ValueError, r"\[-1, -1\]"),
    (lambda: ac.vecdot(ac.ones(3), ac.ones(4)), ValueError, "one length"),
    (lambda: ac.sort(ac.ones(3), axis=1), ValueError, "out of range"),
])
def test_bad_arguments_are_named(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_take_and_cumulative_sum_are_numpys():
    numpy.testing.assert_array_equal(ac.take(ac.tensor(X), ac.tensor([3, 0, 3]), axis=2).numpy(),
                                     numpy.take(X, [3, 0, 3], axis=2))
    numpy.testing.assert_array_equal(ac.cumulative_sum(ac.tensor(X), axis=1).numpy(), numpy.cumsum(X, axis=1))
    got = ac.cumulative_sum(ac.tensor([1, 2, 3], dtype="int32"), include_initial=True)
    assert got.numpy().tolist() == [0, 1, 3, 6] and got.dtype == ac.int64  # the default integer's width
    assert ac.cumulative_sum(ac.tensor([1, 2], dtype="int16"), dtype="int16").dtype == ac.int16
    with pytest.raises(ValueError, match="axis is required"):
        ac.take(ac.tensor(X), ac.tensor([0]))


def test_nonzero_searchsorted_and_unique_are_numpys():
    x = numpy.array([[0.0, 2.0, numpy.nan], [1.0, 0.0, 2.0]])
    for got, want in zip(ac.nonzero(ac.tensor(x)), numpy.nonzero(x)):
        assert got.numpy().tolist() == want.tolist() and got.dtype == ac.int64
    sorted_ = numpy.array([1.0, 2.0, 2.0, 5.0])
    for side in ("left", "right"):
        got = ac.searchsorted(ac.tensor(sorted_), ac.tensor([2.0, 0.0, 9.0]), side=side)
        assert got.numpy().tolist() == numpy.searchsorted(sorted_, [2.0, 0.0, 9.0], side=side).tolist()
    order = ac.tensor([1, 2, 3, 0])  # argsort of [5, 1, 2, 2]
    assert ac.searchsorted(ac.tensor([5.0, 1.0, 2.0, 2.0]), ac.tensor([2.0]), sorter=order).numpy().tolist() == [1]
    values, indices, inverse, counts = ac.unique_all(ac.tensor(x))
    want = numpy.unique(x, return_index=True, return_inverse=True, return_counts=True, equal_nan=False)
    numpy.testing.assert_array_equal(values.numpy(), want[0])
    assert indices.numpy().tolist() == want[1].tolist() and counts.numpy().tolist() == want[3].tolist()
    numpy.testing.assert_array_equal(values.numpy()[inverse.numpy()], x)  # NaNs compare unequal: each distinct
    assert ac.unique_counts(ac.tensor([2, 2, 1])).counts.numpy().tolist() == [1, 2]
    assert ac.unique_inverse(ac.tensor([2, 2, 1])).inverse_indices.numpy().tolist() == [1, 1, 0]
    assert ac.unique_values(ac.tensor(numpy.zeros(0))).shape == (0,)


def test_asarray_copies_only_when_asked_or_needed():
    t = ac.tensor([1.0, 2.0])
    assert ac.asarray(t) is t and ac.asarray(t, copy=True) is not t
    assert ac.asarray(t, dtype="float64").dtype == ac.float64
    with pytest.raises(ValueError, match="copy=False"):
        ac.asarray(t, dtype="float64", copy=False)
    with pytest.raises(ValueError, match="copy=False"):
        ac.asarray([1.0], copy=False)
    assert ac.asarray([1, 2]).dtype == ac.int64


def test_a_traced_nonzero_follows_the_values():
    @ac.function
    def count(x):
        return ac.nonzero(x)[0]

    assert count(ac.tensor([0.0, 1.0, 1.0])).numpy().tolist() == [1, 2]
    assert count(ac.tensor([1.0, 0.0, 1.0])).numpy().tolist() == [0, 2]
    assert count(ac.tensor([1.0, 1.0, 1.0])).numpy().tolist() == [0, 1, 2]


def test_sum_and_prod_take_the_standards_dtype():
    x = ac.tensor([1, 2, 3], dtype="int8")
    assert ac.sum(x, dtype="float64").dtype == ac.float64 and ac.prod(x, dtype="int16").dtype == ac.int16
    assert ac.sum(x).dtype == ac.int64  # NumPy's (and the standard's) widening by default
    v = ac.Variable([1.0, 2.0])
    with ac.GradientTape() as tape:
        y = ac.sum(v * v, dtype="float64")
    assert tape.gradient(y, v).numpy().tolist() == [2.0, 4.0]
    with pytest.raises(TypeError, match="max: takes no dtype"):
        ac.max(x, dtype="float32")


def test_cumulative_prod_isin_and_broadcast_shapes():
    numpy.testing.assert_allclose(ac.cumulative_prod(ac.tensor(X), axis=2).numpy(), numpy.cumprod(X, axis=2))
    got = ac.cumulative_prod(ac.tensor([2, 3], dtype="int8"), include_initial=True)
    assert got.numpy().tolist() == [1, 2, 6] and got.dtype == ac.int64
    assert ac.cumprod(ac.tensor([2, 3], dtype="int8")).dtype == ac.int8  # TensorFlow's cumprod keeps it
    assert ac.isin(ac.tensor([[1, 2], [3, 4]]), ac.tensor([4, 1])).numpy().tolist() == [[True, False], [False, True]]
    assert ac.isin(ac.tensor([1, 2]), ac.tensor([2]), invert=True).numpy().tolist() == [True, False]
    assert ac.broadcast_shapes((2, 1, 3), (4, 1), ()) == (2, 4, 3) and ac.bool == ac.bool_
    with pytest.raises(ValueError, match="do not broadcast"):
        ac.broadcast_shapes((2,), (3,))
