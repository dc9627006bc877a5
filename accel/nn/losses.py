"""Losses: batch means of per-example losses, stable for large logits."""

from __future__ import annotations

import numpy

from .. import ops
from ..tensor import convert
from ..dtypes import is_floating

__all__ = ["sparse_softmax_cross_entropy", "softmax_cross_entropy", "mean_squared_error", "Loss", "MeanSquaredError",
           "MeanAbsoluteError", "BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy",
           "reduce_weighted", "get"]


def sparse_softmax_cross_entropy(labels, logits):
    """mean over the batch of -log softmax(logits)[label]; labels are class indices. float16
    logits are upcast: the loss is float32."""
    return ops.mean(ops.sparse_softmax_cross_entropy_with_logits(labels, _loss_precision(convert(logits))))


def softmax_cross_entropy(labels, logits, axis: int = -1):
    """mean over the batch of -sum(labels * log softmax(logits)); labels are probabilities."""
    logits = _loss_precision(convert(logits))
    return ops.mean(ops.softmax_cross_entropy_with_logits(labels, logits, axis=axis))


def mean_squared_error(y_true, y_pred):
    """mean((y_pred - y_true) ** 2) over every element."""
    return ops.mean(ops.square(ops.subtract(y_pred, y_true)))


# -- Keras's loss objects (compile(loss=...)) ------------------------------------------------------
# Each `call` returns one loss per sample (the last axis reduced); `__call__` weights them and
# reduces the batch: "sum_over_batch_size" (the default) is sum(w * l) / (number of losses),
# "sum" is sum(w * l), "none" returns w * l.

EPSILON = 1e-7  # Keras's backend.epsilon(): probabilities are clipped to [EPSILON, 1 - EPSILON]
REDUCTIONS = ("sum_over_batch_size", "sum", "none")


def _same_rank(y_true, y_pred):
    """Keras's squeeze_or_expand_to_same_rank: when one has one more axis and that trailing axis
    has size 1, the other gains it if it is 1-d (targets (n,) meet predictions (n, 1) as (n, 1),
    one loss per sample), else the trailing axis is dropped. Works on tensors and on raw arrays
    (metrics use it on the device's arrays): it only indexes."""
    if y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        return (y_true, y_pred[..., None]) if y_pred.ndim == 1 else (y_true[..., 0], y_pred)
    if y_pred.ndim == y_true.ndim + 1 and y_pred.shape[-1] == 1:
        return (y_true[..., None], y_pred) if y_true.ndim == 1 else (y_true, y_pred[..., 0])
    return y_true, y_pred


def _float_targets(y_true, y_pred):
    y_true, y_pred = convert(y_true), convert(y_pred)
    if y_true.dtype != y_pred.dtype:
        y_true = ops.cast(y_true, y_pred.dtype)  # Keras casts targets to the prediction's dtype
    return _same_rank(y_true, y_pred)


def _loss_precision(y_pred):
    """Losses compute in float32 at least: float16 predictions (mixed precision) are upcast,
    as Keras's losses cast predictions to their float32 dtype."""
    return ops.cast(y_pred, "float32") if y_pred.dtype == numpy.float16 else y_pred


class Loss:
    """Base of the loss objects: subclasses define `call(y_true, y_pred)` -> per-sample losses."""

    default_name = "loss"

    def __init__(self, reduction: str = "sum_over_batch_size", name: str | None = None):
        if reduction not in REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be one of {list(REDUCTIONS)}, got {reduction!r}")
        self.reduction = reduction
        self.name = name or self.default_name

    def call(self, y_true, y_pred):
        raise TypeError(f"{type(self).__name__} must define call(y_true, y_pred)")

    def __call__(self, y_true, y_pred, sample_weight=None):
        losses = self.call(y_true, _loss_precision(convert(y_pred)))
        return reduce_weighted(losses, sample_weight, self.reduction)

    def get_config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"


def reduce_weighted(losses, sample_weight=None, reduction: str = "sum_over_batch_size"):
    """sum(w * l) / count ("sum_over_batch_size"), sum(w * l) ("sum") or w * l ("none").
    `sample_weight` broadcasts against the per-sample losses (a scalar, or one weight a sample)."""
    if sample_weight is not None:
        weight = convert(sample_weight)
        if weight.dtype != losses.dtype:
            weight = ops.cast(weight, losses.dtype)
        if weight.ndim > losses.ndim and weight.shape[-1] == 1:
            weight = ops.squeeze(weight, axis=-1)
        losses = losses * weight
    if reduction == "none":
        return losses
    total = ops.sum(losses)
    if reduction == "sum":
        return total
    return total / float(max(losses.size, 1))


class MeanSquaredError(Loss):
    """mean((y_pred - y_true)**2) over the last axis, per sample."""

    default_name = "mean_squared_error"

    def call(self, y_true, y_pred):
        y_true, y_pred = _float_targets(y_true, y_pred)
        return ops.mean(ops.square(y_pred - y_true), axis=-1)


class MeanAbsoluteError(Loss):
    """mean(|y_pred - y_true|) over the last axis, per sample."""

    default_name = "mean_absolute_error"

    def call(self, y_true, y_pred):
        y_true, y_pred = _float_targets(y_true, y_pred)
        return ops.mean(ops.abs(y_pred - y_true), axis=-1)


