"""accel._cpu's one-pass CPU loops behind elementwise and classification ops (csrc/cpu/activations.cpp,
csrc/cpu/classification.cpp) against the NumPy forms they replace, bit for bit where the form is
exact, and their NumPy fallbacks for the arrays they do not take."""

import numpy
import pytest

import accel as ac
from accel import _cpu
from accel.ops import elementwise

RELU_FORM = lambda x: numpy.where(x > 0, x, numpy.where(x <= 0, 0, x)).astype(x.dtype)  # noqa: E731
RELU_GRAD_FORM = lambda g, x: numpy.where(x > 0, g, g * 0)  # noqa: E731


def bit_patterns(dtype, n=1 << 18, seed=0):
    """Random bit patterns of `dtype` (NaNs with payloads, infinities, subnormals, signed zeros)."""
    itype = {"float32": numpy.uint32, "float64": numpy.uint64}[dtype]
    rng = numpy.random.default_rng(seed)
    bits = rng.integers(0, numpy.iinfo(itype).max, n, dtype=itype, endpoint=True)
    x = bits.view(dtype)
    x[:6] = [numpy.nan, numpy.inf, -numpy.inf, 0.0, -0.0, numpy.finfo(dtype).smallest_subnormal]
    return x


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_relu_is_its_form_bit_for_bit(dtype):
    x = bit_patterns(dtype).reshape(512, -1)
    with numpy.errstate(all="ignore"):
        assert _cpu.relu(x).tobytes() == RELU_FORM(x).tobytes()
        assert ac.relu(ac.tensor(x)).numpy().tobytes() == RELU_FORM(x).tobytes()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_relu_grad_is_its_form_bit_for_bit(dtype):
    g, x = bit_patterns(dtype, seed=1).reshape(512, -1), bit_patterns(dtype, seed=2).reshape(512, -1)
    with numpy.errstate(all="ignore"):
        want = RELU_GRAD_FORM(g, x)
        assert _cpu.relu_grad(g, x).tobytes() == want.tobytes()
        assert elementwise.relu_grad(ac.tensor(g), ac.tensor(x)).numpy().tobytes() == want.tobytes()


@pytest.mark.parametrize("make", [
    lambda x: x[:, ::2],                     # strided
    lambda x: x.astype(numpy.float16),       # a dtype the loop does not take
    lambda x: (x * 4).astype(numpy.int64),   # integers
    lambda x: numpy.float32(-2.5),           # a NumPy scalar
    lambda x: numpy.array(-2.5),             # 0-d
])
def test_other_arrays_take_the_numpy_expressions(make):
    x = make(numpy.random.default_rng(0).standard_normal((4, 6)).astype(numpy.float32))
    assert numpy.asarray(_cpu.relu(x)).tobytes() == numpy.asarray(numpy.maximum(x, 0)).tobytes()
    g = numpy.ones_like(x) * 3
    assert numpy.asarray(_cpu.relu_grad(g, x)).tobytes() == numpy.asarray(g * (x > 0)).tobytes()


def test_relu_grad_broadcasts_through_numpy():
    g, x = numpy.ones((3, 4), numpy.float32), numpy.array([-1.0, 0.0, 2.0, numpy.nan], numpy.float32)
    assert _cpu.relu_grad(g, x).tolist() == [[0.0, 0.0, 1.0, 0.0]] * 3
    assert _cpu.relu(x).tolist()[:3] == [0.0, 0.0, 2.0] and numpy.isnan(_cpu.relu(x)[3])


def _log_softmax(x):
    shift = x.max(-1, keepdims=True)
    shift = numpy.where(numpy.isfinite(shift), shift, 0)
    shifted = x - shift
    return shifted - numpy.log(numpy.exp(shifted).sum(-1, keepdims=True))


