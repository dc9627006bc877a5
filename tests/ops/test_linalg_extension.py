"""accel.linalg, the Array API's linear algebra extension: NumPy's values on stacks of matrices,
errors that name the problem. Gradients (first and second order) are in
tests/autodiff/test_op_gradients.py, traces in tests/function/test_traced_ops.py."""

import numpy
import pytest

import accel as ac

LA = ac.linalg
R = numpy.random.default_rng(7)
A = R.normal(size=(2, 4, 4))
SPD = A @ numpy.swapaxes(A, -1, -2) + 4 * numpy.eye(4)
WIDE = R.normal(size=(2, 3, 5))


def test_the_namespace_has_the_standards_23_functions():
    assert sorted(LA.__all__) == sorted(
        "cholesky cross det diagonal eigh eigvalsh inv matmul matrix_norm matrix_power matrix_rank matrix_transpose "
        "outer pinv qr slogdet solve svd svdvals tensordot trace vecdot vector_norm".split())


@pytest.mark.parametrize("name, ours, theirs", [
    ("inv", lambda: LA.inv(ac.tensor(A)), lambda: numpy.linalg.inv(A)),
    ("det", lambda: LA.det(ac.tensor(A)), lambda: numpy.linalg.det(A)),
    ("slogdet", lambda: LA.slogdet(ac.tensor(A)).logabsdet, lambda: numpy.linalg.slogdet(A)[1]),
    ("slogdet sign", lambda: LA.slogdet(ac.tensor(A)).sign, lambda: numpy.linalg.slogdet(A)[0]),
    ("solve", lambda: LA.solve(ac.tensor(A), ac.tensor(A[:, :, :2])), lambda: numpy.linalg.solve(A, A[:, :, :2])),
    ("solve vector", lambda: LA.solve(ac.tensor(A[0]), ac.tensor(A[1, 0])), lambda: numpy.linalg.solve(A[0], A[1, 0])),
    ("solve stack by vector", lambda: LA.solve(ac.tensor(A), ac.tensor(A[1, 0])),
     lambda: numpy.linalg.solve(A, A[1, 0][:, None])[..., 0]),
    ("cholesky", lambda: LA.cholesky(ac.tensor(SPD)), lambda: numpy.linalg.cholesky(SPD)),
    ("cholesky upper", lambda: LA.cholesky(ac.tensor(SPD), upper=True),
     lambda: numpy.swapaxes(numpy.linalg.cholesky(SPD), -1, -2)),
    ("eigvalsh", lambda: LA.eigvalsh(ac.tensor(SPD)), lambda: numpy.linalg.eigvalsh(SPD)),
    ("svdvals", lambda: LA.svdvals(ac.tensor(WIDE)), lambda: numpy.linalg.svd(WIDE, compute_uv=False)),
    ("pinv", lambda: LA.pinv(ac.tensor(WIDE)), lambda: numpy.linalg.pinv(WIDE)),
    ("matrix_rank", lambda: LA.matrix_rank(ac.tensor(numpy.ones((3, 3)))), lambda: numpy.linalg.matrix_rank(numpy.ones((3, 3)))),
    ("trace", lambda: LA.trace(ac.tensor(A), offset=-1), lambda: numpy.trace(A, offset=-1, axis1=-2, axis2=-1)),
    ("diagonal", lambda: LA.diagonal(ac.tensor(WIDE), offset=2), lambda: numpy.diagonal(WIDE, 2, -2, -1)),
    ("outer", lambda: LA.outer(ac.tensor(A[0, 0]), ac.tensor(A[0, 1])), lambda: numpy.outer(A[0, 0], A[0, 1])),
    ("cross", lambda: LA.cross(ac.tensor(A[:, :, :3]), ac.tensor(A[0, 0, :3])),
     lambda: numpy.cross(A[:, :, :3], A[0, 0, :3])),
    ("matrix_power 5", lambda: LA.matrix_power(ac.tensor(A), 5), lambda: numpy.linalg.matrix_power(A, 5)),
    ("matrix_power -2", lambda: LA.matrix_power(ac.tensor(A), -2), lambda: numpy.linalg.matrix_power(A, -2)),
    ("matrix_power 0", lambda: LA.matrix_power(ac.tensor(A), 0), lambda: numpy.broadcast_to(numpy.eye(4), A.shape)),
] + [(f"matrix_norm {o}", (lambda o=o: LA.matrix_norm(ac.tensor(WIDE), ord=o)),
      (lambda o=o: numpy.linalg.norm(WIDE, ord=o, axis=(-2, -1)))) for o in ("fro", "nuc", 1, -1, 2, -2,
                                                                         numpy.inf, -numpy.inf)]
  + [(f"vector_norm {o}", (lambda o=o: LA.vector_norm(ac.tensor(A), axis=(0, 2), ord=o)),
      (lambda o=o: numpy.linalg.norm(A.transpose(1, 0, 2).reshape(4, -1), ord=o, axis=1)))
     for o in (2, 1, 3, 0, numpy.inf, -numpy.inf)])
