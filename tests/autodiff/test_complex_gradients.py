"""Gradients through complex values in TensorFlow's convention (accel.autodiff.complex_grads): for a
real loss L of z = x + iy the gradient is dL/dx + i dL/dy. Checked against TensorFlow 2.21's own
values, against central differences along the real and imaginary directions for every op that has
a complex form (first and second order), and for the refusal of ops that have none."""

import numpy
import pytest

import accel as ac

Z = numpy.array([1 + 2j, -0.5 + 0.25j])
M = numpy.array([[1 + 1j, 2 - 1j], [0.5j, -1 + 0.3j]])


def _gradient(f, value):
    z = ac.Variable(value, name="z")
    with ac.GradientTape() as tape:
        loss = f(z)
    return tape.gradient(loss, z).numpy()


# Each value printed by TensorFlow 2.21 (tf.GradientTape, complex128 Variables) for the same loss.
TF_CASES = [
    ("imag(exp)", lambda z: ac.sum(ac.imag(ac.exp(z))), Z, [2.47172667 - 1.13120438j, 0.15005809 + 0.58767509j]),
    ("abs", lambda z: ac.sum(ac.abs(z)), Z, [0.4472136 + 0.89442719j, -0.89442719 + 0.4472136j]),
    ("real(sqrt * z * c)", lambda z: ac.sum(ac.real(ac.sqrt(z) * z * (2 - 1j))), Z,
     [4.99528602 - 0.45042466j, 1.60685114 - 1.92534947j]),
    ("imag(1/z + z/(z+3))", lambda z: ac.sum(ac.imag(1 / z + z / (z + 3))), Z,
     [0.04 + 0.21j, -2.65410842 - 1.45416332j]),
    ("abs(sin + cos tanh + log)", lambda z: ac.sum(ac.abs(ac.sin(z) + ac.cos(z) * ac.tanh(z) + ac.log(z))), Z,
     [-0.30279427 + 2.98924817j, -0.09500176 - 0.25830514j]),
    ("real(asinh + acosh + atan)", lambda z: ac.sum(ac.real(ac.asinh(z) + ac.acosh(z) + ac.atan(z))), Z,
     [0.30950146 + 0.99069143j, 1.5479778 + 0.8087646j]),
    ("abs(a a^T a)", lambda a: ac.sum(ac.abs(a @ ac.transpose(a) @ a)), M,
     [[7.89284053 - 4.62584853j, 26.0427212 - 8.07910382j], [-3.85346135 + 2.87075309j, -14.75243647 + 3.71828612j]]),
]


@pytest.mark.parametrize("case", TF_CASES, ids=[c[0] for c in TF_CASES])
def test_tensorflows_values(case):
    _, f, value, expected = case
    numpy.testing.assert_allclose(_gradient(f, value), expected, rtol=1e-7, atol=1e-8)


H2 = M @ M.conj().T + 2 * numpy.eye(2)  # Hermitian positive definite
TALL = numpy.array([[1 + 1j, 2 - 1j], [0.5j, -1 + 0.3j], [0.2 - 0.7j, 1.5 + 0.1j]])
W2 = numpy.array([[0.3, -1.2], [0.7, 2.1]])
W3 = numpy.array([[0.3, -1.2], [0.7, 2.1], [-0.4, 0.9]])
EIGH_TF = numpy.array([[-1.144927317, 0], [0.609149931 - 0.0338416628j, 0.244927317]])


def _eigh_loss(a):
    e, v = ac.linalg.eigh(a)
    return ac.sum(e * ac.tensor([0.3, -1.2], dtype="float64")) + ac.sum(ac.abs(v) ** 2 * W2)


def _svd_loss(a):
    u, s, vh = ac.linalg.svd(a, full_matrices=False)
    v = ac.matrix_transpose(vh)  # TensorFlow's svd returns V
    return ac.sum(s * ac.tensor([0.3, -1.2], dtype="float64")) + ac.sum(ac.abs(u) ** 2 * W3) + ac.sum(ac.abs(v) ** 2 * W2)


