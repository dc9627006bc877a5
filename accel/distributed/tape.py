"""DistributedGradientTape: a GradientTape whose gradients are averaged across the workers
(Horovod's shape), each bucket's all-reduce starting while the backward walk still runs.

    with ac.GradientTape() as tape:
        loss = ...
    tape = ac.distributed.DistributedGradientTape(tape)
    grads = tape.gradient(loss, model.trainable_variables)   # the same on every worker
"""

from __future__ import annotations

from .. import ops
from ..autodiff.backprop import check_sources, check_unconnected
from ..nest import flatten, pack_sequence_as
from ..autodiff.tape import GradientTape
from .buckets import GradientReducer
from ..dtypes import is_floating

__all__ = ["DistributedGradientTape", "reduced_gradient"]


class DistributedGradientTape:
    """Wraps `tape` (or a new GradientTape made with `persistent` and `watch_accessed_variables`);
    everything but `gradient` is the tape's own. op: "average" (default) or "sum".
    bucket_cap_mb: the largest bucket of gradients reduced as one collective (25, DDP's default).
    sparse_as_dense: IndexedSlices gradients are densified and all-reduced (Horovod's option);
    by default they are gathered: every rank's rows, IndexedSlices again.
    """

    def __init__(self, tape: GradientTape | None = None, op: str = "average", bucket_cap_mb: float = 25,
                 persistent: bool = False, watch_accessed_variables: bool = True, sparse_as_dense: bool = False):
        if tape is None:
            tape = GradientTape(persistent=persistent, watch_accessed_variables=watch_accessed_variables)
        elif not isinstance(tape, GradientTape):
            raise TypeError(f"DistributedGradientTape: tape must be an accel.GradientTape, got {type(tape).__name__}")
        self.tape = tape
        self._reducer = GradientReducer(op, bucket_cap_mb, "DistributedGradientTape", sparse_as_dense)

    def __enter__(self) -> "DistributedGradientTape":
        self.tape.__enter__()
        return self

    def __exit__(self, *exc) -> bool:
        return self.tape.__exit__(*exc)

    def __getattr__(self, name):
        return getattr(self.__dict__["tape"], name)

    def gradient(self, target, sources, output_gradients=None, unconnected_gradients="none"):
        """tape.gradient(...), averaged (or summed) over every worker's, nested like `sources`."""
        return reduced_gradient(self.tape, self._reducer, target, sources, output_gradients, unconnected_gradients)


def reduced_gradient(tape, reducer, target, sources, output_gradients=None, unconnected_gradients="none"):
    """`tape`'s gradient of `target`, each source's reduced across the world by `reducer` as soon
    as the walk has finished it."""
    if not reducer.active():
        return tape.gradient(target, sources, output_gradients, unconnected_gradients)
    unconnected = check_unconnected(unconnected_gradients)
    flat = flatten(sources)
    check_sources(flat, "gradient")
    reduction = reducer.begin(flat)
    tape._gradient(target, sources, output_gradients, unconnected, on_ready=reduction.ready)
    reduced = reduction.finish(flat)
    if unconnected == "zero":
        reduced = [ops.zeros_like(s) if g is None and is_floating(s.dtype) else g for g, s in zip(reduced, flat)]
    return pack_sequence_as(sources, reduced)
