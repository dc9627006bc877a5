"""Metrics with Keras's protocol: `update_state(y_true, y_pred, sample_weight=None)`, `result()`,
`reset_state()`. State lives on the device of the values (0-d float64 totals), so updating a
metric never copies to the host; `result()` is a 0-d tensor and only `float()` of it syncs.

A metric's `direction` ("up" or "down") tells callbacks in mode "auto" which way is better.
"""

from __future__ import annotations

import numpy

from .. import ops
from ..tensor import convert
from ..ops._core import make, traceable
from .losses import _same_rank

_FLOAT64 = numpy.dtype("float64")

__all__ = ["Metric", "Mean", "MeanMetricWrapper", "Accuracy", "BinaryAccuracy", "CategoricalAccuracy",
           "SparseCategoricalAccuracy", "MeanSquaredError", "MeanAbsoluteError", "binary_accuracy",
           "categorical_accuracy", "sparse_categorical_accuracy", "get"]


class Metric:
    """Base class: subclasses define update_state and result (and reset_state if they keep more
    than Mean's total and count)."""

    direction = "up"
    default_name = "metric"

    def __init_subclass__(cls, **kwargs):
        """Metrics keep their state in raw arrays, outside any tape or trace: inside accel.function
        an update or reset is an effect (run on every call) and a result a step of its own (read
        anew on every call), never a value frozen at trace time."""
        super().__init_subclass__(**kwargs)
        for name in ("update_state", "reset_state", "add_weighted"):
            if name in cls.__dict__:
                setattr(cls, name, traceable(cls.__dict__[name], effect=True))
        if "result" in cls.__dict__:
            cls.result = traceable(cls.__dict__["result"], stateful=True)

    def __init__(self, name: str | None = None):
        self.name = name or self.default_name
        # the initial state now, even while accel.function traces (there reset_state is an effect
        # recorded for the replays: a metric made inside a traced step, e.g. "accuracy" resolved
        # at the first batch, would otherwise have no state, and every replay would reset it)
        reset = type(self).reset_state
        getattr(reset, "__wrapped__", reset)(self)

    def reset_state(self) -> None:
        pass

    def update_state(self, *args, **kwargs) -> None:
        raise TypeError(f"{type(self).__name__} must define update_state")

    def result(self):
        raise TypeError(f"{type(self).__name__} must define result")

    def __call__(self, *args, **kwargs):
        """Keras's stateless use: reset, update with these values, return the result."""
        self.reset_state()
        self.update_state(*args, **kwargs)
        return self.result()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class Mean(Metric):
    """The weighted mean of every value seen: sum(w * v) / sum(w)."""

    direction = "down"
    default_name = "mean"

    def reset_state(self) -> None:
        self._device = None
        self._total = None  # a 0-d float64 array on the values' device, made by the first update
        self._count = 0.0  # unweighted counts stay on the host: a plain float
        self._weights = None  # sums of sample weights: a 0-d float64 array on the device

    def update_state(self, values, sample_weight=None) -> None:
        values = convert(values)
        device = values.device
        with device.activate():  # sums on the device's arrays: no recording, no host copy
            xp, data = device.xp, values._data
            if sample_weight is None:
                self._add(device, xp.sum(data, dtype=_FLOAT64), float(data.size))
                return
            weight = convert(sample_weight)
            if weight.device != device:
                raise ValueError(f"{self.name}: sample_weight is on {weight.device}, the values on {device}")
            w = weight._data.astype(_FLOAT64)
            if w.ndim > data.ndim and w.shape[-1] == 1:
                w = w[..., 0]
            w = xp.broadcast_to(w, data.shape)
            self._add(device, xp.sum(data * w, dtype=_FLOAT64), xp.sum(w, dtype=_FLOAT64))

    def add_weighted(self, value, weight: float) -> None:
        """Adds one value (a 0-d tensor, e.g. a batch's loss) with a host weight (its rows)."""
        device = value.device
        with device.activate():
            self._add(device, value._data.astype(_FLOAT64) * weight, float(weight))

    def _add(self, device, total, count) -> None:
        """Adds a total (a device array) and its count: a host float, or a device array of weights."""
        if self._device is not None and device != self._device:
            raise ValueError(f"{self.name}: values on {device}, the metric's state is on {self._device}")
        self._device = device
        total = device.xp.asarray(total)  # NumPy's sums are scalars: keep 0-d arrays
        self._total = total if self._total is None else self._total + total
        if isinstance(count, float):
            self._count += count
        else:
            self._weights = count if self._weights is None else self._weights + count

    def result(self):
        """total / count, 0 before any value or when the weights sum to 0 (Keras's divide_no_nan):
        a 0-d float64 tensor on the values' device."""
        if self._total is None:
            return ops.zeros((), dtype=_FLOAT64)
        device = self._device
        with device.activate():
            if self._weights is None:
                out = self._total / self._count if self._count else self._total * 0.0
            else:
                count = self._weights + self._count
                out = device.xp.where(count == 0, 0.0, self._total / device.xp.where(count == 0, 1.0, count))
            return make(device.xp.asarray(out), device)


