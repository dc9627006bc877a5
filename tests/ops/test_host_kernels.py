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


# ---- nn_loops.cpp: softmax rows, their VJPs, the exact GELU's VJP (one table per instruction set)

def _softmax_form(x, scale=1.0, causal=0):
    """softmax of x * scale over the last axis in float64, causal: row t of each (causal, S) block keeps s <= t."""
    z = x.astype(numpy.float64) * scale
    if causal:
        rows = numpy.arange(z.shape[0]) % causal
        z = numpy.where(numpy.arange(z.shape[1])[None, :] <= rows[:, None], z, -numpy.inf)
    with numpy.errstate(all="ignore"):
        return numpy.exp(_log_softmax(z)), _log_softmax(z)


def _hard_rows(dtype, rows=400, cols=37, seed=3):
    rng = numpy.random.default_rng(seed)
    x = (rng.standard_normal((rows, cols)) * 30).astype(dtype)
    x[1, 5], x[2, :], x[3, 7], x[4, 0] = numpy.nan, -numpy.inf, numpy.inf, -numpy.inf
    x[5] = numpy.linspace(-110, 0, cols)  # exps down into float32's subnormals
    return x


@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("scale,causal", [(1.0, 0), (0.3, 0), (0.7, 9)])
def test_softmax_rows_are_the_log_softmax_form(dtype, log, scale, causal):
    x = _hard_rows(dtype)
    out = numpy.empty_like(x)
    _cpu.softmax(x, out, scale, causal, log)
    soft, logs = _softmax_form(x, scale, causal)
    want = logs if log else soft
    eps = numpy.finfo(dtype).eps
    numpy.testing.assert_allclose(out, want, rtol=8 * eps, atol=8 * eps * (30 if log else 1))  # NaNs where it has them
    numpy.testing.assert_array_equal(numpy.isnan(out), numpy.isnan(want))
    if causal:  # masked columns: weight 0 (log: -inf), but NaN in a row of -inf (as the form)
        masked = numpy.arange(x.shape[1])[None, :] > (numpy.arange(x.shape[0]) % causal)[:, None]
        assert (out[masked & ~numpy.isnan(want)] == (-numpy.inf if log else 0)).all()


@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softmax_grad_rows_are_their_forms(dtype, log):
    rng = numpy.random.default_rng(4)
    x = rng.standard_normal((300, 29)).astype(dtype) * 4
    g = rng.standard_normal((300, 29)).astype(dtype)
    soft, logs = _softmax_form(x)
    y = (logs if log else soft).astype(dtype)
    out = numpy.empty_like(y)
    _cpu.softmax_grad(g, y, out, 0.5, log)
    y64, g64 = y.astype(numpy.float64), g.astype(numpy.float64)
    want = (g64 - numpy.exp(y64) * g64.sum(-1, keepdims=True)) if log else y64 * (g64 - (g64 * y64).sum(-1, keepdims=True))
    eps = numpy.finfo(dtype).eps
    numpy.testing.assert_allclose(out, want * 0.5, rtol=64 * eps, atol=64 * eps)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gelu_grad_is_its_form(dtype):
    x = numpy.concatenate([numpy.linspace(-12, 12, 5001), [0.0, -0.0, numpy.inf, -numpy.inf, numpy.nan]]).astype(dtype)
    g = numpy.random.default_rng(5).standard_normal(x.shape).astype(dtype)
    out = numpy.empty_like(x)
    _cpu.gelu_grad(g, x, out)
    x64, g64 = x.astype(numpy.float64), g.astype(numpy.float64)
    from math import erf
    with numpy.errstate(all="ignore"):
        phi = numpy.exp(x64 * x64 * -0.5) / numpy.sqrt(2 * numpy.pi)
        want = g64 * ((numpy.vectorize(erf)(x64 / numpy.sqrt(2)) + 1) * 0.5 + x64 * phi)
    want[-3:] = [numpy.nan, numpy.nan, numpy.nan]  # inf * 0 and NaN: NaN
    want[-5:-3] = g64[-5:-3] * 0.5
    # Phi(x) + x phi(x) cancels for x < -3: float32's error there is absolute, a few eps of |g|
    numpy.testing.assert_allclose(out, want, rtol={"float32": 2e-6, "float64": 1e-14}[dtype],
                                  atol=4e-7 if dtype == "float32" else 1e-15)


