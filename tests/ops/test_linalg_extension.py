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
    (lambda: LA.qr(ac.ones((2, 3)), mode="r"), ValueError, "'reduced' or 'complete'"),
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


_rng = numpy.random.default_rng(5)
_A = _rng.normal(size=(2, 3, 3)) + 1j * _rng.normal(size=(2, 3, 3))
_H = _A @ numpy.conj(numpy.swapaxes(_A, -1, -2)) + 3 * numpy.eye(3)  # Hermitian positive definite
COMPLEX = [
    ("inv", lambda t, h: LA.inv(t), lambda a, h: numpy.linalg.inv(a)),
    ("det", lambda t, h: LA.det(t), lambda a, h: numpy.linalg.det(a)),
    ("slogdet", lambda t, h: LA.slogdet(t), lambda a, h: numpy.linalg.slogdet(a)),
    ("solve", lambda t, h: LA.solve(t, t[..., :2]), lambda a, h: numpy.linalg.solve(a, a[..., :2])),
    ("cholesky", lambda t, h: LA.cholesky(h), lambda a, h: numpy.linalg.cholesky(h)),
    ("cholesky upper", lambda t, h: LA.cholesky(h, upper=True), lambda a, h: numpy.linalg.cholesky(h, upper=True)),
    ("eigvalsh", lambda t, h: LA.eigvalsh(h), lambda a, h: numpy.linalg.eigvalsh(h)),
    ("svdvals", lambda t, h: LA.svdvals(t), lambda a, h: numpy.linalg.svdvals(a)),
    ("svd S", lambda t, h: LA.svd(t).S, lambda a, h: numpy.linalg.svd(a)[1]),
    ("pinv", lambda t, h: LA.pinv(t[..., :2]), lambda a, h: numpy.linalg.pinv(a[..., :2])),
    ("matrix_rank", lambda t, h: LA.matrix_rank(t), lambda a, h: numpy.linalg.matrix_rank(a)),
    ("matrix_power", lambda t, h: LA.matrix_power(t, -2), lambda a, h: numpy.linalg.matrix_power(a, -2)),
    ("matrix_norm fro", lambda t, h: LA.matrix_norm(t), lambda a, h: numpy.linalg.matrix_norm(a)),
    ("matrix_norm nuc", lambda t, h: LA.matrix_norm(t, ord="nuc"), lambda a, h: numpy.linalg.matrix_norm(a, ord="nuc")),
    ("matrix_norm inf", lambda t, h: LA.matrix_norm(t, ord=numpy.inf),
     lambda a, h: numpy.linalg.matrix_norm(a, ord=numpy.inf)),
    ("vector_norm", lambda t, h: LA.vector_norm(t, axis=-1), lambda a, h: numpy.linalg.vector_norm(a, axis=-1)),
    ("vector_norm 0", lambda t, h: LA.vector_norm(t, ord=0), lambda a, h: numpy.linalg.vector_norm(a, ord=0)),
    ("vector_norm 3", lambda t, h: LA.vector_norm(t, ord=3), lambda a, h: numpy.linalg.vector_norm(a, ord=3)),
]


@pytest.mark.parametrize("name, ours, theirs", COMPLEX, ids=[c[0] for c in COMPLEX])
def test_complex_matrices_give_numpys_values_and_dtypes(name, ours, theirs):
    got, expected = ours(ac.tensor(_A), ac.tensor(_H)), theirs(_A, _H)
    for g, e in zip(got if isinstance(got, tuple) else (got,), expected if isinstance(expected, tuple) else (expected,)):
        e = numpy.asarray(e)
        assert g.dtype == e.dtype, name  # log|det|, eigenvalues, singular values and norms are real
        numpy.testing.assert_allclose(g.numpy(), e, rtol=1e-10, atol=1e-12)
    q, r = LA.qr(ac.tensor(_A))
    numpy.testing.assert_allclose((q @ r).numpy(), _A, atol=1e-12)
    w, v = LA.eigh(ac.tensor(_H))
    numpy.testing.assert_allclose((v @ (ac.conj(LA.matrix_transpose(v)) * ac.expand_dims(ac.cast(w, "complex128"), -1))
                                   ).numpy(), _H, atol=1e-10)


