"""Classification ops: softmax, log_softmax and the cross-entropies, stable for large logits.
(accel.nn holds layers; these are the ops its losses use.)

Forwards shift by the row maximum, so no exp overflows. The VJPs of log_softmax and of the sparse
cross-entropy are one fused op each (TensorFlow computes them in one kernel too): a backward pass
costs one op there instead of five; those ops have VJPs of their own in accel ops, so every order
of derivative stays exact. On the CPU the sparse cross-entropy and its VJP are one pass per row
of accel._cpu (csrc/cpu/classification.cpp) for float32/float64 logits and int32/int64 labels,
and so are softmax, log_softmax and their VJPs over the last axis; the NumPy code here computes
every other case and is those kernels' test oracle.
"""

from __future__ import annotations

import numpy

from .. import _cpu
from ..dtypes import is_floating
from ._core import defop, make, normalize_axis, operands, tensor_arg
from .elementwise import exp, greater
from .indexing import one_hot
from .reduce import sum
from .shape import expand_dims


def _log_softmax_array(xp, x, axis):
    if x.shape[axis] == 0:  # nothing to normalise: the empty result (PyTorch's answer)
        return x.copy()
    if _rows(xp, x, axis):
        return _softmax_rows(x, 1.0, 0, True)
    shift = x.max(axis=axis, keepdims=True)
    # A row of -inf (or one holding inf or NaN) is shifted by 0. On the CPU the check costs less
    # than the select it usually saves; on a GPU it would synchronise, so the select always runs.
    if xp is not numpy or not numpy.isfinite(shift).all():
        shift = xp.where(xp.isfinite(shift), shift, 0)
    shifted = x - shift
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))


_ONE_PASS = (numpy.dtype(numpy.float32), numpy.dtype(numpy.float64))


def _rows(xp, x, axis) -> bool:
    """Whether accel._cpu's row loops compute this call: CPU float32/float64, the last axis, not empty."""
    return xp is numpy and x.dtype in _ONE_PASS and x.ndim > 0 and axis % x.ndim == x.ndim - 1 and x.size > 0


def _softmax_rows(x, scale, causal, log):
    """softmax (log_softmax) of x * scale over the last axis, causal > 0: row r of each (causal, S)
    block masked past column r (csrc/cpu/classification.cpp)."""
    x = numpy.ascontiguousarray(x)
    out = numpy.empty_like(x)
    _cpu.softmax(x.reshape(-1, x.shape[-1]), out.reshape(-1, x.shape[-1]), scale, causal, log)
    return out


def _softmax_array(xp, x, axis=-1, scale=1.0, causal=0):
    """exp(z - max) / sum(exp(z - max)), z = x * scale (causal: masked as _softmax_rows says)."""
    if _rows(xp, x, axis):
        return _softmax_rows(x, scale, causal, False)
    if scale != 1.0:
        x = x * scale
    if causal:
        t, s = x.shape[-2], x.shape[-1]
        x = xp.where(xp.arange(s)[None, :] <= xp.arange(t)[:, None], x, -xp.inf)
    with numpy.errstate(divide="ignore", invalid="ignore"):  # a row of -inf: NaN, as TensorFlow
        return xp.exp(_log_softmax_array(xp, x, axis))


# softmax_grad(g, y) = scale * y * (g - sum(g * y)): linear in g, its own adjoint there;
# d/dy: scale * (gg * (g - sum(g * y)) - g * sum(gg * y)).
def _softmax_grad_vjp_g(gg, ans, g, y, axis, scale):
    return softmax_grad(gg, y, axis, scale)


def _softmax_grad_vjp_y(gg, ans, g, y, axis, scale):
    return (gg * (g - sum(g * y, axis, keepdims=True)) - g * sum(gg * y, axis, keepdims=True)) * scale


def _grad_rows(xp, g, y, axis, scale, log):
    """The softmax (log: log_softmax) VJP by accel._cpu's row loops, or None where they do not apply."""
    if not (_rows(xp, y, axis) and g.dtype == y.dtype and g.shape == y.shape):
        return None
    out = numpy.empty(y.shape, y.dtype)
    rows = (-1, y.shape[-1])
    _cpu.softmax_grad(numpy.ascontiguousarray(g).reshape(rows), numpy.ascontiguousarray(y).reshape(rows),
                      out.reshape(rows), scale, log)
    return out


