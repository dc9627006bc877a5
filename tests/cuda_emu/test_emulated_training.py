"""EMULATION: accel's own API (tensors, ops, tapes, optimizers, random) on CPU-emulated CUDA
devices: the real Optimizer.apply_gradients launches the unmodified CUDA kernels, compared with the
same optimizer on the CPU; work on cuda:1 while cuda:0 is current stays on cuda:1."""

import contextlib

import numpy
import pytest

import accel as ac

OPTIMIZERS = {
    "sgd": lambda **kw: ac.optimizers.SGD(0.1, **kw),
    "momentum": lambda **kw: ac.optimizers.SGD(0.1, momentum=0.9, **kw),
    "nesterov": lambda **kw: ac.optimizers.SGD(0.1, momentum=0.9, nesterov=True, **kw),
    "adagrad": lambda **kw: ac.optimizers.Adagrad(0.1, **kw),
    "adagrad_decay": lambda **kw: ac.optimizers.AdagradDecay(0.1, accumulator_decay_step=2, **kw),
    "rmsprop": lambda **kw: ac.optimizers.RMSprop(0.01, **kw),
    "rmsprop_centered_momentum": lambda **kw: ac.optimizers.RMSprop(0.01, momentum=0.5, centered=True, **kw),
    "adam": lambda **kw: ac.optimizers.Adam(0.01, **kw),
    "amsgrad": lambda **kw: ac.optimizers.Adam(0.01, amsgrad=True, **kw),
    "adamw": lambda **kw: ac.optimizers.AdamW(0.01, **{"weight_decay": 0.1, **kw}),
    "adadelta": lambda **kw: ac.optimizers.Adadelta(0.5, **kw),
    "adamax": lambda **kw: ac.optimizers.Adamax(0.01, **kw),
    "nadam": lambda **kw: ac.optimizers.Nadam(0.01, **kw),
    "ftrl": lambda **kw: ac.optimizers.Ftrl(0.1, l1_regularization_strength=0.01, **kw),
    "lion": lambda **kw: ac.optimizers.Lion(0.01, **kw),
    "lamb": lambda **kw: ac.optimizers.Lamb(0.01, **kw),
}
CLIPS = {"none": {}, "clipvalue": {"clipvalue": 0.5}, "decay": {"weight_decay": 0.01},
         "clipnorm": {"clipnorm": 1.0}, "global_clipnorm": {"global_clipnorm": 1.0}}
SHAPES = [(3, 5), (7,), (70_001,), (1,)]  # one variable crosses a CUDA chunk boundary


def _train(make, clip, device, dtype, steps=3):
    rng = numpy.random.default_rng(3)
    values = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads = [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(steps)]
    variables = [ac.Variable(ac.tensor(v, device=device), name=f"v{i}") for i, v in enumerate(values)]
    opt = make(**clip)
    for step in grads:
        opt.apply_gradients(zip([ac.tensor(g, device=device) for g in step], variables))
    slots = {name: [opt.get_slot(v, name).numpy() for v in variables] for name in opt.get_slot_names()}
    return [v.numpy() for v in variables], slots


# Every clip mode in float32; float16 and float64 without clipping and with the device-side norm.
CASES = [(name, clip, "float32") for name in OPTIMIZERS for clip in CLIPS] + [
    (name, clip, dtype) for name in OPTIMIZERS for clip in ("none", "global_clipnorm")
    for dtype in ("float16", "float64")]


@pytest.mark.parametrize("name,clip,dtype", CASES, ids=["-".join(c) for c in CASES])
def test_emulated_optimizer_matches_cpu(emulated_cuda, name, clip, dtype):
    cpu_values, cpu_slots = _train(OPTIMIZERS[name], CLIPS[clip], "cpu", dtype)
    emu_values, emu_slots = _train(OPTIMIZERS[name], CLIPS[clip], "cuda:1", dtype)
    if clip in ("clipnorm", "global_clipnorm") or name == "lamb":
        # The norms (and Lamb's trust ratios) are summed in another order on the device: the
        # scale differs in the last bits.
        tol = {"float16": 2e-3, "float32": 2e-6, "float64": 1e-13}[dtype]
        for a, b in zip(emu_values, cpu_values):
            numpy.testing.assert_allclose(a.astype(float), b.astype(float), rtol=tol, atol=tol)
        return
    _assert_same_bits(emu_values, cpu_values, emu_slots, cpu_slots)


