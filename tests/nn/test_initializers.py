"""Keras's initializers: names, fans, each distribution's moments and bounds, seeds."""

import math

import numpy
import pytest

from accel.nn import initializers


@pytest.mark.parametrize("name,bound,std", [
    ("glorot_uniform", math.sqrt(6 / (9 * 16 + 9 * 32)), math.sqrt(2 / (9 * 16 + 9 * 32))),
    ("glorot_normal", None, math.sqrt(2 / (9 * 16 + 9 * 32))),
    ("he_uniform", math.sqrt(6 / (9 * 16)), math.sqrt(2 / (9 * 16))),
    ("he_normal", None, math.sqrt(2 / (9 * 16))),
    ("lecun_uniform", math.sqrt(3 / (9 * 16)), math.sqrt(1 / (9 * 16))),
    ("lecun_normal", None, math.sqrt(1 / (9 * 16))),
    ("random_uniform", 0.05, 0.05 / math.sqrt(3)),
    ("random_normal", None, 0.05),
])
def test_distributions_have_keras_variance(name, bound, std):
    w = initializers.get(name, seed=1)((3, 3, 16, 32)).numpy().astype(float)
    assert abs(w.std() / std - 1) < 0.03 and abs(w.mean()) < 0.05 * std * 3
    if bound is not None:
        assert numpy.abs(w).max() <= bound
    if name.endswith("_normal") and name != "random_normal":  # truncated at two stddevs of the untruncated draw
        assert numpy.abs(w).max() <= 2 * std / 0.87962566103423978


def test_truncated_normal_and_orthogonal():
    w = initializers.TruncatedNormal(stddev=0.5, seed=0)((4000,)).numpy()
    assert numpy.abs(w).max() <= 1.0
    q = initializers.get("orthogonal", seed=0)((6, 4)).numpy().astype(float)
    numpy.testing.assert_allclose(q.T @ q, numpy.eye(4), atol=1e-6)
    wide = initializers.Orthogonal(gain=2.0, seed=0)((3, 5)).numpy().astype(float)
    numpy.testing.assert_allclose(wide @ wide.T, 4 * numpy.eye(3), atol=1e-5)


def test_names_seeds_and_constants():
    assert isinstance(initializers.get("HeNormal"), initializers.HeNormal)
    assert isinstance(initializers.get("uniform"), initializers.RandomUniform)
    a = initializers.get("he_uniform", seed=3)((5, 5)).numpy()
    numpy.testing.assert_array_equal(a, initializers.get("he_uniform", seed=3)((5, 5)).numpy())
    assert numpy.all(initializers.Constant(2.5)((2, 2), "float64").numpy() == 2.5)
    numpy.testing.assert_array_equal(initializers.Identity()((3, 3)).numpy(), numpy.eye(3))
    with pytest.raises(ValueError, match="unknown initializer 'glorot'"):
        initializers.get("glorot")
    with pytest.raises(ValueError, match="mode must be one of"):
        initializers.VarianceScaling(mode="fan")