def _softmax_grad_array(xp, g, y, axis, scale=1.0):
    out = _grad_rows(xp, g, y, axis, scale, False)
    if out is not None:
        return out
    out = y * (g - (g * y).sum(axis=axis, keepdims=True))
    return out * scale if scale != 1.0 else out


@defop("classification", namespace="internal", kernel=_softmax_grad_array)
def softmax_grad(g, y, axis: int, scale=1.0):
    """The VJP of softmax (of x * scale) as one op: scale * y * (g - sum(g * y, axis)), y the softmax."""
    out = _softmax_grad_array(y._device.xp, g._data, y._data, axis, scale)
    return make(out, y._device, (g, y), (_softmax_grad_vjp_g, _softmax_grad_vjp_y), {"axis": axis, "scale": scale})


def _single_axis(x, axis, op):
    (axis,) = normalize_axis(axis, x.ndim, op)
    return axis


def _float_logits(logits, op):
    logits = tensor_arg(logits, "logits")
    if not is_floating(logits.dtype):
        raise TypeError(f"{op}: logits must be floating point, got {logits.dtype.name}")
    if logits.ndim == 0:
        raise ValueError(f"{op}: logits must have at least 1 dimension")
    return logits


def _softmax_vjp(g, ans, x, axis):
    # d softmax: s * (g - sum(g * s))
    return softmax_grad(g, ans, axis)


@defop("classification", kernel=_softmax_array)
def softmax(logits, axis: int = -1):
    """exp(x) / sum(exp(x)) along `axis`."""
    x = _float_logits(logits, "softmax")
    axis = _single_axis(x, axis, "softmax")
    out = _softmax_array(x._device.xp, x._data, axis)
    return make(out, x._device, (x,), (_softmax_vjp,), {"axis": axis})


def _scaled_softmax_vjp(g, ans, x, scale, causal):
    return softmax_grad(g, ans, x.ndim - 1, scale)


def _scaled_softmax_array(xp, x, scale, causal):
    return _softmax_array(xp, x, x.ndim - 1, scale, causal)


@defop("classification", namespace="internal", kernel=_scaled_softmax_array)
def scaled_softmax(x, scale: float, causal: int):
    """softmax(x * scale) over the last axis, in one pass on the CPU (dot_product_attention's
    weights); causal = T > 0: x is (..., T, S) and row t keeps the columns s <= t (the others get
    weight 0 and gradient 0)."""
    out = _scaled_softmax_array(x._device.xp, x._data, scale, causal)
    return make(out, x._device, (x,), (_scaled_softmax_vjp,), {"scale": scale, "causal": causal})


def _sparsemax_array(xp, x, axis):
    z = -xp.sort(-x, axis=axis)  # descending
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]
    k = xp.arange(1, x.shape[axis] + 1, dtype=x.dtype).reshape(shape)
    cumulative = xp.cumsum(z, axis=axis)
    support = (1 + k * z > cumulative)
    count = support.sum(axis=axis, keepdims=True)  # >= 1: the largest entry is always in
    top = xp.take_along_axis(cumulative, count - 1, axis=axis)
    tau = (top - 1) / count.astype(x.dtype)
    return xp.maximum(x - tau, 0)


def _sparsemax_vjp(g, ans, x, axis):
    # out = x - tau(x) on the support S (out > 0), 0 elsewhere; d tau / d x_j = 1/|S| for j in S:
    # the VJP is s * (g - sum(g * s) / sum(s)), s the support's indicator (read from the output)
    s = greater(ans, 0).astype(g.dtype)
    return s * (g - sum(g * s, axis, keepdims=True) / sum(s, axis, keepdims=True))


