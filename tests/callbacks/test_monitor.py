"""ReduceLROnPlateau, EarlyStopping, LearningRateScheduler and TerminateOnNaN driven through their
hooks with fixed sequences of monitored values; the expected values follow Keras 3's rules as
docs/semantics.md section 13 states them, worked by hand in the comments."""

import numpy
import pytest

import accel as ac
from accel.callbacks import EarlyStopping, LearningRateScheduler, ReduceLROnPlateau, TerminateOnNaN


def _model(lr=1.0, metrics=()):
    model = ac.nn.Sequential([ac.nn.Dense(1, input_dim=1, seed=0, dtype="float64")])
    model.compile(optimizer=ac.optimizers.SGD(lr), loss="mse", metrics=list(metrics))
    return model


def _drive(callback, values, model=None, monitor="val_loss", mark_weights=False):
    """Runs the epoch hooks; returns (learning rate after each epoch, logs of each epoch, model)."""
    model = model or _model()
    callback.set_model(model)
    callback.on_train_begin({})
    rates, all_logs = [], []
    for epoch, value in enumerate(values):
        if model.stop_training:
            break
        if mark_weights:  # the weights say which epoch produced them
            model.set_weights([numpy.full((1, 1), float(epoch)), numpy.zeros(1)])
        callback.on_epoch_begin(epoch, {})
        logs = {} if value is None else {monitor: value}
        callback.on_epoch_end(epoch, logs)
        rates.append(model.optimizer.learning_rate)
        all_logs.append(logs)
    callback.on_train_end({})
    return rates, all_logs, model


class TestReduceLROnPlateau:
    def test_patience(self):
        # best 5, 4; then 4 does not improve: wait 1, 2 -> halve (wait 0); 4: wait 1; 3 improves;
        # 3, 3: wait 1, 2 -> halve
        rates, logs, _ = _drive(ReduceLROnPlateau(factor=0.5, patience=2, min_delta=0), [5, 4, 4, 4, 4, 3, 3, 3])
        assert rates == [1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25]
        assert [entry["learning_rate"] for entry in logs] == [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5]  # the rate before

    def test_min_delta(self):
        # 4.6 is not below 5 - 0.5: reduce; 4.4 is below 4.5: best; 4.0 is not below 3.9: reduce
        rates, _, _ = _drive(ReduceLROnPlateau(factor=0.5, patience=1, min_delta=0.5), [5, 4.6, 4.4, 4.0])
        assert rates == [1, 0.5, 0.5, 0.25]

    def test_cooldown_counts_down_before_the_check(self):
        # cooldown=2: after a reduction one epoch is skipped (the counter is decremented first)
        rates, _, _ = _drive(ReduceLROnPlateau(factor=0.5, patience=1, cooldown=2), [1] * 7)
        assert rates == [1, 0.5, 0.5, 0.25, 0.25, 0.125, 0.125]
        no_cooldown, _, _ = _drive(ReduceLROnPlateau(factor=0.5, patience=1, cooldown=0), [1] * 4)
        cooldown_one, _, _ = _drive(ReduceLROnPlateau(factor=0.5, patience=1, cooldown=1), [1] * 4)
        assert cooldown_one == no_cooldown == [1, 0.5, 0.25, 0.125]

    def test_min_lr_floor_and_waiting_beyond_it(self):
        callback = ReduceLROnPlateau(factor=0.5, patience=1, min_lr=0.3)
        rates, _, _ = _drive(callback, [1] * 5)
        # 0.5, then max(0.25, 0.3); at 0.3 (not above float32(0.3)) nothing more, the wait grows
        assert rates == [1, 0.5, 0.3, 0.3, 0.3] and callback.wait == 2

    @pytest.mark.parametrize("monitor, mode", [("val_accuracy", "auto"), ("val_loss", "max")])
    def test_max_mode(self, monitor, mode):
        # 0.6 beats 0.5 + 1e-4; 0.6 again does not: reduce; 0.55 neither: reduce
        rates, _, _ = _drive(ReduceLROnPlateau(monitor=monitor, mode=mode, factor=0.5, patience=1),
                             [0.5, 0.6, 0.6, 0.55], monitor=monitor)
        assert rates == [1, 1, 0.5, 0.25]

    def test_missing_monitor_warns_and_changes_nothing(self):
        with pytest.warns(UserWarning, match="'val_loss', which is not in the logs"):
            rates, logs, _ = _drive(ReduceLROnPlateau(patience=0), [None, None])
        assert rates == [1, 1] and logs[0] == {"learning_rate": 1.0}

    def test_errors(self):
        with pytest.raises(ValueError, match=r"factor must be in \[0, 1\)"):
            ReduceLROnPlateau(factor=1.0)
        with pytest.raises(ValueError, match="patience must be an int"):
            ReduceLROnPlateau(patience=-1)
        model = ac.nn.Sequential([ac.nn.Dense(1, input_dim=1)])
        model.compile(optimizer=ac.optimizers.SGD(ac.optimizers.schedules.ExponentialDecay(1.0, 10, 0.5)), loss="mse")
        with pytest.raises(TypeError, match="learning rate is a schedule"):
            _drive(ReduceLROnPlateau(patience=0), [1, 1], model=model)

    def test_in_fit_the_rate_reaches_the_optimizer_and_history(self):
        rng = numpy.random.default_rng(0)
        x, y = rng.normal(size=(16, 1)), rng.normal(size=(16, 1))
        model = _model(lr=0.1)
        history = model.fit(x, y, epochs=4, verbose=0, callbacks=[ReduceLROnPlateau(monitor="loss", factor=0.5,
                                                                                    patience=0, min_delta=1e9)])
        # min_delta 1e9: no epoch improves after the first, so every later epoch halves the rate
        assert history.history["learning_rate"] == [0.1, 0.1, 0.05, 0.025]
        assert model.optimizer.learning_rate == pytest.approx(0.0125)


