"""Keras's use_ema and gradient_accumulation_steps (semantics.md section 8), fused into the launch.

Checked against the worked values of the reference (Keras 3.15 on TensorFlow, float64), against
an independent float64 NumPy transcription of Keras's apply (EMA after the update, the mean of
the accumulated gradients, clipping of that mean, schedules at the raw call count) over many
steps, and for every kernel against the same optimizer without accumulation fed the means."""

import warnings

import numpy
import pytest

import accel as ac
from accel import kernels
from accel import optimizers as opts


def f64(values):
    return ac.tensor(values, dtype="float64")


def _average(opt, var):
    return opt.get_slot(var, "average").numpy()


# ---- the reference's worked values -------------------------------------------------------------
def test_ema_worked_value():
    opt = opts.SGD(0.5, use_ema=True, ema_momentum=0.5)
    v = ac.Variable(f64([1.0]), name="e")
    averages = []
    for _ in range(3):
        opt.apply_gradients([(f64([1.0]), v)])
        averages.append(float(_average(opt, v)[0]))
    assert averages == [0.5, 0.25, -0.125]
    assert v.numpy().tolist() == [-0.5]


def test_ema_follows_gradient_less_variables_and_constraints_run_after_it():
    c = ac.Variable(f64([0.2]), name="c", constraint=lambda w: ac.maximum(w, 0.0))
    u = ac.Variable(f64([5.0]), name="u")
    opt = opts.SGD(1.0, use_ema=True, ema_momentum=0.5)
    with pytest.warns(UserWarning, match="Gradients do not exist"):
        opt.apply_gradients([(f64([1.0]), c), (None, u)])
    assert c.numpy().tolist() == [0.0]
    assert _average(opt, c).tolist() == [-0.8]  # the average saw the unconstrained value
    assert _average(opt, u).tolist() == [5.0]
    assert opt.iterations == 1


def test_accumulation_worked_value():
    opt = opts.SGD(0.5, gradient_accumulation_steps=2)
    v = ac.Variable(f64([1.0]))
    opt.apply_gradients([(f64([1.0]), v)])
    assert v.numpy().tolist() == [1.0] and (opt.iterations, opt.raw_iterations) == (0, 1)
    assert opt.get_slot(v, "gradient_accumulator").numpy().tolist() == [1.0]
    opt.apply_gradients([(f64([3.0]), v)])
    assert v.numpy().tolist() == [0.0] and (opt.iterations, opt.raw_iterations) == (1, 2)
    assert opt.get_slot(v, "gradient_accumulator").numpy().tolist() == [0.0]


@pytest.mark.parametrize("frequency,grads,averages,values", [
    (None, [1.0, 3.0, 1.0, 1.0], [1.0, 0.0, 0.0, -0.25], [1.0, 0.0, 0.0, -0.5]),
    (2, [1.0, 1.0, 1.0, 1.0], [1.0, 0.5, 0.5, 0.25], [1.0, 0.5, 0.5, 0.25]),
])
def test_ema_with_accumulation_runs_every_call(frequency, grads, averages, values):
    opt = opts.SGD(0.5, gradient_accumulation_steps=2, use_ema=True, ema_momentum=0.5,
                   ema_overwrite_frequency=frequency)
    v = ac.Variable(f64([1.0]), name="q")
    got_averages, got_values = [], []
    for g in grads:
        opt.apply_gradients([(f64([g]), v)])
        got_averages.append(float(_average(opt, v)[0]))
        got_values.append(float(v.numpy()[0]))
    assert got_averages == averages and got_values == values


