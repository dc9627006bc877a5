"""Every Keras 3 activation name (keras.activations.get), by formula (NumPy / math, independent
of accel's ops), with float64 gradient checks; Dense takes each name."""

import math

import numpy
import pytest

import accel as ac
from accel.nn import activations
from accel.testing import check_gradients

X = numpy.concatenate([numpy.linspace(-4.1, 4.1, 21), [-0.3, 0.7, 2.5]]).reshape(2, 12)
_erf = numpy.vectorize(math.erf)


def _sigmoid(x):
    return 1 / (1 + numpy.exp(-x))


def _softplus(x):
    return numpy.logaddexp(0, x)


def _sparsemax(x):
    out = numpy.empty_like(x)
    for i, row in enumerate(x):  # Martins & Astudillo, Algorithm 1
        z = numpy.sort(row)[::-1]
        k = numpy.arange(1, len(z) + 1)
        support = 1 + k * z > numpy.cumsum(z)
        kz = k[support].max()
        tau = (numpy.cumsum(z)[kz - 1] - 1) / kz
        out[i] = numpy.maximum(row - tau, 0)
    return out


ALPHA, SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
# name -> f(x) with NumPy (Keras 3.15's definitions; keras/src/ops/nn.py)
REFERENCE = {
    "relu": lambda x: numpy.maximum(x, 0), "leaky_relu": lambda x: numpy.where(x >= 0, x, 0.2 * x),
    "relu6": lambda x: numpy.clip(x, 0, 6), "celu": lambda x: numpy.maximum(x, 0) + numpy.minimum(numpy.expm1(x), 0),
    "elu": lambda x: numpy.where(x > 0, x, numpy.expm1(x)),
    "selu": lambda x: SCALE * numpy.where(x > 0, x, ALPHA * numpy.expm1(x)),
    "softplus": _softplus, "softsign": lambda x: x / (1 + numpy.abs(x)),
    "squareplus": lambda x: (x + numpy.sqrt(x * x + 4)) / 2,
    "soft_shrink": lambda x: numpy.where(x > 0.5, x - 0.5, numpy.where(x < -0.5, x + 0.5, 0)),
    "sparse_plus": lambda x: numpy.where(x <= -1, 0, numpy.where(x >= 1, x, (x + 1) ** 2 / 4)),
    "silu": lambda x: x * _sigmoid(x), "swish": lambda x: x * _sigmoid(x),
    "gelu": lambda x: x * (1 + _erf(x / math.sqrt(2))) / 2,
    "glu": lambda x: x[..., :6] * _sigmoid(x[..., 6:]), "tanh": numpy.tanh,
    "tanh_shrink": lambda x: x - numpy.tanh(x), "sigmoid": _sigmoid,
    "sparse_sigmoid": lambda x: numpy.clip((x + 1) / 2, 0, 1), "exponential": numpy.exp,
    "hard_sigmoid": lambda x: numpy.clip(x / 6 + 0.5, 0, 1), "hard_silu": lambda x: x * numpy.clip(x / 6 + 0.5, 0, 1),
    "hard_swish": lambda x: x * numpy.clip(x / 6 + 0.5, 0, 1), "hard_tanh": lambda x: numpy.clip(x, -1, 1),
    "hard_shrink": lambda x: numpy.where(numpy.abs(x) > 0.5, x, 0), "linear": lambda x: x,
    "mish": lambda x: x * numpy.tanh(_softplus(x)),
    "log_softmax": lambda x: x - numpy.log(numpy.exp(x).sum(-1, keepdims=True)),
    "softmax": lambda x: numpy.exp(x) / numpy.exp(x).sum(-1, keepdims=True),
    "log_sigmoid": lambda x: -_softplus(-x), "sparsemax": _sparsemax,
}


def test_every_keras_name_is_here():
    assert sorted(REFERENCE) == sorted(activations.NAMES)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_values_match_the_formula(name):
    f = ac.nn.activation(name)
    got = ac.tensor(X, dtype="float64") if f is None else f(ac.tensor(X, dtype="float64"))
    numpy.testing.assert_allclose(got.numpy(), REFERENCE[name](X), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("name", sorted(n for n in REFERENCE if n != "linear"))
def test_gradients(name):
    f = ac.nn.activation(name)
    # away from the kinks (0, +-0.5, +-1, -3, 3, 6) and the ties of sparsemax's support
    x = numpy.array([[-3.7, -1.6, -0.8, -0.35, 0.2, 0.65, 1.3, 2.2, 3.4, 4.9, -2.4, 0.9]])
    check_gradients(f, [x], atol=1e-7, rtol=1e-6)


def test_sparsemax_is_a_projection_onto_the_simplex():
    """Keras 3.15 sums the cumulative sums over the support (keras-team/keras#23425): its rows do
    not sum to 1 when the support has more than one entry. accel computes the paper's."""
    out = ac.sparsemax(ac.tensor([[0.0, 0.5, 1.0], [0.1, 0.2, 0.3]], dtype="float64")).numpy()
    numpy.testing.assert_allclose(out, [[0.0, 0.25, 0.75], [0.7 / 3, 1 / 3, 1.3 / 3]], atol=1e-15)
    numpy.testing.assert_allclose(out.sum(-1), 1.0)


def test_dense_takes_every_name():
    x = ac.tensor(X[:, :6].T, dtype="float32")
    for name in activations.NAMES:
        layer = ac.nn.Dense(4 if name != "glu" else 8, activation=name, seed=0)
        assert layer(x).shape == ((6, 4) if name != "glu" else (6, 4))


def test_unknown_names_are_refused_naming_the_supported_ones():
    with pytest.raises(ValueError, match=r"unknown activation 'gelus'; expected one of celu, elu, exponential, gelu"):
        ac.nn.Dense(2, activation="gelus")
    with pytest.raises(ValueError, match="activation 'threshold' needs its threshold and default_value"):
        ac.nn.Dense(2, activation="threshold")
