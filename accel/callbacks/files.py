"""Callbacks that write files: ModelCheckpoint (through accel.Checkpoint: atomic, validated on
restore) and CSVLogger."""

from __future__ import annotations

import csv
import numbers
import os

from .callback import Callback
from .monitor import _check_mode, _direction_of

__all__ = ["ModelCheckpoint", "CSVLogger"]


class ModelCheckpoint(Callback):
    """Saves the model (and, unless `save_weights_only`, its optimizer: slots and iterations)
    with `accel.Checkpoint` after every epoch or every `save_freq` batches. `filepath` may hold
    `str.format` fields filled from the epoch (1-based) and the logs: "ckpt-{epoch:02d}-
    {val_loss:.2f}.npz". `save_best_only` saves only when `monitor` improves (mode "auto": a
    loss is minimised, a compiled metric goes its own direction); `initial_value_threshold` is
    the value to beat first. Restore with `accel.Checkpoint(model=..., optimizer=...).restore`."""

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto", save_freq="epoch", initial_value_threshold=None):
        super().__init__()
        self.filepath = os.fspath(filepath)
        if not self.filepath:
            raise ValueError("ModelCheckpoint: filepath must not be empty")
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, numbers.Integral)
                                     or save_freq <= 0):
            raise ValueError(f"ModelCheckpoint: save_freq must be 'epoch' or a positive int, got {save_freq!r}")
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        self.mode = _check_mode("ModelCheckpoint", mode)
        self.save_freq = save_freq
        self.best = None if initial_value_threshold is None else float(initial_value_threshold)
        self.maximize = None
        self._current_epoch = 0
        self._batches_since_save = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches_since_save += 1
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, None, logs)

    def _path(self, epoch, batch, logs) -> str:
        fields = dict(logs or {})
        fields["epoch"] = epoch + 1
        if batch is not None:
            fields.setdefault("batch", batch + 1)
        try:
            return self.filepath.format(**fields)
        except KeyError as missing:
            raise KeyError(f"ModelCheckpoint: filepath {self.filepath!r} names {missing}, which is not in the logs "
                           f"({', '.join(fields)})") from None

    def _should_save(self, epoch, logs, path) -> bool:
        if not self.save_best_only:
            return True
        current = (logs or {}).get(self.monitor)
        if current is None:
            import warnings
            warnings.warn(f"ModelCheckpoint: can save the best model only with {self.monitor!r} in the logs; saving "
                          "anyway", stacklevel=4)
            return True
        if self.maximize is None:
            self.maximize = (self.mode == "max") if self.mode != "auto" else _direction_of(self) == "max"
        current = float(current)
        improved = self.best is None or (current > self.best if self.maximize else current < self.best)
        if self.verbose > 0:
            before = "None" if self.best is None else f"{self.best:.5f}"
            print(f"\nEpoch {epoch + 1}: {self.monitor} " + (
                f"improved from {before} to {current:.5f}, saving model to {path}" if improved
                else f"did not improve from {before}"))
        if improved:
            self.best = current
        return improved

    def _save(self, epoch, batch, logs) -> None:
        from ..checkpoint import Checkpoint

        path = self._path(epoch, batch, logs)
        if os.path.isdir(path):
            raise IsADirectoryError(f"ModelCheckpoint: {path!r} is a directory; give a file path")
        if not self._should_save(epoch, logs, path):
            return
        objects = {"model": self.model}
        optimizer = getattr(self.model, "optimizer", None)
        if not self.save_weights_only and optimizer is not None:
            objects["optimizer"] = optimizer
        Checkpoint(**objects).save(path)
        if self.verbose > 0 and not self.save_best_only:
            print(f"\nEpoch {epoch + 1}: saved model to {path}")


class CSVLogger(Callback):
    """Writes one row per epoch to a CSV file: the epoch, then every logged value, columns in
    sorted order (fixed by the first epoch). `append=True` continues an existing file without a
    second header."""

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = bool(append)
        self.keys = None
        self.writer = None
        self.csv_file = None
        self._append_header = True

    def on_train_begin(self, logs=None):
        if self.append:
            if os.path.exists(self.filename):
                with open(self.filename, encoding="utf-8") as existing:
                    self._append_header = not bool(existing.readline())
            mode = "a"
        else:
            mode = "w"
        self.csv_file = open(self.filename, mode, newline="", encoding="utf-8")
        self.writer = None
        self.keys = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
        if getattr(self.model, "stop_training", False):
            logs = {key: logs.get(key, "NA") for key in self.keys}
        if self.writer is None:
            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch", *self.keys], delimiter=self.sep,
                                         extrasaction="ignore", restval="NA")
            if self._append_header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update({key: _cell(logs.get(key, "NA")) for key in self.keys})
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file is not None:
            self.csv_file.close()
        self.csv_file = None
        self.writer = None


def _cell(value):
    if isinstance(value, str) or isinstance(value, numbers.Number):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return f"[{', '.join(map(str, value))}]" if hasattr(value, "__iter__") else value
