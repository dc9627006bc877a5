"""accel.fft (ops/fft.py): the Array API's 14 functions against NumPy's, their dtypes and argument
checks, and their gradients (TensorFlow 2.21's values; central differences for every transform,
norm, cut and padding; second order; traced equals eager)."""

import numpy
import pytest

import accel as ac

_rng = numpy.random.default_rng(3)
X = _rng.normal(size=6)  # a real signal
Z = _rng.normal(size=4) + 1j * _rng.normal(size=4)  # a complex one
C = _rng.normal(size=8) + 1j * _rng.normal(size=8)  # the weights of the losses below
Z2 = _rng.normal(size=(3, 4)) + 1j * _rng.normal(size=(3, 4))


def test_the_namespace_is_the_standards():
    assert ac.fft.__all__ == sorted(["fft", "ifft", "fftn", "ifftn", "rfft", "irfft", "rfftn", "irfftn", "hfft",
                                     "ihfft", "fftfreq", "rfftfreq", "fftshift", "ifftshift"])
    assert all(ac.ops.registry[name].namespace == "fft" for name in ac.fft.__all__)


@pytest.mark.parametrize("norm", ["backward", "ortho", "forward"])
@pytest.mark.parametrize("name, value, kwargs", [
    ("fft", Z2, {}), ("fft", Z2, {"n": 6, "axis": 0}), ("fft", Z2, {"n": 2}),
    ("ifft", Z2, {"axis": -2}), ("ifft", Z2, {"n": 7}),
    ("fftn", Z2, {}), ("fftn", Z2, {"s": (2, 5), "axes": (0, 1)}), ("fftn", Z2, {"s": (-1, 3), "axes": (0, 1)}), ("fftn", Z2, {"axes": (1,)}),
    ("ifftn", Z2, {"s": (4, 3), "axes": (0, 1)}),
    ("rfft", Z2.real, {}), ("rfft", Z2.real, {"n": 7, "axis": 0}),
    ("irfft", Z2, {}), ("irfft", Z2, {"n": 5}), ("irfft", Z2, {"n": 9, "axis": 0}),
    ("rfftn", Z2.real, {}), ("rfftn", Z2.real, {"s": (4, 5), "axes": (0, 1)}),
    ("irfftn", Z2, {}), ("irfftn", Z2, {"s": (3, 7), "axes": (-2, -1)}), ("irfftn", Z2, {"axes": (0,)}),
    ("hfft", Z2, {}), ("hfft", Z2, {"n": 5}), ("ihfft", Z2.real, {}), ("ihfft", Z2.real, {"n": 3}),
])
def test_values_are_numpys(name, value, kwargs, norm):
    got = getattr(ac.fft, name)(ac.tensor(value), norm=norm, **kwargs)
    expected = getattr(numpy.fft, name)(value, norm=norm, **kwargs)
    assert got.dtype == expected.dtype
    numpy.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_dtypes_keep_their_precision():
    z64, x32 = ac.tensor(Z, dtype="complex64"), ac.tensor(X, dtype="float32")
    assert ac.fft.fft(z64).dtype == ac.complex64 and ac.fft.ifftn(z64).dtype == ac.complex64
    assert ac.fft.rfft(x32).dtype == ac.complex64 and ac.fft.irfft(z64).dtype == ac.float32
    assert ac.fft.hfft(z64).dtype == ac.float32 and ac.fft.ihfft(x32).dtype == ac.complex64
    assert ac.fft.fft(x32).dtype == ac.complex64 and ac.fft.fft(ac.tensor(X)).dtype == ac.complex128
    assert ac.fft.fft(ac.tensor([1, 2, 3])).dtype == ac.complex64  # integers as float32 first
    numpy.testing.assert_allclose(ac.fft.fft(z64).numpy(), numpy.fft.fft(Z.astype(numpy.complex64)), rtol=1e-5)


def test_frequencies_and_shifts():
    numpy.testing.assert_array_equal(ac.fft.fftfreq(5).numpy(), numpy.fft.fftfreq(5).astype(numpy.float32))
    assert ac.fft.fftfreq(5).dtype == ac.float32 and ac.fft.rfftfreq(6, d=0.5, dtype="float64").dtype == ac.float64
    numpy.testing.assert_array_equal(ac.fft.rfftfreq(6, d=0.5, dtype="float64").numpy(), numpy.fft.rfftfreq(6, 0.5))
    a = numpy.arange(12).reshape(3, 4)
    numpy.testing.assert_array_equal(ac.fft.fftshift(ac.tensor(a)).numpy(), numpy.fft.fftshift(a))
    numpy.testing.assert_array_equal(ac.fft.fftshift(ac.tensor(a), axes=1).numpy(), numpy.fft.fftshift(a, axes=1))
    numpy.testing.assert_array_equal(ac.fft.ifftshift(ac.tensor(a), axes=(0,)).numpy(), numpy.fft.ifftshift(a, axes=0))
    numpy.testing.assert_array_equal(ac.fft.ifftshift(ac.fft.fftshift(ac.tensor(a))).numpy(), a)


