"""Optimizer base behaviour (semantics.md section 3): entry points, errors, slots, clipping,
weight decay, custom optimizers, slot bookkeeping and storage."""


import numpy
import pytest

import accel as ac
from accel import optimizers


def _var(values, name=None, dtype="float64"):
    return ac.Variable(values, dtype=dtype, name=name)


def _grad(values, dtype="float64"):
    return ac.tensor(values, dtype=dtype)


# -- validation messages ---------------------------------------------------------------------------
@pytest.mark.parametrize("make,message", [
    (lambda: optimizers.SGD(-0.1), r"SGD: learning_rate must be >= 0, got -0.1"),
    (lambda: optimizers.SGD(0.1, momentum=1.5), r"SGD: momentum must be in \[0, 1\], got 1.5"),
    (lambda: optimizers.Adam(beta_1=1.0), r"Adam: beta_1 must be in \[0, 1\), got 1.0"),
    (lambda: optimizers.Adam(beta_2=-0.1), r"Adam: beta_2 must be in \[0, 1\), got -0.1"),
    (lambda: optimizers.Adam(epsilon=-1e-7), r"Adam: epsilon must be >= 0"),
    (lambda: optimizers.AdamW(weight_decay=-1), r"AdamW: weight_decay must be >= 0, got -1"),
    (lambda: optimizers.RMSprop(rho=1.0), r"RMSprop: rho must be in \[0, 1\), got 1.0"),
    (lambda: optimizers.Adagrad(initial_accumulator_value=-1), r"Adagrad: initial_accumulator_value must be >= 0"),
    (lambda: optimizers.AdagradDecay(initial_accumulator_value=0), r"AdagradDecay: initial_accumulator_value must be > 0"),
    (lambda: optimizers.AdagradDecay(accumulator_decay_step=0), r"AdagradDecay: accumulator_decay_step must be an int > 0"),
    (lambda: optimizers.AdagradDecay(accumulator_decay_rate=1.0), r"AdagradDecay: accumulator_decay_rate must be in \(0, 1\)"),
    (lambda: optimizers.AdagradDecay(accumulator_decay_rate=0.0), r"AdagradDecay: accumulator_decay_rate must be in \(0, 1\)"),
    (lambda: optimizers.SGD(clipnorm=1.0, clipvalue=1.0), "only one of clipnorm, clipvalue and global_clipnorm"),
    (lambda: optimizers.SGD(global_clipnorm=0.0), r"SGD: global_clipnorm must be > 0, got 0.0"),
    (lambda: optimizers.Adam(learning_rate="fast"), r"Adam: learning_rate must be a finite real number, got 'fast'"),
])
def test_hyperparameter_validation(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_defaults_match_the_reference():
    assert optimizers.SGD().get_config()["learning_rate"] == 0.01
    adam = optimizers.Adam().get_config()
    assert (adam["learning_rate"], adam["beta_1"], adam["beta_2"], adam["epsilon"], adam["amsgrad"]) == \
        (0.001, 0.9, 0.999, 1e-7, False)
    assert optimizers.AdamW().weight_decay == 0.004
    rms = optimizers.RMSprop().get_config()
    assert (rms["rho"], rms["momentum"], rms["epsilon"], rms["centered"]) == (0.9, 0.0, 1e-7, False)
    ada = optimizers.Adagrad().get_config()
    assert (ada["learning_rate"], ada["initial_accumulator_value"], ada["epsilon"]) == (0.001, 0.1, 1e-7)
    decay = optimizers.AdagradDecay().get_config()
    assert (decay["accumulator_decay_step"], decay["accumulator_decay_rate"]) == (100000, 0.9)


def test_get_config_serialises_schedules():
    config = optimizers.Adam(optimizers.schedules.CosineDecay(1e-3, 100)).get_config()
    assert config["learning_rate"] == {"class_name": "CosineDecay", "config": {
        "initial_learning_rate": 1e-3, "decay_steps": 100, "alpha": 0.0, "warmup_target": None, "warmup_steps": 0,
        "name": None}}


# -- entry points ------------------------------------------------------------------------------------
def test_empty_var_list_and_empty_apply():
    with pytest.raises(ValueError, match="No variables to optimize."):
        optimizers.SGD().compute_gradients(lambda: ac.tensor(1.0), [])
    with pytest.raises(ValueError, match="No variables provided."):
        optimizers.SGD().apply_gradients([])


def test_all_none_gradients_name_the_variables():
    a, b = _var([1.0], name="a"), _var([2.0], name="b")
    opt = optimizers.SGD(0.1)
    with pytest.raises(ValueError, match=r"No gradients provided for any variable: \['a', 'b'\]"):
        opt.apply_gradients([(None, a), (None, b)])
    assert opt.iterations == 0


def test_some_none_gradients_are_skipped_with_a_warning():
    a, b = _var([1.0], name="a"), _var([2.0], name="b")
    opt = optimizers.SGD(0.5)
    with pytest.warns(UserWarning, match=r"Gradients do not exist for variables \['b'\]"):
        opt.apply_gradients([(_grad([1.0]), a), (None, b)])
    assert a.numpy().tolist() == [0.5] and b.numpy().tolist() == [2.0] and opt.iterations == 1


def test_minimize_with_a_recorded_tensor_and_tape():
    w = _var([1.0, 2.0])
    opt = optimizers.SGD(0.1)
    with ac.GradientTape() as tape:
        loss = ac.sum(w * w)
    opt.minimize(loss, [w], tape=tape)
    numpy.testing.assert_allclose(w.numpy(), [0.8, 1.6])
    with pytest.raises(ValueError, match="a tensor loss needs the tape"):
        opt.minimize(loss, [w])


def test_compute_gradients_returns_pairs_with_none():
    w, unused = _var([3.0]), _var([1.0])
    pairs = optimizers.SGD().compute_gradients(lambda: ac.sum(w * w), [w, unused])
    assert pairs[0][0].numpy().tolist() == [6.0] and pairs[0][1] is w
    assert pairs[1] == (None, unused)


def test_bad_gradients_raise_before_anything_changes():
    a, b = _var([1.0, 2.0], name="a"), _var([3.0], name="b")
    opt = optimizers.Adam(0.1)
    opt.apply_gradients([(_grad([1.0, 1.0]), a), (_grad([1.0]), b)])
    snapshot = [a.numpy(), b.numpy(), opt.get_slot(a, "m").numpy(), opt.get_slot(b, "v").numpy()]
    with pytest.raises(ValueError, match=r"the gradient for 'b' has shape \(2,\), expected the variable's shape \(1,\)"):
        opt.apply_gradients([(_grad([1.0, 1.0]), a), (_grad([1.0, 1.0]), b)])
    with pytest.raises(TypeError, match="expected Variables, got Tensor at position 1"):
        opt.apply_gradients([(_grad([1.0, 1.0]), a), (_grad([1.0]), ac.tensor([3.0]))])
    with pytest.raises(TypeError, match=r"entry 0 must be a \(gradient, variable\) pair"):
        opt.apply_gradients([a])
    after = [a.numpy(), b.numpy(), opt.get_slot(a, "m").numpy(), opt.get_slot(b, "v").numpy()]
    for x, y in zip(snapshot, after):
        numpy.testing.assert_array_equal(x, y)
    assert opt.iterations == 1


def test_integer_variables_are_rejected():
    v = ac.Variable([1, 2])
    with pytest.raises(TypeError, match="must be floating point"):
        optimizers.SGD().apply_gradients([(ac.tensor([1, 1]), v)])


# -- slots -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("make,names", [
    (lambda: optimizers.SGD(), []),
    (lambda: optimizers.SGD(momentum=0.9), ["momentum"]),
    (lambda: optimizers.Adagrad(), ["accumulator"]),
    (lambda: optimizers.AdagradDecay(), ["accumulator", "accumulator_decay_power"]),
    (lambda: optimizers.RMSprop(), ["rms"]),
    (lambda: optimizers.RMSprop(momentum=0.5, centered=True), ["mg", "momentum", "rms"]),
    (lambda: optimizers.Adam(), ["m", "v"]),
    (lambda: optimizers.Adam(amsgrad=True), ["m", "v", "vhat"]),
])
def test_slot_names(make, names):
    assert make().get_slot_names() == names