def _assert_same_bits(emu_values, cpu_values, emu_slots, cpu_slots):
    for a, b in zip(emu_values, cpu_values):
        assert a.tobytes() == b.tobytes()
    for key in cpu_slots:
        for a, b in zip(emu_slots[key], cpu_slots[key]):
            assert a.tobytes() == b.tobytes(), key


# Keras's use_ema and gradient_accumulation_steps: the accumulating launch (accumulate_only) and
# the update launch with the mean and the averages, four calls so both kinds run twice.
EXTRAS = {"ema": {"use_ema": True, "ema_momentum": 0.9, "ema_overwrite_frequency": 3},
          "accumulation": {"gradient_accumulation_steps": 2},
          "both": {"use_ema": True, "ema_momentum": 0.5, "gradient_accumulation_steps": 2, "clipvalue": 0.5}}
EXTRA_CASES = [(name, extra, "float32") for name in OPTIMIZERS for extra in EXTRAS] + [
    ("adam", "both", dtype) for dtype in ("float16", "float64")] + [("lion", "both", "float16")]


@pytest.mark.parametrize("name,extra,dtype", EXTRA_CASES, ids=["-".join(c) for c in EXTRA_CASES])
def test_emulated_ema_and_accumulation_match_cpu(emulated_cuda, name, extra, dtype):
    cpu_values, cpu_slots = _train(OPTIMIZERS[name], EXTRAS[extra], "cpu", dtype, steps=4)
    emu_values, emu_slots = _train(OPTIMIZERS[name], EXTRAS[extra], "cuda:1", dtype, steps=4)
    assert {"average", "gradient_accumulator"} & set(cpu_slots)
    if name == "lamb":  # the trust ratios' norms are summed in another order on the device
        for a, b in zip(emu_values + emu_slots.get("average", []), cpu_values + cpu_slots.get("average", [])):
            numpy.testing.assert_allclose(a.astype(float), b.astype(float), rtol=2e-6, atol=2e-6)
        return
    _assert_same_bits(emu_values, cpu_values, emu_slots, cpu_slots)


def test_emulated_accumulation_with_clipnorm_measures_the_mean(emulated_cuda):
    """A norm clip with accumulation adds the gradient first and measures the accumulators (on the
    device, without a host sync for the global norm)."""
    for clip in ({"clipnorm": 0.5}, {"global_clipnorm": 0.5}):
        make = OPTIMIZERS["adam"]
        extra = dict(clip, gradient_accumulation_steps=3, use_ema=True)
        cpu_values, cpu_slots = _train(make, extra, "cpu", "float64", steps=6)
        emu_values, emu_slots = _train(make, extra, "cuda:1", "float64", steps=6)
        for a, b in zip(emu_values + emu_slots["average"], cpu_values + cpu_slots["average"]):
            numpy.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-14)


def _on_device_1(t):
    return t._data.device.id == 1 and t.device == ac.get_device("cuda:1")


def test_work_on_cuda_1_stays_on_cuda_1(emulated_cuda):
    """Defect: ops never made the tensor's device current, so with cuda:0 current the results of
    cuda:1 tensors were computed on GPU 0 (here: the emulator raises, as a GPU without peer
    access does)."""
    assert emulated_cuda.current == 0
    ac.set_default_device("cuda:1")
    try:
        x = ac.tensor([[1.0, 2.0], [3.0, -4.0]])
        w = ac.Variable(ac.random.Generator(0).normal((2, 2)), name="w")
        b = ac.Variable(ac.zeros((2,)), name="b")
        labels = ac.tensor([0, 1])
        with ac.GradientTape(persistent=True) as tape:
            logits = ac.relu(x @ w.T + b) * 2.0 - ac.exp(-ac.abs(x))
            probs = ac.softmax(logits)
            loss = ac.mean(ac.sparse_softmax_cross_entropy_with_logits(labels, logits)) + ac.sum(probs[:, 0] ** 2)
            extra = ac.sum(ac.concat([ac.reshape(w, (-1,)), ac.gather(b, [1, 0])], 0)) + ac.max(ac.transpose(x))
        grads = tape.gradient(loss, [w, b])
        jac = tape.jacobian(logits, w)
        for t in (x, w, b, logits, probs, loss, extra, jac, *grads, ac.argmax(logits), ac.one_hot(labels, 3),
                  ac.clip_by_value(logits, -1, 1), ac.where(logits > 0, logits, 0.0), ac.ones((3,)),
                  ac.arange(4), ac.cast(logits, "float64"), ac.stop_gradient(w), w.value(), ac.tensor(w)):
            assert _on_device_1(t)
        for opt in (ac.optimizers.Adam(0.1, global_clipnorm=1.0), ac.optimizers.SGD(0.1, clipnorm=0.5),
                    ac.optimizers.RMSprop(0.1, clipvalue=0.1), ac.optimizers.AdamW(0.1)):
            opt.apply_gradients(zip(grads, [w, b]))
            for name in opt.get_slot_names():
                assert _on_device_1(opt.get_slot(w, name))
        clipped, norm = ac.clip_by_global_norm(grads, 0.1)
        assert all(_on_device_1(t) for t in clipped) and _on_device_1(norm)
        w.assign(ac.zeros((2, 2)))
        w.assign_add(ac.ones((2, 2)))
        w.assign_sub(0.5)
        assert _on_device_1(w) and (w.numpy() == 0.5).all()
        assert emulated_cuda.current == 0
    finally:
        ac.set_default_device("cpu")


