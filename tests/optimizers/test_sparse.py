"""Optimizers given IndexedSlices (optimizers/sparse.py, semantics.md section 17): the dense result
by default, lazy updates with lazy_sparse=True (TF1's sparse optimizers, LazyAdam, PyTorch's
SparseAdam), DeepRec's sparse AdagradDecay, and bad input refused before anything changes."""

import numpy
import pytest

import accel as ac
from accel import kernels
from accel.optimizers import sparse

opts = ac.optimizers
INIT = numpy.arange(12, dtype=numpy.float64).reshape(6, 2) / 10.0
# Three steps with repeated rows (the values are exact binary fractions).
STEPS = [([0, 2, 2], [[0.5, -1.0], [0.25, 0.5], [-1.5, 2.0]]),
         ([4, 2, 4, 4], [[1.0, 1.0], [2.0, -1.0], [-0.5, 0.25], [0.75, 0.5]]),
         ([5, 0], [[-2.0, 1.0], [1.0, 3.0]])]


def _slices(ids, values, dtype="float64", rows=6):
    return ac.IndexedSlices(ac.tensor(values, dtype=dtype), ids, (rows, numpy.shape(values)[1]))


def _run(opt, steps=STEPS, dense=False, init=INIT):
    v = ac.Variable(init.copy(), name="table")
    for ids, values in steps:
        g = _slices(ids, values, dtype=v.dtype, rows=init.shape[0])
        opt.apply_gradients([(ac.convert_to_tensor(g) if dense else g, v)])
    return v


def _state(opt, v):
    return [v.numpy()] + [opt.get_slot(v, name).numpy() for name in opt.get_slot_names()]


# -- TF1's sparse optimizers (TensorFlow 2.21, tf.compat.v1.train, float64; hyperparameters exact in
# float32, as TF1 converts them) -------------------------------------------------------------------
TF1_LAZY = {
    "momentum": (lambda: opts.SGD(0.125, momentum=0.875, lazy_sparse=True),  # MomentumOptimizer(0.125, 0.875)
                 [[-0.2421875, -0.040624999999999994], [0.2, 0.3], [0.44296875, 0.0390625], [0.6, 0.7],
                  [0.64375, 0.68125], [1.25, 0.9750000000000001]]),
    "adagrad": (lambda: opts.Adagrad(0.125, initial_accumulator_value=0.125, epsilon=0, lazy_sparse=True),
                [[-0.20866243079377098, 0.1], [0.2, 0.3], [0.41545282240898024, 0.42226028802283183], [0.6, 0.7],
                 [0.679718693918828, 0.7774754926475491], [1.1230914909793328, 0.9821488698022421]]),
    "ftrl": (lambda: opts.Ftrl(0.125, learning_rate_power=-0.5, initial_accumulator_value=0.125,
                            l1_regularization_strength=0.015625, l2_regularization_strength=0.03125,
                            lazy_sparse=True),
             [[-0.20352196094223077, 0.06377818572110382], [0.2, 0.3], [0.3029748830444877, 0.35039850277464],
              [0.6, 0.7], [0.4577299382716977, 0.5955489183167778], [0.9444193706116604, 0.6091539367319683]]),
}


@pytest.mark.parametrize("name", sorted(TF1_LAZY))
def test_lazy_updates_equal_tf1_sparse_optimizers(name):
    make, expected = TF1_LAZY[name]
    numpy.testing.assert_allclose(_run(make()).numpy(), expected, rtol=1e-15, atol=1e-15)


def test_adam_by_default_equals_tf1_adam_which_is_not_lazy():
    opt = opts.Adam(0.125, beta_1=0.875, beta_2=0.9990234375, epsilon=2.0 ** -20)
    expected = [[-0.3088787747078176, 0.24960062170849728], [0.2, 0.3], [0.46120379221789143, 0.3017612952715892],
                [0.6, 0.7], [0.6340044205074935, 0.7340032623898975], [1.0819492760885754, 1.0180519743199827]]
    numpy.testing.assert_allclose(_run(opt).numpy(), expected, rtol=1e-7)  # TF1 orders the bias terms apart