@defop("classification")
def sparsemax(logits, axis: int = -1):
    """Sparsemax (Martins & Astudillo 2016): the Euclidean projection of `logits` onto the
    probability simplex along `axis`, max(x - tau, 0) with tau chosen so the row sums to 1; unlike
    softmax it gives exact zeros."""
    x = _float_logits(logits, "sparsemax")
    axis = _single_axis(x, axis, "sparsemax")
    if x.shape[axis] == 0:
        return make(x._data.copy(), x._device)
    out = _sparsemax_array(x._device.xp, x._data, axis)
    return make(out, x._device, (x,), (_sparsemax_vjp,), {"axis": axis})


# log_softmax_grad(g, y) = g - exp(y) * sum(g) with y = log_softmax(x) (exp(y) is the softmax).
def _log_softmax_grad_vjp_g(gg, ans, g, y, axis):
    return gg - sum(gg * exp(y), axis, keepdims=True)


def _log_softmax_grad_vjp_y(gg, ans, g, y, axis):
    return -gg * exp(y) * sum(g, axis, keepdims=True)


_LOG_SOFTMAX_GRAD_VJPS = (_log_softmax_grad_vjp_g, _log_softmax_grad_vjp_y)


def _log_softmax_grad_array(xp, g, y, axis):
    out = _grad_rows(xp, g, y, axis, 1.0, True)
    if out is not None:
        return out
    return g - xp.exp(y) * xp.sum(g, axis=axis, keepdims=True)


@defop("classification", namespace="internal", kernel=_log_softmax_grad_array)
def log_softmax_grad(g, y, axis: int):
    """The VJP of log_softmax as one op: g - exp(y) * sum(g, axis), y = log_softmax(x)."""
    out = _log_softmax_grad_array(g._device.xp, g._data, y._data, axis)
    return make(out, g._device, (g, y), _LOG_SOFTMAX_GRAD_VJPS, {"axis": axis})


def _log_softmax_vjp(g, ans, x, axis):
    return log_softmax_grad(g, ans, axis)


@defop("classification")
def log_softmax(logits, axis: int = -1):
    """x - logsumexp(x) along `axis`."""
    x = _float_logits(logits, "log_softmax")
    axis = _single_axis(x, axis, "log_softmax")
    out = _log_softmax_array(x._device.xp, x._data, axis)
    return make(out, x._device, (x,), (_log_softmax_vjp,), {"axis": axis})


# loss = -sum(labels * log_softmax(logits)) along axis.
def _ce_vjp_labels(g, ans, labels, logits, axis):
    return -expand_dims(g, axis) * log_softmax(logits, axis)


def _ce_vjp_logits(g, ans, labels, logits, axis):
    total = sum(labels, axis, keepdims=True)
    return expand_dims(g, axis) * (softmax(logits, axis) * total - labels)


@defop("classification")
def softmax_cross_entropy_with_logits(labels, logits, axis: int = -1):
    """-sum(labels * log_softmax(logits)) along `axis`; labels are probabilities (gradients flow
    to both)."""
    logits = _float_logits(logits, "softmax_cross_entropy_with_logits")
    labels, logits, device = operands("softmax_cross_entropy_with_logits", labels, logits)
    if tuple(labels.shape) != tuple(logits.shape):
        raise ValueError(
            f"softmax_cross_entropy_with_logits: labels have shape {tuple(labels.shape)} but "
            f"logits have shape {tuple(logits.shape)}; they must match")
    axis = _single_axis(logits, axis, "softmax_cross_entropy_with_logits")
    xp = device.xp
    out = -xp.sum(labels._data * _log_softmax_array(xp, logits._data, axis), axis=axis)
    return make(xp.asarray(out), device, (labels, logits), (_ce_vjp_labels, _ce_vjp_logits),
                {"axis": axis})


# sparse_ce_grad(g, logits, labels) = g[..., None] * (softmax(logits) - one_hot(labels)).
def _sparse_ce_grad_vjp_g(gg, ans, g, logits, labels, classes):
    return sum(gg * (softmax(logits, -1) - one_hot(labels, classes, dtype=logits.dtype)), -1)


def _sparse_ce_grad_vjp_logits(gg, ans, g, logits, labels, classes):
    return _softmax_vjp(expand_dims(g, -1) * gg, softmax(logits, -1), logits, -1)


_SPARSE_CE_GRAD_VJPS = (_sparse_ce_grad_vjp_g, _sparse_ce_grad_vjp_logits, None)