def test_generator_normal_on_cuda(emulated_cuda):
    """Defect: CuPy's Generator has no normal(); the normal initializers raised on every GPU."""
    t = ac.random.Generator(0).normal((1000,), mean=2.0, stddev=3.0, device="cuda:0", dtype="float64")
    values = t.numpy()
    assert t.device == ac.get_device("cuda:0") and abs(values.mean() - 2.0) < 0.3 and abs(values.std() - 3.0) < 0.3
    init = ac.nn.initializers.RandomNormal(stddev=0.5, seed=1)
    assert init((3, 2), device="cuda:0").device == ac.get_device("cuda:0")
    # The CPU stream is NumPy's normal(), value for value.
    numpy.testing.assert_array_equal(ac.random.Generator(4).normal((5,), 1.0, 2.0, dtype="float64").numpy(),
                                     numpy.random.Generator(numpy.random.PCG64(4)).normal(1.0, 2.0, 5))


def test_raw_cupy_arrays_are_accepted(emulated_cuda):
    """Defect: numpy.asarray raises on CuPy arrays, so a raw CuPy array as an operand, in
    Variable.assign*, as gather indices or in testing.assert_allclose failed."""
    cupy = emulated_cuda
    with cupy.cuda.Device(1):
        raw = cupy.asarray(numpy.array([1.0, 2.0, 3.0], numpy.float32))
        indices = cupy.asarray(numpy.array([2, 0]))
        raw_times_10 = raw * 10
    x = ac.tensor([10.0, 20.0, 30.0], device="cuda:1")
    numpy.testing.assert_array_equal((x + raw).numpy(), [11, 22, 33])
    numpy.testing.assert_array_equal((raw * x).numpy(), [10, 40, 90])
    v = ac.Variable(ac.zeros((3,), device="cuda:1"))
    v.assign(raw)
    v.assign_add(raw)
    v.assign_sub(raw)
    numpy.testing.assert_array_equal(v.numpy(), [1, 2, 3])
    numpy.testing.assert_array_equal(ac.gather(x, indices).numpy(), [30, 10])
    numpy.testing.assert_array_equal(x[indices].numpy(), [30, 10])
    ac.testing.assert_allclose(x, raw_times_10)
    ac.testing.assert_allclose(raw, [1, 2, 3])
    t = ac.tensor(raw)
    assert t.device == ac.get_device("cuda:1") and t.numpy().tolist() == [1, 2, 3]
    with pytest.raises(ValueError, match="value is an array on cuda:1 but variable c is on cpu"):
        ac.Variable(ac.zeros((3,)), name="c").assign(raw)


def test_strided_gradients_train_on_both_devices(emulated_cuda):
    """Defect: a gradient through w.T is not contiguous; clipnorm / global_clipnorm raised
    'expected a C-contiguous array' on the CPU and computed wrong norms on CUDA."""
    results = {}
    for device in ("cpu", "cuda:1"):
        x = ac.tensor([[1.0, 2.0, 3.0]], device=device, dtype="float64")
        runs = []
        for opt in (ac.optimizers.Adam(0.1, global_clipnorm=1.0), ac.optimizers.Adam(0.1, clipnorm=1.0)):
            w = ac.Variable(ac.tensor([[1.0, 0.5, -1.0], [0.0, 2.0, 1.0]], device=device, dtype="float64"))
            for _ in range(3):
                opt.minimize(lambda w=w, x=x: ac.mean(ac.square(x @ w.T)), [w])
            runs.append(w.numpy())
        results[device] = runs
    for a, b in zip(results["cpu"], results["cuda:1"]):
        numpy.testing.assert_allclose(a, b, rtol=1e-13)
    assert not numpy.allclose(results["cpu"][0], [[1.0, 0.5, -1.0], [0.0, 2.0, 1.0]])


