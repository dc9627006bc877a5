"""compile / fit / evaluate / predict against hand-written loops (NumPy, float64), Keras's
batching rules, and bad input that leaves the model untouched."""

import numpy
import pytest

import accel as ac

L2 = 0.01
LR = 0.1


def _linear(seed=0, regularizer=L2, device=None):
    layer = ac.nn.Dense(1, input_dim=3, seed=seed, dtype="float64", device=device,
                        kernel_regularizer=ac.nn.regularizers.L2(regularizer) if regularizer else None)
    return ac.nn.Sequential([layer])


def _data(rows=11, seed=0):
    rng = numpy.random.default_rng(seed)
    x = rng.normal(size=(rows, 3))
    y = x @ numpy.array([[1.0], [-2.0], [0.5]]) + 0.3 + 0.1 * rng.normal(size=(rows, 1))
    weights = rng.uniform(0.5, 2.0, size=rows)
    return x, y, weights


def _batch_loss(w, b, x, y, sw):
    """Keras: sum(sw * per-sample mse) / batch rows + l2 * sum(w**2)."""
    residual = x @ w + b - y
    return float(numpy.sum(sw * residual[:, 0] ** 2) / len(x) + L2 * numpy.sum(w ** 2))


def _hand_fit(w, b, x, y, sw, *, epochs, batch_size, validation_split):
    """SGD on the linear model, batches in order, the last partial one kept; returns the weights
    and the per-epoch loss / val_loss as Keras defines them."""
    cut = int(len(x) * (1 - validation_split))
    xt, yt, wt, xv, yv, wv = x[:cut], y[:cut], sw[:cut], x[cut:], y[cut:], sw[cut:]
    history = {"loss": [], "val_loss": []}
    for _ in range(epochs):
        total = 0.0
        for start in range(0, cut, batch_size):
            xb, yb, sb = xt[start:start + batch_size], yt[start:start + batch_size], wt[start:start + batch_size]
            total += _batch_loss(w, b, xb, yb, sb) * len(xb)
            residual = xb @ w + b - yb
            grad_w = 2.0 / len(xb) * xb.T @ (sb[:, None] * residual) + 2 * L2 * w
            grad_b = 2.0 / len(xb) * numpy.sum(sb[:, None] * residual, axis=0)
            w, b = w - LR * grad_w, b - LR * grad_b
        history["loss"].append(total / cut)
        val = sum(_batch_loss(w, b, xv[s:s + batch_size], yv[s:s + batch_size], wv[s:s + batch_size])
                  * len(xv[s:s + batch_size]) for s in range(0, len(xv), batch_size))
        history["val_loss"].append(val / len(xv))
    return w, b, history


def test_fit_matches_a_hand_written_loop(device):
    x, y, sw = _data()
    model = _linear(device=device)
    w0, b0 = model.get_weights()
    model.compile(optimizer=ac.optimizers.SGD(LR), loss="mse")
    history = model.fit(x, y, batch_size=3, epochs=4, shuffle=False, validation_split=0.2, sample_weight=sw,
                        verbose=0)
    w, b, expected = _hand_fit(w0, b0, x, y, sw, epochs=4, batch_size=3, validation_split=0.2)
    got_w, got_b = model.get_weights()
    numpy.testing.assert_allclose(got_w, w, rtol=1e-6, atol=1e-9)
    numpy.testing.assert_allclose(got_b, b, rtol=1e-6, atol=1e-9)
    assert sorted(history.history) == ["loss", "val_loss"]
    numpy.testing.assert_allclose(history.history["loss"], expected["loss"], rtol=1e-6)
    numpy.testing.assert_allclose(history.history["val_loss"], expected["val_loss"], rtol=1e-6)
    assert history.epoch == [0, 1, 2, 3] and model.history is history
    assert model.optimizer.iterations == 4 * 3  # 8 training rows in batches of 3, 3 and 2