def test_slots_are_lazy_shaped_like_the_variable_and_initialised():
    w = _var(numpy.ones((2, 3)), name="w")
    opt = optimizers.Adagrad(initial_accumulator_value=0.25)
    with pytest.raises(KeyError, match="has no slots yet"):
        opt.get_slot(w, "accumulator")
    opt.build([w])
    acc = opt.get_slot(w, "accumulator")
    assert isinstance(acc, ac.Variable) and acc.shape == (2, 3) and acc.dtype == ac.float64
    assert acc.device == w.device and not acc.trainable
    numpy.testing.assert_array_equal(acc.numpy(), numpy.full((2, 3), 0.25))
    with pytest.raises(KeyError, match=r"no slot 'm'; this optimizer's slots are \['accumulator'\]"):
        opt.get_slot(w, "m")
    assert [v.name for v in opt.variables] == ["iteration", "learning_rate", "w/accumulator"]


def test_slot_variables_follow_updates():
    w = _var([1.0])
    opt = optimizers.SGD(0.1, momentum=0.9)
    opt.apply_gradients([(_grad([1.0]), w)])
    m = opt.get_slot(w, "momentum")
    numpy.testing.assert_allclose(m.numpy(), [-0.1])
    opt.apply_gradients([(_grad([1.0]), w)])
    numpy.testing.assert_allclose(m.numpy(), [-0.19])  # the same Variable object, updated in place


