"""max_pool1d/2d and avg_pool1d/2d: TensorFlow's worked values (docs/semantics.md section 16),
against a loop over windows, SAME windows that overlap the padding, gradients to the first
largest element, and errors."""

import itertools

import numpy
import pytest

import accel as ac
from accel.ops.windows import plan

R = numpy.random.default_rng(11)


def reference_pool(x, kernel, strides, padding, reduce):
    """NHWC pooling by its definition; padded positions are left out of every window."""
    w = plan("t", x.shape[1:3], kernel, strides, (1, 1), padding)
    y = numpy.zeros((x.shape[0], w.oh, w.ow, x.shape[3]))
    for i, j in itertools.product(range(w.oh), range(w.ow)):
        top, left = i * w.sh - w.pt, j * w.sw - w.pl
        window = x[:, max(top, 0):top + w.kh, max(left, 0):left + w.kw, :]
        y[:, i, j] = reduce(window, axis=(1, 2))
    return y


def test_worked_values():
    avg = ac.avg_pool2d(ac.reshape(ac.arange(1.0, 10.0), (1, 3, 3, 1)), 3, 1, "SAME")
    assert avg.numpy()[0, :, :, 0].tolist() == [[3, 3.5, 4], [4.5, 5, 5.5], [6, 6.5, 7]]
    top = ac.max_pool2d(ac.reshape(ac.arange(1.0, 17.0), (1, 4, 4, 1)), 3, 2, "SAME")
    assert top.numpy()[0, :, :, 0].tolist() == [[11, 12], [15, 16]]


@pytest.mark.parametrize("kernel,strides,padding", [(k, s, p) for k in [(2, 2), (3, 2), (1, 3)]
                                                    for s in [(1, 1), (2, 2), (3, 1)] for p in ["SAME", "VALID"]])
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool2d_equals_its_definition(kind, kernel, strides, padding):
    x = R.normal(size=(2, 7, 6, 3))
    op = ac.max_pool2d if kind == "max" else ac.avg_pool2d
    y = op(ac.tensor(x), list(kernel), list(strides), padding)
    want = reference_pool(x, kernel, strides, padding, numpy.max if kind == "max" else numpy.mean)
    numpy.testing.assert_allclose(y.numpy(), want, rtol=1e-13)
    first = op(ac.tensor(x.transpose(0, 3, 1, 2)), [1, 1] + list(kernel), [1, 1] + list(strides), padding,
               data_format="NCHW")
    numpy.testing.assert_allclose(first.numpy().transpose(0, 2, 3, 1), want, rtol=1e-13)


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool1d_is_pool2d_over_a_height_of_one(kind):
    x = R.normal(size=(2, 9, 3))
    op1, op2 = (ac.max_pool1d, ac.max_pool2d) if kind == "max" else (ac.avg_pool1d, ac.avg_pool2d)
    y = op1(ac.tensor(x), 3, 2, "SAME")
    numpy.testing.assert_allclose(y.numpy(), op2(ac.tensor(x[:, None]), [1, 3], [1, 2], "SAME").numpy()[:, 0])
    first = op1(ac.tensor(x.transpose(0, 2, 1)), [1, 1, 3], 2, "SAME", data_format="NCW")
    numpy.testing.assert_allclose(first.numpy().transpose(0, 2, 1), y.numpy())


def test_max_pool_gradient_goes_to_the_first_largest_element():
    x = ac.tensor([[[[1.0], [5.0], [5.0], [2.0]]]])  # (1, 1, 4, 1): one window of 4 with a tie
    with ac.GradientTape() as tape:
        tape.watch(x)
        y = ac.max_pool2d(x, [1, 4], 1, "VALID")
    assert y.numpy().ravel().tolist() == [5.0]
    assert tape.gradient(y, x).numpy().ravel().tolist() == [0.0, 1.0, 0.0, 0.0]


def test_max_pool_of_a_window_in_the_padding_never_picks_the_padding():
    x = -ac.ones((1, 3, 3, 1)) * 5.0
    assert ac.max_pool2d(x, 3, 2, "SAME").numpy().ravel().tolist() == [-5.0, -5.0, -5.0, -5.0]


def test_avg_pool_gradient_spreads_over_the_real_elements_of_each_window():
    x = ac.ones((1, 3, 3, 1), dtype="float64")
    with ac.GradientTape() as tape:
        tape.watch(x)
        y = ac.avg_pool2d(x, 2, 2, "SAME")  # windows of 4, 2, 2 and 1 real elements
    g = tape.gradient(y, x).numpy()[0, :, :, 0]
    numpy.testing.assert_allclose(g, [[0.25, 0.25, 0.5], [0.25, 0.25, 0.5], [0.5, 0.5, 1.0]])


@pytest.mark.parametrize("dtype", ["float16", "float32"])
def test_dtypes_are_kept(dtype):
    x = R.normal(size=(1, 4, 4, 2)).astype(dtype)
    for op in (ac.max_pool2d, ac.avg_pool2d):
        y = op(ac.tensor(x), 2, 2, "VALID")
        assert y.dtype == numpy.dtype(dtype)


@pytest.mark.parametrize("call,match", [
    (lambda: ac.max_pool2d(ac.ones((1, 4, 4, 1)), 2, 2, "FULL"), "padding must be 'SAME' or 'VALID'"),
    (lambda: ac.max_pool2d(ac.ones((1, 4, 4, 1)), 2, 2, [[0, 0], [1, 1], [1, 1], [0, 0]]),
     "padding must be 'SAME' or 'VALID'"),
    (lambda: ac.avg_pool2d(ac.ones((1, 4, 4, 1)), 5, 1, "VALID"), "larger than the VALID input"),
    (lambda: ac.avg_pool2d(ac.ones((1, 4, 4, 1)), 2, 0, "VALID"), "strides must be >= 1"),
    (lambda: ac.avg_pool2d(ac.ones((1, 4, 4, 1)), 0, 1, "VALID"), "ksize must be >= 1"),
    (lambda: ac.max_pool2d(ac.ones((4, 4, 1)), 2, 2, "VALID"), "input must be 4-D"),
    (lambda: ac.max_pool1d(ac.ones((1, 4, 1)), 2, 2, "VALID", data_format="NHWC"), "data_format must be"),
    (lambda: ac.max_pool2d(ac.ones((1, 4, 4, 1), dtype="int32"), 2, 2, "VALID"), "must be floating point"),
])
def test_bad_arguments_are_named(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
