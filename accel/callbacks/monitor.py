"""Callbacks that watch a logged value: ReduceLROnPlateau, EarlyStopping; and the ones that act
on the learning rate or the loss: LearningRateScheduler, TerminateOnNaN. Keras 3's behaviour
(docs/semantics.md section 13 states it step by step)."""

from __future__ import annotations

import inspect
import math
import numbers
import warnings

import numpy

from ..tensor import Tensor
from .callback import Callback
from ..dtypes import is_floating

__all__ = ["ReduceLROnPlateau", "EarlyStopping", "LearningRateScheduler", "TerminateOnNaN"]

_MODES = ("auto", "min", "max")


def _optimizer(callback):
    model = callback.model
    optimizer = getattr(model, "optimizer", None) if model is not None else None
    if optimizer is None:
        raise ValueError(f"{type(callback).__name__}: the model has no optimizer (call compile() first)")
    return optimizer


def _learning_rate(callback) -> float:
    return float(_optimizer(callback).learning_rate)


def _set_learning_rate(callback, value: float) -> None:
    optimizer = _optimizer(callback)
    current = optimizer._learning_rate
    if callable(current) and not isinstance(current, Tensor):
        raise TypeError(f"{type(callback).__name__}: the optimizer's learning rate is a schedule "
                        f"({type(current).__name__}), which a callback cannot set; give the optimizer a float "
                        "learning rate to adapt it with callbacks")
    optimizer.learning_rate = value


def _check_mode(owner: str, mode: str) -> str:
    if mode not in _MODES:
        warnings.warn(f"{owner}: mode {mode!r} is unknown, falling back to 'auto'", stacklevel=3)
        return "auto"
    return mode


