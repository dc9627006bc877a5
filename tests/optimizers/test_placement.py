"""Where slot buffers lie (accel/optimizers/placement.py): every slot 64-byte aligned, an ordinary
C-contiguous array, and large ones staggered from their parameter and from each other so that no
two streams of a variable share a cache line's place in a page."""

import numpy
import pytest

import accel as ac
from accel.optimizers import placement
from accel.optimizers.placement import HUGE_PAGE, LINE, PAGE, SMALLEST, STAGGER


def _root(array):
    while array.base is not None:
        array = array.base
    return array


def _slots(opt, var):
    return [opt.get_slot(var, name)._data for name in opt.get_slot_names()
            if opt.get_slot(var, name).shape == var.shape]


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("shape", [(3,), (100,), (64, 129), (1 << 16,), (300, 1000)])
def test_slots_are_aligned_contiguous_arrays_staggered_from_the_parameter(dtype, shape):
    var = ac.Variable(numpy.random.default_rng(0).standard_normal(shape).astype(dtype))
    opt = ac.optimizers.Adam(1e-3, amsgrad=True, use_ema=True, gradient_accumulation_steps=2)
    opt.build([var])
    slots = _slots(opt, var)
    assert len(slots) == 5  # m, v, vhat, the average, the accumulator
    nbytes = var._data.nbytes
    modulus = placement.period(nbytes)
    anchor = var._data.ctypes.data - var._data.ctypes.data % LINE
    for data in slots:
        assert data.ctypes.data % LINE == 0
        assert data.flags.c_contiguous and data.flags.writeable
        assert data.shape == var.shape and data.dtype == var.dtype
        assert _root(data).nbytes <= nbytes + (modulus if nbytes >= SMALLEST else LINE)
    if nbytes >= SMALLEST:  # slot k (in creation order) at STAGGER * k past the parameter's line
        assert modulus <= max(nbytes // 8, PAGE)
        assert sorted((a.ctypes.data - anchor) % modulus for a in slots) == sorted(
            STAGGER * k % modulus for k in range(1, 6))
    if nbytes >= SMALLEST:  # parameter and slots: each on its own line of a page
        places = [(a.ctypes.data // LINE) % (PAGE // LINE) for a in [var._data, *slots]]
        assert len(set(places)) == len(places)


def test_slots_start_where_their_values_say():
    """Slots are filled as before: zeros, the initial accumulator, a copy of the variable."""
    value = numpy.linspace(-1, 1, 1 << 15, dtype=numpy.float32)
    var = ac.Variable(value)
    opt = ac.optimizers.Adagrad(1e-3, initial_accumulator_value=0.25)
    opt.build([var])
    numpy.testing.assert_array_equal(opt.get_slot(var, "accumulator").numpy(), numpy.full_like(value, 0.25))
    ema = ac.optimizers.SGD(1e-3, use_ema=True)
    ema.build([var])
    numpy.testing.assert_array_equal(ema.get_slot(var, "average").numpy(), value)


def test_many_small_tensors_are_aligned_and_step_like_plain_arrays():
    rng = numpy.random.default_rng(1)
    values = [rng.standard_normal(100).astype(numpy.float32) for _ in range(50)]
    grads = [rng.standard_normal(100).astype(numpy.float32) for _ in range(50)]
    variables = [ac.Variable(v) for v in values]
    opt = ac.optimizers.Adam(0.1)
    for _ in range(3):
        opt.apply_gradients(zip(map(ac.tensor, grads), variables))
    for var in variables:
        assert all(s.ctypes.data % LINE == 0 for s in _slots(opt, var))
    # Keras's Adam on plain arrays, three steps.
    for value, grad, var in zip(values, grads, variables):
        p, m, v = value.astype(numpy.float64), 0.0, 0.0
        for t in range(1, 4):
            m = 0.9 * m + 0.1 * grad
            v = 0.999 * v + 0.001 * grad.astype(numpy.float64) ** 2
            alpha = 0.1 * numpy.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
            p = p - alpha * m / (numpy.sqrt(v) + 1e-7)
        numpy.testing.assert_allclose(var.numpy(), p, rtol=2e-5, atol=2e-6)


def test_restoring_writes_into_the_placed_buffers(tmp_path):
    var = ac.Variable(numpy.ones(1 << 15, numpy.float32), name="w")
    opt = ac.optimizers.Adam(1e-3)
    opt.apply_gradients([(ac.ones(1 << 15), var)])
    addresses = [s.ctypes.data for s in _slots(opt, var)]
    weights = opt.get_weights()
    opt.apply_gradients([(ac.ones(1 << 15), var)])
    opt.set_weights(weights)
    assert [s.ctypes.data for s in _slots(opt, var)] == addresses


@pytest.mark.parametrize("nbytes, expected", [
    (0, LINE), (SMALLEST - 1, LINE), (SMALLEST, PAGE), (64 * PAGE, 8 * PAGE),
    (8 * HUGE_PAGE - 1, HUGE_PAGE // 2), (8 * HUGE_PAGE, HUGE_PAGE), (1 << 40, HUGE_PAGE)])
def test_period_is_an_eighth_of_the_buffer_within_a_page_and_a_huge_page(nbytes, expected):
    assert placement.period(nbytes) == expected


def test_staggered_empty_aligns_to_the_anchors_line_even_when_the_anchor_is_not_aligned():
    raw = numpy.empty((1 << 20) + 64, numpy.uint8)
    anchor = raw[16 - raw.ctypes.data % 16 + 16:][: 1 << 20]  # 16 bytes past a 16-byte boundary
    if anchor.ctypes.data % LINE == 0:
        anchor = raw[16:][: 1 << 20]
    assert anchor.ctypes.data % LINE != 0
    for index in (1, 2, 3):
        out = placement.staggered_empty((1 << 18,), numpy.float32, anchor, index)
        assert out.ctypes.data % LINE == 0
        line = anchor.ctypes.data - anchor.ctypes.data % LINE
        assert (out.ctypes.data - line) % placement.period(out.nbytes) == STAGGER * index % placement.period(out.nbytes)