# ---- Keras's formulas over many steps (float64) ------------------------------------------------
def _adam(w, m, v, g, lr, t, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    alpha = lr * numpy.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
    m = m + (g - m) * (1 - beta_1)
    v = v + (g * g - v) * (1 - beta_2)
    return w - m * alpha / (numpy.sqrt(v) + epsilon), m, v


SHAPES = [(3, 4), (5,), (1,)]


def _data(seed, calls):
    rng = numpy.random.default_rng(seed)
    values = [rng.standard_normal(s) for s in SHAPES]
    grads = [[rng.standard_normal(s) for s in SHAPES] for _ in range(calls)]
    return values, grads


@pytest.mark.parametrize("frequency", [None, 3])
def test_ema_with_adam_matches_kerass_formulas(frequency):
    values, grads = _data(1, 7)
    variables = [ac.Variable(f64(v), name=f"w{i}") for i, v in enumerate(values)]
    opt = opts.Adam(0.01, use_ema=True, ema_momentum=0.9, ema_overwrite_frequency=frequency)
    ref = [(w.copy(), numpy.zeros_like(w), numpy.zeros_like(w), numpy.zeros_like(w)) for w in values]
    for it, step in enumerate(grads):  # it = iterations before the call
        opt.apply_gradients(zip(map(f64, step), variables))
        momentum = 0.9 if it != 0 else 0.0
        new = []
        for (w, m, v, avg), g in zip(ref, step):
            w, m, v = _adam(w, m, v, g, 0.01, it + 1)
            avg = momentum * avg + (1 - momentum) * w
            if frequency and (it + 1) % frequency == 0:
                w = avg.copy()
            new.append((w, m, v, avg))
        ref = new
        for var, (w, _, _, avg) in zip(variables, ref):
            numpy.testing.assert_allclose(var.numpy(), w, rtol=1e-12, atol=1e-14)
            numpy.testing.assert_allclose(_average(opt, var), avg, rtol=1e-12, atol=1e-14)
    opt.finalize_variable_values(variables)
    for var, (_, _, _, avg) in zip(variables, ref):
        numpy.testing.assert_array_equal(var.numpy(), _average(opt, var))
        numpy.testing.assert_allclose(var.numpy(), avg, rtol=1e-12, atol=1e-14)


class InverseTime(opts.schedules.LearningRateSchedule):
    def __call__(self, step):
        return 0.1 / (1.0 + step)


@pytest.mark.parametrize("clip", ["clipnorm", "global_clipnorm", "clipvalue", None])
@pytest.mark.parametrize("loss_scale", [None, 4.0])
def test_accumulation_with_adam_schedule_clipping_and_decay_matches_kerass_formulas(clip, loss_scale):
    steps, wd = 3, 0.05
    bound = 2.2 if clip == "global_clipnorm" else 1.5  # each side of it is taken
    values, grads = _data(2, 12)
    variables = [ac.Variable(f64(v), name=f"w{i}") for i, v in enumerate(values)]
    opt = opts.Adam(learning_rate=InverseTime(), gradient_accumulation_steps=steps, weight_decay=wd,
                    loss_scale_factor=loss_scale, **({clip: bound} if clip else {}))
    f = loss_scale or 1.0
    ref = [(w.copy(), numpy.zeros_like(w), numpy.zeros_like(w)) for w in values]
    acc = [numpy.zeros_like(w) for w in values]
    clipped = []
    for k, step in enumerate(grads):
        opt.apply_gradients(zip([f64(g * f) for g in step], variables))
        if (k + 1) % steps == 0:
            mean = [(g + a) / steps for g, a in zip(step, acc)]
            if clip == "clipnorm":
                norms = [numpy.sqrt(numpy.sum(g * g)) for g in mean]
                clipped += [n > bound for n in norms]
                mean = [g * bound / max(n, bound) for g, n in zip(mean, norms)]
            elif clip == "global_clipnorm":
                norm = numpy.sqrt(sum(numpy.sum(g * g) for g in mean))
                clipped.append(norm > bound)
                mean = [g * bound / max(norm, bound) for g in mean]
            elif clip == "clipvalue":
                mean = [numpy.clip(g, -bound, bound) for g in mean]
            lr = 0.1 / (1.0 + k)  # the schedule sees the raw call count
            ref = [_adam(w - w * wd * lr, m, v, g, lr, k // steps + 1) for (w, m, v), g in zip(ref, mean)]
            acc = [numpy.zeros_like(a) for a in acc]
        else:
            acc = [a + g for a, g in zip(acc, step)]
        for var, (w, _, _), a in zip(variables, ref, acc):
            numpy.testing.assert_allclose(var.numpy(), w, rtol=1e-12, atol=1e-14)
            numpy.testing.assert_allclose(opt.get_slot(var, "gradient_accumulator").numpy(), a, rtol=1e-12,
                                          atol=1e-14)
        assert (opt.iterations, opt.raw_iterations) == ((k + 1) // steps, k + 1)
    if clip in ("clipnorm", "global_clipnorm"):
        assert any(clipped) and not all(clipped)  # the data exercises both sides of the bound


# Every kernel: accumulating S gradients is the same step as one call with their mean.
MAKERS = {
    "sgd": lambda **kw: opts.SGD(0.1, **kw),
    "nesterov": lambda **kw: opts.SGD(0.1, momentum=0.9, nesterov=True, **kw),
    "adagrad": lambda **kw: opts.Adagrad(0.1, **kw),
    "adagrad_decay": lambda **kw: opts.AdagradDecay(0.1, accumulator_decay_step=2, **kw),
    "rmsprop_centered_momentum": lambda **kw: opts.RMSprop(0.01, momentum=0.5, centered=True, **kw),
    "adamw_amsgrad": lambda **kw: opts.AdamW(0.01, weight_decay=0.1, amsgrad=True, **kw),
    "adadelta": lambda **kw: opts.Adadelta(0.5, **kw),
    "adamax": lambda **kw: opts.Adamax(0.01, **kw),
    "nadam": lambda **kw: opts.Nadam(0.01, **kw),
    "ftrl": lambda **kw: opts.Ftrl(0.1, l1_regularization_strength=0.01, **kw),
    "lion": lambda **kw: opts.Lion(0.01, **kw),
    "lamb": lambda **kw: opts.Lamb(0.01, **kw),
}


@pytest.mark.parametrize("name", list(MAKERS))
@pytest.mark.parametrize("ema", [False, True])
def test_accumulation_equals_one_step_with_the_mean(name, ema):
    steps = 3
    values, grads = _data(3, 3 * steps)
    ema_args = {"use_ema": True, "ema_momentum": 0.75, "ema_overwrite_frequency": 2} if ema else {}
    accumulated = [ac.Variable(f64(v), name=f"a{i}") for i, v in enumerate(values)]
    direct = [ac.Variable(f64(v), name=f"d{i}") for i, v in enumerate(values)]
    opt_acc = MAKERS[name](gradient_accumulation_steps=steps, **ema_args)
    opt_direct = MAKERS[name](**ema_args)
    for update in range(3):
        block = grads[update * steps:(update + 1) * steps]
        for step in block:
            opt_acc.apply_gradients(zip(map(f64, step), accumulated))
        # Keras's mean: (g_S + (g_1 + ... + g_{S-1})) / S, summed in call order.
        means = []
        for i in range(len(SHAPES)):
            total = numpy.zeros(SHAPES[i])
            for step in block[:-1]:
                total = total + step[i]
            means.append((block[-1][i] + total) / steps)
        opt_direct.apply_gradients(zip(map(f64, means), direct))
        for a, d in zip(accumulated, direct):
            if not ema:  # with EMA the averages also move on the calls between updates
                numpy.testing.assert_array_equal(a.numpy(), d.numpy())
    assert opt_acc.iterations == opt_direct.iterations == 3
    if not ema:
        for a, d in zip(accumulated, direct):
            for slot in opt_direct.get_slot_names():
                numpy.testing.assert_array_equal(opt_acc.get_slot(a, slot).numpy(), opt_direct.get_slot(d, slot).numpy())


def test_sgd_momentum_accumulation_matches_kerass_formulas():
    values, grads = _data(4, 6)
    w, buf, acc = values[0].copy(), numpy.zeros(SHAPES[0]), numpy.zeros(SHAPES[0])
    var = ac.Variable(f64(values[0]))
    opt = opts.SGD(learning_rate=InverseTime(), momentum=0.875, gradient_accumulation_steps=2)
    for k, step in enumerate(grads):
        opt.apply_gradients([(f64(step[0]), var)])
        if (k + 1) % 2 == 0:
            buf = buf * 0.875 - (step[0] + acc) / 2 * (0.1 / (1.0 + k))
            w, acc = w + buf, numpy.zeros_like(acc)
        else:
            acc = acc + step[0]
        numpy.testing.assert_allclose(var.numpy(), w, rtol=1e-13, atol=1e-15)


# ---- one launch per group, lower precisions, custom optimizers -----------------------------------
def test_each_call_is_one_launch_per_group(monkeypatch):
    variables = [ac.Variable(ac.zeros((4, 3)), name="a"), ac.Variable(ac.zeros((5,)), name="b"),
                 ac.Variable(ac.zeros((2,), dtype="float64"), name="c")]
    opt = opts.Adam(0.01, use_ema=True, gradient_accumulation_steps=2)
    calls = []
    original = kernels.launch
    monkeypatch.setattr(kernels, "launch", lambda *a, **kw: calls.append(kw.get("accumulation")) or original(*a, **kw))
    for _ in range(4):
        opt.apply_gradients([(ac.ones_like(v), v) for v in variables])
    # two (device, dtype) groups: float32 (a, b) and float64 (c); each call one launch per group
    assert calls == ["add", "add", "mean", "mean", "add", "add", "mean", "mean"]


@pytest.mark.parametrize("dtype,tol", [("float32", 1e-5), ("float16", 3e-2)])
def test_lower_precisions_follow_float64(dtype, tol):
    values, grads = _data(5, 6)
    results = {}
    for dt in ("float64", dtype):
        variables = [ac.Variable(ac.tensor(v, dtype=dt)) for v in values]
        opt = opts.Adam(0.01, use_ema=True, ema_momentum=0.5, gradient_accumulation_steps=2)
        for step in grads:
            opt.apply_gradients(zip([ac.tensor(g, dtype=dt) for g in step], variables))
        results[dt] = [(v.numpy().astype(float), _average(opt, v).astype(float)) for v in variables]
    for (v, a), (w, b) in zip(results[dtype], results["float64"]):
        numpy.testing.assert_allclose(v, w, rtol=tol, atol=tol)
        numpy.testing.assert_allclose(a, b, rtol=tol, atol=tol)


class PlainSGD(opts.Optimizer):
    def update_step(self, gradient, variable, learning_rate):
        variable.assign_sub(gradient * learning_rate)


@pytest.mark.parametrize("kwargs", [
    {"use_ema": True, "ema_momentum": 0.5, "ema_overwrite_frequency": 3},
    {"gradient_accumulation_steps": 2},
    {"gradient_accumulation_steps": 3, "use_ema": True, "ema_momentum": 0.9, "global_clipnorm": 1.0},
])
def test_custom_optimizers_get_ema_and_accumulation_too(kwargs):
    values, grads = _data(6, 6)
    fused = [ac.Variable(f64(v)) for v in values]
    custom = [ac.Variable(f64(v)) for v in values]
    opt_fused, opt_custom = opts.SGD(0.1, **kwargs), PlainSGD(0.1, **kwargs)
    for step in grads:
        opt_fused.apply_gradients(zip(map(f64, step), fused))
        opt_custom.apply_gradients(zip(map(f64, step), custom))
    for a, b in zip(fused, custom):
        numpy.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-13, atol=1e-15)
        for slot in opt_fused.get_slot_names():
            numpy.testing.assert_allclose(opt_fused.get_slot(a, slot).numpy(), opt_custom.get_slot(b, slot).numpy(),
                                          rtol=1e-13, atol=1e-15)
    assert opt_custom.get_slot_names() == opt_fused.get_slot_names()
    assert opt_custom.iterations == opt_fused.iterations


# ---- settings, state, checkpoints --------------------------------------------------------------
@pytest.mark.parametrize("kwargs,error,message", [
    ({"use_ema": True, "ema_momentum": 1.5}, ValueError, r"`ema_momentum` must be in the range \[0, 1\]"),
    ({"use_ema": True, "ema_momentum": -0.1}, ValueError, r"`ema_momentum` must be in the range"),
    ({"use_ema": True, "ema_overwrite_frequency": 1.5}, ValueError,
     "`ema_overwrite_frequency` must be an integer >= 1 or None"),
    ({"use_ema": True, "ema_overwrite_frequency": 0}, ValueError, "`ema_overwrite_frequency` must be an integer"),
    ({"use_ema": 1}, TypeError, "use_ema must be True or False"),
    ({"gradient_accumulation_steps": 1}, ValueError, "`gradient_accumulation_steps` must be an integer >= 2"),
    ({"gradient_accumulation_steps": 2.0}, ValueError, "`gradient_accumulation_steps` must be an integer >= 2"),
    ({"gradient_accumulation_steps": True}, ValueError, "`gradient_accumulation_steps` must be an integer"),
])
def test_validation(kwargs, error, message):
    with pytest.raises(error, match=message):
        opts.SGD(0.1, **kwargs)


def test_ema_settings_are_not_validated_without_use_ema():
    opt = opts.SGD(0.1, ema_momentum=7.0)  # Keras: ignored unless use_ema
    assert opt.get_config()["ema_momentum"] == 7.0 and "average" not in opt.get_slot_names()


def test_slot_names_config_round_trip_and_checkpoint_resume(tmp_path):
    make = lambda: opts.Adam(0.01, use_ema=True, ema_momentum=0.8, ema_overwrite_frequency=4,  # noqa: E731
                             gradient_accumulation_steps=3)
    opt = make()
    assert opt.get_slot_names() == ["average", "gradient_accumulator", "m", "v"]
    config = opt.get_config()
    assert {k: config[k] for k in ("use_ema", "ema_momentum", "ema_overwrite_frequency",
                                   "gradient_accumulation_steps")} == {
        "use_ema": True, "ema_momentum": 0.8, "ema_overwrite_frequency": 4, "gradient_accumulation_steps": 3}
    assert opts.Adam.from_config(config).get_config() == config
    values, grads = _data(7, 10)

    def fresh():
        variables = [ac.Variable(f64(v), name=f"w{i}") for i, v in enumerate(values)]
        return variables, make()

    variables, opt = fresh()
    for step in grads:
        opt.apply_gradients(zip(map(f64, step), variables))
    straight = [v.numpy() for v in variables]
    variables, opt = fresh()
    for step in grads[:5]:  # mid-cycle: the accumulators hold two gradients
        opt.apply_gradients(zip(map(f64, step), variables))
    path = ac.Checkpoint(w=variables, opt=opt).save(tmp_path / "ckpt")
    variables, opt = fresh()
    opt.build(variables)
    ac.Checkpoint(w=variables, opt=opt).restore(path)
    assert (opt.iterations, opt.raw_iterations) == (1, 5)
    for step in grads[5:]:
        opt.apply_gradients(zip(map(f64, step), variables))
    for v, want in zip(variables, straight):
        numpy.testing.assert_array_equal(v.numpy(), want)


def test_iterations_setter_starts_a_cycle_and_counts_are_checked():
    opt = opts.SGD(0.1, gradient_accumulation_steps=4)
    opt.iterations = 3
    assert (opt.iterations, opt.raw_iterations) == (3, 12)
    opt.raw_iterations = 13
    assert opt.iterations == 3
    with pytest.raises(ValueError, match="raw_iterations must be >= 0"):
        opt.raw_iterations = -1
    with pytest.raises(TypeError, match="iterations must be an int"):
        opt.iterations = 1.5


def test_a_bad_call_changes_no_accumulator_or_average():
    v = ac.Variable(f64([1.0, 2.0]))
    opt = opts.Adam(0.1, use_ema=True, gradient_accumulation_steps=2)
    opt.apply_gradients([(f64([1.0, 1.0]), v)])
    before = [v.numpy()] + [opt.get_slot(v, s).numpy() for s in opt.get_slot_names()]
    with pytest.raises(ValueError, match="shape"):
        opt.apply_gradients([(f64([1.0, 1.0, 1.0]), v)])
    after = [v.numpy()] + [opt.get_slot(v, s).numpy() for s in opt.get_slot_names()]
    for a, b in zip(before, after):
        numpy.testing.assert_array_equal(a, b)
    assert opt.raw_iterations == 1


def test_skip_nonfinite_skips_an_accumulating_call():
    v = ac.Variable(f64([1.0]))
    opt = opts.SGD(0.5, gradient_accumulation_steps=2, skip_nonfinite=True, use_ema=True)
    opt.apply_gradients([(f64([numpy.inf]), v)])
    assert opt.raw_iterations == 0 and opt.skipped_steps == 1
    assert opt.get_slot(v, "gradient_accumulator").numpy().tolist() == [0.0]
    opt.apply_gradients([(f64([1.0]), v)])
    opt.apply_gradients([(f64([3.0]), v)])
    assert v.numpy().tolist() == [0.0]


def test_finalize_without_ema_changes_nothing_and_checks_its_argument():
    v = ac.Variable(f64([1.0]))
    opts.SGD(0.1).finalize_variable_values([v])
    assert v.numpy().tolist() == [1.0]
    with pytest.raises(TypeError, match="expected Variables"):
        opts.SGD(0.1, use_ema=True).finalize_variable_values([f64([1.0])])


def test_accumulators_of_variables_without_a_gradient_restart_at_each_update():
    a, b = ac.Variable(f64([1.0]), name="a"), ac.Variable(f64([1.0]), name="b")
    opt = opts.SGD(0.5, gradient_accumulation_steps=2)
    opt.apply_gradients([(f64([1.0]), a), (f64([1.0]), b)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        opt.apply_gradients([(f64([1.0]), a), (None, b)])  # an update: every accumulator restarts
    assert opt.get_slot(b, "gradient_accumulator").numpy().tolist() == [0.0]
    assert b.numpy().tolist() == [1.0] and a.numpy().tolist() == [0.5]
