import numpy
import pytest

import accel as ac


def test_same_seed_same_numbers_on_cpu():
    a = ac.random.Generator(7).normal((3, 4), device="cpu")
    b = ac.random.Generator(7).normal((3, 4), device="cpu")
    numpy.testing.assert_array_equal(a.numpy(), b.numpy())
    assert a.dtype == ac.float32 and a.shape == (3, 4)
    c = ac.random.Generator(8).normal((3, 4), device="cpu")
    assert not numpy.array_equal(a.numpy(), c.numpy())
    # The CPU stream is NumPy's PCG64 with that seed: fixed across machines and releases.
    numpy.testing.assert_allclose(
        ac.random.Generator(0).normal((3,), dtype="float64", device="cpu").numpy(),
        numpy.random.Generator(numpy.random.PCG64(0)).normal(size=3))


def test_distributions(device):
    gen = ac.random.Generator(1)
    u = gen.uniform((2000,), -2.0, 3.0, device=device).numpy()
    assert u.min() >= -2.0 and u.max() < 3.0 and abs(u.mean() - 0.5) < 0.15
    n = gen.normal((4000,), mean=5.0, stddev=2.0, dtype="float64", device=device).numpy()
    assert abs(n.mean() - 5.0) < 0.15 and abs(n.std() - 2.0) < 0.15
    r = gen.randint((1000,), 3, 6, device=device)
    assert r.dtype == ac.int64 and set(r.numpy().tolist()) == {3, 4, 5}


@pytest.fixture
def restore_default_generator():
    """set_seed replaces the process's default generator: give the next test the one it had."""
    saved = ac.random.default_generator
    yield
    ac.random.default_generator = saved


def test_module_level_functions_and_seed(restore_default_generator):
    ac.random.set_seed(3)
    a = ac.random.normal((5,))
    ac.random.set_seed(3)
    numpy.testing.assert_array_equal(a.numpy(), ac.random.normal((5,)).numpy())
    numpy.testing.assert_array_equal(ac.random.uniform((2,), seed=4).numpy(), ac.random.uniform((2,), seed=4).numpy())
    assert ac.random.randint((2,), 0, 2).shape == (2,)


def test_random_errors():
    with pytest.raises(ValueError, match="stddev must be a finite number >= 0"):
        ac.random.normal((2,), stddev=-1.0)
    with pytest.raises(ValueError, match=r"uniform: maxval \(0.0\) must be greater than minval \(1.0\)"):
        ac.random.uniform((2,), 1.0, 0.0)
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        ac.random.Generator(-1)


# -- categorical (tf.random.categorical) ------------------------------------------------------------
def test_categorical_draws_with_the_softmax_probabilities():
    probs = numpy.array([[0.1, 0.2, 0.7], [0.5, 0.5, 0.0]])
    with numpy.errstate(divide="ignore"):
        logits = ac.tensor(numpy.log(probs))
    samples = ac.random.categorical(logits, 20000, seed=0)
    assert samples.dtype == "int64" and samples.shape == (2, 20000)
    freq = numpy.array([numpy.bincount(row, minlength=3) / 20000 for row in samples.numpy()])
    numpy.testing.assert_allclose(freq, probs, atol=0.015)
    assert freq[1, 2] == 0.0  # a -inf logit is never drawn


def test_categorical_seeds_dtype_and_traced_draws():
    logits = ac.tensor(numpy.zeros((3, 10)))
    a = ac.random.categorical(logits, 50, seed=4).numpy()
    numpy.testing.assert_array_equal(a, ac.random.categorical(logits, 50, seed=4).numpy())
    assert ac.random.categorical(logits, 5, dtype="int32").dtype == "int32"
    gen = ac.random.Generator(7)
    fn = ac.function(lambda t: gen.categorical(t, 40))
    assert not numpy.array_equal(fn(logits).numpy(), fn(logits).numpy())  # a replay draws anew


def test_categorical_refuses_bad_arguments():
    with pytest.raises(ValueError, match="categorical: logits must be a 2-D float tensor"):
        ac.random.categorical(ac.tensor([0.0, 1.0]), 3)
    with pytest.raises(ValueError, match="num_samples must be an int >= 0"):
        ac.random.categorical(ac.tensor([[0.0, 1.0]]), -1)
    with pytest.raises(TypeError, match="dtype must be int32 or int64"):
        ac.random.categorical(ac.tensor([[0.0, 1.0]]), 1, dtype="float32")