def test_mixed_dtypes_and_subsets_of_variables():
    a = _var([1.0, 2.0], dtype="float32")
    b = _var([3.0], dtype="float64")
    c = _var([4.0, 5.0, 6.0], dtype="float16")
    opt = optimizers.SGD(0.5)
    opt.apply_gradients([(_grad([1.0, 1.0], "float32"), a), (_grad([1.0]), b), (_grad([2.0, 2.0, 2.0], "float16"), c)])
    opt.apply_gradients([(_grad([1.0]), b)])  # a different subset later
    opt.apply_gradients([(_grad([1.0, 1.0], "float64"), a)])  # a float64 gradient for float32 is cast
    numpy.testing.assert_allclose(a.numpy(), [0.0, 1.0])
    numpy.testing.assert_allclose(b.numpy(), [2.0])
    numpy.testing.assert_allclose(c.numpy(), [3.0, 4.0, 5.0])
    assert a.dtype == ac.float32 and c.dtype == ac.float16


def test_variables_keep_working_after_joining_a_flat_buffer():
    w = _var([[1.0, 2.0], [3.0, 4.0]])
    opt = optimizers.SGD(1.0)
    opt.apply_gradients([(_grad([[1.0, 1.0], [1.0, 1.0]]), w)])
    w.assign_add(ac.tensor([[1.0, 1.0], [1.0, 1.0]], dtype="float64"))
    opt.apply_gradients([(_grad([[0.0, 0.0], [0.0, 1.0]]), w)])
    numpy.testing.assert_array_equal(w.numpy(), [[1.0, 2.0], [3.0, 3.0]])


def test_a_variable_shared_by_two_optimizers_is_updated_by_both():
    w = _var([1.0, 1.0])
    buffer = w._data
    first, second = optimizers.SGD(1.0), optimizers.Adam(1.0)
    first.apply_gradients([(_grad([1.0, 0.0]), w)])
    second.apply_gradients([(_grad([0.0, 1.0]), w)])
    first.apply_gradients([(_grad([1.0, 0.0]), w)])
    numpy.testing.assert_allclose(w.numpy(), [-1.0, 0.0], atol=1e-5)  # Adam moves by lr*(1 - ~3e-6)
    assert w._data is buffer  # neither optimizer moved the variable's storage


