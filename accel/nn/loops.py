"""The loops of Keras's training API: fit, evaluate, predict, train_on_batch, test_on_batch,
predict_on_batch. They check every argument before any variable changes, cut the data into
batches (data.py), and drive the model's step functions (training.py) and the callbacks.
"""

from __future__ import annotations

import numbers

import numpy

from .. import ops
from ..callbacks import CallbackList
from ..callbacks.callback import as_floats
from .data import arrays_on_device, batches_for, split_validation, unpack

__all__ = ["Loops"]


class _StepCache:
    """What fit's steps reuse once the first step has built the model: the trainable variables
    and the modules that add penalties (walking the module tree costs ~30 µs a step). Keras
    likewise fixes the variables a compiled train function updates."""

    def __init__(self):
        self.variables = None
        self.penalised = None

    def trainable(self, model) -> list:
        if self.variables is None:
            self.variables = model.trainable_variables
        return self.variables

    def losses(self, model) -> list:
        if self.penalised is None:
            self.penalised = model.penalised_modules()
        return [loss for module in self.penalised for loss in module.own_losses()]


def _positive_int(who: str, name: str, value, allow_none=True):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{who}: {name} must be a positive int{' or None' if allow_none else ''}, got {value!r}")
    return int(value)


def _verbosity(who: str, verbose) -> int:
    if verbose == "auto":
        return 1
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise ValueError(f"{who}: verbose must be 'auto', 0, 1 or 2, got {verbose!r}")
    return int(verbose)


