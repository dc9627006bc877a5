"""IndexedSlices gradients in apply_gradients (semantics.md section 17; TF1's `_apply_sparse`).

A step whose gradient for a variable is IndexedSlices (an embedding's) is checked here, before
anything is written, and applied in one of two ways:

- **rows**: only the rows it names are read and written, by the same fused launch as every other
  variable of the group (kernels.launch with `rows`: each named row is a segment of its own). The
  slices are deduplicated first (TF1's `_deduplicate_indexed_slices`: repeated rows summed, the
  rows sorted), so the rule sees each row's summed gradient once. Used
  - with `lazy_sparse=True`: whatever the rule, only the touched rows and their slots change
    (TF1's sparse Momentum / Adagrad / Ftrl, TF Addons' LazyAdam);
  - by default, where a zero gradient leaves a row as it is (SGD without momentum, Adagrad,
    without weight decay or EMA): the result is then the dense gradient's, at the cost of the
    touched rows.
- **dense**: the slices are densified (repeated rows summed) and the step is the dense one, by
  default for every rule that moves rows without a gradient (momentum, Adam's decaying moments,
  RMSprop, Ftrl, LAMB, ...), and always with gradient accumulation or a custom update_step (LAMB
  with lazy_sparse takes its trust ratio over the named rows: lamb.py). Keras 3 on TensorFlow squares duplicate rows
  separately for Adam / Adagrad / RMSprop / Ftrl; accel sums them first: the dense result.

Norms for clipping (clipnorm, global_clipnorm) and skip_nonfinite are taken over the values as they
are, repeated rows not summed, as TensorFlow's global_norm / clip_by_norm of IndexedSlices do.
"""

from __future__ import annotations

import numpy

from ..dtypes import is_floating
from ..indexed_slices import IndexedSlices, densify
from .validation import checked_gradients, who

__all__ = ["Selection", "check_slices", "deduplicated", "prepare", "uses_rows"]


class Selection:
    """What the fused launch of a step with IndexedSlices reads: per variable the array it
    launches (a dense gradient, or the summed rows) and its rows (None, or (ids, row length));
    rows None altogether when the slices were densified. Norms read `norm_arrays` (a slices'
    values as they are) and their devices from `norm_grads`."""

    __slots__ = ("arrays", "rows", "norm_arrays", "norm_grads")

    def __init__(self, arrays, rows, norm_arrays, norm_grads):
        self.arrays, self.rows, self.norm_arrays, self.norm_grads = arrays, rows, norm_arrays, norm_grads


def prepare(optimizer, grads, variables):
    """(gradients, Selection or None) for a step whose `grads` hold IndexedSlices: every gradient
    checked against its variable first (nothing is written on an error); then the slices kept as
    rows (`uses_rows`) or densified. A custom optimizer gets dense gradients and no Selection."""
    grads = list(grads)
    sliced = [isinstance(g, IndexedSlices) for g in grads]
    for i, (g, var) in enumerate(zip(grads, variables)):
        if sliced[i]:
            check_slices(g, var, i)
            if g.dense_shape is None:  # unknown (TensorFlow allows it): the variable's
                grads[i] = IndexedSlices(g.values, g.indices, tuple(var.shape))
    dense_at = [i for i, s in enumerate(sliced) if not s]
    checked = checked_gradients([grads[i] for i in dense_at], [variables[i] for i in dense_at])
    for i, g in zip(dense_at, checked):
        grads[i] = g
    if optimizer._custom():
        return densified(grads), None
    norm_grads = [g.values if s else g for g, s in zip(grads, sliced)]
    norm_arrays = [g._data for g in norm_grads]
    if not uses_rows(optimizer):
        grads = densified(grads)
        return grads, Selection([g._data for g in grads], None, norm_arrays, norm_grads)
    arrays, rows = [], []
    for g, var, s in zip(grads, variables, sliced):
        if not s:
            arrays.append(g._data)
            rows.append(None)
            continue
        ids, summed = deduplicated(g, var.dtype)
        arrays.append(summed)
        rows.append((ids, int(numpy.prod(var.shape[1:], dtype=numpy.int64))))
    return grads, Selection(arrays, rows, norm_arrays, norm_grads)


