"""Keras's training API on accel.nn.Module: compile, fit, evaluate, predict, train_on_batch,
test_on_batch, predict_on_batch, get_weights / set_weights, summary.

One step function does the work: `train_step(data)` (a GradientTape over the forward pass and
the loss, one fused `apply_gradients`, the metrics updated on the device) returns the running
results; `fit` only drives it and the callbacks. Override `train_step` / `test_step` to change
what a step does, or wrap them (a data-parallel strategy averages the gradients there).
docs/semantics.md section 13 states the rules (batching, validation_split, how the epoch's loss
is averaged, sample weights, regularization).
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping

import numpy

from .. import dtypes, ops
from .. import optimizers as optimizers_module
from ..autodiff.tape import GradientTape
from ..device import default_device, get_device
from ..tensor import Tensor, convert
from . import losses as losses_module
from . import metrics as metrics_module
from .data import batches_for, split_validation, unpack

__all__ = ["Trainer"]


class _Compiled:
    """What compile() resolved: the loss, its weight, and the metrics (names until the first
    batch shows the shapes "accuracy" needs)."""

    def __init__(self, loss, loss_weight, metrics):
        self.loss = loss
        self.loss_weight = loss_weight
        self.metric_specs = metrics
        self.metrics = None  # resolved Metric objects
        self.loss_tracker = metrics_module.Mean(name="loss")


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
            self.penalised = [m for m in model.modules if type(m).own_losses is not _module_own_losses()]
        out = []
        for module in self.penalised:
            out += module.own_losses()
        return out


def _module_own_losses():
    from .module import Module
    return Module.own_losses


class MetricResults(Mapping):
    """name -> the metric's running result (a 0-d tensor), computed when read."""

    def __init__(self, metrics):
        self._metrics = {m.name: m for m in metrics}

    def __getitem__(self, name):
        return self._metrics[name].result()

    def __iter__(self):
        return iter(self._metrics)

    def __len__(self) -> int:
        return len(self._metrics)


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


