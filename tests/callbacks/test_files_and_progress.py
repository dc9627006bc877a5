"""ModelCheckpoint, CSVLogger, ProgbarLogger, History, LambdaCallback and the CallbackList's
order and batch logs."""

import csv
import io
import os

import numpy
import pytest

import accel as ac
from accel.callbacks import (Callback, CSVLogger, History, LambdaCallback, ModelCheckpoint, ProgbarLogger,
                             ReduceLROnPlateau)


def _model(lr=0.05):
    model = ac.nn.Sequential([ac.nn.Dense(4, activation="tanh", input_dim=2, seed=0, dtype="float64"),
                              ac.nn.Dense(1, input_dim=4, seed=1, dtype="float64")])
    model.compile(optimizer=ac.optimizers.Adam(lr), loss="mse", metrics=["mae"])
    return model


def _data(rows=24):
    rng = numpy.random.default_rng(0)
    x = rng.normal(size=(rows, 2))
    return x, numpy.sin(x[:, :1]) + x[:, 1:] ** 2


def test_model_checkpoint_formats_names_and_restores(tmp_path):
    x, y = _data()
    model = _model()
    pattern = str(tmp_path / "ckpt-{epoch:02d}-{val_loss:.2f}.npz")
    history = model.fit(x, y, epochs=3, batch_size=8, validation_split=0.25, verbose=0,
                        callbacks=[ModelCheckpoint(pattern)])
    names = sorted(os.listdir(tmp_path))
    expected = [f"ckpt-{e + 1:02d}-{v:.2f}.npz" for e, v in enumerate(history.history["val_loss"])]
    assert names == sorted(expected)
    # the last file holds the final weights and the optimizer's slots and step count
    restored = _model()
    restored(ac.zeros((1, 2), dtype="float64"))
    restored.optimizer.build(restored.trainable_variables)
    ac.Checkpoint(model=restored, optimizer=restored.optimizer).restore(tmp_path / expected[-1])
    for got, want in zip(restored.get_weights(), model.get_weights()):
        numpy.testing.assert_array_equal(got, want)
    assert restored.optimizer.iterations == model.optimizer.iterations == 9


def test_model_checkpoint_save_best_only_and_weights_only(tmp_path):
    model = _model()
    model(ac.zeros((1, 2), dtype="float64"))
    callback = ModelCheckpoint(tmp_path / "best.npz", monitor="val_loss", save_best_only=True, save_weights_only=True)
    callback.set_model(model)
    saved = []
    for epoch, value in enumerate([3.0, 2.0, 2.5, 1.0]):
        model.set_weights([w * 0 + epoch for w in model.get_weights()])
        before = os.path.getmtime(tmp_path / "best.npz") if os.path.exists(tmp_path / "best.npz") else None
        os.utime(tmp_path / "best.npz", (0, 0)) if before else None
        callback.on_epoch_end(epoch, {"val_loss": value})
        saved.append(os.path.getmtime(tmp_path / "best.npz") != 0)
    assert saved == [True, True, False, True] and callback.best == 1.0
    fresh = _model()
    fresh(ac.zeros((1, 2), dtype="float64"))
    ac.Checkpoint(model=fresh).restore(tmp_path / "best.npz")  # weights only: no optimizer entries
    assert all((w == 3).all() for w in fresh.get_weights())


def test_model_checkpoint_every_n_batches_and_errors(tmp_path):
    x, y = _data(rows=16)
    model = _model()
    model.fit(x, y, epochs=2, batch_size=4, verbose=0,
              callbacks=[ModelCheckpoint(str(tmp_path / "e{epoch}-b{batch}.npz"), save_freq=3)])
    assert sorted(os.listdir(tmp_path)) == ["e1-b3.npz", "e2-b2.npz"]  # after batches 3 and 6 of 4 + 4
    with pytest.raises(ValueError, match="save_freq must be 'epoch' or a positive int"):
        ModelCheckpoint("x.npz", save_freq="batch")
    with pytest.raises(KeyError, match="names 'val_acc'"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[ModelCheckpoint(str(tmp_path / "{val_acc}.npz"))])


def test_csv_logger_writes_a_row_per_epoch_and_appends(tmp_path):
    x, y = _data()
    model = _model()
    path = tmp_path / "log.csv"
    history = model.fit(x, y, epochs=2, verbose=0, validation_split=0.25, callbacks=[CSVLogger(path)])
    model.fit(x, y, epochs=1, verbose=0, validation_split=0.25, callbacks=[CSVLogger(path, append=True)])
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["epoch", "loss", "mae", "val_loss", "val_mae"] and len(rows) == 4
    assert [int(r[0]) for r in rows[1:]] == [0, 1, 0]
    assert float(rows[2][1]) == pytest.approx(history.history["loss"][1], rel=1e-12)


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_on_a_terminal_and_lines_elsewhere(capsys):
    x, y = _data()
    terminal = _Terminal()
    _model().fit(x, y, epochs=2, batch_size=8, callbacks=[ProgbarLogger(file=terminal)])
    drawn = terminal.getvalue()
    assert "Epoch 1/2" in drawn and "Epoch 2/2" in drawn and "3/3" in drawn and "loss:" in drawn
    assert capsys.readouterr().out == ""  # the bar went to its own file

    _model().fit(x, y, epochs=2, batch_size=8, verbose=1)  # stdout captured: not a terminal
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("Epoch 1/2 - 3 steps") and "loss: " in lines[0]
    _model().fit(x, y, epochs=2, batch_size=8, verbose=2, validation_data=(x, y))
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and "val_loss: " in lines[1]
    model = _model()
    model.fit(x, y, epochs=2, verbose=0)
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    assert capsys.readouterr().out == ""
    model.evaluate(x, y, verbose=2)
    assert capsys.readouterr().out.startswith("Evaluate - 1 steps")


def test_history_comes_after_the_users_callbacks_and_plots(tmp_path):
    x, y = _data()
    model = _model()
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[ReduceLROnPlateau(monitor="loss", patience=0,
                                                                                min_delta=1e9, factor=0.5)])
    assert history.history["learning_rate"] == [0.05, 0.05, 0.025]
    assert isinstance(history, History) and model.history is history
    path = history.plot(tmp_path / "curves.png", mark_epoch=1)
    with open(path, "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="were not logged"):
        history.plot(tmp_path / "other.png", metrics=["accuracy"])


def test_batch_logs_are_floats_for_callbacks_that_read_them():
    x, y = _data(rows=16)
    seen = []

    class Reader(Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(logs)

    begun = []
    _model().fit(x, y, epochs=1, batch_size=8, verbose=0,
                 callbacks=[Reader(), LambdaCallback(on_train_begin=lambda logs: begun.append(True))])
    assert len(seen) == 2 and all(isinstance(v, float) for logs in seen for v in logs.values())
    assert list(seen[0]) == ["loss", "mae"] and begun == [True]
    with pytest.raises(ValueError, match="unknown hook 'on_step'"):
        LambdaCallback(on_step=print)


def test_stop_training_from_a_batch_hook():
    x, y = _data(rows=16)
    model = _model()

    def stop(batch, logs):
        if batch == 1:
            model.stop_training = True

    history = model.fit(x, y, epochs=5, batch_size=4, verbose=0, callbacks=[LambdaCallback(on_train_batch_end=stop)])
    assert model.optimizer.iterations == 2 and history.epoch == [0]
