"""TensorFlow / Keras parity (issue 13), the behaviours done so far: each with TF's value or error."""

import numpy
import pytest

import accel as ac


def test_clip_by_norm_of_zero_has_the_identity_gradient():
    x = ac.Variable(ac.zeros((3,), dtype="float64"))
    with ac.GradientTape() as tape:
        y = ac.sum(ac.clip_by_norm(x, 1.0))
    numpy.testing.assert_array_equal(tape.gradient(y, x).numpy(), [1.0, 1.0, 1.0])  # TF: [1, 1, 1]
    numpy.testing.assert_allclose(ac.clip_by_norm(ac.tensor([3.0, 4.0], dtype="float64"), 1.0).numpy(), [0.6, 0.8])
    ac.testing.check_gradients(lambda t: ac.clip_by_norm(t, 1.0), [numpy.array([3.0, -4.0])])


def test_clip_by_value_keeps_the_shape_of_t():
    with pytest.raises(ValueError, match=r"clip_by_value: the bounds would broadcast t of shape \(2, 3, 1\) to "
                                         r"\(2, 3, 2\)"):
        ac.clip_by_value(ac.zeros((2, 3, 1)), -1.0, ac.ones((2,)))
    out = ac.clip_by_value(ac.tensor([[-2.0, 0.5], [3.0, 1.0]]), ac.tensor([-1.0, 0.0]), 1.0)
    assert out.numpy().tolist() == [[-1.0, 0.5], [1.0, 1.0]]


def test_adamw_needs_a_weight_decay():
    with pytest.raises(ValueError, match="AdamW: weight_decay must be a float, got None"):
        ac.optimizers.AdamW(weight_decay=None)


def test_batch_jacobian_needs_rank_two():
    with ac.GradientTape(persistent=True) as tape:
        v = ac.tensor([1.0, 2.0])
        tape.watch(v)
        y = v * v
    with pytest.raises(ValueError, match="batch_jacobian: target and source must have rank at least 2"):
        tape.batch_jacobian(y, v)


def test_watching_a_numpy_array_is_a_value_error():
    with ac.GradientTape() as tape:
        with pytest.raises(ValueError, match="watch: expected tensors or Variables, got ndarray"):
            tape.watch(numpy.ones(3))