class Trainer:
    """The training API (a mixin of Module). Attributes after compile: `optimizer`, `loss`,
    `metrics` (the loss tracker, then the compiled metrics), `stop_training`, `history`."""

    optimizer = None
    loss = None
    stop_training = False
    history = None
    _compiled = None

    # -- compile ------------------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None, auto_scale_loss=True):
        """Configures training. optimizer: a name ("sgd", "adam", "rmsprop", ... with Keras's
        defaults) or an Optimizer; loss: a name ("mse", "mae", "binary_crossentropy",
        "categorical_crossentropy", "sparse_categorical_crossentropy", ...), a Loss object or a
        callable (y_true, y_pred) -> per-sample losses; metrics: a list of names ("accuracy" /
        "acc" resolved from the shapes as Keras 3 does, "mae", "mse", ...), Metric objects or
        callables; loss_weights: a number that multiplies the loss (models here have one output);
        auto_scale_loss: a model with a layer under the "mixed_float16" policy gets its optimizer
        wrapped in a LossScaleOptimizer (Keras's rule), unless it is one already."""
        optimizer = optimizers_module.get(optimizer)
        if not isinstance(auto_scale_loss, bool):
            raise TypeError(f"compile: auto_scale_loss must be True or False, got {auto_scale_loss!r}")
        if auto_scale_loss and not isinstance(optimizer, optimizers_module.LossScaleOptimizer) and any(
                getattr(getattr(m, "dtype_policy", None), "name", None) == "mixed_float16" for m in self.modules):
            optimizer = optimizers_module.LossScaleOptimizer(optimizer, name="loss_scale_optimizer")
        loss_fn = None if loss is None else losses_module.get(loss)
        if metrics is None:
            metrics = []
        if isinstance(metrics, (str, metrics_module.Metric)) or callable(metrics):
            raise TypeError("compile: metrics must be a list, e.g. metrics=['accuracy']")
        metrics = list(metrics)
        for index, spec in enumerate(metrics):  # fail on an unknown name now, not at the first batch
            if isinstance(spec, str) and spec.lower() not in metrics_module.ACCURACY_NAMES:
                metrics_module.get(spec)
            elif not isinstance(spec, (str, metrics_module.Metric)) and not callable(spec):
                raise TypeError(f"compile: metrics[{index}] must be a name, a Metric or a callable, got "
                                f"{type(spec).__name__}")
        weight = 1.0
        if loss_weights is not None:
            if isinstance(loss_weights, (list, tuple)) and len(loss_weights) == 1:
                loss_weights = loss_weights[0]
            if isinstance(loss_weights, bool) or not isinstance(loss_weights, numbers.Real):
                raise ValueError(f"compile: loss_weights must be a number for a model with one output, got "
                                 f"{loss_weights!r}")
            weight = float(loss_weights)
        names = [getattr(m, "name", m) if not isinstance(m, str) else m for m in metrics]
        if len(set(map(str, names))) != len(names) or "loss" in names:
            raise ValueError(f"compile: metric names must be unique and not 'loss', got {names}")
        self.optimizer = optimizer
        self.loss = loss
        self._compiled = _Compiled(loss_fn, weight, metrics)
        self.stop_training = False

    def _assert_compiled(self, who: str) -> _Compiled:
        if self._compiled is None:
            raise RuntimeError(f"{who}: the model must be compiled first: call model.compile(optimizer=..., loss=...)")
        return self._compiled

    # -- what the model computes in ------------------------------------------------------------------
    def _placement(self):
        """(float dtype, device) of the model: its first floating-point variable's, else the
        `dtype` / `device` a layer was given, else float32 on the default device."""
        for variable in self.variables:
            if variable.dtype.kind == "f":
                return variable.dtype, variable.device
        dtype, device = None, None
        for module in self.modules:
            dtype = dtype or getattr(module, "dtype", None)
            device = device or getattr(module, "device", None)
        return dtypes.as_dtype(dtype or "float32"), get_device(device) if device is not None else default_device()

    # -- metrics ------------------------------------------------------------------------------------------
    @property
    def metrics(self) -> list:
        """The loss tracker, then the compiled metrics (once the first batch has resolved them)."""
        compiled = self._compiled
        if compiled is None:
            return []
        return [compiled.loss_tracker, *(compiled.metrics or [])]

    @property
    def metrics_names(self) -> list:
        compiled = self._compiled
        if compiled is None:
            return []
        if compiled.metrics is not None:
            return [m.name for m in self.metrics]
        return ["loss", *(s if isinstance(s, str) else getattr(s, "name", getattr(s, "__name__", "metric"))
                          for s in compiled.metric_specs)]

    def reset_metrics(self) -> None:
        for metric in self.metrics:
            metric.reset_state()

    def _resolve_metrics(self, y, y_pred) -> list:
        compiled = self._compiled
        if compiled.metrics is None:
            if compiled.metric_specs and y is None:
                raise ValueError("compiled metrics need targets y")
            compiled.metrics = [metrics_module.get(spec, y, y_pred) for spec in compiled.metric_specs]
        return compiled.metrics

    # -- one step ------------------------------------------------------------------------------------------
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None):
        """The compiled loss (sum(w * l) / batch size, times loss_weights) plus every
        regularization penalty in `self.losses`, in the prediction's dtype."""
        compiled = self._assert_compiled("compute_loss")
        if isinstance(y_pred, (list, tuple, dict)):
            raise ValueError("compile / fit support models with one output; this model returned "
                             f"a {type(y_pred).__name__}")
        terms = []
        if compiled.loss is not None:
            if y is None:
                raise ValueError("the compiled loss needs targets: pass y (or batches of (x, y))")
            fn = compiled.loss
            if isinstance(fn, losses_module.Loss):
                value = fn(y, y_pred, sample_weight)
            else:
                per_sample = fn(y, y_pred)
                if isinstance(per_sample, Tensor) and per_sample.ndim == 0 and sample_weight is not None:
                    raise ValueError("the loss function returned a scalar; sample weights need one loss per sample")
                value = losses_module.reduce_weighted(convert(per_sample), sample_weight)
            if compiled.loss_weight != 1.0:
                value = value * compiled.loss_weight
            terms.append(value)
        cache = self.__dict__.get("_step_cache")
        terms += cache.losses(self) if cache is not None else self.losses
        if not terms:
            raise ValueError("there is no loss to compute: pass loss= to compile() or give layers regularizers")
        dtype = terms[0].dtype
        total = terms[0]
        for term in terms[1:]:
            total = total + (term if term.dtype == dtype else ops.cast(term, dtype))
        return total

    def compute_metrics(self, x, y, y_pred, sample_weight=None, loss=None):
        """Updates the loss tracker (weighted by the batch's rows) and the compiled metrics (not
        sample-weighted, as Keras's `metrics=`); returns the running results."""
        compiled = self._compiled
        if loss is not None:
            rows = float(x.shape[0]) if isinstance(x, Tensor) and x.ndim else 1.0
            compiled.loss_tracker.add_weighted(loss, rows)  # Keras: weighted by the rows
        for metric in self._resolve_metrics(y, y_pred):
            metric.update_state(y, y_pred)
        return MetricResults(self.metrics)

    def train_step(self, data):
        """One step on a batch (x, y, sample_weight): forward and loss on a tape, gradients of the
        trainable variables, one fused optimizer update; returns the running metric results."""
        x, y, sample_weight = unpack(data)
        with GradientTape() as tape:
            y_pred = self(x)
            loss = self.compute_loss(x, y, y_pred, sample_weight)
            scaled = self.optimizer.scale_loss(loss)
        cache = self.__dict__.get("_step_cache")
        variables = cache.trainable(self) if cache is not None else self.trainable_variables
        if not variables:
            raise ValueError("the model has no trainable variables")
        if isinstance(self.optimizer, optimizers_module.LossScaleOptimizer):
            # an overflowing scaled backward pass is expected (the step is skipped, the scale
            # halves): no NumPy overflow warnings for it
            with numpy.errstate(over="ignore", invalid="ignore"):
                gradients = tape.gradient(scaled, variables)
        else:
            gradients = tape.gradient(scaled, variables)
        self.optimizer.apply_gradients(zip(gradients, variables))
        return self.compute_metrics(x, y, y_pred, sample_weight, loss=loss)

    def test_step(self, data):
        """Forward pass, loss and metrics on a batch, no update."""
        x, y, sample_weight = unpack(data)
        y_pred = self(x)
        loss = self.compute_loss(x, y, y_pred, sample_weight)
        return self.compute_metrics(x, y, y_pred, sample_weight, loss=loss)

    def predict_step(self, data):
        x, _, _ = unpack(data)
        return self(x)

    # -- fit ---------------------------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1, sample_weight=None):
        """Trains for `epochs` epochs (numbered from `initial_epoch`); returns the History.
        Every argument is checked before any variable changes."""
        from ..callbacks import CallbackList
        from ..callbacks.callback import as_floats

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
        try:
            callback_list.on_train_begin()
            for epoch in range(initial_epoch, epochs):
                self.reset_metrics()
                callback_list.on_epoch_begin(epoch)
                logs = None
                for step, batch in enumerate(data.epoch()):
                    callback_list.on_train_batch_begin(step)
                    logs = self.train_step(batch)
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
        from ..callbacks.callback import as_floats

        self.reset_metrics()
        callback_list.on_test_begin()
        logs = None
        for step, batch in enumerate(data.epoch()):
            callback_list.on_test_batch_begin(step)
            logs = self.test_step(batch)
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
        from ..callbacks import CallbackList

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
        from ..callbacks import CallbackList

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
        return self._on_batch(self.train_step, "train_on_batch", x, y, sample_weight, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """Loss (and metrics) of this batch, no update."""
        return self._on_batch(self.test_step, "test_on_batch", x, y, sample_weight, return_dict)

    def _on_batch(self, step, who, x, y, sample_weight, return_dict):
        """Runs `step` on one batch with fresh metrics (Keras since 2026: this batch's values)."""
        from ..callbacks.callback import as_floats

        self._assert_compiled(who)
        batch = self._one_batch(x, y, sample_weight, who)
        self.reset_metrics()
        logs = as_floats(step(batch))
        return logs if return_dict else _flatten(logs)

    def predict_on_batch(self, x) -> numpy.ndarray:
        batch = self._one_batch(x, None, None, "predict_on_batch")
        return self.predict_step(batch).numpy()

    def _one_batch(self, x, y, sample_weight, who):
        from .data import arrays_on_device

        dtype, device = self._placement()
        if x is None:
            raise ValueError(f"{who}: x is required")
        return arrays_on_device(x, y, sample_weight, device, dtype)

    # -- weights -------------------------------------------------------------------------------------------
    def get_weights(self) -> list:
        """Every variable's value as a NumPy array, layer by layer (each layer's kernel, then bias)."""
        return [v.numpy() for v in self.variables]

    def set_weights(self, weights) -> None:
        """Assigns arrays in `get_weights` order; every count and shape is checked before any is
        assigned."""
        variables = self.variables
        weights = list(weights)
        if len(weights) != len(variables):
            raise ValueError(f"set_weights: the model has {len(variables)} weights, got {len(weights)} arrays")
        checked = []
        for index, (variable, value) in enumerate(zip(variables, weights)):
            shape = tuple(numpy.shape(value))
            if shape != tuple(variable.shape):
                raise ValueError(f"set_weights: weights[{index}] ({variable.name}) has shape {shape}, expected "
                                 f"{tuple(variable.shape)}")
            kind = numpy.asarray(value).dtype.kind if not isinstance(value, Tensor) else value.dtype.kind
            if variable.dtype.kind in "iub" and kind == "f":
                raise TypeError(f"set_weights: weights[{index}] ({variable.name}) is floating point but the variable "
                                f"is {variable.dtype.name}")
            value = value.numpy() if isinstance(value, Tensor) else value
            checked.append(variable._check_value(value, "set_weights"))
        for variable, value in zip(variables, checked):
            variable.assign(value)

    def summary(self, print_fn=None) -> None:
        """Prints a table of the model's layers, their weights and parameter counts."""
        from .summary import summary_lines

        for line in summary_lines(self):
            (print_fn or print)(line)


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
