"""IndexedSlices: the class, where gradients are IndexedSlices (TensorFlow 2.21's rules, semantics.md
section 17), densifying, clipping, and slices through accel.function."""

import numpy
import pytest

import accel as ac
from accel.autodiff import walk as walk_module

INIT = numpy.arange(12, dtype=numpy.float64).reshape(6, 2) / 10.0


def _grad(fn, v):
    with ac.GradientTape() as tape:
        y = fn(v)
    return tape.gradient(y, v)


# -- the class ------------------------------------------------------------------------------------
def test_densifying_sums_repeated_rows():
    s = ac.IndexedSlices(ac.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), [2, 0, 2], (4, 2))
    assert s.dense_shape == (4, 2) and s.shape == (4, 2) and s.dtype == numpy.float32
    dense = ac.convert_to_tensor(s)
    numpy.testing.assert_array_equal(dense.numpy(), [[3, 4], [0, 0], [6, 8], [0, 0]])
    numpy.testing.assert_array_equal(numpy.asarray(s), dense.numpy())
    numpy.testing.assert_array_equal((ac.ones((4, 2)) + s).numpy(), dense.numpy() + 1)  # ops densify
    numpy.testing.assert_array_equal((-s).values.numpy(), -s.values.numpy())
    assert (s * 2.0).indices is s.indices and isinstance(s / 2, ac.IndexedSlices)