# -- the default: the dense gradient's result, for every optimizer (clipping aside: a norm of slices is
# the norm of their values as they are, repeated rows not summed, as TensorFlow's) -------------------
CONFIGS = {
    "sgd": lambda **k: opts.SGD(0.1, **k),
    "sgd_momentum": lambda **k: opts.SGD(0.1, momentum=0.9, **k),
    "sgd_nesterov": lambda **k: opts.SGD(0.1, momentum=0.9, nesterov=True, **k),
    "adagrad": lambda **k: opts.Adagrad(0.1, **k),
    "adagrad_decay": lambda **k: opts.AdagradDecay(0.1, accumulator_decay_step=1000, **k),
    "rmsprop": lambda **k: opts.RMSprop(0.01, **k),
    "rmsprop_centered_momentum": lambda **k: opts.RMSprop(0.01, momentum=0.5, centered=True, **k),
    "adam": lambda **k: opts.Adam(0.1, **k),
    "adam_amsgrad": lambda **k: opts.Adam(0.1, amsgrad=True, **k),
    "adamw": lambda **k: opts.AdamW(0.1, weight_decay=0.01, **k),
    "adamax": lambda **k: opts.Adamax(0.1, **k),
    "nadam": lambda **k: opts.Nadam(0.1, **k),
    "adadelta": lambda **k: opts.Adadelta(1.0, **k),
    "ftrl": lambda **k: opts.Ftrl(0.1, l1_regularization_strength=0.01, **k),
    "lion": lambda **k: opts.Lion(0.01, **k),
    "lamb": lambda **k: opts.Lamb(0.01, **k),
    "sgd_ema": lambda **k: opts.SGD(0.1, use_ema=True, **k),
    "sgd_accumulating": lambda **k: opts.SGD(0.1, gradient_accumulation_steps=2, **k),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_the_default_equals_the_dense_gradient_bit_for_bit(name):
    sparse_opt, dense_opt = CONFIGS[name](), CONFIGS[name]()
    a, b = _run(sparse_opt), _run(dense_opt, dense=True)
    for x, y in zip(_state(sparse_opt, a), _state(dense_opt, b)):
        numpy.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("name, rows", [("sgd", True), ("adagrad", True), ("adagrad_decay", True),
                                        ("sgd_momentum", False), ("adam", False), ("sgd_ema", False),
                                        ("sgd_accumulating", False), ("lamb", False)])
def test_the_default_launches_only_the_touched_rows_where_the_rule_allows(name, rows, monkeypatch):
    calls = []
    launch = kernels.launch
    monkeypatch.setattr(kernels, "launch", lambda *a, **k: calls.append(k.get("rows")) or launch(*a, **k))
    _run(CONFIGS[name](), STEPS[:1])
    assert calls and all((r is not None) == rows for r in calls[:1])
    if rows:
        ids, length = calls[0][0]
        assert ids.tolist() == [0, 2] and length == 2  # deduplicated, sorted


# -- lazy_sparse --------------------------------------------------------------------------------------
LAZY = sorted(set(CONFIGS) - {"sgd_accumulating"})


@pytest.mark.parametrize("name", LAZY)
def test_lazy_leaves_untouched_rows_and_their_slots_alone(name):
    opt = CONFIGS[name](lazy_sparse=True)
    v = ac.Variable(INIT.copy())
    opt.apply_gradients([(_slices([0, 1, 2, 3, 4, 5], numpy.ones((6, 2))), v)])  # every slot row moves
    before = _state(opt, v)
    opt.apply_gradients([(_slices([4, 1, 4], [[1.0, -2.0], [0.5, 0.5], [0.25, 1.0]]), v)])
    after = _state(opt, v)
    for x, y in zip(before, after):
        numpy.testing.assert_array_equal(x[[0, 2, 3, 5]], y[[0, 2, 3, 5]])
    assert not numpy.array_equal(before[0][[1, 4]], after[0][[1, 4]])


@pytest.mark.parametrize("name", LAZY)
def test_lazy_equals_dense_when_every_row_is_touched(name):
    steps = [([5, 0, 1, 2, 3, 4, 0], numpy.linspace(-1, 1, 14).reshape(7, 2)),
             ([0, 1, 2, 3, 4, 5], numpy.linspace(2, -1, 12).reshape(6, 2))]
    lazy, dense = CONFIGS[name](lazy_sparse=True), CONFIGS[name]()
    a, b = _run(lazy, steps), _run(dense, steps, dense=True)
    for x, y in zip(_state(lazy, a), _state(dense, b)):
        numpy.testing.assert_array_equal(x, y)


def _lazy_adam_reference(steps, lr, beta_1, beta_2, epsilon):
    """TF Addons' LazyAdam: touched rows only, lr_t = lr sqrt(1 - beta_2^t) / (1 - beta_1^t) with t
    the global step, var -= lr_t m / (sqrt(v) + epsilon)."""
    var, m, v = INIT.copy(), numpy.zeros_like(INIT), numpy.zeros_like(INIT)
    for t, (ids, values) in enumerate(steps, start=1):
        g = numpy.zeros_like(INIT)
        numpy.add.at(g, ids, values)
        rows = sorted(set(ids))
        m[rows] = beta_1 * m[rows] + (1 - beta_1) * g[rows]
        v[rows] = beta_2 * v[rows] + (1 - beta_2) * g[rows] ** 2
        lr_t = lr * numpy.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
        var[rows] -= lr_t * m[rows] / (numpy.sqrt(v[rows]) + epsilon)
    return var


def test_lazy_lamb_takes_its_trust_ratio_over_the_named_rows():
    beta_1, beta_2, eps, lr = 0.9, 0.999, 1e-7, 0.01
    got = _run(opts.Lamb(lr, lazy_sparse=True), STEPS)
    var, m, v = INIT.copy(), numpy.zeros_like(INIT), numpy.zeros_like(INIT)
    for t, (ids, values) in enumerate(STEPS, start=1):
        g = numpy.zeros_like(INIT)
        numpy.add.at(g, ids, values)
        rows = sorted(set(ids))
        m[rows] += (g[rows] - m[rows]) * (1 - beta_1)
        v[rows] += (g[rows] ** 2 - v[rows]) * (1 - beta_2)
        r = (m[rows] / (1 - beta_1 ** t)) / (numpy.sqrt(v[rows] / (1 - beta_2 ** t)) + eps)
        ratio = numpy.linalg.norm(var[rows]) / numpy.linalg.norm(r)
        var[rows] -= ratio * lr * r
    numpy.testing.assert_allclose(got.numpy(), var, rtol=1e-13)


def test_lazy_adam_equals_lazy_adams_formula():
    got = _run(opts.Adam(0.1, epsilon=1e-7, lazy_sparse=True)).numpy()
    numpy.testing.assert_allclose(got, _lazy_adam_reference(STEPS, 0.1, 0.9, 0.999, 1e-7), rtol=1e-13)


def test_lazy_adam_equals_pytorchs_sparse_adam():
    torch = pytest.importorskip("torch")
    weight = torch.nn.Parameter(torch.tensor(INIT))
    opt = torch.optim.SparseAdam([weight], lr=0.1, eps=1e-10)
    for ids, values in STEPS:
        opt.zero_grad()
        weight.grad = torch.sparse_coo_tensor(torch.tensor([ids]), torch.tensor(values, dtype=torch.float64), (6, 2),
                                              check_invariants=True)
        opt.step()
    got = _run(opts.Adam(0.1, epsilon=1e-10, lazy_sparse=True)).numpy()
    numpy.testing.assert_allclose(got, weight.detach().numpy(), rtol=1e-12)


def test_lazy_sparse_is_part_of_the_config():
    opt = opts.Adam(0.1, lazy_sparse=True)
    assert opt.get_config()["lazy_sparse"] is True and opts.Adam.from_config(opt.get_config()).lazy_sparse
    with pytest.raises(TypeError, match="lazy_sparse"):
        opts.Adam(lazy_sparse=1)


# -- AdagradDecay: DeepRec's SparseApplyAdagradDecay ----------------------------------------------------
def _deeprec_reference(steps, lr, init_acc, decay_step, decay_rate, rows=6):
    """DeepRec's kernel, row by row: a named row decays once when t // decay_step exceeds its power
    (power + 1), then acc += g^2 and var -= lr g / sqrt(acc); duplicates summed first (TF1)."""
    var, acc, power = INIT[:rows].copy(), numpy.full((rows, 2), init_acc), numpy.zeros(rows, numpy.int64)
    for t, (ids, values) in enumerate(steps, start=1):
        g = numpy.zeros_like(var)
        numpy.add.at(g, ids, values)
        for r in sorted(set(ids)):
            if t // decay_step > power[r]:
                acc[r] = numpy.maximum(acc[r] * decay_rate, init_acc)
                power[r] += 1
            acc[r] += g[r] ** 2
            var[r] -= lr * g[r] / numpy.sqrt(acc[r])
    return var, acc, power


def test_adagrad_decay_sparse_steps_are_deeprecs():
    steps = STEPS * 3 + [([1], [[4.0, -4.0]])]  # row 1 first touched at t = 10: one decay, power 1
    opt = opts.AdagradDecay(0.1, initial_accumulator_value=0.01, accumulator_decay_step=2, accumulator_decay_rate=0.5)
    v = _run(opt, steps)
    var, acc, power = _deeprec_reference(steps, 0.1, 0.01, 2, 0.5)
    numpy.testing.assert_allclose(v.numpy(), var, rtol=1e-14)
    numpy.testing.assert_allclose(opt.get_slot(v, "accumulator").numpy(), acc, rtol=1e-14)
    assert opt.get_slot(v, "accumulator_decay_power").numpy().tolist() == power.tolist()
    assert power.tolist() == [4, 1, 4, 0, 3, 3]


def test_adagrad_decay_dense_step_after_sparse_ones_decays_the_rows_that_are_behind():
    opt = opts.AdagradDecay(0.1, initial_accumulator_value=0.01, accumulator_decay_step=1, accumulator_decay_rate=0.5)
    v = _run(opt, STEPS[:2])  # powers: rows 0, 2 -> 1 at t=1; rows 2, 4 -> t=2: 2 and 1
    powers = opt.get_slot(v, "accumulator_decay_power").numpy().copy()
    acc = opt.get_slot(v, "accumulator").numpy().copy()
    g = numpy.full((6, 2), 0.5)
    opt.apply_gradients([(ac.tensor(g), v)])  # t = 3: every row is behind 3, each decays once
    expected_acc = numpy.maximum(acc * 0.5, 0.01) + 0.25
    numpy.testing.assert_allclose(opt.get_slot(v, "accumulator").numpy(), expected_acc, rtol=1e-15)
    assert (opt.get_slot(v, "accumulator_decay_power").numpy() == powers + 1).all()


# -- clipping, loss scaling -------------------------------------------------------------------------------
def test_global_clipnorm_reads_the_values_as_they_are():
    s = _slices([1, 1, 3], [[0.5, -1.0], [0.25, 0.5], [-1.5, 2.0]])
    v = ac.Variable(INIT.copy())
    opts.SGD(1.0, global_clipnorm=1.0).apply_gradients([(s, v)])
    expected = INIT - ac.convert_to_tensor(s).numpy() / 2.7950849718747373  # not the dense norm 2.6575
    numpy.testing.assert_allclose(v.numpy(), expected, rtol=1e-15)


def test_loss_scaling_and_skipping_with_slices():
    inner, plain = opts.Adam(0.1), opts.Adam(0.1)
    opt = opts.LossScaleOptimizer(inner, initial_scale=8.0)
    a, b = ac.Variable(INIT.copy()), ac.Variable(INIT.copy())
    opt.apply_gradients([(_slices([0, 2, 2], numpy.full((3, 2), 8.0)), a)])
    plain.apply_gradients([(_slices([0, 2, 2], numpy.ones((3, 2))), b)])
    numpy.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-15)
    opt.apply_gradients([(_slices([1], [[numpy.inf, 0.0]]), a)])  # skipped: nothing moves
    numpy.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-15)
    assert opt.dynamic_scale.numpy() == 4.0 and inner.iterations == 1