# -- clipping and weight decay through the fused path ---------------------------------------------
def _reference_sgd(values, grads, lr, clip=None, decay=0.0):
    values = [numpy.asarray(v, float) for v in values]
    grads = [numpy.asarray(g, float) for g in grads]
    if clip is not None:
        grads = clip(grads)
    return [v - v * decay * lr - lr * g for v, g in zip(values, grads)]


@pytest.mark.parametrize("kwargs,clip", [
    ({"clipnorm": 1.0}, lambda gs: [g * 1.0 / max(numpy.linalg.norm(g), 1.0) for g in gs]),
    ({"clipvalue": 0.5}, lambda gs: [numpy.clip(g, -0.5, 0.5) for g in gs]),
    ({"global_clipnorm": 2.0}, lambda gs: [g * 2.0 / max(numpy.sqrt(sum((x * x).sum() for x in gs)), 2.0) for g in gs]),
])
def test_clipping_options(kwargs, clip):
    values, grads = [[1.0, 2.0, 3.0], [4.0]], [[3.0, -4.0, 0.1], [0.2]]
    variables = [_var(v) for v in values]
    optimizers.SGD(0.1, **kwargs).apply_gradients([(_grad(g), v) for g, v in zip(grads, variables)])
    for var, want in zip(variables, _reference_sgd(values, grads, 0.1, clip)):
        numpy.testing.assert_allclose(var.numpy(), want, rtol=1e-12)


def test_weight_decay_is_decoupled_and_uses_the_learning_rate():
    values, grads = [[1.0, -2.0]], [[0.5, 0.5]]
    v = _var(values[0])
    optimizers.SGD(0.1, weight_decay=0.2).apply_gradients([(_grad(grads[0]), v)])
    numpy.testing.assert_allclose(v.numpy(), _reference_sgd(values, grads, 0.1, decay=0.2)[0], rtol=1e-12)


# -- custom optimizers ----------------------------------------------------------------------------
class GradientDescent(optimizers.Optimizer):
    """The TensorFlow Core tutorial's custom optimizer, in a few lines."""

    def update_step(self, gradient, variable, learning_rate):
        variable.assign_sub(learning_rate * gradient)


class MomentumInPython(optimizers.Optimizer):
    def build(self, var_list):
        super().build(var_list)
        for var in var_list:
            self.add_slot(var, "velocity")

    def update_step(self, gradient, variable, learning_rate):
        velocity = self.get_slot(variable, "velocity")
        velocity.assign(0.9 * velocity - learning_rate * gradient)
        variable.assign_add(velocity)


def test_custom_optimizer_in_a_few_lines():
    x = _var([2.0])
    opt = GradientDescent(learning_rate=0.1)
    opt.minimize(lambda: ac.sum(x * x), [x])
    numpy.testing.assert_allclose(x.numpy(), [1.6])
    assert opt.iterations == 1


def test_custom_optimizer_with_slots_matches_the_fused_one():
    a, b = _var([1.0, -1.0]), _var([1.0, -1.0])
    custom, fused = MomentumInPython(learning_rate=0.1, clipvalue=0.5), optimizers.SGD(0.1, momentum=0.9, clipvalue=0.5)
    for g in ([1.0, 0.2], [-2.0, 0.3], [0.4, 0.4]):
        custom.apply_gradients([(_grad(g), a)])
        fused.apply_gradients([(_grad(g), b)])
    numpy.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)
    assert custom.get_slot_names() == ["velocity"]
    numpy.testing.assert_allclose(custom.get_slot(a, "velocity").numpy(), fused.get_slot(b, "momentum").numpy())


def test_an_optimizer_without_a_rule_or_update_step_says_so():
    class Incomplete(optimizers.Optimizer):
        rule = "sgd"

    with pytest.raises(TypeError, match="Incomplete must define _scalars or update_step"):
        Incomplete().apply_gradients([(_grad([1.0]), _var([1.0]))])


