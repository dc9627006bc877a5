"""dropout (tf.nn.dropout): keep rate and scale, noise_shape, seeds (new masks on every call, the
same sequence in every run), accel.function (a new mask per call), the gradient, errors."""

import numpy
import pytest

import accel as ac
from accel.ops import noise


def _restart(seed):
    noise._SEEDED.pop(seed, None)


def test_kept_elements_are_scaled_and_about_one_minus_rate_are_kept():
    x = ac.tensor(numpy.full((200, 100), 3.0))
    out = ac.dropout(x, 0.25, seed=0).numpy()
    assert set(numpy.unique(out).tolist()) == {0.0, 4.0}
    assert abs((out != 0).mean() - 0.75) < 0.01
    shared = ac.dropout(ac.tensor(numpy.ones((4, 6))), 0.5, noise_shape=(1, 6), seed=1).numpy()
    assert (shared == shared[0]).all()  # one mask row, broadcast over the rows


def test_a_seed_gives_new_masks_in_the_same_sequence_every_run():
    x = ac.tensor(numpy.ones(64))
    _restart(5)
    first = [ac.dropout(x, 0.5, seed=5).numpy() for _ in range(3)]
    assert not numpy.array_equal(first[0], first[1])
    _restart(5)
    again = [ac.dropout(x, 0.5, seed=5).numpy() for _ in range(3)]
    for a, b in zip(first, again):
        numpy.testing.assert_array_equal(a, b)


def test_a_traced_dropout_draws_a_new_mask_on_every_call_reproducibly():
    x = ac.tensor(numpy.ones(64))

    def run():
        _restart(9)
        fn = ac.function(lambda t: ac.dropout(t, 0.5, seed=9))
        return [fn(x).numpy() for _ in range(3)]

    first, again = run(), run()
    assert not numpy.array_equal(first[0], first[1]) and not numpy.array_equal(first[1], first[2])
    for a, b in zip(first, again):
        numpy.testing.assert_array_equal(a, b)
    assert {0.0, 2.0} == set(numpy.unique(numpy.concatenate(first)).tolist())


def test_the_gradient_is_the_kept_elements_scaled():
    x = ac.tensor(numpy.linspace(-1, 1, 50))
    with ac.GradientTape() as tape:
        tape.watch(x)
        y = ac.dropout(x, 0.3, seed=2)
        total = ac.sum(y)
    g = tape.gradient(total, x).numpy()
    kept = y.numpy() != 0
    numpy.testing.assert_allclose(g, numpy.where(kept, 1 / 0.7, 0.0), rtol=1e-15)


def test_bad_arguments_are_named():
    x = ac.tensor([1.0, 2.0])
    for rate in (1.0, -0.1, True, "0.5"):
        with pytest.raises(ValueError, match="dropout: rate must be a number in"):
            ac.dropout(x, rate)
    with pytest.raises(TypeError, match="dropout: x must be floating point"):
        ac.dropout(ac.tensor([1, 2]), 0.5)
    with pytest.raises(ValueError, match=r"dropout: noise_shape \(3,\) does not broadcast"):
        ac.dropout(x, 0.5, noise_shape=(3,))
    with pytest.raises(ValueError, match=r"dropout: noise_shape \(4, 2\) does not broadcast to x's shape \(2,\)"):
        ac.dropout(x, 0.5, noise_shape=(4, 2))
    with pytest.raises(ValueError, match="dropout: seed must be a non-negative int"):
        ac.dropout(x, 0.5, seed=-1)
