import numpy
import pytest

import accel as ac

# matmul goes through BLAS: its summation order varies with the kernel (OPENBLAS_CORETYPE) and the
# threads, so CI runs this module again under the other kernel (.ci/run, the `blas` mark)
pytestmark = pytest.mark.blas

SHAPES = [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)), ((5, 2, 3), (3, 4)),
          ((2, 3), (5, 3, 4)), ((5, 1, 2, 3), (4, 3, 2)), ((0, 3), (3, 2)), ((2, 0), (0, 3))]


@pytest.mark.parametrize("shapes", SHAPES, ids=str)
def test_matmul_matches_numpy(device, rng, shapes):
    a, b = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    got = ac.matmul(ac.tensor(a, device=device), ac.tensor(b, device=device))
    want = numpy.matmul(a, b)
    assert got.shape == want.shape
    numpy.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)


def test_matmul_errors():
    with pytest.raises(ValueError, match=r"matmul: inner dimensions differ: a has shape \(2, 3\) and b has shape \(4, 5\) \(3 != 4\)"):
        ac.matmul(ac.zeros((2, 3)), ac.zeros((4, 5)))
    with pytest.raises(ValueError, match="matmul: operands must have at least 1 dimension"):
        ac.matmul(ac.tensor(1.0), ac.zeros((1,)))
    with pytest.raises(ValueError, match=r"matmul: batch dimensions \(2,\) and \(3,\) do not broadcast"):
        ac.matmul(ac.zeros((2, 2, 3)), ac.zeros((3, 3, 4)))


@pytest.mark.parametrize("transpose_a", [False, True])
@pytest.mark.parametrize("transpose_b", [False, True])
@pytest.mark.parametrize("batch", [(), (2,), (3, 1)])
def test_matmul_transpose_flags_are_tensorflows(device, rng, transpose_a, transpose_b, batch):
    """tf.linalg.matmul(a, b, transpose_a, transpose_b): the matrix transposes (last two axes),
    batch axes broadcast against a 2-D b."""
    a = rng.standard_normal(batch + ((4, 2) if transpose_a else (2, 4)))
    b = rng.standard_normal((3, 4) if transpose_b else (4, 3))
    got = ac.matmul(ac.tensor(a, device=device), ac.tensor(b, device=device), transpose_a=transpose_a,
                    transpose_b=transpose_b)
    want = numpy.matmul(a.swapaxes(-1, -2) if transpose_a else a, b.T if transpose_b else b)
    assert got.shape == want.shape
    numpy.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)


def test_matmul_transpose_flag_errors_name_the_flag():
    with pytest.raises(ValueError, match=r"matmul: transpose_b needs an operand of 2 or more dimensions, got shape \(3,\)"):
        ac.matmul(ac.zeros((2, 3)), ac.zeros((3,)), transpose_b=True)
    with pytest.raises(TypeError, match="matmul: transpose_a must be a bool, got 'yes'"):
        ac.matmul(ac.zeros((2, 3)), ac.zeros((2, 3)), transpose_a="yes")
    with pytest.raises(ValueError, match=r"inner dimensions differ: a has shape \(3, 2\) and b has shape \(3, 2\)"):
        ac.matmul(ac.zeros((2, 3)), ac.zeros((3, 2)), transpose_a=True)


def test_the_vjps_of_a_2d_matmul_are_single_matmuls():
    """Backward of a 2-D product is two matmuls with flags (TensorFlow's MatMul gradients), no
    transpose op: the traced gradient function holds exactly two steps, both matmuls."""
    def grads(a, b):
        with ac.GradientTape() as tape:
            tape.watch([a, b])
            y = ac.matmul(a, b)
        return tape.gradient(y, [a, b], output_gradients=ac.ones((2, 4), dtype="float64"))

    f = ac.function(grads)
    a, b = ac.tensor(numpy.ones((2, 3))), ac.tensor(numpy.ones((3, 4)))
    got = f(a, b)
    numpy.testing.assert_array_equal(got[0].numpy(), numpy.full((2, 3), 4.0))
    numpy.testing.assert_array_equal(got[1].numpy(), numpy.full((3, 4), 2.0))
    (concrete,) = f._concrete
    (graph,) = concrete._graphs.values()
    assert [step.op.__name__ for step in graph.steps] == ["matmul"] * 2, graph.steps  # the forward is pruned


def _float16_ulps(got, exact):
    """|got - exact| in units of float16's spacing at the exact value (rounded to float16)."""
    nearest = exact.astype(numpy.float16)
    return numpy.abs(got.astype(numpy.float64) - exact) / numpy.spacing(numpy.abs(nearest)).astype(numpy.float64)


def test_float16_matmul_accumulates_in_float32_like_numpy():
    """float16 products go through float32 BLAS on the CPU: each result is the float32 sum rounded
    once to float16. Which float32 rounding the sum gets depends on the BLAS kernel's summation
    order (OPENBLAS_CORETYPE, threads), so the contract is stated against an exact reference: the
    float64 product (exact products, sums exact to ~1e-16 here) rounded to float16, within one
    float16 ulp; the float32 error of a 300-term sum is ~1e-5 of a float16 ulp of the largest term,
    so a miss beyond one ulp means the sum was not accumulated in float32. NumPy's own float16 loop
    (~200x slower) keeps the same contract."""
    rng = numpy.random.default_rng(0)
    for shape_a, shape_b in (((64, 300), (300, 40)), ((3, 5, 7), (7, 2)), ((9,), (9, 4))):
        a = rng.normal(size=shape_a).astype(numpy.float16)
        b = rng.normal(size=shape_b).astype(numpy.float16)
        out = ac.matmul(ac.tensor(a), ac.tensor(b))
        assert out.dtype == numpy.float16
        exact = numpy.matmul(a.astype(numpy.float64), b.astype(numpy.float64))
        assert _float16_ulps(out.numpy(), exact).max() <= 1.0
        assert _float16_ulps(numpy.matmul(a, b), exact).max() <= 1.0
        # and most results are the correctly rounded one
        assert numpy.mean(out.numpy() == exact.astype(numpy.float16)) > 0.95


def test_rows_times_a_matrix_is_one_gemm_with_numpys_values():
    """(..., k) @ (k, n) runs as one GEMM of the rows (contiguous or not), with NumPy's values and
    a weight gradient that is the rows' product (no batched product summed afterwards)."""
    rng = numpy.random.default_rng(3)
    a, b = rng.normal(size=(3, 4, 5)), rng.normal(size=(5, 2))
    for x in (a, a.transpose(1, 0, 2)):
        numpy.testing.assert_allclose(ac.matmul(ac.tensor(x), ac.tensor(b)).numpy(), x @ b, rtol=1e-13)
        numpy.testing.assert_allclose(ac.matmul(ac.tensor(x), ac.tensor(b.T), transpose_b=True).numpy(), x @ b,
                                      rtol=1e-13)
    w = ac.Variable(b)
    with ac.GradientTape() as tape:
        loss = ac.sum(ac.tensor(a) @ w)
    numpy.testing.assert_allclose(tape.gradient(loss, w).numpy(), a.reshape(-1, 5).sum(0)[:, None] * numpy.ones((1, 2)),
                                  rtol=1e-13)