# The decompositions' gradients through complex matrices, each printed by TensorFlow 2.21 for the
# same loss (tf.linalg.slogdet / cholesky / eigh / qr / svd; losses of |Q|, |U| ... so that the
# phases each library picks for its vectors cannot matter).
TF_DECOMPOSITIONS = [
    ("slogdet", lambda a: ac.linalg.slogdet(a).logabsdet, M + 2 * numpy.eye(2),
     [[0.4371681416 + 0.0424778761j, -0.0796460177 + 0.1946902655j],
      [-0.6194690265 - 0.7079646018j, 1.3274336283 + 0.0884955752j]]),
    # TensorFlow returns the Hermitian gradient [[a, conj(b)], [b, c]]; accel's cholesky reads the lower
    # triangle, so its gradient is that folded onto it: [[a, 0], [2b, c]]
    ("cholesky", lambda a: ac.sum(ac.abs(ac.linalg.cholesky(a)) * W2), H2,
     [[0.0510402764, 0], [2 * (0.0051853778 - 0.0002880765j), 0.608362095]]),
    ("eigh", _eigh_loss, H2, EIGH_TF),
    ("qr", lambda a: ac.sum(ac.abs(ac.linalg.qr(a).Q) ** 2 * W3) + ac.sum(ac.abs(ac.linalg.qr(a).R) ** 2 * W2), TALL,
     [[-5.4076310618 + 1.0369219679j, 1.7254699463 - 4.085011488j],
      [4.4284475509 + 4.079713626j, -6.1930317444 - 0.3563142521j],
      [-4.0782264563 - 6.8778536745j, 7.8251238246 + 3.3418944245j]]),
    ("svd", _svd_loss, TALL,
     [[0.7325283791 + 0.2435188678j, 0.8033522772 - 0.157171383j],
      [-0.2043635564 - 0.179958361j, 0.5325785473 - 0.057591786j],
      [0.1702479114 + 1.3382709754j, -1.3468105666 - 0.3476725265j]]),
]


@pytest.mark.parametrize("case", TF_DECOMPOSITIONS, ids=[c[0] for c in TF_DECOMPOSITIONS])
def test_decompositions_match_tensorflows_values(case):
    _, f, value, expected = case
    numpy.testing.assert_allclose(_gradient(f, value), expected, rtol=1e-8, atol=1e-9)


def test_det_follows_the_derivative_where_tensorflow_does_not():
    """det is holomorphic: its gradient is conj(det) inv(A)^H (central differences give it).
    TensorFlow 2.21's MatrixDeterminant gradient multiplies by det instead of conj(det), and prints
    [[-0.0503+2.334j, -1.0637-0.3442j], [3.5044-3.5664j, 0.0619+7.0708j]] for this loss."""
    a = M + 2 * numpy.eye(2)
    grad = _gradient(lambda a: ac.real(ac.linalg.det(a) * (1 - 2j)), a)
    numpy.testing.assert_allclose(grad, [[1.6 + 1.7j, -1 + 0.5j], [-5j, 5 + 5j]], rtol=1e-12, atol=1e-12)


def test_a_real_input_through_complex_values_gets_the_real_part():
    # TensorFlow 2.21: tf.cast(x, complex128) ... its Cast gradient keeps the real part
    x = ac.Variable(numpy.array([0.3, -1.2]), name="x")
    with ac.GradientTape() as tape:
        loss = ac.sum(ac.abs(ac.exp(ac.cast(x, ac.complex128) * (1 + 2j)) ** 2 + 1j))
    grad = tape.gradient(loss, x)
    assert grad.dtype == ac.float64
    numpy.testing.assert_allclose(grad.numpy(), [4.56383375, 0.20996943], rtol=1e-7)
    y = ac.Variable([1.0, 2.0])  # a float32 one, through complex64 and a complex constant
    with ac.GradientTape() as tape:
        loss = ac.sum(ac.real(ac.cast(y, "complex64") * (1 + 1j)))
    numpy.testing.assert_array_equal(tape.gradient(loss, y).numpy(), [1.0, 1.0])


# -- every op with a complex form against central differences -------------------------------------
def _numeric(loss, value, h=1e-6):
    """dL/dx + i dL/dy by central differences, element by element."""
    out = numpy.zeros_like(value)
    for index in numpy.ndindex(value.shape):
        for direction in (1, 1j):
            step = numpy.zeros_like(value)
            step[index] = h * direction
            slope = (loss(value + step) - loss(value - step)) / (2 * h)
            out[index] += slope * (1 if direction == 1 else 1j)
    return out