def test_values_are_numpys(name, ours, theirs):
    numpy.testing.assert_allclose(ours().numpy(), theirs(), rtol=1e-10, atol=1e-12)


def test_decompositions_reconstruct_their_matrix():
    w, v = LA.eigh(ac.tensor(SPD))
    numpy.testing.assert_allclose((v.numpy() * w.numpy()[..., None, :]) @ numpy.swapaxes(v.numpy(), -1, -2), SPD,
                                  rtol=1e-10, atol=1e-10)
    for x in (A, WIDE, numpy.swapaxes(WIDE, -1, -2)):
        q, r = LA.qr(ac.tensor(x))
        numpy.testing.assert_allclose(q.numpy() @ r.numpy(), x, atol=1e-12)
        numpy.testing.assert_array_equal(numpy.tril(r.numpy(), -1), 0)
        u, s, vh = LA.svd(ac.tensor(x), full_matrices=False)
        numpy.testing.assert_allclose((u.numpy() * s.numpy()[..., None, :]) @ vh.numpy(), x, atol=1e-12)
    assert LA.svd(ac.tensor(A)).U.shape == (2, 4, 4)  # full_matrices=True: square matrices


def test_vector_norm_keeps_dims_and_takes_every_axis():
    x = ac.tensor(A)
    assert LA.vector_norm(x, keepdims=True).shape == (1, 1, 1)
    assert LA.vector_norm(x).item() == pytest.approx(numpy.linalg.norm(A.ravel()))
    assert LA.matrix_norm(x, keepdims=True).shape == (2, 1, 1)


@pytest.mark.parametrize("call, error, match", [
    (lambda: LA.inv(ac.ones((2, 3))), ValueError, "square"),
    (lambda: LA.det(ac.ones(3)), ValueError, "a matrix or a stack"),
    (lambda: LA.solve(ac.ones((3, 3)), ac.ones(4)), ValueError, "does not fit"),
    (lambda: LA.svd(ac.ones((2, 3))), ValueError, "full_matrices=False"),
    (lambda: LA.qr(ac.ones((2, 3)), mode="complete"), ValueError, "reduced"),
    (lambda: LA.matrix_norm(ac.ones((2, 2)), ord=3), ValueError, "ord"),
    (lambda: LA.cross(ac.ones(2), ac.ones(2)), ValueError, "size 3"),
    (lambda: LA.outer(ac.ones((2, 2)), ac.ones(2)), ValueError, "1-D"),
    (lambda: LA.matrix_power(ac.ones((2, 2)), 1.5), TypeError, "an int"),
    (lambda: LA.inv(ac.tensor([[1.0, 2.0], [2.0, 4.0]], dtype="float64")), numpy.linalg.LinAlgError, "Singular"),
])
def test_bad_input_is_named(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_integer_matrices_are_computed_in_float64():
    assert LA.det(ac.tensor([[2, 0], [0, 3]])).dtype == ac.float64
    assert LA.det(ac.tensor([[2, 0], [0, 3]])).item() == pytest.approx(6.0)


def test_empty_stacks_and_empty_matrices():
    for shape in [(0, 2, 2), (3, 0, 0), (2, 3, 0)]:
        x = ac.zeros(shape, dtype="float64")
        m, n = shape[-2:]
        k = min(m, n)
        assert [t.shape for t in LA.svd(x, full_matrices=False)] == [shape[:-2] + (m, k), shape[:-2] + (k,),
                                                                    shape[:-2] + (k, n)]
        assert [t.shape for t in LA.qr(x)] == [shape[:-2] + (m, k), shape[:-2] + (k, n)]
        assert LA.pinv(x).shape == shape[:-2] + (n, m)
        assert LA.matrix_rank(x).numpy().tolist() == [0] * shape[0]
    assert [t.shape for t in LA.eigh(ac.zeros((0, 3, 3)))] == [(0, 3), (0, 3, 3)]