@pytest.mark.parametrize("scalars", [
    {"alpha": 0.1, "beta_1": 0.9, "beta_2": 0.999},  # one missing
    {"alpha": 0.1, "beta_1": 0.9, "beta_2": 0.999, "eps": 1e-7},  # misspelt
    [0.1, 0.999, 0.9, 1e-7],  # the right count, in an order nothing can check
])
def test_a_rules_scalars_are_checked_by_name_before_anything_changes(scalars):
    """The kernel reads its scalars in the registry's order (kernels.RULES[...].scalars): an
    optimizer names them, so a swapped pair cannot reach the kernel as a count check would let it."""
    class Swapped(optimizers.Adam):
        def _scalars(self, lr, step):
            return scalars

    v = _var([1.0, 2.0])
    opt = Swapped(0.1)
    with pytest.raises(TypeError, match=r"must give the scalars of rule adam by name, \['alpha', 'beta_1', 'beta_2', "
                                        r"'epsilon'\]"):
        opt.apply_gradients([(_grad([0.1, 0.1]), v)])
    assert v.numpy().tolist() == [1.0, 2.0] and opt.iterations == 0
    assert optimizers.Adam(0.1).rule_scalars(0.1, 1) == pytest.approx([0.1 * 0.001 ** 0.5 / 0.1, 0.9, 0.999, 1e-7], rel=1e-15)


def test_a_failed_launch_changes_no_optimizer_state(monkeypatch):
    """AdagradDecay decides its decays before the launch but commits them only after it."""
    from accel import kernels

    v = _var([1.0, 2.0])
    opt = optimizers.AdagradDecay(1.0, accumulator_decay_step=1)
    opt.apply_gradients([(_grad([0.1, 0.1]), v)])
    power = opt.get_slot(v, "accumulator_decay_power").numpy().tolist()

    def failing_launch(*args, **kwargs):
        raise RuntimeError("device lost")

    monkeypatch.setattr(kernels, "launch", failing_launch)
    with pytest.raises(RuntimeError, match="device lost"):
        opt.apply_gradients([(_grad([0.1, 0.1]), v)])
    assert opt.get_slot(v, "accumulator_decay_power").numpy().tolist() == power
    assert opt.iterations == 1


def test_growing_a_group_keeps_a_replaced_variable_current():
    a, b = _var([1.0]), _var([5.0])
    first, second = optimizers.SGD(1.0), optimizers.SGD(1.0)
    first.apply_gradients([(_grad([1.0]), a)])       # a lives in first's buffer
    second.apply_gradients([(_grad([1.0]), a)])      # ... now in second's: first's copy is stale
    first.apply_gradients([(_grad([0.0]), a), (_grad([0.0]), b)])  # first grows its buffer for b
    numpy.testing.assert_array_equal(a.numpy(), [-1.0])


@pytest.mark.parametrize("clip", [{"clipnorm": 1.0}, {"global_clipnorm": 1.0}, {}])
def test_non_contiguous_gradients_train_with_every_clip_mode(clip):
    """Defect: the gradient of x @ w.T is not contiguous; with clipnorm / global_clipnorm the norm
    kernel raised 'expected a C-contiguous array'."""
    x = ac.tensor([[1.0, 2.0, 3.0]], dtype="float64")
    w = _var([[1.0, 0.5, -1.0], [0.0, 2.0, 1.0]])
    twin = _var([[1.0, 0.5, -1.0], [0.0, 2.0, 1.0]])
    opt, twin_opt = optimizers.Adam(0.1, **clip), optimizers.Adam(0.1, **clip)
    for _ in range(3):
        opt.minimize(lambda: ac.mean(ac.square(x @ w.T)), [w])
        with ac.GradientTape() as tape:
            loss = ac.mean(ac.square(x @ twin.T))
        (g,) = tape.gradient(loss, [twin])
        twin_opt.apply_gradients([(ac.tensor(g.numpy().copy()), twin)])  # the same values, contiguous
    numpy.testing.assert_array_equal(w.numpy(), twin.numpy())
    assert not numpy.allclose(w.numpy(), [[1.0, 0.5, -1.0], [0.0, 2.0, 1.0]])