def _loss_of(f, weights):
    """A real loss of f's output: sum(Re(conj(c) * w)) for fixed complex weights c (every output
    element weighted differently, so a wrong conjugate or transpose cannot cancel)."""

    def loss(*args):
        w = f(*args)
        c = ac.tensor(weights[: w.size].reshape(tuple(w.shape)), dtype="complex128")
        if ac.isdtype(w.dtype, "complex floating"):
            return ac.sum(ac.real(ac.conj(c) * w))
        return ac.sum(ac.real(c) * w)

    return loss


_rng = numpy.random.default_rng(7)
WEIGHTS = _rng.normal(size=64) + 1j * _rng.normal(size=64)


def _complex(shape, low=-1.0, high=1.0, seed=0):
    rng = numpy.random.default_rng(seed)
    return rng.uniform(low, high, shape) + 1j * rng.uniform(low, high, shape)


def _hermitian(n, seed=1):
    """A Hermitian positive-definite matrix with distinct eigenvalues."""
    z = _complex((n, n), seed=seed)
    return z @ z.conj().T + n * numpy.eye(n)


def _flat(*parts):
    """The parts flattened into one complex128 vector (one output for _loss_of to weigh)."""
    return ac.concat([ac.reshape(ac.astype(p, ac.complex128), (-1,)) for p in parts], 0)


def _phase_free(u, vh):
    """Functions of singular vectors or eigenvectors that do not depend on their arbitrary phases
    (u_i and v_i may turn by the same e^(i theta)): |U|^2, |Vh|^2 and U diag(d) Vh."""
    d = ac.tensor(numpy.linspace(0.5, 2.0, u.shape[-1]), dtype="complex128")
    return ac.abs(u) ** 2, ac.abs(vh) ** 2, (u * d) @ vh


def _eigh_phase_free(a):
    values, vectors = ac.linalg.eigh(a)
    return _flat(values, ac.linalg.eigvalsh(a), *_phase_free(vectors, ac.conj(ac.matrix_transpose(vectors))))


def _svd_phase_free(a):
    u, s, vh = ac.linalg.svd(a, full_matrices=False)
    return _flat(s, *_phase_free(u, vh))


