"""accel.gradients and stop_gradient against docs/semantics.md section 2."""

import numpy
import pytest

import accel as ac


def _recorded(fn, *watched):
    with ac.GradientTape(persistent=True) as tape:
        tape.watch(list(watched))
        return fn()


def test_stop_gradients_worked_example():
    a = ac.tensor(0.0)
    with ac.GradientTape() as tape:
        tape.watch(a)
        b = 2 * a
        total = a + b
    assert [g.item() for g in ac.gradients(total, [a, b])] == [3.0, 1.0]
    assert [g.item() for g in ac.gradients(total, [a, b], stop_gradients=[a, b])] == [1.0, 1.0]


def test_stop_gradient_op():
    a = ac.tensor(0.0)
    with ac.GradientTape() as tape:
        tape.watch(a)
        b = ac.stop_gradient(2 * a)
        total = a + b
    assert tape.gradient(total, a).item() == 1.0


def test_worked_example_with_grad_ys():
    w = [ac.tensor(numpy.ones(3)) for _ in range(4)]
    with ac.GradientTape() as tape:
        tape.watch(w)
        z1 = 3 * w[0] + 2 * w[1] + w[2]
        z2 = -1 * w[2] + w[3]
    grads = ac.gradients([z1, z2], w)
    assert [g.numpy().tolist() for g in grads] == [[3] * 3, [2] * 3, [0] * 3, [1] * 3]
    weights = [ac.tensor([-2.0, -3.0, -4.0], dtype="float64")] * 2
    grads = ac.gradients([z1, z2], w, grad_ys=weights)
    assert [g.numpy().tolist() for g in grads] == [[-6, -9, -12], [-4, -6, -8], [0, 0, 0], [-2, -3, -4]]


def test_wrong_number_of_grad_ys():
    x = ac.tensor(1.0)
    with ac.GradientTape() as tape:
        tape.watch(x)
        y = x * 2
    with pytest.raises(ValueError, match="grad_ys has 2 entries but there are 1 targets"):
        ac.gradients(y, [x], grad_ys=[ac.tensor(1.0), ac.tensor(1.0)])


def test_integer_tensors_are_constants():
    i = ac.tensor(3)
    x = ac.tensor(2.0)
    with ac.GradientTape() as tape:
        tape.watch([i, x])
        y = x * ac.cast(i, "float32")
    gi, gx = ac.gradients(y, [i, x])
    assert gi is None and gx.item() == 3.0


def test_gradients_returns_a_list_and_zero_option():
    x, u = ac.tensor(1.0), ac.tensor(5.0)
    with ac.GradientTape() as tape:
        tape.watch([x, u])
        y = x * 4
    out = ac.gradients(y, [x, u], unconnected_gradients="zero")
    assert isinstance(out, list) and out[0].item() == 4.0 and out[1].item() == 0.0
    with pytest.raises(TypeError, match="gradients: sources\\[0\\] must be a tensor"):
        ac.gradients(y, [3.0])
