"""pad (tf.pad): TensorFlow's documented values for each mode, the adjoint its VJP is, and errors.
Gradients (first and second order) are tests/autodiff/test_op_gradients.py's cases."""

import numpy
import pytest

import accel as ac
from accel.ops import padding

T = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
PADDINGS = [[1, 1], [2, 2]]


def test_tensorflows_documented_values():
    assert ac.pad(ac.tensor(T), PADDINGS).numpy().tolist() == [
        [0, 0, 0, 0, 0, 0, 0], [0, 0, 1, 2, 3, 0, 0], [0, 0, 4, 5, 6, 0, 0], [0, 0, 0, 0, 0, 0, 0]]
    assert ac.pad(ac.tensor(T), PADDINGS, "REFLECT").numpy().tolist() == [
        [6, 5, 4, 5, 6, 5, 4], [3, 2, 1, 2, 3, 2, 1], [6, 5, 4, 5, 6, 5, 4], [3, 2, 1, 2, 3, 2, 1]]
    assert ac.pad(ac.tensor(T), PADDINGS, "symmetric").numpy().tolist() == [
        [2, 1, 1, 2, 3, 3, 2], [2, 1, 1, 2, 3, 3, 2], [5, 4, 4, 5, 6, 6, 5], [5, 4, 4, 5, 6, 6, 5]]
    assert ac.pad(ac.tensor(2.5), []).numpy() == 2.5  # a scalar has no axis to pad
    out = ac.pad(ac.tensor(numpy.ones((1, 2), numpy.int32)), [[0, 1], [1, 0]], constant_values=7)
    assert out.dtype == "int32" and out.numpy().tolist() == [[7, 1, 1], [7, 7, 7]]


@pytest.mark.parametrize("mode,pads", [("CONSTANT", ((2, 3), (1, 4))), ("REFLECT", ((3, 2), (4, 4))),
                                       ("SYMMETRIC", ((4, 1), (5, 5)))])
def test_the_vjp_is_the_adjoint_of_padding(mode, pads):
    """<pad(x), y> = <x, fold(y)> for random x and y: the fold is exactly pad's transpose."""
    rng = numpy.random.default_rng(0)
    x = rng.standard_normal((4, 5))
    padded = padding._pad_array(numpy, x, pads, mode, 0)
    y = rng.standard_normal(padded.shape)
    numpy.testing.assert_allclose((padded * y).sum(), (x * padding._pad_grad_array(numpy, y, pads, mode)).sum(),
                                  rtol=1e-13)


def test_bad_arguments_are_named_and_nothing_is_padded():
    x = ac.tensor(T)
    with pytest.raises(ValueError, match=r"pad: paddings must have shape \(2, 2\)"):
        ac.pad(x, [[1, 1]])
    with pytest.raises(ValueError, match="pad: paddings must be >= 0"):
        ac.pad(x, [[1, -1], [0, 0]])
    with pytest.raises(ValueError, match="pad: mode must be one of CONSTANT, REFLECT, SYMMETRIC"):
        ac.pad(x, PADDINGS, "wrap")
    with pytest.raises(ValueError, match=r"REFLECT padding of axis 0 \(size 2\) must be at most 1, got \[2, 0\]"):
        ac.pad(x, [[2, 0], [0, 0]], "REFLECT")
    with pytest.raises(ValueError, match=r"SYMMETRIC padding of axis 1 \(size 3\) must be at most 3"):
        ac.pad(x, [[0, 0], [0, 4]], "SYMMETRIC")
    with pytest.raises(TypeError, match="pad: paddings must be integers"):
        ac.pad(x, [[0.5, 0], [0, 0]])


def test_traced_equals_eager_on_every_call():
    fn = ac.function(lambda x: ac.pad(x, PADDINGS, "reflect") * 2)
    rng = numpy.random.default_rng(1)
    for _ in range(3):
        x = ac.tensor(rng.standard_normal((2, 3)))
        numpy.testing.assert_array_equal(fn(x).numpy(), (ac.pad(x, PADDINGS, "REFLECT") * 2).numpy())