def test_evaluate_includes_regularization_and_sample_weights():
    x, y, sw = _data()
    model = _linear()
    model.compile(optimizer="sgd", loss="mse")
    w, b = model.get_weights()
    expected = sum(_batch_loss(w, b, x[s:s + 4], y[s:s + 4], sw[s:s + 4]) * len(x[s:s + 4])
                   for s in range(0, len(x), 4)) / len(x)
    assert model.evaluate(x, y, batch_size=4, sample_weight=sw, verbose=0) == pytest.approx(expected, rel=1e-12)
    logs = model.evaluate(x, y, batch_size=4, sample_weight=sw, verbose=0, return_dict=True)
    assert list(logs) == ["loss"] and logs["loss"] == pytest.approx(expected, rel=1e-12)


def test_batches_default_to_32_and_keep_the_last_partial_one():
    x, y, _ = _data(rows=70)
    model = _linear(regularizer=None)
    model.compile(optimizer=ac.optimizers.SGD(0.0), loss="mse")
    sizes = []
    model.fit(x, y, epochs=1, shuffle=False, verbose=0, callbacks=[ac.callbacks.LambdaCallback(
        on_train_batch_begin=lambda batch, logs: sizes.append(batch))])
    assert sizes == [0, 1, 2] and model.optimizer.iterations == 3  # 32 + 32 + 6


def test_shuffle_permutes_each_epoch_reproducibly():
    x = numpy.arange(12, dtype=numpy.float64)[:, None].repeat(3, axis=1)
    y = numpy.zeros((12, 1))
    seen = []

    class Recording(ac.nn.Module):
        def __init__(self):
            super().__init__()
            self.dense = ac.nn.Dense(1, input_dim=3, dtype="float64", seed=0)

        def call(self, inputs):
            seen.append(inputs.numpy()[:, 0].astype(int).tolist())
            return self.dense(inputs)

    def run():
        seen.clear()
        ac.random.set_seed(7)
        model = Recording()
        model.compile(optimizer=ac.optimizers.SGD(0.0), loss="mse")
        model.fit(x, y, batch_size=5, epochs=2, verbose=0)
        return [list(s) for s in seen]

    first = run()
    assert first == run()  # the same seed, the same batches
    epoch1, epoch2 = sum(first[:3], []), sum(first[3:], [])
    assert sorted(epoch1) == sorted(epoch2) == list(range(12))
    assert epoch1 != list(range(12)) and epoch1 != epoch2
    assert [len(s) for s in first] == [5, 5, 2, 5, 5, 2]


def test_validation_split_takes_the_last_rows_before_shuffling():
    x, y, _ = _data(rows=11)
    model = _linear(regularizer=None)
    model.compile(optimizer=ac.optimizers.SGD(0.0), loss="mse")
    history = model.fit(x, y, epochs=1, validation_split=0.2, verbose=0)
    model_val = model.evaluate(x[8:], y[8:], verbose=0)
    assert history.history["val_loss"][0] == pytest.approx(model_val, rel=1e-12)
    assert model.optimizer.iterations == 1  # 8 rows: one batch


def test_validation_data_iterables_and_steps_per_epoch():
    x, y, _ = _data(rows=12)
    model = _linear(regularizer=None)
    model.compile(optimizer=ac.optimizers.SGD(0.05), loss="mse", metrics=["mae"])

    def batches():
        while True:
            for s in range(0, 12, 4):
                yield x[s:s + 4], y[s:s + 4]

    history = model.fit(batches(), epochs=2, steps_per_epoch=5, validation_data=[(x[:6], y[:6]), (x[6:], y[6:])],
                        verbose=0)
    assert model.optimizer.iterations == 10
    assert sorted(history.history) == ["loss", "mae", "val_loss", "val_mae"]
    assert history.history["val_loss"][-1] == pytest.approx(model.evaluate(x, y, batch_size=6, verbose=0)[0], rel=1e-12)


def test_a_generator_that_runs_out_stops_training_with_a_warning():
    x, y, _ = _data(rows=8)
    model = _linear(regularizer=None)
    model.compile(optimizer="sgd", loss="mse")
    with pytest.warns(UserWarning, match="ran out of data"):
        history = model.fit(((x[s:s + 2], y[s:s + 2]) for s in range(0, 8, 2)), epochs=3, steps_per_epoch=3,
                            verbose=0)
    assert model.optimizer.iterations == 4 and history.epoch == [0, 1]  # the second epoch ends short