@pytest.mark.parametrize("clip", [{}, {"global_clipnorm": 1.0}])
def test_emulated_skip_nonfinite(emulated_cuda, clip):
    w = ac.Variable(ac.tensor([1.0, 2.0], device="cuda:1"))
    opt = ac.optimizers.Adam(0.1, skip_nonfinite=True, **clip)
    opt.apply_gradients([(ac.tensor([0.1, 0.1], device="cuda:1"), w)])
    before = w.numpy()
    opt.apply_gradients([(ac.tensor([numpy.nan, 0.1], device="cuda:1"), w)])
    assert opt.skipped_steps == 1 and opt.iterations == 1
    numpy.testing.assert_array_equal(w.numpy(), before)


def test_emulated_exclude_from_weight_decay(emulated_cuda):
    results = []
    for device in ("cpu", "cuda:1"):
        vs = [ac.Variable(ac.tensor([1.0, 2.0], device=device), name=n) for n in ("kernel", "bias")]
        opt = ac.optimizers.AdamW(0.1, weight_decay=0.5)
        opt.exclude_from_weight_decay(var_names=["bias"])
        for _ in range(2):
            opt.apply_gradients([(ac.tensor([0.1, 0.2], device=device), v) for v in vs])
        results.append([v.numpy() for v in vs])
    for a, b in zip(*results):
        assert a.tobytes() == b.tobytes()
    assert not numpy.array_equal(results[0][0], results[0][1])


@contextlib.contextmanager
def _host_reads(emulated_cuda, monkeypatch):
    """The shapes of the device arrays read by the host (`.get()`, float(), int(), bool()) in
    the block: every way CuPy copies device to host and waits."""
    reads = []
    array_class = emulated_cuda.ndarray
    for name in ("get", "__float__", "__int__", "__bool__"):
        original = getattr(array_class, name)

        def counted(self, *args, _original=original, **kwargs):
            reads.append(tuple(self.shape))
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(array_class, name, counted)
    try:
        yield reads
    finally:
        monkeypatch.undo()


def test_fit_on_an_emulated_gpu_matches_the_cpu_and_reads_nothing_per_batch(emulated_cuda, monkeypatch):
    """fit's data, steps and metrics stay on the model's device: the same run as on the CPU, and
    the host reads device values only at each epoch's end (one per logged value), never per batch."""
    rng = numpy.random.default_rng(0)
    x = rng.normal(size=(20, 3))
    y = numpy.sin(x[:, :1]) + 0.1 * rng.normal(size=(20, 1))

    def run(device):
        model = ac.nn.Sequential([
            ac.nn.Dense(4, activation="tanh", input_dim=3, seed=0, dtype="float64", device=device,
                        kernel_regularizer=ac.nn.regularizers.L2(0.01)),
            ac.nn.Dense(1, input_dim=4, seed=1, dtype="float64", device=device)])
        model.compile(optimizer=ac.optimizers.Adam(0.05, global_clipnorm=1.0), loss="mse", metrics=["mae"])
        history = model.fit(x, y, batch_size=4, epochs=3, validation_split=0.2, verbose=0)
        return model, history

    ac.random.set_seed(5)
    cpu_model, cpu_history = run("cpu")
    ac.random.set_seed(5)
    with _host_reads(emulated_cuda, monkeypatch) as reads:
        gpu_model, gpu_history = run("cuda:1")
    assert all(_on_device_1(v) for v in gpu_model.variables) and gpu_model.optimizer.iterations == 12
    for a, b in zip(gpu_model.get_weights(), cpu_model.get_weights()):
        numpy.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    for key in ("loss", "mae", "val_loss", "val_mae"):
        numpy.testing.assert_allclose(gpu_history.history[key], cpu_history.history[key], rtol=1e-12)
    # 4 logged values per epoch, read at its end (the global clipnorm reads no scalar either)
    assert len(reads) == 3 * 4 and all(shape == () for shape in reads)