# -- bad input: a clear error, nothing modified -------------------------------------------------------------
@pytest.mark.parametrize("grad, error, match", [
    (lambda: _slices([0, 6], numpy.ones((2, 2))), IndexError, r"names row 6 \(indices\[1\]\), not in \[0, 6\)"),
    (lambda: _slices([-1, 0], numpy.ones((2, 2))), IndexError, "names row -1"),
    (lambda: _slices([0], numpy.ones((1, 2)), rows=7), ValueError, r"dense_shape \(7, 2\)"),
    (lambda: ac.IndexedSlices(ac.ones((1, 3), dtype="float64"), [0]), ValueError, r"rows of shape \(3,\)"),
    (lambda: ac.IndexedSlices(ac.tensor([[1, 2]]), [0], (6, 2)), TypeError, "floating point"),
])
def test_bad_slices_change_nothing(grad, error, match):
    opt = opts.Adam(0.1)
    v, w = ac.Variable(INIT.copy(), name="table"), ac.Variable([1.0, 2.0], name="w")
    opt.apply_gradients([(_slices([1], [[1.0, 1.0]]), v), (ac.tensor([1.0, 1.0]), w)])
    before = _state(opt, v) + _state(opt, w)
    with pytest.raises(error, match=match):
        opt.apply_gradients([(grad(), v), (ac.tensor([1.0, 1.0]), w)])
    for x, y in zip(before, _state(opt, v) + _state(opt, w)):
        numpy.testing.assert_array_equal(x, y)
    assert opt.iterations == 1