OPS = [  # (name, f of one complex tensor, the value it is checked at)
    ("add", lambda z: z + (0.5 - 2j), _complex(3)),
    ("subtract", lambda z: (1 + 1j) - z, _complex(3)),
    ("negative", lambda z: -z, _complex(3)),
    ("positive", lambda z: ac.positive(z), _complex(3)),
    ("multiply", lambda z: z * z[::-1], _complex(3)),
    ("divide", lambda z: z / (z[::-1] + 2), _complex(3)),
    ("exp", ac.exp, _complex(3)),
    ("expm1", ac.expm1, _complex(3)),
    ("log", ac.log, _complex(3, 0.2, 1.0)),
    ("log1p", ac.log1p, _complex(3, 0.2, 1.0)),
    ("log2", ac.log2, _complex(3, 0.2, 1.0)),
    ("log10", ac.log10, _complex(3, 0.2, 1.0)),
    ("sqrt", ac.sqrt, _complex(3, 0.2, 1.0)),
    ("rsqrt", ac.rsqrt, _complex(3, 0.2, 1.0)),
    ("square", ac.square, _complex(3)),
    ("reciprocal", ac.reciprocal, _complex(3, 0.2, 1.0)),
    ("power", lambda z: ac.power(z, 3.0) + z ** (2 - 1j), _complex(3, 0.2, 1.0)),
    ("sin", ac.sin, _complex(3)),
    ("cos", ac.cos, _complex(3)),
    ("tan", ac.tan, _complex(3)),
    ("tanh", ac.tanh, _complex(3)),
    ("sigmoid", ac.sigmoid, _complex(3)),
    ("sinh", ac.sinh, _complex(3)),
    ("cosh", ac.cosh, _complex(3)),
    ("asin", ac.asin, _complex(3, -0.6, 0.6)),
    ("acos", ac.acos, _complex(3, -0.6, 0.6)),
    ("atan", ac.atan, _complex(3, -0.6, 0.6)),
    ("asinh", ac.asinh, _complex(3, -0.6, 0.6)),
    ("acosh", ac.acosh, _complex(3, -2.0, 2.0)),
    ("atanh", ac.atanh, _complex(3, -0.6, 0.6)),
    ("abs", ac.abs, _complex(3)),
    ("real", ac.real, _complex(3)),
    ("imag", ac.imag, _complex(3)),
    ("conj", ac.conj, _complex(3)),
    ("sum", lambda z: ac.sum(z, axis=0), _complex((2, 3))),
    ("mean", lambda z: ac.mean(z, axis=1, keepdims=True), _complex((2, 3))),
    ("reshape, transpose", lambda z: ac.transpose(ac.reshape(z, (3, 2))), _complex((2, 3))),
    ("matrix_transpose, mT", lambda z: ac.matrix_transpose(z) * z.mT, _complex((2, 2))),
    ("expand_dims, squeeze", lambda z: ac.squeeze(ac.expand_dims(z, 0) * z), _complex(3)),
    ("broadcast_to", lambda z: ac.broadcast_to(z, (2, 3)), _complex(3)),
    ("concat, stack", lambda z: ac.stack([ac.concat([z, z * 1j], 0), ac.concat([z, z], 0)]), _complex(3)),
    ("getitem", lambda z: z[1:, ::-1] * z[0, 1], _complex((2, 3))),
    ("gather", lambda z: ac.gather(z, [2, 0, 2]), _complex(3)),
    ("where", lambda z: ac.where(ac.tensor([True, False, True]), z, z * z), _complex(3)),
    ("cumsum", lambda z: ac.cumsum(z, 0), _complex(4)),
    ("pad, flip, roll, tile", lambda z: ac.tile(ac.roll(ac.flip(ac.pad(z, [[1, 2]]), 0), 1, 0), [2]), _complex(3)),
    ("matmul", lambda z: z @ (z * 2j), _complex((2, 2))),
    ("matmul (batched, vector)", lambda z: ac.reshape(z, (2, 2, 2)) @ z[:2], _complex(8)),
    ("matmul (transposes)", lambda z: ac.matmul(z, z * 1j, transpose_a=True, transpose_b=True), _complex((2, 2))),
    ("einsum", lambda z: ac.einsum("ij,jk->ik", z, ac.conj(z)), _complex((2, 2))),
    ("tensordot", lambda z: ac.tensordot(z, z * (1 - 1j), axes=1), _complex((2, 2))),
    ("vecdot", lambda z: ac.vecdot(z, z[::-1] + 1j), _complex((2, 3))),
    ("trace, diagonal", lambda z: ac.linalg.trace(z) * ac.linalg.diagonal(z), _complex((3, 3))),
    ("inv", lambda z: ac.linalg.inv(z + 2 * ac.eye(3, dtype="complex128")), _complex((3, 3))),
    ("solve", lambda z: ac.linalg.solve(z + 2 * ac.eye(3, dtype="complex128"), z[:, :2] * 1j), _complex((3, 3))),
    ("matrix_power", lambda z: ac.linalg.matrix_power(z + 2 * ac.eye(2, dtype="complex128"), -2), _complex((2, 2))),
    ("vector_norm", lambda z: ac.linalg.vector_norm(z, axis=-1), _complex((2, 3))),
    ("prod", lambda z: ac.prod(z, axis=0), _complex((2, 3))),
    ("cumprod", lambda z: ac.cumprod(z, 1), _complex((2, 3))),
    ("var, std", lambda z: _flat(ac.var(z, axis=0), ac.std(z, axis=1, correction=1)), _complex((2, 3))),
    ("slogdet", lambda z: _flat(*ac.linalg.slogdet(z + 2 * ac.eye(3, dtype="complex128"))), _complex((3, 3))),
    ("det", lambda z: ac.linalg.det(z + 2 * ac.eye(3, dtype="complex128")), _complex((3, 3))),
    ("cholesky", lambda a: _flat(ac.linalg.cholesky(a), ac.linalg.cholesky(a, upper=True) * 1j), _hermitian(3)),
    ("eigh", _eigh_phase_free, _hermitian(3)),
    ("qr (square)", lambda a: _flat(*ac.linalg.qr(a)), _complex((3, 3), seed=5)),
    ("qr (tall)", lambda a: _flat(*ac.linalg.qr(a)), _complex((4, 2), seed=5)),
    ("qr (wide)", lambda a: _flat(*ac.linalg.qr(a)), _complex((2, 4), seed=5)),
    ("svd (square)", lambda a: _svd_phase_free(a), _complex((3, 3), seed=5)),
    ("svd (tall)", lambda a: _svd_phase_free(a), _complex((4, 2), seed=5)),
    ("svd (wide)", lambda a: _svd_phase_free(a), _complex((2, 4), seed=5)),
    ("svdvals, matrix_norm", lambda a: _flat(ac.linalg.svdvals(a), ac.linalg.matrix_norm(a, ord="nuc")),
     _complex((2, 3), seed=5)),
]


