"""Values under the tape are the values at record time (TensorFlow): a Variable written after an
op read it (assign*, an optimizer step, a checkpoint restore) does not change that op's gradient.
Copy-on-write: the copy is made only when a write meets a live recorded value."""

import gc
import weakref

import numpy
import pytest

import accel as ac


def test_assign_after_the_forward_pass_does_not_change_the_gradient():
    x, y = ac.Variable(ac.tensor(2.0)), ac.Variable(ac.tensor(3.0))
    with ac.GradientTape(persistent=True) as tape:
        z = x * y
    y.assign(10.0)
    assert tape.gradient(z, x).item() == 3.0  # the value y had when x*y ran (TensorFlow: 3.0)
    assert tape.gradient(z, y).item() == 2.0
    x.assign_add(5.0)
    y.assign_sub(1.0)
    assert tape.gradient(z, y).item() == 2.0 and tape.gradient(z, x).item() == 3.0


@pytest.mark.parametrize("make", [lambda: ac.optimizers.SGD(0.5), lambda: ac.optimizers.Adam(0.5),
                                  lambda: ac.optimizers.SGD(0.5, momentum=0.9, global_clipnorm=1.0)])
def test_apply_gradients_between_forward_and_gradient(make):
    """A persistent tape, an optimizer step, then tape.gradient: the forward-time values."""
    w = ac.Variable(ac.tensor([1.0, 2.0], dtype="float64"))
    opt = make()
    for step in range(3):  # the optimizer's buffers exist from the second step on
        with ac.GradientTape(persistent=True) as tape:
            loss = ac.sum(w * w * w)
        before = w.numpy()
        opt.apply_gradients([(ac.tensor([1.0, 1.0], dtype="float64"), w)])
        assert not numpy.array_equal(w.numpy(), before)
        numpy.testing.assert_array_equal(tape.gradient(loss, w).numpy(), 3 * before ** 2, err_msg=f"step {step}")


def test_nested_tapes_keep_record_time_values_and_higher_orders():
    v = ac.Variable(ac.tensor(3.0, dtype="float64"))
    with ac.GradientTape(persistent=True) as outer:
        with ac.GradientTape(persistent=True) as inner:
            y = v * v * v
        dy = inner.gradient(y, v)  # 3 v^2 = 27, recorded by the outer tape
    v.assign(100.0)
    assert dy.item() == 27.0
    assert outer.gradient(dy, v).item() == 18.0  # 6 v at record time
    assert inner.gradient(y, v).item() == 27.0


def test_custom_gradient_sees_record_time_values():
    @ac.custom_gradient
    def scaled(x, w):
        def grad(dy):
            return dy * w, dy * x

        return x * w, grad

    x, w = ac.Variable(ac.tensor(2.0)), ac.Variable(ac.tensor(5.0))
    with ac.GradientTape(persistent=True) as tape:
        y = scaled(x, w)
    w.assign(-1.0)
    dx, dw = tape.gradient(y, [x, w])
    # grad() closes over the Variables themselves (as in TensorFlow, it reads them when it runs);
    # the recorded forward value does not change.
    assert y.item() == 10.0 and dw.item() == 2.0 and dx.item() == -1.0


def test_no_copy_when_nothing_recorded_the_value():
    w = ac.Variable(ac.tensor([1.0, 2.0]))
    buffer = w._data
    with ac.GradientTape() as tape:
        loss = ac.sum(w * w)
    tape.gradient(loss, w)  # a non-persistent tape frees its nodes: no capture is alive
    del loss
    gc.collect()
    w.assign_add(1.0)
    assert w._data is buffer and not w._captures


def test_a_live_capture_gets_the_old_value_and_the_variable_keeps_its_buffer():
    w = ac.Variable(ac.tensor([1.0, 2.0]))
    buffer = w._data
    with ac.GradientTape(persistent=True) as tape:
        loss = ac.sum(w * w)
    w.assign([5.0, 5.0])
    assert w._data is buffer  # the variable's storage never moves
    numpy.testing.assert_array_equal(tape.gradient(loss, w).numpy(), [2.0, 4.0])


def test_captures_do_not_keep_tapes_alive():
    w = ac.Variable(ac.tensor([1.0, 2.0]))
    with ac.GradientTape(persistent=True) as tape:
        loss = ac.sum(w * w)
    ref = weakref.ref(loss)
    del tape, loss
    gc.collect()
    assert ref() is None
    w.assign_add(1.0)
    assert not w._captures


def test_checkpoint_restore_after_the_forward_pass(tmp_path):
    w = ac.Variable(ac.tensor([1.0, 2.0]), name="w")
    ckpt = ac.Checkpoint(w=w)
    path = ckpt.save(tmp_path / "ckpt")
    w.assign([7.0, 7.0])
    with ac.GradientTape(persistent=True) as tape:
        loss = ac.sum(w * w)
    ckpt.restore(path)
    numpy.testing.assert_array_equal(w.numpy(), [1.0, 2.0])
    numpy.testing.assert_array_equal(tape.gradient(loss, w).numpy(), [14.0, 14.0])


def test_a_recorded_slot_keeps_its_value_through_a_step():
    w = ac.Variable(ac.tensor([1.0, 2.0], dtype="float64"))
    opt = ac.optimizers.Adam(0.1)
    opt.apply_gradients([(ac.tensor([1.0, 1.0], dtype="float64"), w)])
    m = opt.get_slot(w, "m")
    m.trainable = True
    with ac.GradientTape(persistent=True) as tape:
        tape.watch(m)
        loss = ac.sum(m * m)
    before = m.numpy()
    opt.apply_gradients([(ac.tensor([1.0, 1.0], dtype="float64"), w)])
    assert not numpy.array_equal(m.numpy(), before)
    numpy.testing.assert_array_equal(tape.gradient(loss, m).numpy(), 2 * before)