def test_slices_without_a_dense_shape_take_the_variables():
    for opt in (opts.SGD(0.5), opts.Adam(0.5)):  # rows, and densified
        v = ac.Variable(INIT.copy())
        opt.apply_gradients([(ac.IndexedSlices(ac.ones((2, 2), dtype="float64"), [1, 1]), v)])
        assert (v.numpy()[1] < INIT[1]).all() and (v.numpy()[[0, 2, 3, 4, 5]] == INIT[[0, 2, 3, 4, 5]]).all()


def test_float_indices_are_refused_when_made():
    with pytest.raises(TypeError, match="indices must be integers"):
        ac.IndexedSlices(ac.ones((1, 2)), [0.5], (6, 2))


def test_a_0d_variable_cannot_take_slices():
    with pytest.raises(ValueError, match="0-d"):
        opts.SGD(0.1).apply_gradients([(_slices([0], [[1.0]], rows=1), ac.Variable(1.0, dtype="float64"))])


@pytest.mark.parametrize("ids, match", [([2, 0], "strictly increasing"), ([1, 1], "strictly increasing"),
                                        ([0, 6], r"not in \[0, 6\)")])
def test_the_kernels_check_row_ids_before_writing(ids, match):
    param, slot = numpy.array(INIT), numpy.zeros_like(INIT)
    table = kernels.table("adagrad", [param], [[slot]])
    with pytest.raises((ValueError, IndexError), match=match):
        kernels.launch(table, [numpy.ones(4)], scalars=[0.1, 1e-7, 1.0, 0.0],
                       rows=[(numpy.array(ids, numpy.int64), 2)])
    numpy.testing.assert_array_equal(param, INIT)
    assert not slot.any()