def test_nn_loops_agree_on_every_thread_count_and_closely_on_every_instruction_set():
    """A row is one thread's: every split gives the same bits. Row sums run in the ISA's vector
    width, so the ISAs agree to a few ulp (elementwise loops, no FMA contracted: bit for bit)."""
    x = _hard_rows("float32", rows=3000, cols=64)
    g = numpy.random.default_rng(6).standard_normal(x.shape).astype(numpy.float32)
    labels = numpy.random.default_rng(7).integers(0, 64, x.shape[0])

    def run():
        soft, logs, back, gelu_g = (numpy.empty_like(x) for _ in range(4))
        loss, grad = numpy.empty(x.shape[0], numpy.float32), numpy.empty_like(x)
        _cpu.softmax(x, soft, 0.5, 7, False)
        _cpu.softmax(x, logs, 1.0, 0, True)
        _cpu.softmax_grad(g, soft, back, 0.5, False)
        with numpy.errstate(all="ignore"):
            _cpu.gelu_grad(g, numpy.nan_to_num(x), gelu_g)
        _cpu.sparse_xent(numpy.nan_to_num(x), labels, loss, g[:, 0].copy(), grad)
        return [a.tobytes() for a in (soft, logs, back, gelu_g, loss, grad)]

    chosen, threads = _cpu.build_info()["isa"], _cpu.get_num_threads()
    per_isa = {}
    try:
        for isa in _cpu.build_info()["supported_isas"]:
            _cpu.set_isa(isa)
            results = []
            for n in (1, 2, 3):
                _cpu.set_num_threads(n)
                results.append(run())
            assert all(r == results[0] for r in results[1:]), isa
            per_isa[isa] = results[0]
    finally:
        _cpu.set_isa(chosen)
        _cpu.set_num_threads(threads)
    first = next(iter(per_isa.values()))
    for isa, arrays in per_isa.items():
        assert arrays[3] == first[3], isa  # the GELU's VJP: elementwise
        for a, b in zip(arrays, first):
            a, b = numpy.frombuffer(a, numpy.float32), numpy.frombuffer(b, numpy.float32)
            numpy.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_softmax_bindings_check_their_arrays():
    x = numpy.zeros((3, 4), numpy.float32)
    with pytest.raises(TypeError, match="softmax: x and out must be 2-D float32 or float64"):
        _cpu.softmax(x, numpy.empty((3, 4)), 1.0, 0, False)
    with pytest.raises(TypeError, match="softmax: x and out must be 2-D"):
        _cpu.softmax(x.reshape(-1), numpy.empty(12, numpy.float32), 1.0, 0, False)
    with pytest.raises(ValueError, match="softmax: causal must be >= 0"):
        _cpu.softmax(x, numpy.empty_like(x), 1.0, -1, False)
    with pytest.raises(TypeError, match="softmax_grad: g must have y's dtype and shape"):
        _cpu.softmax_grad(numpy.zeros((3, 5), numpy.float32), x, numpy.empty_like(x), 1.0, False)
    with pytest.raises(TypeError, match="gelu_grad: the arrays must be float32 or float64"):
        _cpu.gelu_grad(x, x.astype(numpy.float64), numpy.empty_like(x))


def _layer_norm_form(x, g, epsilon=1e-3):
    """(xhat, its VJP of g) over the last axis in float64."""
    x64, g64 = x.astype(numpy.float64), g.astype(numpy.float64)
    d = x64 - x64.mean(-1, keepdims=True)
    r = 1 / numpy.sqrt((d * d).mean(-1, keepdims=True) + epsilon)
    xhat = d * r
    return xhat, r * (g64 - g64.mean(-1, keepdims=True) - xhat * (g64 * xhat).mean(-1, keepdims=True))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_layer_norm_rows_are_their_forms(dtype):
    rng = numpy.random.default_rng(8)
    x = (rng.standard_normal((257, 67)) * 3 + 5).astype(dtype)
    g = rng.standard_normal(x.shape).astype(dtype)
    out, back = numpy.empty_like(x), numpy.empty_like(x)
    _cpu.layer_norm(x, out, 1e-3)
    _cpu.layer_norm_grad(g, x, back, 1e-3)
    xhat, want = _layer_norm_form(x, g)
    tolerance = {"float32": 2e-5, "float64": 1e-13}[dtype]
    numpy.testing.assert_allclose(out, xhat, rtol=tolerance, atol=tolerance)
    numpy.testing.assert_allclose(back, want, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("dtype", ["float16", "float32"])
def test_layer_norm_takes_one_path_or_the_other_alike(dtype):
    """The row loops (float32 / float64 on the CPU) and the NumPy form (float16 here, via float32)."""
    from accel.ops import normalization
    rng = numpy.random.default_rng(9)
    x = rng.standard_normal((4, 6, 10)).astype(dtype)
    g = rng.standard_normal(x.shape).astype(dtype)
    xt = ac.tensor(x)
    with ac.GradientTape() as tape:
        tape.watch(xt)
        y = normalization.layer_norm(xt, 1e-3)
    back = tape.gradient(y, xt, output_gradients=ac.tensor(g))
    xhat, want = _layer_norm_form(x, g)
    tolerance = {"float16": 1e-2, "float32": 2e-5}[dtype]
    assert y.dtype == dtype and back.dtype == dtype
    numpy.testing.assert_allclose(y.numpy(), xhat, rtol=tolerance, atol=tolerance)
    numpy.testing.assert_allclose(back.numpy(), want, rtol=tolerance, atol=tolerance * 4)