class Loops:
    """fit / evaluate / predict and the single-batch forms (a mixin of Trainer)."""

    # -- fit ---------------------------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1, sample_weight=None):
        """Trains for `epochs` epochs (numbered from `initial_epoch`); returns the History.
        Every argument is checked before any variable changes."""

        self._assert_compiled("fit")
        verbose = _verbosity("fit", verbose)
        if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 0:
            raise ValueError(f"fit: epochs must be an int >= 0, got {epochs!r}")
        if isinstance(initial_epoch, bool) or not isinstance(initial_epoch, numbers.Integral) or initial_epoch < 0:
            raise ValueError(f"fit: initial_epoch must be an int >= 0, got {initial_epoch!r}")
        batch_size = _positive_int("fit", "batch_size", batch_size)
        steps_per_epoch = _positive_int("fit", "steps_per_epoch", steps_per_epoch)
        validation_steps = _positive_int("fit", "validation_steps", validation_steps)
        validation_batch_size = _positive_int("fit", "validation_batch_size", validation_batch_size)
        if not isinstance(validation_split, numbers.Real) or not 0 <= validation_split < 1:
            raise ValueError(f"fit: validation_split must be in [0, 1), got {validation_split!r}")
        if not isinstance(shuffle, bool):
            raise ValueError(f"fit: shuffle must be True or False, got {shuffle!r}")
        validation_epochs = _validation_epochs(validation_freq)
        dtype, device = self._placement()
        data = batches_for(x, y, sample_weight, batch_size=batch_size or 32, shuffle=shuffle, steps=steps_per_epoch,
                           device=device, float_dtype=dtype, who="fit")
        if batch_size is not None and not hasattr(data, "rows"):
            raise ValueError("fit: do not pass batch_size when x is an iterable of batches (they are already batched)")
        validation = None
        if validation_split:
            if not hasattr(data, "rows"):
                raise ValueError("fit: validation_split needs arrays; with an iterable of batches pass validation_data")
            train, held_out = split_validation(data.x, data.y, data.sample_weight, validation_split)
            data = type(data)(*train, batch_size=data.batch_size, shuffle=shuffle, steps_per_epoch=steps_per_epoch)
            validation = type(data)(*held_out, batch_size=validation_batch_size or data.batch_size)
        elif validation_data is not None:
            validation = self._validation_batches(validation_data, validation_batch_size or batch_size or 32,
                                                  validation_steps, device, dtype)
        if hasattr(data, "rows") and data.rows == 0:
            raise ValueError("fit: x has no rows")

        callback_list = CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=self,
                                     verbose=verbose, epochs=epochs, steps=data.num_batches)
        self.stop_training = False
        epoch_logs = {}
        self._step_cache = _StepCache()
        train_step = self._step_function("train")
        try:
            callback_list.on_train_begin()
            for epoch in range(initial_epoch, epochs):
                self.reset_metrics()
                callback_list.on_epoch_begin(epoch)
                logs = None
                for step, batch in enumerate(data.epoch()):
                    callback_list.on_train_batch_begin(step)
                    logs = train_step(batch)
                    callback_list.on_train_batch_end(step, logs)
                    if self.stop_training:
                        break
                if logs is None:
                    if getattr(data, "exhausted", False):
                        break
                    raise ValueError("fit: an epoch produced no batches (is the data empty?)")
                epoch_logs = as_floats(logs)
                if validation is not None and epoch + 1 in validation_epochs:
                    val_logs = self._run_evaluation(validation, callback_list)
                    epoch_logs.update({f"val_{key}": value for key, value in val_logs.items()})
                callback_list.on_epoch_end(epoch, epoch_logs)
                if self.stop_training or getattr(data, "exhausted", False):
                    break
            callback_list.on_train_end(epoch_logs)
        finally:
            self._step_cache = None
            if callback_list.progbar is not None:
                callback_list.progbar._close()
        return self.history

    def _validation_batches(self, validation_data, batch_size, steps, device, dtype):
        if isinstance(validation_data, tuple):
            if len(validation_data) not in (2, 3):
                raise ValueError("fit: validation_data must be (x, y), (x, y, sample_weight) or an iterable of batches")
            vx, vy, vw = unpack(validation_data)
            return batches_for(vx, vy, vw, batch_size=batch_size, shuffle=False, steps=steps, device=device,
                               float_dtype=dtype, who="fit (validation_data)")
        return batches_for(validation_data, None, None, batch_size=batch_size, shuffle=False, steps=steps,
                           device=device, float_dtype=dtype, who="fit (validation_data)")

    def _run_evaluation(self, data, callback_list) -> dict:

        self.reset_metrics()
        callback_list.on_test_begin()
        logs = None
        test_step = self._step_function("test")
        for step, batch in enumerate(data.epoch()):
            callback_list.on_test_batch_begin(step)
            logs = test_step(batch)
            callback_list.on_test_batch_end(step, logs)
        if logs is None:
            raise ValueError("evaluate: the data produced no batches")
        logs = as_floats(logs)
        callback_list.on_test_end(logs)
        return logs

    # -- evaluate / predict -----------------------------------------------------------------------------
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, return_dict=False):
        """The loss (with regularization) and metrics over the data: a float when there are no
        metrics, else [loss, *metrics] in `metrics_names` order; a dict with return_dict=True."""

        self._assert_compiled("evaluate")
        verbose = _verbosity("evaluate", verbose)
        batch_size = _positive_int("evaluate", "batch_size", batch_size)
        steps = _positive_int("evaluate", "steps", steps)
        dtype, device = self._placement()
        data = batches_for(x, y, sample_weight, batch_size=batch_size or 32, shuffle=False, steps=steps,
                           device=device, float_dtype=dtype, who="evaluate")
        callback_list = CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose, epochs=1,
                                     steps=data.num_batches)
        logs = self._run_evaluation(data, callback_list)
        return logs if return_dict else _flatten(logs)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None) -> numpy.ndarray:
        """The model's outputs for every row (batch by batch), as one NumPy array."""

        verbose = _verbosity("predict", verbose)
        batch_size = _positive_int("predict", "batch_size", batch_size)
        steps = _positive_int("predict", "steps", steps)
        dtype, device = self._placement()
        data = batches_for(x, None, None, batch_size=batch_size or 32, shuffle=False, steps=steps, device=device,
                           float_dtype=dtype, who="predict")
        callback_list = CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose, epochs=1,
                                     steps=data.num_batches)
        callback_list.on_predict_begin()
        outputs = []
        for step, batch in enumerate(data.epoch()):
            callback_list.on_predict_batch_begin(step)
            out = self.predict_step(batch)
            outputs.append(out)
            callback_list.on_predict_batch_end(step, {"outputs": out})
        callback_list.on_predict_end()
        if not outputs:
            raise ValueError("predict: the data produced no batches")
        return ops.concat(outputs, axis=0).numpy() if len(outputs) > 1 else outputs[0].numpy()

    # -- single batches ---------------------------------------------------------------------------------
    def train_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """One training step on this batch; returns this batch's loss (and metrics)."""
        return self._on_batch("train", "train_on_batch", x, y, sample_weight, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """Loss (and metrics) of this batch, no update."""
        return self._on_batch("test", "test_on_batch", x, y, sample_weight, return_dict)

    def _on_batch(self, kind, who, x, y, sample_weight, return_dict):
        """Runs the `kind` step on one batch with fresh metrics (Keras since 2026: this batch's values)."""

        self._assert_compiled(who)
        batch = self._one_batch(x, y, sample_weight, who)
        self.reset_metrics()
        logs = as_floats(self._step_function(kind)(batch))
        return logs if return_dict else _flatten(logs)

    def predict_on_batch(self, x) -> numpy.ndarray:
        batch = self._one_batch(x, None, None, "predict_on_batch")
        return self.predict_step(batch).numpy()

    def _one_batch(self, x, y, sample_weight, who):
        dtype, device = self._placement()
        if x is None:
            raise ValueError(f"{who}: x is required")
        return arrays_on_device(x, y, sample_weight, device, dtype)


def _flatten(logs: dict):
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


def _validation_epochs(freq):
    """The 1-based epochs after which fit validates: every `freq`-th, or those listed."""
    if isinstance(freq, numbers.Integral) and not isinstance(freq, bool):
        if freq <= 0:
            raise ValueError(f"fit: validation_freq must be a positive int or a list of epochs, got {freq!r}")
        return _EveryNth(int(freq))
    try:
        epochs = set(freq)
    except TypeError:
        raise ValueError(f"fit: validation_freq must be a positive int or a list of epochs, got {freq!r}") from None
    if not all(isinstance(e, numbers.Integral) and not isinstance(e, bool) and e > 0 for e in epochs):
        raise ValueError(f"fit: validation_freq lists epochs as positive ints (1-based), got {freq!r}")
    return epochs


class _EveryNth:
    def __init__(self, n: int):
        self.n = n

    def __contains__(self, epoch: int) -> bool:
        return epoch % self.n == 0