def test_norm_kernels_take_strided_arrays():
    from accel import kernels

    g = numpy.arange(20, dtype=numpy.float32)
    m = numpy.arange(12.0).reshape(3, 4)
    views = [g[::2], g[::-1], m.T, m[:, 1]]
    want = [float(numpy.sum(v.astype(numpy.float64) ** 2)) for v in views]
    numpy.testing.assert_allclose(kernels.norms_sq(views), want, rtol=1e-15)
    assert kernels.global_norm_sq(views) == pytest.approx(sum(want), rel=1e-15)


# -- optimizers leave users' storage alone ---------------------------------------------------------
def test_a_numpy_alias_sees_every_update():
    """Defect: the optimizer moved w into a flat buffer; an alias taken before silently detached."""
    w = ac.Variable(ac.tensor([1.0, 2.0]))
    alias = numpy.asarray(w)
    optimizers.SGD(0.5).apply_gradients([(ac.tensor([1.0, 1.0]), w)])
    numpy.testing.assert_array_equal(w.numpy(), [0.5, 1.5])
    numpy.testing.assert_array_equal(alias, [0.5, 1.5])
    assert not alias.flags.writeable


def test_variables_added_over_time_keep_their_storage_and_slots():
    opt = optimizers.Adam(0.1)
    a, b = _var([1.0, 2.0], "a"), _var([3.0], "b")
    alias_a = numpy.asarray(a)
    opt.apply_gradients([(_grad([1.0, 1.0]), a)])
    m_a = opt.get_slot(a, "m")
    m_alias = numpy.asarray(m_a)
    for _ in range(3):  # b joins; a's storage, its slot Variable and the slot's storage stay
        opt.apply_gradients([(_grad([1.0, 1.0]), a), (_grad([1.0]), b)])
    c = _var([[5.0]], "c")
    opt.apply_gradients([(_grad([[1.0]]), c), (_grad([1.0, 1.0]), a)])
    assert opt.get_slot(a, "m") is m_a
    numpy.testing.assert_array_equal(alias_a, a.numpy())
    numpy.testing.assert_array_equal(m_alias, m_a.numpy())
    assert m_a.numpy()[0] > 0.0
    twin = _var([1.0, 2.0])
    twin_opt = optimizers.Adam(0.1)
    for _ in range(5):
        twin_opt.apply_gradients([(_grad([1.0, 1.0]), twin)])
    numpy.testing.assert_array_equal(a.numpy(), twin.numpy())


def test_the_optimizer_does_not_keep_a_dropped_model_alive():
    import gc
    import weakref

    opt = optimizers.Adam(0.1)
    model = ac.nn.Dense(3)
    model(ac.ones((2, 4)))
    keep = _var([1.0])
    for _ in range(2):
        with ac.GradientTape() as tape:
            loss = ac.sum(model(ac.ones((2, 4)))) + ac.sum(keep)
        variables = list(model.trainable_variables) + [keep]
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
    refs = [weakref.ref(model)] + [weakref.ref(v) for v in model.trainable_variables]
    slot_refs = [weakref.ref(opt.get_slot(v, "m")) for v in model.trainable_variables]
    del model, variables, tape, loss
    gc.collect()
    assert all(r() is None for r in refs + slot_refs)
    assert [v for v, _, _ in opt.slot_owners()] == [keep, keep]
    opt.apply_gradients([(_grad([1.0]), keep)])  # the optimizer goes on with what is left


def test_malformed_pairs_raise_even_after_a_cached_step():
    """Hardening: the pair check depended on the plan cache."""
    g, a, b = _grad([1.0]), _var([1.0]), _var([2.0])
    opt = optimizers.SGD(0.1)
    opt.apply_gradients([(g, a), (g, b)])
    with pytest.raises(TypeError, match="entry 0 must be a \\(gradient, variable\\) pair"):
        opt.apply_gradients([(g, a, "x"), (g, b)])
    assert a.numpy().tolist() == [0.9] and opt.iterations == 1