def test_bad_arguments_name_themselves():
    z = ac.tensor(Z)
    with pytest.raises(ValueError, match="norm must be one of"):
        ac.fft.fft(z, norm="none")
    with pytest.raises(ValueError, match="n must be at least 1"):
        ac.fft.fft(z, n=0)
    with pytest.raises(TypeError, match="n must be an int"):
        ac.fft.ifft(z, n=2.0)
    with pytest.raises(TypeError, match="rfft: x must be real"):
        ac.fft.rfft(z)
    with pytest.raises(ValueError, match="axis 3 is out of range"):
        ac.fft.fft(z, axis=3)
    with pytest.raises(ValueError, match="s has 1 entries for 2 axes"):
        ac.fft.fftn(ac.tensor(Z2), s=(3,), axes=(0, 1))
    with pytest.raises(ValueError, match="at least one dimension"):
        ac.fft.fft(ac.tensor(1 + 1j))
    with pytest.raises(ValueError, match="d must be a non-zero number"):
        ac.fft.fftfreq(4, d=0)
    with pytest.raises(TypeError, match="real floating"):
        ac.fft.rfftfreq(4, dtype="int32")


# -- gradients -----------------------------------------------------------------------------------
def _gradient(f, value):
    v = ac.Variable(value, name="v")
    with ac.GradientTape() as tape:
        loss = f(v)
    return tape.gradient(loss, v).numpy()


# TensorFlow 2.21 (tf.signal.rfft / irfft / fft / ifft, float64 and complex128 Variables).
TF = [
    ("rfft", lambda v: ac.sum(ac.real(ac.conj(ac.tensor(C[:4])) * ac.fft.rfft(v))), X,
     [-1.2025597465, -0.6570860109, -1.0600786405, 0.0561494211, -1.6184740864, -1.8488542441]),
    ("rfft n=8", lambda v: ac.sum(ac.real(ac.conj(ac.tensor(C[:5])) * ac.fft.rfft(v, n=8))), X,
     [-0.2448010435, -1.9626837488, 0.4664166306, -2.1130514016, 1.0139081241, -1.6974568103]),
    ("irfft", lambda v: ac.sum(ac.tensor(C.real[:6]) * ac.fft.irfft(v)), Z,
     [-0.0741005288, -0.6105835145 + 0.1924920908j, -0.5727515501 - 0.0822188544j, 0.2022850422]),
    ("fft", lambda v: ac.sum(ac.abs(ac.fft.fft(v)) ** 2 * ac.tensor(C.real[:4])), Z,
     [-4.8374302862 + 1.480667273j, 9.9550514248 + 1.2953408119j, -7.5523923889 + 4.922100872j,
      0.6969979416 + 1.3861290611j]),
    ("ifft", lambda v: ac.sum(ac.imag(ac.fft.ifft(v)) * ac.tensor(C.real[:4])), Z,
     [-0.3006399366j, -0.0380618427 - 0.3842739849j, 0.0140373553j, 0.0380618427 - 0.3842739849j]),
]


@pytest.mark.parametrize("case", TF, ids=[c[0] for c in TF])
def test_tensorflows_gradients(case):
    _, f, value, expected = case
    numpy.testing.assert_allclose(_gradient(f, value), expected, rtol=1e-9, atol=1e-10)


def _weighted(f):
    """A real loss of f's output with a different complex weight on every element."""
    weights = numpy.random.default_rng(11).normal(size=256) + 1j * numpy.random.default_rng(12).normal(size=256)

    def loss(v):
        w = f(v)
        c = ac.tensor(weights[: w.size].reshape(tuple(w.shape)))
        return ac.sum(ac.real(ac.conj(c) * w)) if ac.isdtype(w.dtype, "complex floating") else ac.sum(ac.real(c) * w)

    return loss