def test_initial_epoch_and_validation_freq():
    x, y, _ = _data()
    model = _linear(regularizer=None)
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(x, y, epochs=5, initial_epoch=2, validation_data=(x, y), validation_freq=2, verbose=0)
    assert history.epoch == [2, 3, 4]
    assert len(history.history["loss"]) == 3 and len(history.history["val_loss"]) == 1  # after epoch 4 (1-based)
    history = model.fit(x, y, epochs=3, validation_data=(x, y), validation_freq=[1, 3], verbose=0)
    assert len(history.history["val_loss"]) == 2


def test_accuracy_resolves_from_the_shapes():
    rng = numpy.random.default_rng(0)
    x = rng.normal(size=(20, 4))
    cases = [(rng.integers(0, 3, size=20), 3, "sparse_categorical_crossentropy", "SparseCategoricalAccuracy"),
             (numpy.eye(3)[rng.integers(0, 3, size=20)], 3, "categorical_crossentropy", "CategoricalAccuracy"),
             (rng.integers(0, 2, size=(20, 1)).astype(float), 1, "binary_crossentropy", "BinaryAccuracy")]
    for y, units, loss, kind in cases:
        model = ac.nn.Sequential([ac.nn.Dense(units, activation="softmax" if units > 1 else "sigmoid", seed=0)])
        model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
        logs = model.evaluate(x, y, verbose=0, return_dict=True)
        assert type(model.metrics[1]).__name__ == kind and list(logs) == ["loss", "accuracy"]
        predicted = model.predict(x, verbose=0)
        if units > 1:
            truth = y if y.ndim == 1 else y.argmax(axis=1)
            expected = numpy.mean(predicted.argmax(axis=1) == truth)
        else:
            expected = numpy.mean((predicted > 0.5) == y)
        assert logs["accuracy"] == pytest.approx(expected)


def test_train_and_test_on_batch_report_this_batch():
    x, y, _ = _data()
    model = _linear(regularizer=None)
    model.compile(optimizer=ac.optimizers.SGD(0.05), loss="mse", metrics=["mae"])
    before = model.test_on_batch(x[:5], y[:5], return_dict=True)
    w, b = model.get_weights()
    assert before["loss"] == pytest.approx(numpy.mean((x[:5] @ w + b - y[:5]) ** 2))
    first = model.train_on_batch(x[:5], y[:5])
    second = model.train_on_batch(x[5:], y[5:])
    assert first[0] == pytest.approx(before["loss"])  # the loss before this step's update
    w, b = model.get_weights()
    again = model.test_on_batch(x[5:], y[5:])
    assert isinstance(second, list) and len(second) == 2
    assert again[0] == pytest.approx(numpy.mean((x[5:] @ w + b - y[5:]) ** 2))
    numpy.testing.assert_allclose(model.predict_on_batch(x[:2]), x[:2] @ w + b)
    numpy.testing.assert_allclose(model.predict(x, batch_size=4, verbose=0), x @ w + b)


def test_learning_rate_set_between_steps_reaches_the_fused_kernel():
    x, y, _ = _data(rows=4)
    model = _linear(regularizer=None)
    model.compile(optimizer=ac.optimizers.SGD(0.1), loss="mse")
    model.train_on_batch(x, y)
    for new_rate in (0.5, ac.tensor(0.25, dtype="float64")):
        model.optimizer.learning_rate = new_rate
        w, b = model.get_weights()
        residual = x @ w + b - y
        model.train_on_batch(x, y)
        rate = float(new_rate)
        numpy.testing.assert_allclose(model.get_weights()[0], w - rate * 2 / 4 * x.T @ residual, rtol=1e-12)
        assert model.optimizer.learning_rate == rate


def test_regularizers_add_keras_values():
    rng = numpy.random.default_rng(3)
    w = ac.tensor(rng.normal(size=(3, 2)))
    for reg, expected in ((ac.nn.regularizers.L2(0.01), 0.01 * numpy.sum(w.numpy() ** 2)),
                          (ac.nn.regularizers.L1(0.02), 0.02 * numpy.sum(numpy.abs(w.numpy()))),
                          (ac.nn.regularizers.L1L2(l1=0.1, l2=0.2),
                           0.1 * numpy.sum(numpy.abs(w.numpy())) + 0.2 * numpy.sum(w.numpy() ** 2)),
                          (ac.nn.regularizers.get("l2"), 0.01 * numpy.sum(w.numpy() ** 2))):
        assert float(reg(w)) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="l2 must be"):
        ac.nn.regularizers.L2(-1.0)
    with pytest.raises(ValueError, match="unknown regularizer 'l3'"):
        ac.nn.regularizers.get("l3")