def test_loss_scaled_steps_on_an_emulated_gpu(emulated_cuda, monkeypatch):
    """LossScaleOptimizer on a GPU decides every step there: the same updates, skips and scales as
    on the CPU, and not one device-to-host copy per step; reading the state copies three scalars."""
    rng = numpy.random.default_rng(1)
    grads = [rng.normal(size=(3, 70_001)).astype(numpy.float32) for _ in range(7)]
    grads[2][1, 5] = numpy.inf
    grads[5][0, 0] = numpy.nan
    schedule = ac.optimizers.schedules.ExponentialDecay(0.01, decay_steps=2, decay_rate=0.5)

    def run(device):
        var = ac.Variable(ac.tensor(numpy.ones((3, 70_001), numpy.float32), device=device))
        lso = ac.optimizers.LossScaleOptimizer(ac.optimizers.Adam(schedule, weight_decay=0.1, global_clipnorm=50.0),
                                               initial_scale=4.0, dynamic_growth_steps=2)
        lso.iterations = 3  # as after a restore: the device's table starts at step 4
        for g in grads:
            with ac.GradientTape() as tape:  # scale_loss reads the device scale: no copy either
                tape.watch(var)
                loss = lso.scale_loss(ac.sum(var * ac.tensor(g, device=device)))
            lso.apply_gradients(zip(tape.gradient(loss, [var]), [var]))
        return var, lso

    cpu_var, cpu_lso = run("cpu")
    with _host_reads(emulated_cuda, monkeypatch) as reads:
        gpu_var, gpu_lso = run("cuda:1")
    assert reads == []
    with _host_reads(emulated_cuda, monkeypatch) as reads:
        state = (gpu_lso.iterations, float(gpu_lso.dynamic_scale.numpy()), gpu_lso.skipped_steps,
                 int(gpu_lso.step_counter.numpy()))
    assert reads == [()] * 3
    assert state == (cpu_lso.iterations, float(cpu_lso.dynamic_scale.numpy()), cpu_lso.skipped_steps,
                     int(cpu_lso.step_counter.numpy())) == (3 + 5, 4.0, 2, 1)
    numpy.testing.assert_allclose(gpu_var.numpy(), cpu_var.numpy(), rtol=1e-6, atol=1e-7)
    for name in ("m", "v"):
        numpy.testing.assert_allclose(gpu_lso.get_slot(gpu_var, name).numpy(), cpu_lso.get_slot(cpu_var, name).numpy(),
                                      rtol=1e-5, atol=1e-8)


def test_device_table_computes_ahead_without_failing_early(emulated_cuda):
    """The GPU table holds rows for steps ahead; a learning rate that is invalid from step 8 on
    must not fail the steps before it, and fails step 8 as on the host."""
    var = ac.Variable(ac.tensor(numpy.ones(4, numpy.float32), device="cuda:1"))
    lso = ac.optimizers.LossScaleOptimizer(ac.optimizers.SGD(lambda step: 0.1 if step < 7 else float("nan")),
                                           initial_scale=2.0)
    grad = ac.tensor(numpy.ones(4, numpy.float32), device="cuda:1")
    for _ in range(7):
        lso.apply_gradients([(grad, var)])
    numpy.testing.assert_allclose(var.numpy(), 1 - 7 * 0.1 * 0.5, rtol=1e-6)  # scaled gradient 1 / scale 2
    with pytest.raises(ValueError, match="learning rate is nan at step 7"):
        lso.apply_gradients([(grad, var)])


def test_mixed_fit_on_an_emulated_gpu_reads_only_at_epoch_ends(emulated_cuda, monkeypatch):
    """fit of a mixed_float16 model on a GPU: its LossScaleOptimizer decides every step on the
    device; the host reads the logged values at each epoch's end, and the learning rate that
    ReduceLROnPlateau changes costs one sync of the scale's state."""
    rng = numpy.random.default_rng(0)
    x = rng.normal(size=(32, 3))
    y = x @ numpy.array([[1.0], [-1.0], [2.0]])

    def run(device):
        model = ac.nn.Sequential([ac.nn.Dense(4, activation="tanh", input_dim=3, seed=0, dtype="mixed_float16",
                                              device=device),
                                  ac.nn.Dense(1, input_dim=4, seed=1, dtype="mixed_float16", device=device)])
        # a scale that overflows no float16 step here: the devices' float16 matmuls round alike then
        model.compile(optimizer=ac.optimizers.LossScaleOptimizer(ac.optimizers.Adam(0.05), initial_scale=256.0),
                      loss="mse")
        callback = ac.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0, min_delta=1e9)
        history = model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0, callbacks=[callback])
        return model, history

    cpu_model, cpu_history = run("cpu")
    with _host_reads(emulated_cuda, monkeypatch) as reads:
        gpu_model, gpu_history = run("cuda:1")
    # the loss at each epoch's end (3), and one sync (3 scalars) when the first step after a new
    # learning rate (set at the end of epochs 2 and 3) rebuilds the table: epoch 3's first step
    assert reads == [()] * (3 + 3)
    assert gpu_model.optimizer.iterations == cpu_model.optimizer.iterations == 12
    for a, b in zip(gpu_model.get_weights(), cpu_model.get_weights()):
        numpy.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)
    numpy.testing.assert_allclose(gpu_history.history["loss"], cpu_history.history["loss"], rtol=1e-3)


