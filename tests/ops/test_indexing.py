import numpy
import pytest

import accel as ac

INDICES = [
    0, -1, slice(1, 3), (slice(None), 1), (Ellipsis, 0), (None, 1), (1, None, slice(None, None, -1)),
    [2, 0, 2], (slice(None), [0, 0, 3]), ([0, 2], [1, 3]), numpy.array([True, False, True]),
    (slice(None), numpy.array([[0, 1], [2, 3]])),
]


@pytest.mark.parametrize("index", INDICES, ids=str)
def test_getitem_matches_numpy(device, rng, index):
    x = rng.standard_normal((3, 4))
    got = ac.tensor(x, device=device)[index]
    numpy.testing.assert_array_equal(got.numpy(), x[index])


def test_index_with_integer_tensor(device):
    x = ac.tensor([[1.0, 2.0], [3.0, 4.0]], device=device)
    numpy.testing.assert_array_equal(x[ac.tensor([1, 1], device=device)].numpy(), [[3, 4], [3, 4]])
    numpy.testing.assert_array_equal(x[x > 2].numpy(), [3, 4])
    with pytest.raises(TypeError, match="getitem: index tensors must be integer or bool, got float32"):
        x[ac.tensor([0.0], device=device)]


def test_getitem_out_of_range():
    with pytest.raises(IndexError, match=r"getitem: index 5 is out of bounds .*tensor shape \(3,\)"):
        ac.zeros((3,))[5]


def test_gather(device, rng):
    params = rng.standard_normal((4, 3))
    p = ac.tensor(params, device=device)
    numpy.testing.assert_array_equal(ac.gather(p, [3, 0, 3]).numpy(), params[[3, 0, 3]])
    numpy.testing.assert_array_equal(ac.gather(p, [[2, 1]], axis=1).numpy(), numpy.take(params, [[2, 1]], axis=1))
    with pytest.raises(IndexError, match=r"gather: indices must be in \[0, 4\) for axis 0, got values in \[-1, 2\]"):
        ac.gather(p, [-1, 2])
    with pytest.raises(TypeError, match="gather: indices must be integers"):
        ac.gather(p, ac.tensor([0.5], device=device))


def test_one_hot(device):
    out = ac.one_hot(ac.tensor([0, 2, 5, -1], device=device), 3)
    numpy.testing.assert_array_equal(out.numpy(), [[1, 0, 0], [0, 0, 1], [0, 0, 0], [0, 0, 0]])
    assert out.dtype == ac.float32
    assert ac.one_hot(ac.tensor([[1]], device=device), 4, axis=0).shape == (4, 1, 1)
    assert ac.one_hot(ac.tensor([1], device=device), 2, on_value=5, off_value=-1, dtype="int32").numpy().tolist() == [[-1, 5]]


def test_scatter_add_accumulates_repeats(device):
    out = ac.scatter_add(ac.tensor([1.0, 2.0, 3.0], device=device), numpy.array([0, 2, 0]), (3,))
    numpy.testing.assert_array_equal(out.numpy(), [4.0, 0.0, 2.0])


# ---- TensorFlow's scatter_nd / gather_nd and sliced assignment on Variables -----------------------
def test_tensor_scatter_nd_update_and_add_follow_tensorflow():
    t = ac.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], dtype="float64")
    updated = ac.tensor_scatter_nd_update(t, [[2], [0]], [[9.0, 9.0], [7.0, 7.0]])
    assert updated.numpy().tolist() == [[7.0, 7.0], [3.0, 4.0], [9.0, 9.0]]
    assert t.numpy().tolist() == [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]  # a new tensor; t unchanged
    added = ac.tensor_scatter_nd_add(t, [[0, 1], [0, 1], [2, 0]], [1.0, 1.0, 10.0])
    assert added.numpy().tolist() == [[1.0, 4.0], [3.0, 4.0], [15.0, 6.0]]  # repeated rows add up
    assert ac.gather_nd(t, [[2, 1], [0, 0]]).numpy().tolist() == [6.0, 1.0]
    assert ac.gather_nd(t, [[1]]).numpy().tolist() == [[3.0, 4.0]]
    x = ac.tensor([1.0, 2.0, 3.0], dtype="float64")
    u = ac.tensor([5.0], dtype="float64")
    with ac.GradientTape() as tape:
        tape.watch([x, u])
        y = ac.sum(ac.tensor_scatter_nd_update(x, [[1]], u) * ac.tensor([1.0, 2.0, 3.0], dtype="float64"))
    gx, gu = tape.gradient(y, [x, u])
    assert gx.numpy().tolist() == [1.0, 0.0, 3.0] and gu.numpy().tolist() == [2.0]  # TF's gradients