def test_module_losses_collect_weight_and_activity_penalties():
    layer = ac.nn.Dense(2, input_dim=3, seed=0, dtype="float64", kernel_regularizer="l2",
                        bias_regularizer=ac.nn.regularizers.L1(0.5), activity_regularizer=ac.nn.regularizers.L2(0.1))
    model = ac.nn.Sequential([layer])
    assert len(model.losses) == 2  # no call yet: no activity penalty
    x = numpy.ones((4, 3))
    out = model(ac.tensor(x)).numpy()
    model(ac.tensor(x))  # a second call replaces the activity penalty, it does not add one
    kernel, bias = layer.kernel.numpy(), layer.bias.numpy()
    expected = [0.01 * numpy.sum(kernel ** 2), 0.5 * numpy.sum(numpy.abs(bias)), 0.1 * numpy.sum(out ** 2) / 4]
    numpy.testing.assert_allclose([float(v) for v in model.losses], expected, rtol=1e-12)


def test_fit_minimises_regularization_too():
    """With a zero compiled-loss gradient, the L2 penalty alone shrinks the kernel: w *= (1 - 2 lr l2)."""
    x, y, _ = _data(rows=4)
    model = _linear()
    model.compile(optimizer=ac.optimizers.SGD(LR), loss=lambda t, p: 0.0 * ac.sum(p, axis=-1))
    w0 = model.get_weights()[0]
    history = model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    numpy.testing.assert_allclose(model.get_weights()[0], w0 * (1 - 2 * LR * L2), rtol=1e-12)
    assert history.history["loss"][0] == pytest.approx(L2 * numpy.sum(w0 ** 2), rel=1e-12)


def test_get_and_set_weights_check_every_shape_first():
    model = ac.nn.Sequential([ac.nn.Dense(4, input_dim=3, seed=0), ac.nn.Dense(2, input_dim=4, seed=1)])
    weights = model.get_weights()
    assert [w.shape for w in weights] == [(3, 4), (4,), (4, 2), (2,)]
    changed = [w + 1 for w in weights]
    bad = changed[:3] + [numpy.zeros(3)]
    with pytest.raises(ValueError, match=r"weights\[3\].*shape \(3,\), expected \(2,\)"):
        model.set_weights(bad)
    for got, expected in zip(model.get_weights(), weights):
        numpy.testing.assert_array_equal(got, expected)  # nothing assigned
    with pytest.raises(ValueError, match="has 4 weights, got 3"):
        model.set_weights(changed[:3])
    model.set_weights(changed)
    for got, expected in zip(model.get_weights(), changed):
        numpy.testing.assert_array_equal(got, expected)


def test_summary_lists_layers_and_counts():
    model = ac.nn.Sequential([ac.nn.Dense(4, input_dim=3, seed=0, name="hidden"), ac.nn.Dense(2, name="out")])
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    # input_dim builds the first layer, and through it the whole Sequential (Keras)
    assert "hidden (Dense)" in text and "3x4, 4" in text and "out (Dense)      (None, 2)" in text
    assert "Total params: 26" in text and "Trainable params: 26" in text
    lines = []
    ac.nn.Sequential([ac.nn.Dense(4, name="lazy")]).summary(print_fn=lines.append)
    assert any("lazy (Dense)   ?" in line and "(not built)" in line for line in lines)


class _Block(ac.nn.Module):
    def __init__(self):
        super().__init__(name="block")
        self.inner = ac.nn.Dense(3, input_dim=5, seed=0, name="inner")
        self.scale = ac.Variable(ac.ones((3,)), name="scale")


class _Net(ac.nn.Module):
    def __init__(self):
        super().__init__(name="net")
        self.w = ac.Variable(ac.zeros((4, 5)))  # no name: the attribute names its row
        self.frozen = ac.Variable(ac.zeros((5,)), name="frozen", trainable=False)
        self.blocks = [_Block()]
        self.shared = self.w  # counted once