@pytest.mark.parametrize("label_dtype", ["int32", "int64"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sparse_xent_is_the_log_softmax_form(dtype, label_dtype):
    rng = numpy.random.default_rng(0)
    logits = (rng.standard_normal((300, 17)) * 8).astype(dtype)
    logits[3, 4], logits[4, :], logits[5, 1], logits[6, :] = numpy.nan, -numpy.inf, numpy.inf, 1e30
    labels = rng.integers(0, 17, 300).astype(label_dtype)
    g = rng.standard_normal(300).astype(dtype)
    loss, grad = numpy.empty(300, dtype), numpy.empty((300, 17), dtype)
    assert _cpu.sparse_xent(logits, labels, loss, g, grad) == -1
    with numpy.errstate(all="ignore"):
        ls = _log_softmax(logits)
        want_loss = -ls[numpy.arange(300), labels]
        want_grad = numpy.exp(ls)
        want_grad[numpy.arange(300), labels] -= 1
        want_grad *= g[:, None]
    tolerance = dict(rtol=4 * numpy.finfo(dtype).eps * 17, atol=4 * numpy.finfo(dtype).eps * 17)
    numpy.testing.assert_allclose(loss, want_loss, **tolerance)  # NaNs where the form has them
    numpy.testing.assert_allclose(grad, want_grad, **tolerance)


def test_sparse_xent_reports_the_first_bad_label_and_checks_its_arrays():
    logits = numpy.zeros((3, 4), numpy.float32)
    assert _cpu.sparse_xent(logits, numpy.array([0, 4, -1]), numpy.empty(3, numpy.float32), None, None) == 1
    with pytest.raises(TypeError, match="logits: expected a 2-D float32 or float64"):
        _cpu.sparse_xent(logits.astype(numpy.float16), numpy.zeros(3, numpy.int64), None, None, None)
    with pytest.raises(TypeError, match="labels: expected an int32 or int64"):
        _cpu.sparse_xent(logits, numpy.zeros(3, numpy.uint8), None, None, None)
    with pytest.raises(ValueError, match="loss: expected an array of the logits' dtype"):
        _cpu.sparse_xent(logits, numpy.zeros(3, numpy.int64), numpy.empty(3), None, None)
    with pytest.raises(ValueError, match="g and grad: give both or neither"):
        _cpu.sparse_xent(logits, numpy.zeros(3, numpy.int64), None, numpy.ones(3, numpy.float32), None)


@pytest.mark.parametrize("label_dtype", ["uint8", "int16", "int64"])
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_the_op_gives_the_same_loss_and_gradient_on_either_path(dtype, label_dtype):
    """The one-pass kernel (float32/float64 logits, int32/int64 labels) and the NumPy path (the
    rest) compute one function: compared in float64 against the form, batched over leading axes."""
    rng = numpy.random.default_rng(1)
    logits = rng.standard_normal((2, 5, 7)).astype(dtype)
    labels = rng.integers(0, 7, (2, 5)).astype(label_dtype)
    x = ac.tensor(logits)
    with ac.GradientTape() as tape:
        tape.watch(x)
        loss = ac.sparse_softmax_cross_entropy_with_logits(ac.tensor(labels), x)
        total = ac.sum(loss * ac.tensor(numpy.arange(10, dtype=dtype).reshape(2, 5)))
    grad = tape.gradient(total, x).numpy()
    ls = _log_softmax(logits.astype(numpy.float64))
    index = numpy.indices(labels.shape)
    want_grad = numpy.exp(ls)
    want_grad[index[0], index[1], labels] -= 1
    want_grad *= numpy.arange(10).reshape(2, 5, 1)
    tolerance = {"float16": 2e-2, "float32": 1e-5, "float64": 1e-12}[dtype]
    assert loss.dtype == dtype and loss.shape == (2, 5)
    numpy.testing.assert_allclose(loss.numpy(), -ls[index[0], index[1], labels], rtol=tolerance, atol=tolerance)
    numpy.testing.assert_allclose(grad, want_grad, rtol=tolerance, atol=tolerance)