# -- training ----------------------------------------------------------------------------------------------
def test_a_traced_training_step_follows_the_ids_of_every_call():
    def step_fn(opt, v):
        @ac.function
        def step(ids):
            with ac.GradientTape() as tape:
                loss = ac.sum(ac.square(ac.gather(v, ids)))
            opt.apply_gradients([(tape.gradient(loss, v), v)])
        return step

    traced_v, eager_v = ac.Variable(INIT.copy()), ac.Variable(INIT.copy())
    traced, eager_opt = step_fn(opts.Adagrad(0.1), traced_v), opts.Adagrad(0.1)
    for ids in ([0, 1], [4, 4], [5, 2]):
        traced(ac.tensor(ids))
        with ac.GradientTape() as tape:
            loss = ac.sum(ac.square(ac.gather(eager_v, ids)))
        eager_opt.apply_gradients([(tape.gradient(loss, eager_v), eager_v)])
        numpy.testing.assert_array_equal(traced_v.numpy(), eager_v.numpy())


def test_fit_trains_an_embedding_through_slices(monkeypatch):
    seen = []
    prepare = sparse.prepare
    monkeypatch.setattr(sparse, "prepare", lambda opt, grads, variables: seen.append(1) or prepare(opt, grads,
                                                                                                     variables))
    rng = numpy.random.default_rng(0)
    ids = rng.integers(0, 50, size=(256, 3))
    y = (ids.sum(axis=1) % 2).astype(numpy.float32)[:, None]
    model = ac.nn.Sequential([ac.nn.Embedding(50, 8), ac.nn.Flatten(), ac.nn.Dense(1)])
    model.compile(optimizer=opts.Adagrad(0.5, lazy_sparse=True), loss="mse")
    history = model.fit(ids, y, epochs=3, batch_size=64, verbose=0)
    assert seen and history.history["loss"][-1] < history.history["loss"][0]


