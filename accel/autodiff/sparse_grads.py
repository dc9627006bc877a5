"""What the graph walk does with a gradient that is IndexedSlices (semantics.md section 17, as
TensorFlow's gradient aggregation): while only slices reach a tensor they stay slices, their rows
concatenated in the order of the ops that made them; a dense contribution makes the sum dense; and a tensor whose
own node passes its gradient on hands the node's VJPs the dense tensor. walk.py (and its compiled
loop) call these two functions only when a gradient is not a Tensor, so dense walks never do.
"""

from __future__ import annotations

from .. import ops
from ..indexed_slices import IndexedSlices, concatenate, densify

__all__ = ["accumulate", "densify"]


def accumulate(previous, gradient, x):
    """x's gradient after `gradient` (a VJP's result for x) joins `previous` (None: the first)."""
    gradient = _fitted(gradient, x)
    if previous is None:
        return gradient
    if isinstance(previous, IndexedSlices) and isinstance(gradient, IndexedSlices):
        # The walk meets the ops in reverse creation order; TensorFlow lists the rows in the
        # forward order (gather(v, [0]) then gather(v, [3, 4]) gives indices [0, 3, 4]).
        return concatenate([gradient, previous])
    dense = [densify(g) if isinstance(g, IndexedSlices) else g for g in (previous, gradient)]
    return dense[0] + dense[1]


def _fitted(gradient, x):
    """`gradient` as x's: slices of x's shape with values of x's dtype; a dense contribution
    summed down to x's shape and cast (as the walk does for every dense one)."""
    xd = x._data
    if isinstance(gradient, IndexedSlices):
        if gradient.dense_shape != tuple(xd.shape):
            raise ValueError(f"backward: a VJP returned IndexedSlices of dense_shape {gradient.dense_shape} for an "
                             f"input of shape {tuple(xd.shape)}")
        return gradient.cast(xd.dtype)
    if gradient._data.shape != xd.shape:
        gradient = ops.sum_to(gradient, xd.shape)
    if gradient.dtype != xd.dtype:
        gradient = ops.cast(gradient, xd.dtype)
    return gradient
