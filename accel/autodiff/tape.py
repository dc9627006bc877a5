"""GradientTape: records ops on watched tensors and differentiates through them (TF semantics).

See docs/semantics.md section 1. A tape watches tensors explicitly (`watch`) and,
unless `watch_accessed_variables=False`, every trainable Variable an op reads while it records.
"""

from __future__ import annotations

import contextlib

from .. import ops
from ..tensor import Tensor
from ..variable import Variable
from .. import recording
from ..nest import flatten, pack_sequence_as
from .backprop import backward, check_unconnected, target_weights

__all__ = ["GradientTape"]

_USED_ONCE = ("A non-persistent GradientTape can only be used to compute one set of gradients "
              "(or jacobians)")


class GradientTape:
    """Record operations for automatic differentiation.

    persistent: allow more than one gradient()/jacobian() call (and keep the graph alive until
    the tape is dropped). watch_accessed_variables: watch trainable Variables read while recording.
    """

    def __init__(self, persistent: bool = False, watch_accessed_variables: bool = True):
        self.persistent = bool(persistent)
        self.watch_accessed_variables = bool(watch_accessed_variables)
        self.id = recording.new_tape_id()
        self.watched: dict[int, Tensor] = {}  # id -> tensor watched explicitly or on access
        self._recording = False
        self._used = False

    # -- recording ----------------------------------------------------------------------------------
    def __enter__(self) -> "GradientTape":
        if self._recording:
            raise ValueError("GradientTape is already recording; a tape cannot be entered twice")
        recording.active_tapes().append(self)
        self._recording = True
        return self

    def __exit__(self, *exc) -> bool:
        tapes = recording.active_tapes()
        if self in tapes:
            tapes.remove(self)
        self._recording = False
        return False

    def watch(self, tensor) -> None:
        """Differentiate with respect to `tensor` (a tensor, Variable, or nested list of them)."""
        for t in flatten(tensor):
            if not isinstance(t, Tensor):  # TensorFlow: ValueError
                raise ValueError(f"watch: expected tensors or Variables, got {type(t).__name__}")
            self.watched.setdefault(id(t), t)

    def watched_variables(self) -> tuple:
        """The Variables this tape watches, in the order it started watching them."""
        return tuple(t for t in self.watched.values() if isinstance(t, Variable))

    @contextlib.contextmanager
    def stop_recording(self):
        """Within this context the tape records nothing."""
        if not self._recording:
            raise RuntimeError("stop_recording: the tape is not recording")
        with recording.paused([self]):
            self._recording = False
            try:
                yield
            finally:
                self._recording = True

    def reset(self) -> None:
        """Forget everything recorded and watched so far; recording (if active) continues."""
        self.id = recording.new_tape_id()
        self.watched = {}
        self._used = False

    # -- differentiation ------------------------------------------------------------------------------
    def _start_use(self) -> None:
        if self._used and not self.persistent:
            raise RuntimeError(_USED_ONCE)
        self._used = True

    def gradient(self, target, sources, output_gradients=None, unconnected_gradients="none"):
        """d(sum of all elements of all targets)/d(source) for each source, nested like `sources`.

        output_gradients: one weight per target (same shape), the vector of a vector-Jacobian
        product. unconnected_gradients: "none" (None for unconnected sources) or "zero".
        """
        return self._gradient(target, sources, output_gradients, unconnected_gradients)

    def _gradient(self, target, sources, output_gradients=None, unconnected_gradients="none", on_ready=None):
        """gradient(), also telling `on_ready(i, g)` as soon as the i-th flat source's gradient
        is final (accel.distributed starts its all-reduce then)."""
        if target is None:
            raise TypeError("gradient: target must be a tensor or a nested structure of tensors, got None")
        unconnected = check_unconnected(unconnected_gradients)
        targets = flatten(target)
        for i, t in enumerate(targets):
            if not isinstance(t, Tensor):
                raise TypeError(f"gradient: target[{i}] must be a tensor, got {type(t).__name__}")
        flat_sources = flatten(sources)
        for i, s in enumerate(flat_sources):
            if not isinstance(s, Tensor):
                raise TypeError(f"gradient: sources[{i}] must be a tensor or Variable, got {type(s).__name__}")
        weights = target_weights(targets, output_gradients, "gradient", "output_gradients")
        self._start_use()
        grads = backward(targets, weights, flat_sources, tape=self, release=not self.persistent,
                         unconnected=unconnected, on_ready=on_ready)
        return pack_sequence_as(sources, grads)

    def jacobian(self, target, sources, unconnected_gradients="none"):
        """d target / d source for each source: shape target.shape + source.shape."""
        unconnected = check_unconnected(unconnected_gradients)
        if not isinstance(target, Tensor):
            raise TypeError(f"jacobian: target must be a tensor, got {type(target).__name__}")
        flat_sources = flatten(sources)
        self._start_use()
        rows = self._rows(target, flat_sources, [(i,) for i in range(target.size)], (target.size,))
        out = []
        for s, row in zip(flat_sources, rows):
            out.append(self._assemble(row, s, tuple(target.shape) + tuple(s.shape), unconnected))
        return pack_sequence_as(sources, out)

    def batch_jacobian(self, target, source, unconnected_gradients="none"):
        """Per-example jacobians: result[b] = d target[b] / d source[b], shape
        [batch, *target.shape[1:], *source.shape[1:]]. Assumes example b of target depends only
        on example b of source."""
        unconnected = check_unconnected(unconnected_gradients)
        if not isinstance(target, Tensor) or not isinstance(source, Tensor):
            raise TypeError("batch_jacobian: target and source must be tensors")
        if target.ndim < 2 or source.ndim < 2:
            raise ValueError(f"batch_jacobian: target and source must have rank at least 2 (a batch dimension "
                             f"and the example's), got {target.ndim} and {source.ndim}")
        if target.shape[0] != source.shape[0]:
            raise ValueError(
                f"batch_jacobian: the first dimensions must match, got target {tuple(target.shape)} "
                f"and source {tuple(source.shape)}")
        self._start_use()
        batch = target.shape[0]
        per_example = int(target.size // batch) if batch else 0
        slots = [(slice(None), j) for j in range(per_example)]
        (row,) = self._rows(target, [source], slots, (batch, per_example))
        shape = (batch,) + tuple(target.shape[1:]) + tuple(source.shape[1:])
        return self._assemble(row, source, shape, unconnected, axis=1)

    def _rows(self, target, sources, slots, weight_shape):
        """One backward pass per slot of the (reshaped) target, with weight 1 at that slot."""
        rows = [[] for _ in sources]
        xp = target.device.xp
        for n, slot in enumerate(slots):
            with target.device.activate():
                weight = xp.zeros(weight_shape, dtype=target.dtype)
                weight[slot] = 1
            weight = ops.reshape(Tensor(weight, target.device), target.shape)
            last = n == len(slots) - 1
            grads = backward([target], [weight], sources, tape=self,
                             release=last and not self.persistent)
            for row, g in zip(rows, grads):
                row.append(g)
        return rows

    @staticmethod
    def _assemble(row, source, shape, unconnected, axis=0):
        """Per-slot gradients stacked along `axis` and reshaped to the jacobian's `shape`."""
        if not row:
            return ops.zeros(shape, source.dtype, source.device)
        if all(g is None for g in row):
            return None if unconnected == "none" else ops.zeros(shape, source.dtype, source.device)
        row = [ops.zeros_like(source) if g is None else g for g in row]
        return ops.reshape(ops.stack(row, axis=axis), shape)