# -- non-finite gradients ----------------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda **kw: optimizers.Adam(0.1, **kw), lambda **kw: optimizers.SGD(0.1, momentum=0.9, **kw),
    lambda **kw: optimizers.Adam(0.1, global_clipnorm=1.0, **kw), lambda **kw: optimizers.Lamb(0.1, **kw),
    lambda **kw: optimizers.RMSprop(0.1, clipnorm=1.0, **kw),
])
@pytest.mark.parametrize("bad", [numpy.nan, numpy.inf, -numpy.inf])
def test_skip_nonfinite_skips_the_whole_step(make, bad):
    a, b = _var([1.0, 2.0], "a"), _var([3.0], "b")
    opt = make(skip_nonfinite=True)
    opt.apply_gradients([(_grad([0.1, 0.1]), a), (_grad([0.1]), b)])
    state = [a.numpy(), b.numpy()] + [s.numpy() for s in opt.variables]
    opt.apply_gradients([(_grad([0.1, bad]), a), (_grad([0.1]), b)])  # one bad element anywhere
    assert opt.iterations == 1 and opt.skipped_steps == 1
    for before, now in zip(state, [a.numpy(), b.numpy()] + [s.numpy() for s in opt.variables]):
        numpy.testing.assert_array_equal(before, now)
    opt.apply_gradients([(_grad([0.1, 0.1]), a), (_grad([0.1]), b)])
    assert opt.iterations == 2 and opt.skipped_steps == 1 and numpy.isfinite(a.numpy()).all()


def test_by_default_a_nonfinite_gradient_is_applied_as_in_tensorflow():
    w = _var([1.0, 2.0])
    opt = optimizers.Adam(0.1)
    opt.apply_gradients([(_grad([0.1, numpy.nan]), w)])
    assert opt.iterations == 1 and opt.skipped_steps == 0
    assert w.numpy()[0] != 1.0 and numpy.isnan(w.numpy()[1])


def test_skip_nonfinite_for_custom_optimizers_and_its_validation():
    class Plain(optimizers.Optimizer):
        def update_step(self, gradient, variable, learning_rate):
            variable.assign_sub(learning_rate * gradient)

    w = _var([1.0])
    opt = Plain(0.5, skip_nonfinite=True)
    opt.apply_gradients([(_grad([numpy.inf]), w)])
    assert w.numpy().tolist() == [1.0] and opt.iterations == 0 and opt.skipped_steps == 1
    assert opt.get_config()["skip_nonfinite"] is True
    with pytest.raises(TypeError, match="skip_nonfinite must be True or False"):
        optimizers.SGD(0.1, skip_nonfinite=1)


def test_the_missing_gradient_warning_points_at_the_users_line():
    a, b = ac.Variable(ac.tensor([1.0]), name="a"), ac.Variable(ac.tensor([1.0]), name="b")
    opt = ac.optimizers.SGD(0.1)
    for call in (lambda: opt.apply_gradients([(ac.tensor([1.0]), a), (None, b)]),
                 lambda: opt.apply([ac.tensor([1.0]), None], [a, b]),
                 lambda: opt.minimize(lambda: ac.sum(a * 2.0), [a, b])):
        with pytest.warns(UserWarning, match="Gradients do not exist") as record:
            call()
        assert record[0].filename == __file__


def test_every_optimizer_documents_every_argument():
    """help(ac.optimizers.Adam) explains each of its arguments, and points at the common ones."""
    import inspect

    for name in ac.optimizers.__all__:
        cls = getattr(ac.optimizers, name)
        if not (isinstance(cls, type) and issubclass(cls, ac.optimizers.Optimizer)) or cls is ac.optimizers.Optimizer:
            continue
        doc = inspect.getdoc(cls) or ""
        arguments = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "kwargs")]
        assert [a for a in arguments if a not in doc] == [], name
        assert "accel.optimizers.Optimizer" in doc, name