class MeanMetricWrapper(Mean):
    """The mean of `fn(y_true, y_pred)` (one value per sample) over every sample seen."""

    def __init__(self, fn, name: str | None = None, direction: str | None = None, **fn_kwargs):
        self._fn = fn
        self._fn_kwargs = fn_kwargs
        if direction is not None:
            self.direction = direction
        super().__init__(name=name or getattr(fn, "__name__", "mean_metric_wrapper"))

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        super().update_state(self._fn(y_true, y_pred, **self._fn_kwargs), sample_weight)


def _on_arrays(fn):
    """A metric function computed on the raw arrays of the values' device: metrics need no
    gradient, so they skip the ops' recording and checks (a few µs per op, every step of fit).
    `fn(xp, y_true, y_pred, **kwargs)` returns one float64 value per sample."""

    def metric(y_true, y_pred, **kwargs):
        y_true, y_pred = convert(y_true), convert(y_pred)
        if y_true.device != y_pred.device:
            raise ValueError(f"{fn.__name__}: y_true is on {y_true.device}, y_pred on {y_pred.device}")
        device = y_pred.device
        with device.activate():
            return make(fn(device.xp, y_true._data, y_pred._data, **kwargs), device)

    metric.__name__, metric.__qualname__, metric.__doc__ = fn.__name__, fn.__qualname__, fn.__doc__
    return metric


@_on_arrays
def binary_accuracy(xp, y_true, y_pred, threshold: float = 0.5):
    """mean over the last axis of (y_pred > threshold) == y_true, per sample."""
    t, p = _same_rank(y_true, y_pred)
    return xp.mean(t == (p > threshold), axis=-1, dtype=xp.float64)


@_on_arrays
def categorical_accuracy(xp, y_true, y_pred):
    """argmax(y_true) == argmax(y_pred) over the last axis, per sample."""
    return (xp.argmax(y_true, axis=-1) == xp.argmax(y_pred, axis=-1)).astype(xp.float64)


@_on_arrays
def sparse_categorical_accuracy(xp, y_true, y_pred):
    """y_true == argmax(y_pred) over the last axis, per sample (labels of shape (n,) or (n, 1))."""
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    return (y_true == xp.argmax(y_pred, axis=-1)).astype(xp.float64)


@_on_arrays
def _mse(xp, y_true, y_pred):
    t, p = _same_rank(y_true, y_pred)
    return xp.mean(xp.square(p.astype(xp.float64) - t.astype(xp.float64)), axis=-1)


@_on_arrays
def _mae(xp, y_true, y_pred):
    t, p = _same_rank(y_true, y_pred)
    return xp.mean(xp.abs(p.astype(xp.float64) - t.astype(xp.float64)), axis=-1)


@_on_arrays
def _equal(xp, y_true, y_pred):
    t, p = _same_rank(y_true, y_pred)
    return (t == p).astype(xp.float64)


class Accuracy(MeanMetricWrapper):
    """How often y_pred equals y_true exactly."""

    def __init__(self, name: str = "accuracy"):
        super().__init__(_equal, name, "up")


class BinaryAccuracy(MeanMetricWrapper):
    def __init__(self, name: str = "binary_accuracy", threshold: float = 0.5):
        super().__init__(binary_accuracy, name, "up", threshold=threshold)


class CategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, name: str = "categorical_accuracy"):
        super().__init__(categorical_accuracy, name, "up")


class SparseCategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, name: str = "sparse_categorical_accuracy"):
        super().__init__(sparse_categorical_accuracy, name, "up")


class MeanSquaredError(MeanMetricWrapper):
    def __init__(self, name: str = "mean_squared_error"):
        super().__init__(_mse, name, "down")


class MeanAbsoluteError(MeanMetricWrapper):
    def __init__(self, name: str = "mean_absolute_error"):
        super().__init__(_mae, name, "down")


_BY_NAME = {
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "binary_accuracy": BinaryAccuracy, "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
}
ACCURACY_NAMES = ("accuracy", "acc")


def get(identifier, y_true=None, y_pred=None):
    """A Metric from a name, a Metric, or a callable (y_true, y_pred) -> per-sample values.
    "accuracy" / "acc" pick binary, sparse categorical or categorical accuracy from the shapes of
    the first batch's targets and predictions, as Keras 3 does: binary when predictions have one
    column, sparse when targets have one axis fewer (or a last axis of 1 against several)."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in ACCURACY_NAMES:
            if y_true is None or y_pred is None:
                raise ValueError(f"metric {identifier!r} needs the targets and predictions to choose its kind")
            t_shape, p_shape = tuple(y_true.shape), tuple(y_pred.shape)
            p_last = p_shape[-1] if p_shape else 1
            t_last = t_shape[-1] if t_shape else 1
            if p_last == 1:
                return BinaryAccuracy(name=identifier)
            if len(t_shape) < len(p_shape) or (t_last == 1 and p_last > 1):
                return SparseCategoricalAccuracy(name=identifier)
            return CategoricalAccuracy(name=identifier)
        cls = _BY_NAME.get(key)
        if cls is None:
            raise ValueError(f"unknown metric {identifier!r}; expected one of "
                             f"{sorted([*ACCURACY_NAMES, *_BY_NAME])}, a Metric or a callable")
        return cls(name=identifier)
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise TypeError(f"expected a metric name, a Metric or a callable, got {type(identifier).__name__}")