@pytest.mark.parametrize("call,error,message", [
    (lambda t: ac.tensor_scatter_nd_update(t, [[3]], [[1.0, 1.0]]), IndexError, r"indices\[\.\.\., 0\] must be in \[0, 3\)"),
    (lambda t: ac.tensor_scatter_nd_update(t, [[0]], [1.0, 1.0, 1.0]), ValueError,
     r"updates must have shape indices.shape\[:-1\] \+ tensor.shape\[depth:\] = \(1, 2\)"),
    (lambda t: ac.tensor_scatter_nd_add(t, [0.5], [1.0]), TypeError, "indices must be integers"),
    (lambda t: ac.gather_nd(t, [[0, 0, 0]]), ValueError, r"indices must have shape \[\.\.\., depth\] with 1 <= depth <= 2"),
    (lambda t: ac.tensor_scatter_nd_update(t, [[0]], ac.tensor([[1, 1]])), TypeError, "updates have dtype int64"),
])
def test_scatter_nd_errors_name_the_problem(call, error, message):
    with pytest.raises(error, match=message):
        call(ac.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))


def test_sliced_assignment_on_variables():
    v = ac.Variable(ac.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), name="v")
    row = v[0]
    assert isinstance(row, ac.Tensor) and row.numpy().tolist() == [1.0, 2.0, 3.0]
    assert v[0, 1:].assign([9.0, 8.0]) is v
    assert v.numpy().tolist() == [[1.0, 9.0, 8.0], [4.0, 5.0, 6.0]]
    assert row.numpy().tolist() == [1.0, 2.0, 3.0]  # a value read before stays what it was
    v[:, 0].assign_add(10.0)
    v[1].assign_sub(ac.tensor([1.0, 1.0, 1.0]))
    assert v.numpy().tolist() == [[11.0, 9.0, 8.0], [13.0, 4.0, 5.0]]
    before = v.numpy()
    with pytest.raises(ValueError, match=r"Variable.assign: value has shape \(3,\), expected \(2,\)"):
        v[0, 1:].assign([1.0, 2.0, 3.0])
    with pytest.raises(IndexError, match=r"getitem: index 5 is out of bounds .*\(tensor shape \(2, 3\)\)"):
        v[5].assign(1.0)  # the read fails first, as in TensorFlow
    numpy.testing.assert_array_equal(v.numpy(), before)


def test_variable_scatter_nd_update_and_add_in_place():
    v = ac.Variable(ac.zeros((3, 2)))
    data = v._data
    v.scatter_nd_update([[2], [0]], [[1.0, 2.0], [3.0, 4.0]])
    v.scatter_nd_add([[1, 1], [1, 1]], [5.0, 5.0])
    assert v.numpy().tolist() == [[3.0, 4.0], [0.0, 10.0], [1.0, 2.0]] and v._data is data  # in place
    with pytest.raises(ValueError, match="Variable.scatter_nd_update: value has shape"):
        v.scatter_nd_update([[0]], [1.0, 2.0, 3.0])
    assert v.numpy().tolist() == [[3.0, 4.0], [0.0, 10.0], [1.0, 2.0]]