def test_mixed_precision_fit_keeps_the_table_gradient_sparse(monkeypatch):
    seen = []
    prepare = sparse.prepare
    monkeypatch.setattr(sparse, "prepare", lambda opt, grads, variables: seen.append(
        [type(g).__name__ for g in grads]) or prepare(opt, grads, variables))
    ac.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = ac.nn.Sequential([ac.nn.Embedding(40, 8), ac.nn.Flatten(), ac.nn.Dense(1)])
        model.compile(optimizer=opts.Adagrad(0.5), loss="mse")
        ids = numpy.random.default_rng(1).integers(0, 40, size=(64, 2))
        model.fit(ids, ids.sum(axis=1, keepdims=True).astype("float32") / 80, epochs=2, batch_size=32, verbose=0)
    finally:
        ac.mixed_precision.set_global_policy("float32")
    assert isinstance(model.optimizer, opts.LossScaleOptimizer)
    assert seen and seen[0][0] == "IndexedSlices" and model.layers[0].embeddings.dtype == numpy.float32


def test_a_checkpoint_holds_the_per_row_powers_and_takes_an_older_single_one(tmp_path):
    opt = opts.AdagradDecay(0.1, accumulator_decay_step=1)
    v = _run(opt, STEPS[:2])
    powers = opt.get_slot(v, "accumulator_decay_power").numpy()
    assert powers.tolist() == [1, 0, 2, 0, 1, 0]
    path = ac.Checkpoint(v=v, opt=opt).save(tmp_path / "rows.npz")
    v2, opt2 = ac.Variable(INIT.copy(), name="table"), opts.AdagradDecay(0.1, accumulator_decay_step=1)
    ac.Checkpoint(v=v2, opt=opt2).restore(path)
    assert opt2.get_slot(v2, "accumulator_decay_power").numpy().tolist() == powers.tolist()
    # a file written when the power was one int64 per variable: every row takes it
    slot = opt.get_slot(v, "accumulator_decay_power")
    slot._data = numpy.array(3, numpy.int64)
    older = ac.Checkpoint(v=v, opt=opt).save(tmp_path / "older.npz")
    ac.Checkpoint(v=v2, opt=opt2).restore(older)
    assert opt2.get_slot(v2, "accumulator_decay_power").numpy().tolist() == [3] * 6