class TestEarlyStopping:
    def test_patience_zero_and_two(self):
        callback = EarlyStopping(patience=0)
        _drive(callback, [3, 2, 2.5, 1])
        assert callback.stopped_epoch == 2
        callback = EarlyStopping(patience=2)
        _, logs, _ = _drive(callback, [3, 2, 2.5, 2.4, 2.1, 1.0])
        assert callback.stopped_epoch == 3 and len(logs) == 4

    def test_min_delta(self):
        callback = EarlyStopping(patience=1, min_delta=0.5)
        _drive(callback, [3, 2.6, 2.4])  # 2.6 + 0.5 is not below 3
        assert callback.stopped_epoch == 1

    def test_baseline(self):
        # improving without beating the baseline never resets the wait, and an improving epoch
        # skips the patience check: it stops at the first epoch that does not improve
        callback = EarlyStopping(patience=2, baseline=1.0)
        _, logs, _ = _drive(callback, [3, 2, 1.5, 1.6, 1.0])
        assert callback.stopped_epoch == 3 and callback.best == 1.5
        callback = EarlyStopping(patience=1, baseline=2.5)
        _drive(callback, [3, 2, 2.2, 1.9, 2.0, 2.1])  # 2 beats the baseline: wait 0; 2.2: wait 1 -> stop
        assert callback.stopped_epoch == 2

    def test_restore_best_weights_when_stopped_and_when_not(self):
        callback = EarlyStopping(patience=1, restore_best_weights=True)
        _, _, model = _drive(callback, [3, 1, 2, 2.5], mark_weights=True)
        assert callback.stopped_epoch == 2 and callback.best_epoch == 1
        assert model.get_weights()[0][0, 0] == 1.0  # restored from epoch 1
        callback = EarlyStopping(patience=5, restore_best_weights=True)
        _, _, model = _drive(callback, [3, 2, 2.5], mark_weights=True)
        assert callback.stopped_epoch == 0 and model.get_weights()[0][0, 0] == 1.0

    def test_start_from_epoch(self):
        callback = EarlyStopping(patience=0, start_from_epoch=2)
        _drive(callback, [1, 5, 3, 4])
        assert callback.stopped_epoch == 3  # epochs 0 and 1 are not looked at

    def test_modes(self):
        model = _model(metrics=["accuracy"])
        model.evaluate(numpy.zeros((2, 1)), numpy.zeros((2, 1)), verbose=0)  # resolves the metric
        callback = EarlyStopping(monitor="val_accuracy", patience=0)
        _drive(callback, [0.5, 0.7, 0.6], model=model, monitor="val_accuracy")
        assert callback.stopped_epoch == 2 and callback.maximize
        callback = EarlyStopping(monitor="val_loss", mode="max", patience=0)
        _drive(callback, [1, 2, 1.5])
        assert callback.stopped_epoch == 2
        with pytest.raises(ValueError, match="cannot tell whether monitor='val_f1'"):
            _drive(EarlyStopping(monitor="val_f1"), [1.0], monitor="val_f1")
        with pytest.warns(UserWarning, match="unknown, falling back to 'auto'"):
            EarlyStopping(mode="lowest")

    def test_missing_monitor_warns(self):
        callback = EarlyStopping(patience=0)
        with pytest.warns(UserWarning, match="not in the logs"):
            _, _, model = _drive(callback, [None, None, None])
        assert not model.stop_training

    def test_in_fit(self):
        rng = numpy.random.default_rng(0)
        x, y = rng.normal(size=(16, 1)), rng.normal(size=(16, 1))
        model = _model(lr=0.1)
        history = model.fit(x, y, epochs=20, verbose=0, callbacks=[EarlyStopping(monitor="loss", min_delta=1e9)])
        assert len(history.epoch) == 2  # epoch 1 does not improve by 1e9: stop


class TestLearningRateScheduler:
    def test_schedule_of_epoch_and_rate(self):
        callback = LearningRateScheduler(lambda epoch, lr: lr if epoch < 2 else lr * 0.5)
        rates, logs, _ = _drive(callback, [1, 1, 1, 1])
        assert rates == [1, 1, 0.5, 0.25] and [entry["learning_rate"] for entry in logs] == rates

    def test_schedule_of_epoch_only_and_tensor_results(self):
        rates, _, _ = _drive(LearningRateScheduler(lambda epoch: 0.1 * (epoch + 1)), [1, 1])
        assert rates == pytest.approx([0.1, 0.2])
        rates, _, _ = _drive(LearningRateScheduler(lambda epoch, lr: ac.tensor(0.25)), [1])
        assert rates == [0.25]

    def test_a_result_that_is_not_a_float_raises(self):
        with pytest.raises(ValueError, match="must return a float, got 1 at epoch 0"):
            _drive(LearningRateScheduler(lambda epoch, lr: 1), [1])
        with pytest.raises(ValueError, match="must return a float"):
            _drive(LearningRateScheduler(lambda epoch, lr: "0.1"), [1])
        with pytest.raises(ValueError, match="must be finite"):
            _drive(LearningRateScheduler(lambda epoch, lr: float("nan")), [1])


def test_terminate_on_nan_stops_after_the_bad_batch():
    x = numpy.ones((8, 1))
    y = numpy.ones((8, 1))
    y[5] = numpy.nan  # the third batch of two rows has a NaN loss
    model = _model(lr=0.01)
    history = model.fit(x, y, batch_size=2, epochs=3, shuffle=False, verbose=0, callbacks=[TerminateOnNaN()])
    assert model.optimizer.iterations == 3 and history.epoch == [0]