_ONE_PASS_LABELS = (numpy.dtype(numpy.int32), numpy.dtype(numpy.int64))


def _one_pass(xp, logits, labels) -> bool:
    """Whether accel._cpu's one-pass kernel (csrc/cpu/classification.cpp) computes this call."""
    return (xp is numpy and logits.dtype in _ONE_PASS and labels.dtype in _ONE_PASS_LABELS and labels.size > 0
            and logits.shape[-1] > 0)


def _sparse_ce_grad_array(xp, g, logits, labels):
    classes = logits.shape[-1]
    if _one_pass(xp, logits, labels) and g.dtype == logits.dtype:
        out = numpy.empty(logits.shape, logits.dtype)
        _cpu.sparse_xent(numpy.ascontiguousarray(logits).reshape(-1, classes),
                         numpy.ascontiguousarray(labels).reshape(-1), None, numpy.ascontiguousarray(g).reshape(-1),
                         out.reshape(-1, classes))
        return out
    out = xp.exp(_log_softmax_array(xp, logits, -1))
    rows = out.reshape(-1, classes)  # a view: the one-hot subtraction writes into `out`
    rows[xp.arange(rows.shape[0]), labels.reshape(-1).astype(numpy.int64)] -= 1
    out *= g[..., None]
    return out


@defop("classification", namespace="internal", kernel=_sparse_ce_grad_array)
def sparse_ce_grad(g, logits, labels):
    """The VJP of sparse_softmax_cross_entropy_with_logits as one op:
    g[..., None] * (softmax(logits) - one_hot(labels)), labels already checked."""
    out = _sparse_ce_grad_array(logits._device.xp, g._data, logits._data, labels._data)
    return make(out, logits._device, (g, logits, labels), _SPARSE_CE_GRAD_VJPS, {"classes": logits.shape[-1]})


def _sparse_ce_vjp(g, ans, labels, logits, classes):
    return sparse_ce_grad(g, logits, labels)


def _sparse_ce_array(xp, labels, logits):
    """The loss on raw arrays (labels' dtype and shape checked by the op): the op's forward, and
    accel.function's replay, which checks the labels' values here on every call."""
    classes = logits.shape[-1]
    if _one_pass(xp, logits, labels):  # the loss in one pass; it checks the labels too
        loss = numpy.empty(labels.shape, logits.dtype)
        bad = _cpu.sparse_xent(numpy.ascontiguousarray(logits).reshape(-1, classes),
                               numpy.ascontiguousarray(labels).reshape(-1), loss.reshape(-1), None, None)
        if bad < 0:
            return loss
    if labels.size and (int(labels.min()) < 0 or int(labels.max()) >= classes):
        raise ValueError(
            f"sparse_softmax_cross_entropy_with_logits: labels must be in [0, {classes}), got values "
            f"in [{int(labels.min())}, {int(labels.max())}]")
    rows = _log_softmax_array(xp, logits, -1).reshape(labels.size, classes)
    return -rows[xp.arange(rows.shape[0]), labels.reshape(-1)].reshape(labels.shape)


@defop("classification", kernel=_sparse_ce_array)
def sparse_softmax_cross_entropy_with_logits(labels, logits):
    """-log_softmax(logits)[..., labels]: labels are class indices in [0, classes)."""
    logits = _float_logits(logits, "sparse_softmax_cross_entropy_with_logits")
    labels = tensor_arg(labels, "labels")
    operands("sparse_softmax_cross_entropy_with_logits", labels, logits)
    if labels.dtype.kind not in "iu":
        raise TypeError(
            f"sparse_softmax_cross_entropy_with_logits: labels must be integers, got {labels.dtype.name}")
    if tuple(labels.shape) != tuple(logits.shape[:-1]):
        raise ValueError(
            f"sparse_softmax_cross_entropy_with_logits: labels have shape {tuple(labels.shape)}, "
            f"expected logits.shape[:-1] = {tuple(logits.shape[:-1])}")
    loss = _sparse_ce_array(logits._device.xp, labels._data, logits._data)
    return make(loss, logits._device, (labels, logits), (None, _sparse_ce_vjp), {"classes": logits.shape[-1]})