def _cnn(device):
    layers = ac.nn.layers
    return ac.nn.Sequential([
        layers.Conv2D(4, 3, padding="same", activation="relu", dtype="float64", device=device),
        layers.BatchNormalization(dtype="float64", device=device),
        layers.MaxPooling2D(dtype="float64", device=device),
        layers.Conv2DTranspose(2, 2, strides=2, dtype="float64", device=device),
        layers.Flatten(dtype="float64", device=device),
        layers.Dense(3, dtype="float64", device=device),
    ])


def test_a_cnn_trains_on_the_device_as_on_the_cpu(emulated_cuda):
    """Conv2D, BatchNormalization (moving statistics), MaxPooling2D, Conv2DTranspose, Flatten and
    Dense through fit on the emulated cuda:1: the same weights as on the CPU after two steps."""
    rng = numpy.random.default_rng(0)
    x, y = rng.normal(size=(8, 6, 6, 2)), rng.integers(0, 3, 8)
    cpu, gpu = _cnn("cpu"), _cnn("cuda:1")
    cpu(x[:1])
    gpu(ac.tensor(x[:1], device="cuda:1"))
    gpu.set_weights(cpu.get_weights())
    for model in (cpu, gpu):
        model.compile(optimizer=ac.optimizers.SGD(0.1),
                      loss=ac.nn.losses.SparseCategoricalCrossentropy(from_logits=True))
    cpu.fit(x, y, epochs=1, batch_size=4, verbose=0, shuffle=False)
    gpu.fit(ac.tensor(x, device="cuda:1"), ac.tensor(y, device="cuda:1"), epochs=1, batch_size=4, verbose=0,
            shuffle=False)
    assert all(v.device.name == "cuda:1" for v in gpu.variables)
    launched = {str(launch[0]) for launch in emulated_cuda.launches}
    assert any("accel_extract_windows" in n for n in launched) and any("accel_fold_windows" in n for n in launched)
    for a, b in zip(cpu.get_weights(), gpu.get_weights()):
        numpy.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-12)


# IndexedSlices on the device: the rows launch (each named row a segment of the device's tables).
# A table of 3 x 70_001 float32 crosses a CUDA chunk boundary within one row.
SPARSE = ["sgd", "adagrad", "adagrad_decay", "adam", "ftrl", "lamb"]


def _train_sparse(make, device, lazy, rows=5, width=70_001, steps=3):
    rng = numpy.random.default_rng(5)
    table = ac.Variable(ac.tensor(rng.standard_normal((rows, width)).astype(numpy.float32), device=device))
    opt = make(lazy_sparse=lazy)
    for _ in range(steps):
        ids = rng.integers(0, rows, size=4)
        values = rng.standard_normal((4, width)).astype(numpy.float32)
        slices = ac.IndexedSlices(ac.tensor(values, device=device), ac.tensor(ids, device=device), (rows, width))
        opt.apply_gradients([(slices, table)])
    return [table.numpy()] + [opt.get_slot(table, name).numpy() for name in opt.get_slot_names()]


@pytest.mark.parametrize("lazy", [False, True], ids=["default", "lazy"])
@pytest.mark.parametrize("name", SPARSE)
def test_emulated_sparse_updates_match_cpu(emulated_cuda, name, lazy):
    cpu = _train_sparse(OPTIMIZERS[name], "cpu", lazy)
    emu = _train_sparse(OPTIMIZERS[name], "cuda:1", lazy)
    for a, b in zip(cpu, emu):
        numpy.testing.assert_allclose(b, a, rtol=2e-6, atol=1e-7)