def check_slices(slices: IndexedSlices, var, position: int) -> None:
    """Errors naming the variable for slices that are not rows of it (nothing is written yet)."""
    name = who(var, position)
    if var.ndim == 0:
        raise ValueError(f"apply_gradients: the gradient for {name} is IndexedSlices but the variable is 0-d "
                         "(slices are rows of a tensor of rank >= 1)")
    shape = tuple(var.shape)
    if slices.dense_shape is not None and tuple(slices.dense_shape) != shape:
        raise ValueError(f"apply_gradients: the gradient for {name} is IndexedSlices of dense_shape "
                         f"{tuple(slices.dense_shape)}, expected the variable's shape {shape}")
    if slices.device != var.device:
        raise ValueError(f"apply_gradients: the gradient for {name} is on {slices.device}, the variable on "
                         f"{var.device}")
    if not is_floating(slices.dtype):
        raise TypeError(f"apply_gradients: the gradient for {name} must be floating point, got {slices.dtype.name}")
    values, indices = slices.values, slices.indices
    if tuple(values.shape[1:]) != shape[1:]:
        raise ValueError(f"apply_gradients: the gradient for {name} has rows of shape {tuple(values.shape[1:])}, "
                         f"the variable's rows are {shape[1:]}")
    if indices.dtype.kind not in "iu":
        raise TypeError(f"apply_gradients: the indices of the gradient for {name} must be integers, got "
                        f"{indices.dtype.name}")
    if indices.size:
        with var.device.activate():
            raw = indices._data
            bad = (raw < 0) | (raw >= shape[0])
            first = int(bad.argmax()) if bool(bad.any()) else None
        if first is not None:
            raise IndexError(f"apply_gradients: the gradient for {name} names row {int(raw[first])} "
                             f"(indices[{first}]), not in [0, {shape[0]})")


def uses_rows(optimizer) -> bool:
    """Whether this optimizer applies IndexedSlices to the touched rows only (see the module doc)."""
    if optimizer._custom() or optimizer.gradient_accumulation_steps:
        return False
    if optimizer.lazy_sparse:
        return True
    return optimizer._zero_gradient_keeps_rows() and not optimizer.weight_decay and not optimizer.use_ema


def deduplicated(slices: IndexedSlices, dtype):
    """(row ids, summed rows): the slices' distinct rows in increasing order, int64, and for each
    the sum of its values (2-D, C-contiguous, of `dtype`), summed in the order the dense gradient
    sums them (ops/row_sums.py: a stable sort, then one running sum per row)."""
    from ..ops.row_sums import rows_summed

    device = slices.device
    xp = device.xp
    if xp is numpy:
        values = slices.values._data
        return rows_summed(slices.indices._data, values.reshape(values.shape[0], -1).astype(dtype, copy=False))
    with device.activate():
        values = slices.values._data
        if values.dtype != dtype:
            values = values.astype(dtype)
        n = values.shape[0]
        rows = values.reshape(n, -1)
        ids = slices.indices._data.reshape(-1).astype(xp.int64, copy=False)
        if n == 0:
            return ids, xp.ascontiguousarray(rows)
        order = xp.argsort(ids)
        ids = ids[order]
        first = xp.concatenate((xp.ones(1, dtype=bool), ids[1:] != ids[:-1]))
        if bool(first.all()):  # no repeats: the rows as they are, in order
            return xp.ascontiguousarray(ids), xp.ascontiguousarray(rows[order])
        starts = xp.flatnonzero(first)
        summed = xp.zeros((len(starts), rows.shape[1]), dtype=rows.dtype)  # CuPy has no reduceat
        xp.add.at(summed, xp.cumsum(first) - 1, rows[order])
        return xp.ascontiguousarray(ids[starts]), xp.ascontiguousarray(summed)


def densified(grads) -> list:
    """The gradients with every IndexedSlices made dense (repeated rows summed)."""
    return [densify(g) if isinstance(g, IndexedSlices) else g for g in grads]