@pytest.mark.parametrize("make, error, match", [
    (lambda: ac.IndexedSlices(ac.ones((2, 3)), [0.0, 1.0], (4, 3)), TypeError, "indices must be integers"),
    (lambda: ac.IndexedSlices(ac.ones((2, 3)), [[0], [1]], (4, 3)), ValueError, "indices must be 1-D"),
    (lambda: ac.IndexedSlices(ac.ones((2, 3)), [0, 1, 2], (4, 3)), ValueError, "one row per index"),
    (lambda: ac.IndexedSlices(ac.ones((2, 3)), [0, 1], (4, 2)), ValueError, "cannot be rows"),
])
def test_the_constructor_names_what_is_wrong(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_densifying_checks_the_rows():
    with pytest.raises(IndexError, match=r"\[0, 4\)"):
        ac.convert_to_tensor(ac.IndexedSlices(ac.ones((1, 2)), [4], (4, 2)))
    with pytest.raises(ValueError, match="dense_shape"):
        ac.convert_to_tensor(ac.IndexedSlices(ac.ones((1, 2)), [0]))


# -- which gradients are IndexedSlices (TensorFlow 2.21, semantics.md 17) ----------------------------
@pytest.fixture(params=["compiled", "python"])
def walk(request, monkeypatch):
    """Both forms of the graph walk (the compiled loop and its Python statement)."""
    if request.param == "python":
        monkeypatch.setattr(walk_module, "walk", walk_module.walk_python)
        from accel.autodiff import backprop
        monkeypatch.setattr(backprop, "walk", walk_module.walk_python)
    return request.param


def test_gather_gives_slices_with_repeats_kept(walk):
    v = ac.Variable(INIT)
    g = _grad(lambda v: ac.sum(ac.gather(v, [0, 2, 2]) * ac.tensor([1.0, 2.0], dtype="float64")), v)
    assert isinstance(g, ac.IndexedSlices)
    assert g.indices.numpy().tolist() == [0, 2, 2] and g.dense_shape == (6, 2)
    numpy.testing.assert_array_equal(g.values.numpy(), [[1, 2]] * 3)


def test_two_gathers_concatenate_in_forward_order(walk):
    v = ac.Variable(INIT)
    g = _grad(lambda v: ac.sum(ac.gather(v, [0])) + ac.sum(ac.gather(v, [3, 4])), v)
    assert isinstance(g, ac.IndexedSlices) and g.indices.numpy().tolist() == [0, 3, 4]  # TF: [0 3 4]


def test_a_dense_use_makes_the_gradient_dense(walk):
    v = ac.Variable(INIT)
    g = _grad(lambda v: ac.sum(ac.gather(v, [0])) + ac.sum(v * v), v)
    assert type(g) is ac.Tensor
    expected = 2 * INIT
    expected[0] += 1
    numpy.testing.assert_allclose(g.numpy(), expected, rtol=1e-15)
    g = _grad(lambda v: ac.sum(v * v) + ac.sum(ac.gather(v, [0])), v)  # either order
    numpy.testing.assert_allclose(g.numpy(), expected, rtol=1e-15)


def test_embedding_lookup_of_2d_ids_flattens_them(walk):
    v = ac.Variable(INIT)
    g = _grad(lambda v: ac.sum(ac.embedding_lookup(v, [[5, 1], [1, 1]])), v)
    assert g.indices.numpy().tolist() == [5, 1, 1, 1] and g.values.shape == (4, 2)
    numpy.testing.assert_array_equal(ac.convert_to_tensor(g).numpy()[:, 0], [0, 3, 0, 0, 0, 1])


def test_integer_array_indexing_counts_negative_rows_from_the_end(walk):
    v = ac.Variable(INIT)
    g = _grad(lambda v: ac.sum(v[numpy.array([-1, 0])]), v)
    assert g.indices.numpy().tolist() == [5, 0]
    ids = ac.tensor([-2, 1])
    g = _grad(lambda v: ac.sum(v[ids]), v)
    assert g.indices.numpy().tolist() == [4, 1]


def test_other_indexing_stays_dense(walk):
    v = ac.Variable(INIT)
    assert type(_grad(lambda v: ac.sum(v[1:3]), v)) is ac.Tensor
    assert type(_grad(lambda v: ac.sum(ac.gather(v, [0, 1], axis=1)), v)) is ac.Tensor
    assert type(_grad(lambda v: ac.sum(v[numpy.array([True, False] * 3)]), v)) is ac.Tensor


def test_slices_reaching_an_op_are_densified_for_its_vjp(walk):
    v = ac.Variable(INIT)
    g = _grad(lambda v: ac.sum(ac.gather(v * 3.0, [1, 1])), v)
    expected = numpy.zeros((6, 2))
    expected[1] = 6.0
    numpy.testing.assert_array_equal(g.numpy(), expected)


def test_second_order_through_slices(walk):
    v = ac.Variable(INIT)
    with ac.GradientTape() as outer:
        with ac.GradientTape() as inner:
            y = ac.sum(ac.gather(v, [0, 2, 2]) ** 3)
        g = inner.gradient(y, v)
        z = ac.sum(ac.convert_to_tensor(g))
    gg = outer.gradient(z, v)  # d/dv sum(3 v_i^2 over the picks) = 6 v_i per pick
    expected = numpy.zeros((6, 2))
    expected[0] = 6 * INIT[0]
    expected[2] = 12 * INIT[2]
    numpy.testing.assert_allclose(ac.convert_to_tensor(gg).numpy(), expected, rtol=1e-15)


def test_slices_with_mixed_precision_values_keep_the_variable_dtype(walk):
    v = ac.Variable(numpy.ones((4, 2), numpy.float32))
    g = _grad(lambda v: ac.sum(ac.cast(ac.gather(v, [1, 3]), "float16")), v)
    assert isinstance(g, ac.IndexedSlices) and g.dtype == numpy.float32


# -- clipping -------------------------------------------------------------------------------------
def _worked_slices():
    return ac.IndexedSlices(ac.tensor([[0.5, -1.0], [0.25, 0.5], [-1.5, 2.0]], dtype="float64"), [1, 1, 3], (5, 2))


def test_global_norm_of_slices_is_the_norm_of_their_values():
    clipped, norm = ac.clip_by_global_norm([_worked_slices()], 1.0)
    assert norm.item() == pytest.approx(2.7950849718747373, rel=1e-15)  # TF; the dense norm is 2.6575
    assert isinstance(clipped[0], ac.IndexedSlices) and clipped[0].indices.numpy().tolist() == [1, 1, 3]
    numpy.testing.assert_allclose(clipped[0].values.numpy(), _worked_slices().values.numpy() / 2.7950849718747373)


def test_clip_by_norm_and_value_of_slices():
    clipped = ac.clip_by_norm(_worked_slices(), 1.0)
    numpy.testing.assert_allclose(clipped.values.numpy(), [[0.17888543819998318, -0.35777087639996635],
                                                           [0.08944271909999159, 0.17888543819998318],
                                                           [-0.5366563145999494, 0.7155417527999327]], rtol=1e-15)
    clipped = ac.clip_by_value(_worked_slices(), -1.0, 1.0)
    assert isinstance(clipped, ac.IndexedSlices)
    numpy.testing.assert_array_equal(clipped.values.numpy(), [[0.5, -1.0], [0.25, 0.5], [-1.0, 1.0]])


# -- accel.function ------------------------------------------------------------------------------
def test_slices_returned_by_a_function_follow_every_call():
    v = ac.Variable(INIT)

    @ac.function
    def grad_of(ids):
        with ac.GradientTape() as tape:
            y = ac.sum(ac.gather(v, ids) * 2.0)
        return tape.gradient(y, v)

    for ids in ([0, 1], [4, 2], [5, 5]):
        g = grad_of(ac.tensor(ids))
        assert isinstance(g, ac.IndexedSlices) and g.indices.numpy().tolist() == ids
        numpy.testing.assert_array_equal(g.values.numpy(), numpy.full((2, 2), 2.0))
    assert grad_of.experimental_get_tracing_count() == 1


def test_a_function_takes_slices_as_an_argument():
    @ac.function
    def dense(s):
        return ac.convert_to_tensor(s) * 1.0

    for ids in ([0, 1], [3, 3]):
        s = ac.IndexedSlices(ac.ones((2, 2)), ac.tensor(ids), (4, 2))
        numpy.testing.assert_array_equal(dense(s).numpy(), ac.convert_to_tensor(s).numpy())
    assert dense.experimental_get_tracing_count() == 1  # keyed by dense_shape and the parts' specs
    dense(ac.IndexedSlices(ac.ones((2, 2)), ac.tensor([0, 1]), (5, 2)))
    assert dense.experimental_get_tracing_count() == 2
