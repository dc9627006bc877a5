"""DistributedOptimizer: an optimizer that averages gradients across the workers before it
applies them (Horovod's shape), so clipping, loss scaling and the update see the global
gradient and every worker's variables stay identical.

    opt = ac.distributed.DistributedOptimizer(ac.optimizers.Adam(1e-3, global_clipnorm=1.0))
    opt.minimize(loss_fn, model.trainable_variables)     # or model.compile(optimizer=opt); fit

The result is an instance of the wrapped optimizer's own class (a subclass made for it, as
Horovod does), so it is checkpointed, serialized and type-tested like the original. Gradients
are reduced exactly once on their way to `apply_gradients`: `compute_gradients` (and so
`minimize`) and fit's training step return them averaged, overlapping the reduction with the
backward pass, and `apply_gradients` reduces only gradients that did not come from there.
"""

from __future__ import annotations

from ..ops._core import traceable
from ..optimizers.base import Optimizer
from ..indexed_slices import IndexedSlices
from ..optimizers.sparse import check_slices
from ..optimizers.validation import check_pairs, checked_gradients
from .buckets import GradientReducer
from .tape import reduced_gradient

__all__ = ["DistributedOptimizer"]


class _Averaging:
    """What DistributedOptimizer adds to an optimizer class (first in its MRO)."""

    _distributed = True

    def compute_gradients(self, loss, var_list, tape=None):
        """[(gradient averaged over the workers, variable)]."""
        pairs = super().compute_gradients(loss, var_list, tape=tape)
        if self._reducer.active():
            grads, variables = zip(*pairs)
            pairs = list(zip(self._reducer.reduce(list(grads), list(variables)), variables))
        return self._mark(pairs)

    def _tape_gradients(self, tape, loss, variables) -> list:
        return self._mark_gradients(reduced_gradient(tape, self._reducer, loss, variables))

    @traceable(effect=True)  # accel.function: run on every call
    def apply_gradients(self, grads_and_vars) -> None:
        """Averages the gradients (unless compute_gradients or fit's step just did), then applies
        them as the wrapped optimizer does."""
        pairs = list(grads_and_vars)
        reduced, self._reduced = self._reduced, ()
        if self._reducer.active() and not _same_objects([g for g, _ in pairs], reduced):
            check_pairs(pairs)
            if not pairs:
                raise ValueError("No variables provided.")
            grads, variables = [list(t) for t in zip(*pairs)]
            present = [i for i, g in enumerate(grads) if g is not None and not isinstance(g, IndexedSlices)]
            for i, g in enumerate(grads):
                if isinstance(g, IndexedSlices):  # gathered as slices (or densified: sparse_as_dense)
                    check_slices(g, variables[i], i)
            checked = checked_gradients([grads[i] for i in present], [variables[i] for i in present])
            for i, g in zip(present, checked):
                grads[i] = g
            pairs = list(zip(self._reducer.reduce(grads, variables), variables))
        return super().apply_gradients(pairs)

    def _mark(self, pairs) -> list:
        self._mark_gradients([g for g, _ in pairs])
        return pairs

    def _mark_gradients(self, grads) -> list:
        self._reduced = tuple(grads)
        return grads


def _same_objects(grads, reduced) -> bool:
    return len(grads) == len(reduced) and all(g is r for g, r in zip(grads, reduced))


_CLASSES: dict = {}


def _distributed_class(base: type) -> type:
    cls = _CLASSES.get(base)
    if cls is None:
        cls = _CLASSES[base] = type(base.__name__, (_Averaging, base),
                                    {"__module__": base.__module__, "__qualname__": base.__qualname__})
    return cls


def DistributedOptimizer(optimizer: Optimizer, op: str = "average", bucket_cap_mb: float = 25,
                         sparse_as_dense: bool = False) -> Optimizer:
    """A new optimizer of `optimizer`'s class and configuration that averages (op="average") or
    sums (op="sum") gradients across the workers, in buckets of at most `bucket_cap_mb` MB, before
    it applies them. Wrap before the first step (the state would not carry over), and wrap the
    outermost optimizer (DistributedOptimizer(LossScaleOptimizer(Adam())): the scale then sees
    the averaged gradients and every worker skips the same steps). IndexedSlices gradients are
    gathered from every worker (Horovod's way), or densified and all-reduced with
    sparse_as_dense=True."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"DistributedOptimizer: optimizer must be an accel optimizer, got {type(optimizer).__name__}")
    if getattr(optimizer, "_distributed", False):
        raise ValueError("DistributedOptimizer: the optimizer already averages across workers")
    if optimizer.iterations or optimizer.slot_owners():
        raise ValueError(f"DistributedOptimizer: {optimizer.name} has already taken steps (or been built); wrap it "
                         "before training, then restore a checkpoint into the wrapped optimizer if needed")
    reducer = GradientReducer(op, bucket_cap_mb, "DistributedOptimizer", sparse_as_dense)
    wrapped = _distributed_class(type(optimizer)).from_config(optimizer.get_config())
    wrapped._reducer, wrapped._reduced = reducer, ()
    return wrapped