def test_complex_norms_and_determinants_differentiate():
    # (every decomposition's complex gradient: tests/autodiff/test_complex_gradients.py)
    z = ac.Variable(_A[0], name="z")
    with ac.GradientTape(persistent=True) as tape:
        norm = LA.vector_norm(z)
        det = ac.abs(LA.det(z))
    numpy.testing.assert_allclose(tape.gradient(norm, z).numpy(), _A[0] / numpy.linalg.norm(_A[0]), rtol=1e-12)
    # |det A| = exp(log|det A|): its gradient is |det A| inv(A)^H
    expected = abs(numpy.linalg.det(_A[0])) * numpy.linalg.inv(_A[0]).conj().T
    numpy.testing.assert_allclose(tape.gradient(det, z).numpy(), expected, rtol=1e-10)


def test_the_complete_svd_of_a_rectangular_matrix_has_values_and_refuses_a_gradient():
    a = numpy.random.default_rng(2).normal(size=(2, 3))
    u, s, vh = LA.svd(ac.tensor(a))
    assert (u.shape, s.shape, vh.shape) == ((2, 2), (2,), (3, 3))
    numpy.testing.assert_allclose((u * s) @ vh[:2], a, atol=1e-12)
    numpy.testing.assert_allclose((LA.matrix_transpose(vh) @ vh).numpy(), numpy.eye(3), atol=1e-12)
    x = ac.Variable(a)
    with ac.GradientTape() as tape:
        total = ac.sum(LA.svd(x).S)
    with pytest.raises(TypeError, match="full_matrices=False"):
        tape.gradient(total, x)


@pytest.mark.parametrize("shape", [(4, 2), (2, 3, 2), (2, 4), (3, 3)])
def test_the_complete_qr_gives_numpys_values_and_a_tall_one_refuses_a_gradient(shape):
    for a in (numpy.random.default_rng(3).normal(size=shape), _complex_of(shape)):
        q, r = LA.qr(ac.tensor(a), mode="complete")
        expected_q, expected_r = numpy.linalg.qr(a, mode="complete")
        numpy.testing.assert_allclose(q.numpy(), expected_q, atol=1e-12)
        numpy.testing.assert_allclose(r.numpy(), expected_r, atol=1e-12)
        numpy.testing.assert_allclose((q @ r).numpy(), a, atol=1e-12)
    x = ac.Variable(numpy.random.default_rng(3).normal(size=shape))
    with ac.GradientTape() as tape:
        total = ac.sum(LA.qr(x, mode="complete").R)
    if shape[-2] > shape[-1]:  # Q's last M - N columns are not unique
        with pytest.raises(TypeError, match="mode='reduced'"):
            tape.gradient(total, x)
    else:  # the complete QR is the reduced one
        with ac.GradientTape() as reduced:
            expected = ac.sum(LA.qr(x).R)
        numpy.testing.assert_allclose(tape.gradient(total, x).numpy(), reduced.gradient(expected, x).numpy())


def _complex_of(shape):
    rng = numpy.random.default_rng(4)
    return rng.normal(size=shape) + 1j * rng.normal(size=shape)


def test_rtol_may_be_a_tensor_of_one_tolerance_per_matrix():
    x = numpy.stack([numpy.diag([1.0, 1e-3]), numpy.diag([1.0, 0.5])])
    rtol = ac.tensor([1e-2, 1e-2], dtype="float64")
    assert LA.matrix_rank(ac.tensor(x), rtol=rtol).numpy().tolist() == [1, 2]
    numpy.testing.assert_allclose(LA.pinv(ac.tensor(x), rtol=rtol).numpy(), numpy.linalg.pinv(x, rtol=[1e-2, 1e-2]))
    assert LA.pinv(ac.zeros((0, 2, 1)), rtol=ac.zeros((0,))).shape == (0, 1, 2)
