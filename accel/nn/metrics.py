"""Metrics with Keras's protocol: `update_state(y_true, y_pred, sample_weight=None)`, `result()`,
`reset_state()`. State lives on the device of the values (0-d float64 totals), so updating a
metric never copies to the host; `result()` is a 0-d tensor and only `float()` of it syncs.

A metric's `direction` ("up" or "down") tells callbacks in mode "auto" which way is better.
"""

from __future__ import annotations

import numpy

from .. import ops
from ..tensor import convert
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

    def __init__(self, name: str | None = None):
        self.name = name or self.default_name
        self.reset_state()

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
        self._total = None  # a 0-d float64 tensor on the values' device, made by the first update
        self._count = 0.0  # unweighted counts stay on the host: a plain float
        self._weights = None  # sums of sample weights: a 0-d float64 tensor on the device

    def update_state(self, values, sample_weight=None) -> None:
        values = convert(values)
        if values.dtype != _FLOAT64:
            values = ops.cast(values, _FLOAT64)
        if sample_weight is None:
            self._add(ops.sum(values), float(values.size))
            return
        weight = ops.cast(convert(sample_weight), _FLOAT64)
        if weight.ndim > values.ndim and weight.shape[-1] == 1:
            weight = ops.squeeze(weight, axis=-1)
        if weight.shape != values.shape:
            weight = ops.broadcast_to(weight, values.shape)
        self._add(ops.sum(values * weight), ops.sum(weight))

    def _add(self, total, count) -> None:
        """Adds a total and its count: a float (kept on the host) or a 0-d tensor of weights."""
        self._total = total if self._total is None else self._total + total
        if isinstance(count, float):
            self._count += count
        else:
            self._weights = count if self._weights is None else self._weights + count

    def result(self):
        """total / count, 0 before any value or when the weights sum to 0 (Keras's divide_no_nan)."""
        if self._total is None:
            return ops.zeros((), dtype=_FLOAT64)
        if self._weights is None:
            return self._total / self._count if self._count else ops.zeros_like(self._total)
        count = self._weights + self._count
        return ops.where(count == 0, 0.0, self._total / ops.where(count == 0, 1.0, count))


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


def _as_rank_of(y_true, y_pred):
    y_true, y_pred = convert(y_true), convert(y_pred)
    return _same_rank(y_true, y_pred)


def binary_accuracy(y_true, y_pred, threshold: float = 0.5):
    """mean over the last axis of (y_pred > threshold) == y_true, per sample."""
    y_true, y_pred = _as_rank_of(y_true, y_pred)
    hit = ops.equal(ops.cast(y_true, y_pred.dtype), ops.cast(ops.greater(y_pred, threshold), y_pred.dtype))
    return ops.mean(ops.cast(hit, "float64"), axis=-1)


def categorical_accuracy(y_true, y_pred):
    """argmax(y_true) == argmax(y_pred) over the last axis, per sample."""
    y_true, y_pred = convert(y_true), convert(y_pred)
    return ops.cast(ops.equal(ops.argmax(y_true, axis=-1), ops.argmax(y_pred, axis=-1)), "float64")


def sparse_categorical_accuracy(y_true, y_pred):
    """y_true == argmax(y_pred) over the last axis, per sample (labels of shape (n,) or (n, 1))."""
    y_true, y_pred = convert(y_true), convert(y_pred)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = ops.squeeze(y_true, axis=-1)
    predicted = ops.argmax(y_pred, axis=-1)
    return ops.cast(ops.equal(ops.cast(y_true, predicted.dtype), predicted), "float64")


def _mse(y_true, y_pred):
    y_true, y_pred = _as_rank_of(y_true, y_pred)
    return ops.mean(ops.square(ops.cast(y_pred, "float64") - ops.cast(y_true, "float64")), axis=-1)


def _mae(y_true, y_pred):
    y_true, y_pred = _as_rank_of(y_true, y_pred)
    return ops.mean(ops.abs(ops.cast(y_pred, "float64") - ops.cast(y_true, "float64")), axis=-1)


class Accuracy(MeanMetricWrapper):
    """How often y_pred equals y_true exactly."""

    def __init__(self, name: str = "accuracy"):
        super().__init__(lambda t, p: ops.cast(ops.equal(*_as_rank_of(t, p)), "float64"), name, "up")


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