def _numeric(loss, value, h=1e-6):
    out = numpy.zeros(value.shape, complex if numpy.iscomplexobj(value) else float)
    directions = (1, 1j) if numpy.iscomplexobj(value) else (1,)
    for index in numpy.ndindex(value.shape):
        for d in directions:
            step = numpy.zeros_like(value)
            step[index] = h * d
            slope = (float(loss(ac.tensor(value + step)).numpy()) - float(loss(ac.tensor(value - step)).numpy())) / (2 * h)
            out[index] += slope * (1 if d == 1 else 1j)
    return out


GRADIENT_CASES = [
    ("fft", lambda v, norm: ac.fft.fft(v, norm=norm), Z2),
    ("fft cut", lambda v, norm: ac.fft.fft(v, n=3, norm=norm), Z2),
    ("fft padded axis 0", lambda v, norm: ac.fft.fft(v, n=5, axis=0, norm=norm), Z2),
    ("fft of a real signal", lambda v, norm: ac.fft.fft(v, norm=norm), X),
    ("ifft", lambda v, norm: ac.fft.ifft(v, n=6, norm=norm), Z2),
    ("fftn", lambda v, norm: ac.fft.fftn(v, s=(2, 5), norm=norm), Z2),
    ("ifftn", lambda v, norm: ac.fft.ifftn(v, axes=(0,), norm=norm), Z2),
    ("rfft", lambda v, norm: ac.fft.rfft(v, norm=norm), X),
    ("rfft odd n", lambda v, norm: ac.fft.rfft(v, n=5, norm=norm), X),
    ("irfft", lambda v, norm: ac.fft.irfft(v, norm=norm), Z2),
    ("irfft odd n", lambda v, norm: ac.fft.irfft(v, n=7, norm=norm), Z2),
    ("irfft cut", lambda v, norm: ac.fft.irfft(v, n=4, axis=0, norm=norm), Z2),
    ("rfftn", lambda v, norm: ac.fft.rfftn(v, norm=norm), Z2.real),
    ("rfftn padded", lambda v, norm: ac.fft.rfftn(v, s=(4, 5), norm=norm), Z2.real),
    ("irfftn", lambda v, norm: ac.fft.irfftn(v, norm=norm), Z2),
    ("irfftn odd", lambda v, norm: ac.fft.irfftn(v, s=(2, 5), norm=norm), Z2),
    ("hfft", lambda v, norm: ac.fft.hfft(v, norm=norm), Z2),
    ("ihfft", lambda v, norm: ac.fft.ihfft(v, n=5, norm=norm), X),
    ("fftshift", lambda v, norm: ac.fft.ifftshift(ac.fft.fftshift(v) * ac.tensor([1.0, 2.0, 3.0, 4.0])), Z2),
]


@pytest.mark.parametrize("norm", ["backward", "ortho", "forward"])
@pytest.mark.parametrize("case", GRADIENT_CASES, ids=[c[0] for c in GRADIENT_CASES])
def test_gradients_against_central_differences(case, norm):
    _, f, value = case
    loss = _weighted(lambda v: f(v, norm))
    numpy.testing.assert_allclose(_gradient(loss, value), _numeric(loss, value), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["fft", "rfft", "irfft", "fftn"])
def test_second_order(name):
    transform = {"fft": ac.fft.fft, "rfft": ac.fft.rfft, "irfft": ac.fft.irfft, "fftn": ac.fft.fftn}[name]
    value = X if name == "rfft" else Z

    def second(v):
        with ac.GradientTape() as inner:
            inner.watch(v)
            first = ac.sum(ac.abs(transform(v)) ** 3)
        g = inner.gradient(first, v)
        return ac.sum(ac.abs(g) * ac.tensor(numpy.arange(1.0, g.size + 1)))

    numpy.testing.assert_allclose(_gradient(second, value), _numeric(second, value, h=1e-5), rtol=1e-5, atol=1e-6)


def test_traced_equals_eager_on_every_call():
    @ac.function
    def loss(v):
        return ac.sum(ac.abs(ac.fft.irfft(ac.fft.rfft(ac.real(v)) * ac.fft.fft(v)[:3], n=6)) ** 2)

    for value in (Z, Z * 2 - 1j, Z[::-1]):
        numpy.testing.assert_allclose(_gradient(loss, value), _gradient(loss.python_function, value), rtol=1e-12)
        numpy.testing.assert_allclose(loss(ac.tensor(value)).numpy(), loss.python_function(ac.tensor(value)).numpy(),
                                      rtol=1e-12)
    assert loss.experimental_get_tracing_count() == 2  # one for Variables, one for tensors: the rest replays