def _count(owner: str, name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{owner}: {name} must be an int >= 0, got {value!r}")
    return int(value)


def _direction_of(callback) -> str:
    """'min' or 'max' for mode 'auto' (EarlyStopping, ModelCheckpoint): a loss is minimised; a
    compiled metric goes its own direction; anything else cannot be decided (Keras raises)."""
    name = callback.monitor[4:] if callback.monitor.startswith("val_") else callback.monitor
    if name == "loss":
        return "min"
    for metric in getattr(callback.model, "metrics", None) or []:
        if metric.name == name:
            return "max" if metric.direction == "up" else "min"
    raise ValueError(f"{type(callback).__name__}: cannot tell whether monitor={callback.monitor!r} should be "
                     "minimised or maximised; pass mode='min' or mode='max'")


def _monitored(callback, logs):
    value = (logs or {}).get(callback.monitor)
    if value is None:
        warnings.warn(f"{type(callback).__name__} is conditioned on {callback.monitor!r}, which is not in the logs; "
                      f"available: {', '.join(logs or {}) or 'none'}", stacklevel=3)
        return None
    return float(value)


class ReduceLROnPlateau(Callback):
    """Multiplies the learning rate by `factor` after `patience` epochs without improvement of
    `monitor` (by more than `min_delta`), then waits `cooldown` epochs; never below `min_lr`.
    mode "auto": "max" when "acc" is in the monitor's name, else "min". Adds `learning_rate`
    (the rate before this epoch's reduction) to the epoch's logs."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0, **kwargs):
        super().__init__()
        if kwargs:
            raise TypeError(f"ReduceLROnPlateau: unexpected arguments {sorted(kwargs)}")
        if not isinstance(factor, numbers.Real) or not 0 <= factor < 1:
            raise ValueError(f"ReduceLROnPlateau: factor must be in [0, 1) (it multiplies the learning rate), "
                             f"got {factor!r}")
        self.monitor = monitor
        self.factor = float(factor)
        self.patience = _count("ReduceLROnPlateau", "patience", patience)
        self.cooldown = _count("ReduceLROnPlateau", "cooldown", cooldown)
        self.min_lr = float(min_lr)
        self.min_delta = float(min_delta)
        self.verbose = verbose
        self.mode = _check_mode("ReduceLROnPlateau", mode)
        self._reset()

    def _reset(self) -> None:
        self.maximize = self.mode == "max" or (self.mode == "auto" and "acc" in self.monitor)
        self.best = None
        self.wait = 0
        self.cooldown_counter = 0

    def on_train_begin(self, logs=None):
        self._reset()

    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def _improved(self, current: float) -> bool:
        if self.best is None:
            return True
        if self.maximize:
            return current > self.best + self.min_delta
        return current < self.best - self.min_delta

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["learning_rate"] = _learning_rate(self)
        current = _monitored(self, logs)
        if current is None:
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improved(current):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                old_lr = _learning_rate(self)
                if old_lr > numpy.float32(self.min_lr):
                    new_lr = max(old_lr * self.factor, self.min_lr)
                    _set_learning_rate(self, new_lr)
                    if self.verbose > 0:
                        print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr}.")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0


class EarlyStopping(Callback):
    """Stops training when `monitor` has not improved (by more than `min_delta`) for `patience`
    epochs. `baseline`: an epoch must also beat it to reset the wait. `restore_best_weights`:
    the best epoch's weights are put back at the end of training. Epochs before
    `start_from_epoch` are ignored."""

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        self.monitor = monitor
        self.min_delta = abs(float(min_delta))
        self.patience = _count("EarlyStopping", "patience", patience)
        self.verbose = verbose
        self.mode = _check_mode("EarlyStopping", mode)
        self.baseline = None if baseline is None else float(baseline)
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = _count("EarlyStopping", "start_from_epoch", start_from_epoch)
        self.maximize = None  # decided at the first epoch's end (mode "auto" needs the compiled metrics)
        self.on_train_begin()

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def _improves_on(self, current: float, reference) -> bool:
        if reference is None:
            return True
        if self.maximize:
            return current - self.min_delta > reference
        return current + self.min_delta < reference

    def on_epoch_end(self, epoch, logs=None):
        if self.maximize is None:
            self.maximize = (self.mode == "max") if self.mode != "auto" else _direction_of(self) == "max"
        current = _monitored(self, logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._improves_on(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._improves_on(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class LearningRateScheduler(Callback):
    """At each epoch's start sets the learning rate to `schedule(epoch, lr)` (or `schedule(epoch)`
    for a function of one argument); the result must be a float (or a 0-d float tensor / NumPy
    float). Adds `learning_rate` to the epoch's logs."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"LearningRateScheduler: schedule must be callable, got {type(schedule).__name__}")
        self.schedule = schedule
        self.verbose = verbose
        self._takes_lr = _positional_count(schedule) != 1

    def on_epoch_begin(self, epoch, logs=None):
        lr = self.schedule(epoch, _learning_rate(self)) if self._takes_lr else self.schedule(epoch)
        if isinstance(lr, Tensor) and lr.ndim == 0 and is_floating(lr.dtype):
            lr = float(lr.item())
        elif isinstance(lr, (numpy.floating, numpy.ndarray)) and numpy.ndim(lr) == 0 and \
                is_floating(numpy.asarray(lr).dtype):
            lr = float(lr)
        if not isinstance(lr, float) or isinstance(lr, bool):
            raise ValueError(f"LearningRateScheduler: the schedule must return a float, got {lr!r} at epoch {epoch}")
        if not (math.isfinite(lr) and lr >= 0):
            raise ValueError(f"LearningRateScheduler: the schedule returned {lr} at epoch {epoch}; a learning rate "
                             "must be finite and >= 0")
        _set_learning_rate(self, lr)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = _learning_rate(self)


def _positional_count(fn) -> int:
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return 2
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if any(p.kind == inspect.Parameter.VAR_POSITIONAL for p in parameters):
        return 2
    return sum(1 for p in parameters if p.kind in kinds)


class TerminateOnNaN(Callback):
    """Stops training at the first batch whose loss is NaN or infinite (one host read of the
    loss per batch, as in Keras)."""

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True