class BinaryCrossentropy(Loss):
    """-(y log p + (1 - y) log(1 - p)) averaged over the last axis. from_logits=False: p is
    clipped to [1e-7, 1 - 1e-7] (Keras); from_logits=True: the stable
    max(x, 0) - x y + log(1 + exp(-|x|)). label_smoothing s: y -> y (1 - s) + s / 2."""

    default_name = "binary_crossentropy"

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, reduction="sum_over_batch_size",
                 name=None):
        super().__init__(reduction, name)
        if not 0 <= label_smoothing <= 1:
            raise ValueError(f"BinaryCrossentropy: label_smoothing must be in [0, 1], got {label_smoothing!r}")
        self.from_logits = bool(from_logits)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        y_true, y_pred = _float_targets(y_true, y_pred)
        if self.label_smoothing:
            y_true = y_true * (1.0 - self.label_smoothing) + 0.5 * self.label_smoothing
        if self.from_logits:
            per = ops.relu(y_pred) - y_pred * y_true + ops.log1p(ops.exp(-ops.abs(y_pred)))
        else:
            p = ops.clip(y_pred, EPSILON, 1.0 - EPSILON)
            per = -(y_true * ops.log(p) + (1.0 - y_true) * ops.log(1.0 - p))
        return ops.mean(per, axis=-1)

    def get_config(self) -> dict:
        return {**super().get_config(), "from_logits": self.from_logits, "label_smoothing": self.label_smoothing}


class CategoricalCrossentropy(Loss):
    """-sum(y * log p) over the class axis with one-hot (or soft) targets. from_logits=False: p
    is renormalised to sum 1 and clipped to [1e-7, 1 - 1e-7] (Keras); from_logits=True: the
    stable softmax_cross_entropy_with_logits."""

    default_name = "categorical_crossentropy"

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction="sum_over_batch_size", name=None):
        super().__init__(reduction, name)
        if not 0 <= label_smoothing <= 1:
            raise ValueError(f"CategoricalCrossentropy: label_smoothing must be in [0, 1], got {label_smoothing!r}")
        self.from_logits = bool(from_logits)
        self.label_smoothing = float(label_smoothing)
        self.axis = axis

    def call(self, y_true, y_pred):
        y_true, y_pred = convert(y_true), convert(y_pred)
        if y_true.dtype != y_pred.dtype:
            y_true = ops.cast(y_true, y_pred.dtype)
        if y_true.shape != y_pred.shape:
            raise ValueError(f"{self.name}: targets of shape {tuple(y_true.shape)} do not match predictions of "
                             f"shape {tuple(y_pred.shape)} (integer class labels need "
                             "sparse_categorical_crossentropy)")
        if self.label_smoothing:
            classes = y_pred.shape[self.axis]
            y_true = y_true * (1.0 - self.label_smoothing) + self.label_smoothing / classes
        if self.from_logits:
            return ops.softmax_cross_entropy_with_logits(y_true, y_pred, axis=self.axis)
        p = y_pred / ops.sum(y_pred, axis=self.axis, keepdims=True)
        p = ops.clip(p, EPSILON, 1.0 - EPSILON)
        return -ops.sum(y_true * ops.log(p), axis=self.axis)

    def get_config(self) -> dict:
        return {**super().get_config(), "from_logits": self.from_logits, "label_smoothing": self.label_smoothing,
                "axis": self.axis}


class SparseCategoricalCrossentropy(Loss):
    """-log p[label] with integer class labels (shape (n,) or (n, 1)). from_logits=False: p is
    clipped to [1e-7, 1 - 1e-7] (Keras); from_logits=True: the stable
    sparse_softmax_cross_entropy_with_logits."""

    default_name = "sparse_categorical_crossentropy"

    def __init__(self, from_logits: bool = False, reduction="sum_over_batch_size", name=None):
        super().__init__(reduction, name)
        self.from_logits = bool(from_logits)

    def call(self, y_true, y_pred):
        y_true, y_pred = convert(y_true), convert(y_pred)
        if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
            y_true = ops.squeeze(y_true, axis=-1)
        if y_true.dtype.kind not in "iu":
            if is_floating(y_true.dtype) and bool(ops.reduce_all(ops.equal(y_true, ops.cast(ops.cast(
                    y_true, "int64"), y_true.dtype))).item()):
                y_true = ops.cast(y_true, "int64")  # whole-number float labels, as Keras accepts
            else:
                raise ValueError(f"{self.name}: labels must be integer class indices, got {y_true.dtype.name} "
                                 "values that are not whole numbers")
        if self.from_logits:
            return ops.sparse_softmax_cross_entropy_with_logits(y_true, y_pred)
        p = ops.clip(y_pred, EPSILON, 1.0 - EPSILON)
        picked = ops.sum(ops.one_hot(y_true, y_pred.shape[-1], dtype=y_pred.dtype) * ops.log(p), axis=-1)
        return -picked

    def get_config(self) -> dict:
        return {**super().get_config(), "from_logits": self.from_logits}


_BY_NAME = {
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "binary_crossentropy": BinaryCrossentropy, "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}


def get(identifier):
    """A loss from a Keras name ("mse", "mean_squared_error", "mae", "binary_crossentropy",
    "categorical_crossentropy", "sparse_categorical_crossentropy"), a Loss object, or a
    callable (y_true, y_pred) -> per-sample losses (or their mean)."""
    if isinstance(identifier, Loss) or (callable(identifier) and not isinstance(identifier, str)):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower())
        if cls is None:
            raise ValueError(f"unknown loss {identifier!r}; expected one of {sorted(_BY_NAME)}, a Loss or a callable")
        return cls(name=identifier)
    raise TypeError(f"expected a loss name, a Loss or a callable, got {type(identifier).__name__}")