@pytest.mark.parametrize("case", OPS, ids=[c[0] for c in OPS])
def test_first_order_against_central_differences(case):
    _, f, value = case
    loss = _loss_of(f, WEIGHTS)
    numeric = _numeric(lambda v: float(loss(ac.tensor(v, dtype="complex128")).numpy()), value)
    numpy.testing.assert_allclose(_gradient(loss, value), numeric, rtol=1e-6, atol=1e-7)


SECOND = ["multiply", "divide", "exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "abs", "matmul", "asinh", "power", "inv",
          "prod", "slogdet", "det", "cholesky", "eigh", "qr (tall)", "qr (wide)", "svd (square)", "svd (tall)"]


@pytest.mark.parametrize("case", [c for c in OPS if c[0] in SECOND], ids=[c[0] for c in OPS if c[0] in SECOND])
def test_second_order_against_central_differences(case):
    """The gradient of a real function of the gradient, itself by central differences."""
    _, f, value = case
    loss = _loss_of(f, WEIGHTS)
    outer_weights = WEIGHTS[::-1].copy()

    def second(z):
        with ac.GradientTape() as inner:
            inner.watch(z)
            first = loss(z)
        g = inner.gradient(first, z)
        return ac.sum(ac.real(ac.conj(ac.tensor(outer_weights[: g.size].reshape(tuple(g.shape)))) * g))

    numeric = _numeric(lambda v: float(second(ac.tensor(v, dtype="complex128")).numpy()), value, h=1e-5)
    numpy.testing.assert_allclose(_gradient(second, value), numeric, rtol=1e-5, atol=1e-6)


def test_an_op_without_a_complex_gradient_refuses_when_a_gradient_reaches_it():
    z = ac.Variable(Z, name="z")
    with ac.GradientTape() as tape:
        loss = ac.sum(ac.abs(ac.max(z)))  # max's VJP compares values: complex numbers have no order
    with pytest.raises(TypeError, match="no gradient through complex values"):
        tape.gradient(loss, z)
    w = ac.Variable([1.0, 2.0])
    with ac.GradientTape() as tape:  # recording alone is fine, and a path that avoids it differentiates
        unused = ac.abs(ac.max(z))
        loss = ac.sum(w * 2.0)
    assert unused.dtype == ac.float64
    numpy.testing.assert_array_equal(tape.gradient(loss, w).numpy(), [2.0, 2.0])


def test_casts_between_complex_dtypes_cast_the_gradient_back():
    c = ac.tensor([1 - 2j, 0.5j], dtype="complex64")
    grad = _gradient(lambda z: ac.sum(ac.real(ac.conj(c) * ac.cast(z, "complex64"))), Z)
    assert grad.dtype == numpy.complex128
    numpy.testing.assert_array_equal(grad, c.numpy().astype(numpy.complex128))


def test_complex_to_real_casts_raise():
    with pytest.raises(TypeError, match="imaginary part would be lost"):
        ac.cast(ac.tensor(Z), "float64")


def test_a_traced_function_gives_eagers_complex_gradients_on_every_call():
    @ac.function
    def loss(z):
        return ac.sum(ac.abs(ac.exp(z) * ac.conj(z) + z @ ac.reshape(z, (2, 1))))

    for value in (Z, Z[::-1] * 2, Z + 1j):
        eager = _gradient(loss.python_function, value)
        traced = _gradient(loss, value)
        numpy.testing.assert_allclose(traced, eager, rtol=1e-12)
    assert loss.experimental_get_tracing_count() == 1


def test_the_python_recorder_picks_complex_forms_as_the_compiled_one():
    from accel import recording

    x = ac.Variable([1.0])
    with ac.GradientTape():
        vjps = ac.exp(x)._node.vjp  # exp's VJPs, as a real node records them
    z = ac.Variable(Z, name="z")
    for record in (recording.record_python, ac._autodiff.record):
        out = ac.Tensor(numpy.exp(Z), z._device)
        with ac.GradientTape():
            record(out, (z,), vjps, None)
        assert out._node.vjp[0] is vjps[0].complex
