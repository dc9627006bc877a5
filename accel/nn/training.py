"""Keras's training API on accel.nn.Module: compile, the step functions, get_weights /
set_weights, summary (the loops that drive the steps: loops.py).

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
from .data import unpack
from .loops import Loops
from ..dtypes import is_floating

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


class Trainer(Loops):
    """The training API (a mixin of Module): compile, what one step computes, the weights; the
    loops that drive the steps (fit, evaluate, predict, ...) come from `Loops`. Attributes after
    compile: `optimizer`, `loss`, `metrics` (the loss tracker, then the compiled metrics),
    `stop_training`, `history`."""

    optimizer = None
    loss = None
    stop_training = False
    history = None
    _compiled = None

    # -- compile ------------------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None, auto_scale_loss=True,
                jit_compile=False, run_eagerly=False):
        """Configures training. optimizer: a name ("sgd", "adam", "rmsprop", ... with Keras's
        defaults) or an Optimizer; loss: a name ("mse", "mae", "binary_crossentropy",
        "categorical_crossentropy", "sparse_categorical_crossentropy", ...), a Loss object or a
        callable (y_true, y_pred) -> per-sample losses; metrics: a list of names ("accuracy" /
        "acc" resolved from the shapes as Keras 3 does, "mae", "mse", ...), Metric objects or
        callables; loss_weights: a number that multiplies the loss (models here have one output);
        auto_scale_loss: a model with a layer under the "mixed_float16" policy gets its optimizer
        wrapped in a LossScaleOptimizer (Keras's rule), unless it is one already. jit_compile=True:
        fit's, evaluate's and the on-batch steps run through accel.function (traced once per batch
        shape, replayed after); run_eagerly=True runs them eagerly whatever jit_compile says."""
        for flag, value in (("jit_compile", jit_compile), ("run_eagerly", run_eagerly)):
            if not isinstance(value, bool):
                raise TypeError(f"compile: {flag} must be True or False, got {value!r}")
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
        self.jit_compile, self.run_eagerly = jit_compile, run_eagerly
        self._step_functions = {}
        self.stop_training = False

    def _step_function(self, kind: str):
        """train_step or test_step ("train" / "test") as fit and evaluate call it: through
        accel.function when compiled with jit_compile=True (the traced step updates the
        variables, slots and metrics; their results are read outside it), else as it is."""
        step = self.train_step if kind == "train" else self.test_step
        if not self.__dict__.get("jit_compile") or self.__dict__.get("run_eagerly"):
            return step
        traced = self._step_functions.get(kind)
        if traced is None:
            from ..function import function

            def run_step(batch):
                step(batch)  # its results are the metrics' variables, read after the call

            traced = self._step_functions[kind] = function(run_step)

        def run(batch):
            traced(batch)
            return MetricResults(self.metrics)

        return run

    def _assert_compiled(self, who: str) -> _Compiled:
        if self._compiled is None:
            raise RuntimeError(f"{who}: the model must be compiled first: call model.compile(optimizer=..., loss=...)")
        return self._compiled

    # -- what the model computes in ------------------------------------------------------------------
    def _placement(self):
        """(float dtype, device) of the model: its first floating-point variable's, else the
        `dtype` / `device` a layer was given, else float32 on the default device."""
        for variable in self.variables:
            if is_floating(variable.dtype):
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
            y_pred = self(x, training=True)
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
                gradients = self.optimizer._tape_gradients(tape, scaled, variables)
        else:
            gradients = self.optimizer._tape_gradients(tape, scaled, variables)
        self.optimizer.apply_gradients(zip(gradients, variables))
        return self.compute_metrics(x, y, y_pred, sample_weight, loss=loss)

    def test_step(self, data):
        """Forward pass, loss and metrics on a batch, no update."""
        x, y, sample_weight = unpack(data)
        y_pred = self(x, training=False)
        loss = self.compute_loss(x, y, y_pred, sample_weight)
        return self.compute_metrics(x, y, y_pred, sample_weight, loss=loss)

    def predict_step(self, data):
        x, _, _ = unpack(data)
        return self(x, training=False)

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
            value_dtype = numpy.asarray(value).dtype if not isinstance(value, Tensor) else value.dtype
            if not is_floating(variable.dtype) and is_floating(value_dtype):
                raise TypeError(f"set_weights: weights[{index}] ({variable.name}) is floating point but the variable "
                                f"is {variable.dtype.name}")
            value = value.numpy() if isinstance(value, Tensor) else value
            checked.append(variable._check_value(value, "set_weights"))
        for variable, value in zip(variables, checked):
            variable.assign(value)

    def save_weights(self, filepath) -> str:
        """Every variable of the model (get_weights' order, named by attribute path) to
        `filepath` (accel's checkpoint format, written atomically); returns the path."""
        from ..checkpoint import Checkpoint

        return Checkpoint(model=self).save(filepath)

    def load_weights(self, filepath) -> None:
        """Restores the variables saved by save_weights, or the model part of a checkpoint that
        also holds an optimizer (Checkpoint(model=..., optimizer=...), ModelCheckpoint); every
        name and shape is checked before anything is assigned. An unbuilt model must be called
        once (or built from input_shape=) first."""
        from ..checkpoint import Checkpoint

        Checkpoint(model=self).restore(filepath).expect_partial()

    def summary(self, print_fn=None) -> None:
        """Prints a table of the model's layers, their weights and parameter counts."""
        from .summary import summary_lines

        for line in summary_lines(self):
            (print_fn or print)(line)