def test_summary_lists_variables_held_directly_and_indents_nested_modules():
    lines = []
    _Net().summary(print_fn=lines.append)
    rows = lines[4:lines.index(lines[3], 4)]  # between the two "=" rules
    names = [r.split("   ")[0] for r in rows]
    assert names == ["w (Variable)", "frozen (Variable)", "block (_Block)", "  inner (Dense)"]
    counts = [int(r.split()[-1].replace(",", "")) for r in rows]
    assert counts == [20, 5, 3, 18]
    assert sum(counts) == 46 and "Total params: 46" in lines and "Non-trainable params: 5" in lines


def _untouched(model, snapshot):
    for got, expected in zip(model.get_weights(), snapshot):
        numpy.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"batch_size": 0}, ValueError, "batch_size must be a positive int"),
    ({"batch_size": 2.5}, ValueError, "batch_size must be a positive int"),
    ({"validation_split": 1.0}, ValueError, r"validation_split must be in \[0, 1\)"),
    ({"validation_split": -0.1}, ValueError, r"validation_split must be in \[0, 1\)"),
    ({"epochs": 2.0}, ValueError, "epochs must be an int"),
    ({"verbose": 3}, ValueError, "verbose must be"),
    ({"validation_freq": 0}, ValueError, "validation_freq"),
    ({"y": numpy.zeros((10, 1))}, ValueError, "x and y have different numbers of rows: 11 and 10"),
    ({"callbacks": [object()]}, TypeError, r"callbacks\[0\] must be an accel.callbacks.Callback"),
])
def test_bad_fit_arguments_raise_before_anything_changes(kwargs, error, match):
    x, y, _ = _data()
    model = _linear()
    model.compile(optimizer="adam", loss="mse")
    snapshot = model.get_weights()
    arguments = {"x": x, "y": y, "verbose": 0, **kwargs}
    with pytest.raises(error, match=match):
        model.fit(**arguments)
    _untouched(model, snapshot)
    assert model.optimizer.iterations == 0 and model.optimizer.slot_owners() == []


def test_compile_errors_name_what_is_valid():
    model = _linear()
    with pytest.raises(RuntimeError, match="must be compiled first"):
        model.fit(numpy.zeros((2, 3)), numpy.zeros((2, 1)))
    with pytest.raises(ValueError, match="unknown optimizer 'adamm'.*adam"):
        model.compile(optimizer="adamm", loss="mse")
    with pytest.raises(ValueError, match="unknown loss 'msee'.*mean_squared_error"):
        model.compile(loss="msee")
    with pytest.raises(ValueError, match="unknown metric 'acuracy'.*accuracy"):
        model.compile(loss="mse", metrics=["acuracy"])
    with pytest.raises(TypeError, match="metrics must be a list"):
        model.compile(loss="mse", metrics="accuracy")
    assert model.optimizer is None  # no failed compile left anything behind


def test_a_callback_that_raises_leaves_the_last_completed_step():
    x, y, _ = _data(rows=12)
    model = _linear(regularizer=None)
    reference = _linear(regularizer=None)
    model.compile(optimizer=ac.optimizers.Adam(0.1), loss="mse")
    reference.compile(optimizer=ac.optimizers.Adam(0.1), loss="mse")

    def explode(batch, logs):
        if batch == 1:
            raise RuntimeError("callback failed")

    with pytest.raises(RuntimeError, match="callback failed"):
        model.fit(x, y, batch_size=4, shuffle=False, verbose=0,
                  callbacks=[ac.callbacks.LambdaCallback(on_train_batch_end=explode)])
    reference.train_on_batch(x[:4], y[:4])
    reference.train_on_batch(x[4:8], y[4:8])
    for got, expected in zip(model.get_weights(), reference.get_weights()):
        numpy.testing.assert_array_equal(got, expected)
    assert model.optimizer.iterations == 2


def test_float64_inputs_meet_a_float32_model():
    """Floating inputs are cast to the model's dtype, as Keras casts to its compute dtype."""
    x, y, _ = _data()
    model = ac.nn.Sequential([ac.nn.Dense(1, input_dim=3, seed=0)])
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(x, y, epochs=2, verbose=0)
    assert numpy.isfinite(history.history["loss"]).all()
    assert model.predict(x, verbose=0).dtype == numpy.float32
