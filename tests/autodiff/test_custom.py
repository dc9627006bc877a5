import numpy
import pytest

import accel as ac


@ac.custom_gradient
def log1pexp(x):
    e = ac.exp(x)

    def grad(dy):
        return dy * (1 - 1 / (1 + e))

    return ac.log(1 + e), grad


@numpy.errstate(over="ignore", invalid="ignore")  # exp(100) overflows float32, as in TF's example
def test_custom_gradient_gives_a_stable_gradient():
    x = ac.tensor(100.0)
    with ac.GradientTape() as tape:
        tape.watch(x)
        y = log1pexp(x)
    assert tape.gradient(y, x).item() == 1.0
    naive = ac.tensor(100.0)
    with ac.GradientTape() as tape:
        tape.watch(naive)
        z = ac.log(1 + ac.exp(naive))
    assert numpy.isnan(tape.gradient(z, naive).item())


def test_custom_gradient_with_two_inputs_and_constants():
    @ac.custom_gradient
    def scaled_product(a, b, scale):
        def grad(dy):
            return dy * b * 10, dy * a * 10, None
        return a * b * scale, grad

    a, b = ac.tensor(2.0), ac.tensor(3.0)
    with ac.GradientTape() as tape:
        tape.watch([a, b])
        y = scaled_product(a, b, 4.0)
    assert y.item() == 24.0
    ga, gb = tape.gradient(y, [a, b])
    assert (ga.item(), gb.item()) == (30.0, 20.0)


def test_custom_gradient_is_differentiable_again():
    @ac.custom_gradient
    def cube(x):
        def grad(dy):
            return dy * 3 * x * x
        return x * x * x, grad

    x = ac.tensor(2.0, dtype="float64")
    with ac.GradientTape() as outer:
        outer.watch(x)
        with ac.GradientTape() as inner:
            inner.watch(x)
            y = cube(x)
        g = inner.gradient(y, x)
    assert g.item() == 12.0 and outer.gradient(g, x).item() == 12.0


def test_custom_gradient_errors():
    @ac.custom_gradient
    def bad(x):
        return x * 2

    with pytest.raises(TypeError, match="must return \\(output, grad_fn\\)"):
        bad(ac.tensor(1.0))

    @ac.custom_gradient
    def wrong_count(x):
        return x * 2, lambda dy: (dy, dy)

    x = ac.tensor(1.0)
    with ac.GradientTape() as tape:
        tape.watch(x)
        y = wrong_count(x)
    with pytest.raises(ValueError, match="returned 2 gradients for 1 inputs"):
        tape.gradient(y, x)


def test_custom_gradient_with_several_outputs():
    @ac.custom_gradient
    def sincos(x):
        s, c = ac.sin(x), ac.cos(x)

        def grad(ds, dc):
            return ds * c - dc * s
        return (s, c), grad

    x = ac.tensor([0.3, 1.1], dtype="float64")
    with ac.GradientTape(persistent=True) as tape:
        tape.watch(x)
        s, c = sincos(x)
        both = ac.sum(s * 2.0 + c * 3.0)
        only_sin = ac.sum(s)
    numpy.testing.assert_allclose(tape.gradient(both, x).numpy(), 2 * numpy.cos(x.numpy()) - 3 * numpy.sin(x.numpy()))
    numpy.testing.assert_allclose(tape.gradient(only_sin, x).numpy(), numpy.cos(x.numpy()))
    assert isinstance(sincos(x), tuple)


def test_several_outputs_pass_check_gradients():
    @ac.custom_gradient
    def split_square(x):
        def grad(da, db):
            return ac.concat([da * 2 * x[:2], db * 3 * x[2:] ** 2])
        return (x[:2] ** 2, x[2:] ** 3), grad

    from accel.testing import check_gradients

    check_gradients(lambda x: list(split_square(x)), [numpy.array([0.5, -1.2, 0.7, 1.3])])
