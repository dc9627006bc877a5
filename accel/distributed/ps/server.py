"""ParameterServer: owns a shard of the model's variables and an accel optimizer for them (the
fused kernels update the shard: one launch per push), hands out the current values (pull) and
applies workers' gradients (push). Run as a Ray actor (the trainer wraps it); plain Python here.

Server 0 is the chief: it keeps the version count and the consistency gate (gate.py), so every
decision (wait, drop, apply) is taken in one place; the other servers apply what the chief
admitted. In synchronous mode every server instead waits for one gradient from each live
worker, averages them and applies once (TensorFlow's SyncReplicasOptimizer).

A server with a checkpoint path saves its variables, optimizer state and version every
`checkpoint_every` updates (accel.Checkpoint: atomic) and, when Ray restarts it after a crash,
resumes from the last one.
"""

from __future__ import annotations

import asyncio
import os

import numpy

from ...checkpoint import Checkpoint
from ...tensor import convert
from ...variable import Variable
from ..buckets import signature
from .gate import APPLY, DROP, RETRY, WAIT, Gate

__all__ = ["ParameterServer", "APPLIED", "DROPPED"]

APPLIED, DROPPED = "applied", "dropped"


class ParameterServer:
    def __init__(self, index: int, model_fn, optimizer_fn, owned, consistency: dict, checkpoint_path=None,
                 checkpoint_every: int = 100):
        variables = list(model_fn().trainable_variables)
        self.index, self.chief = index, index == 0
        self.variables = [variables[i] for i in owned]
        self.optimizer = optimizer_fn()
        self.synchronous = consistency.get("synchronous", False)
        self.gate = Gate(consistency.get("max_staleness"), consistency.get("drop_stale"))
        self.checkpoint_path, self.checkpoint_every = checkpoint_path, checkpoint_every
        self.restored = False
        self.workers: set = set()  # live workers (synchronous rounds wait for each)
        self.round: dict = {}  # worker -> its gradients of this round (synchronous)
        self.changed = asyncio.Condition()
        self._version = Variable(numpy.int64(0), trainable=False, name="version")
        if checkpoint_path and os.path.exists(checkpoint_path):
            self.optimizer.build(self.variables)
            self._checkpoint().restore(checkpoint_path)
            self.gate.version = int(self._version.numpy())
            self.restored = True

    def _checkpoint(self) -> Checkpoint:
        return Checkpoint(variables=self.variables, optimizer=self.optimizer, version=self._version)

    # -- what workers call ---------------------------------------------------------------------------
    def spec(self) -> list:
        return signature(self.variables)

    async def join(self, worker) -> None:
        self.workers.add(worker)

    async def forget(self, worker) -> None:
        """A worker died or left: no round or gate waits for it any more."""
        self.workers.discard(worker)
        self.round.pop(worker, None)
        self.gate.forget(worker)
        if self.synchronous and self.round and set(self.round) >= self.workers:
            self._apply_round()
        async with self.changed:
            self.changed.notify_all()

    async def pull(self, worker):
        """(version, values): the chief admits the pull first (bounded staleness may wait)."""
        self.workers.add(worker)
        async with self.changed:
            if self.synchronous:
                await self.changed.wait_for(lambda: worker not in self.round)  # its last round applied
            elif self.chief:
                await self.changed.wait_for(lambda: self.gate.may_pull(worker))
                self.gate.pulled(worker)
        return self.gate.version, [v.numpy() for v in self.variables]

    async def push(self, worker, version: int, gradients) -> str:
        """APPLIED, DROPPED, or RETRY (pull again); waits while the gate says WAIT."""
        if self.synchronous:
            return await self._push_round(worker, version, gradients)
        if not self.chief:
            self._apply(gradients)
            self.gate.version += 1
            self._after_update()
            return APPLIED
        async with self.changed:
            while True:
                decision = self.gate.decide(worker, version)
                if decision != WAIT:
                    break
                await self.changed.wait()
            if decision == APPLY:
                self._apply(gradients)
                self.gate.applied(worker)
                self._after_update()
            elif decision == DROP:
                self.gate.discarded(worker)
            self.changed.notify_all()
        return {APPLY: APPLIED, DROP: DROPPED, RETRY: RETRY}[decision]

    async def _push_round(self, worker, version: int, gradients) -> str:
        if version != self.gate.version:
            return RETRY
        async with self.changed:
            self.workers.add(worker)
            self.round[worker] = gradients
            if set(self.round) >= self.workers:
                self._apply_round()
                self.changed.notify_all()
            else:
                await self.changed.wait_for(lambda: worker not in self.round)
        return APPLIED

    def _apply_round(self) -> None:
        count, grads = len(self.round), []
        for i in range(len(self.variables)):  # a worker without a gradient counts as zeros (as data parallel)
            parts = [g[i] for g in self.round.values() if g[i] is not None]
            grads.append(numpy.sum(parts, axis=0) / numpy.asarray(count, parts[0].dtype) if parts else None)
        self.gate.staleness += [0] * len(self.round)
        self.round.clear()
        self._apply(grads)
        self.gate.version += 1
        self._after_update()

    def _apply(self, gradients) -> None:
        """One fused optimizer step over this shard. The gradients are read in place (Ray hands
        them over as read-only views of its object store; copying 43 MB of fresh arrays cost 24 ms
        a push against the update's 6 ms)."""
        pairs = [(convert(g, dtype=v.dtype, device=v.device, share=True), v)
                 for g, v in zip(gradients, self.variables) if g is not None]  # None: the loss ignores it
        if pairs:
            self.optimizer.apply_gradients(pairs)

    def _after_update(self) -> None:
        if self.checkpoint_path and self.gate.version % self.checkpoint_every == 0:
            self._version.assign(numpy.int64(self.gate.version))
            self._checkpoint().save(self.checkpoint_path)

    # -- what the trainer asks -----------------------------------------------------------------------
    def weights(self) -> list:
        return [v.numpy() for v in self.variables]

    def stats(self) -> dict:
        return {"version": self.gate.version, "staleness": list(self.gate.staleness), "dropped": self.gate.dropped,
                "restored": self.restored}