def test_a_recorded_read_keeps_its_value_across_a_sliced_assignment():
    v = ac.Variable(ac.tensor([1.0, 2.0], dtype="float64"))
    with ac.GradientTape() as tape:
        y = ac.sum(v * v)
    v[0].assign(100.0)  # after the read: the tape must differentiate at the value it read
    assert tape.gradient(y, v).numpy().tolist() == [2.0, 4.0]


# -- embedding_lookup (tf.nn.embedding_lookup) -------------------------------------------------------
def test_embedding_lookup_is_gather_along_rows_and_sums_repeated_ids():
    table = ac.Variable(numpy.arange(12.0).reshape(6, 2))
    out = ac.embedding_lookup(table, [[0, 5], [2, 2]])
    assert out.numpy().tolist() == [[[0.0, 1.0], [10.0, 11.0]], [[4.0, 5.0], [4.0, 5.0]]]
    with ac.GradientTape() as tape:
        loss = ac.sum(ac.embedding_lookup(table, [0, 2, 2]))
    assert tape.gradient(loss, table).numpy()[:, 0].tolist() == [1, 0, 2, 0, 0, 0]


def test_embedding_lookup_names_the_first_bad_id_before_computing():
    table = ac.tensor(numpy.zeros((4, 3)))
    with pytest.raises(IndexError, match=r"embedding_lookup: ids\[1, 0\] = 7 is not in \[0, 4\)"):
        ac.embedding_lookup(table, [[0, 3], [7, -1]])
    with pytest.raises(IndexError, match=r"ids\[2\] = -1 is not in \[0, 4\)"):
        ac.embedding_lookup(table, [0, 1, -1])
    with pytest.raises(TypeError, match="embedding_lookup: ids must be integers"):
        ac.embedding_lookup(table, [0.0, 1.0])


def test_embedding_lookup_of_shards_is_the_table_they_make():
    table = numpy.arange(10.0).reshape(5, 2)
    shards = [ac.tensor(table[:3]), ac.tensor(table[3:])]
    assert ac.embedding_lookup(shards, [4, 0, 3]).numpy().tolist() == table[[4, 0, 3]].tolist()
    with pytest.raises(ValueError, match="params is an empty list of shards"):
        ac.embedding_lookup([], [0])


def test_embedding_lookup_max_norm_scales_long_rows_only():
    table = ac.tensor([[3.0, 4.0], [0.3, 0.4], [0.0, 0.0]], dtype="float64")
    out = ac.embedding_lookup(table, [0, 1, 2], max_norm=1.0).numpy()
    numpy.testing.assert_allclose(out, [[0.6, 0.8], [0.3, 0.4], [0.0, 0.0]], rtol=1e-15)
    x = ac.Variable(numpy.zeros((2, 2)))
    with ac.GradientTape() as tape:  # a zero row keeps a finite gradient, as TensorFlow's clip_by_norm
        loss = ac.sum(ac.embedding_lookup(x, [0, 1], max_norm=1.0))
    assert numpy.isfinite(tape.gradient(loss, x).numpy()).all()
    with pytest.raises(ValueError, match="max_norm must be a positive number"):
        ac.embedding_lookup(table, [0], max_norm=0)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_rows_summed_adds_each_rows_values_in_their_order_bit_for_bit(dtype):
    from accel.ops.row_sums import rows_summed

    rng = numpy.random.default_rng(4)
    ids = rng.integers(0, 50, size=3000)
    rows = rng.standard_normal((3000, 7)).astype(dtype)
    unique, sums = rows_summed(ids, rows)
    numpy.testing.assert_array_equal(unique, numpy.unique(ids))
    expected = numpy.zeros((50, 7), dtype)
    numpy.add.at(expected, ids, rows)  # one add per row, in order (reduceat would sum pairwise)
    numpy.testing.assert_array_equal(sums, expected[unique])
    assert sums.dtype == rows.dtype and unique.dtype == numpy.int64
    empty_ids, empty_sums = rows_summed(numpy.zeros(0, numpy.int64), numpy.zeros((0, 3), dtype))
    assert empty_ids.shape == (0,) and empty_sums.shape == (0, 3)
