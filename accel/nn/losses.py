"""Losses: batch means of per-example losses, stable for large logits."""

from __future__ import annotations

from .. import ops

__all__ = ["sparse_softmax_cross_entropy", "softmax_cross_entropy", "mean_squared_error"]


def sparse_softmax_cross_entropy(labels, logits):
    """mean over the batch of -log softmax(logits)[label]; labels are class indices."""
    return ops.mean(ops.sparse_softmax_cross_entropy_with_logits(labels, logits))


def softmax_cross_entropy(labels, logits, axis: int = -1):
    """mean over the batch of -sum(labels * log softmax(logits)); labels are probabilities."""
    return ops.mean(ops.softmax_cross_entropy_with_logits(labels, logits, axis=axis))


def mean_squared_error(y_true, y_pred):
    """mean((y_pred - y_true) ** 2) over every element."""
    return ops.mean(ops.square(ops.subtract(y_pred, y_true)))
