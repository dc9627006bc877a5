"""Worker: a model replica that loops pull -> gradient on its own data -> push, without waiting
for the other workers (a Ray actor; the trainer wraps it). A server that is restarting (its
calls fail) or a gradient the chief dropped or no longer knows makes the worker pull again.

The gradient comes from the user's `loss_fn(model, x, y)` under an accel.GradientTape, exactly as
in a single-process training step.
"""

from __future__ import annotations

import time

import numpy

from ...autodiff.tape import GradientTape
from ..buckets import signature
from .server import APPLIED

__all__ = ["Worker"]


class Worker:
    def __init__(self, worker_id, model_fn, loss_fn, x, y, batch_size: int, seed: int, servers, shards,
                 expected: list):
        self.id, self.loss_fn, self.servers, self.shards = worker_id, loss_fn, servers, shards
        self.model = model_fn()
        self.variables = list(self.model.trainable_variables)
        mine = signature(self.variables)
        if mine != expected:
            differences = [f"variable {i}: servers {a}, worker {b}" for i, (a, b) in enumerate(zip(expected, mine))
                           if a != b]
            if len(mine) != len(expected):
                differences.insert(0, f"the servers hold {len(expected)} variables, the worker's model has {len(mine)}")
            raise ValueError(f"accel.distributed.ps: worker {worker_id}'s model does not match the servers': "
                             + "; ".join(differences[:8]))
        self.x, self.y, self.batch_size = x, y, batch_size
        self.rng = numpy.random.default_rng(seed)
        self.stopping = False
        self.counts = {"steps": 0, "dropped": 0, "retried": 0, "server_errors": 0}

    def stop(self) -> None:
        self.stopping = True

    def run(self, steps: int) -> dict:
        """`steps` applied gradients (or until stop()); returns this worker's counts."""
        import ray

        from ray.exceptions import ActorUnavailableError, RayActorError

        chief, others = self.servers[0], self.servers[1:]
        while self.counts["steps"] < steps and not self.stopping:
            try:
                version, values = ray.get(chief.pull.remote(self.id))
                pulled = [(version, values)] + ray.get([s.pull.remote(self.id) for s in others])
                for (_, arrays), owned in zip(pulled, self.shards):
                    for array, i in zip(arrays, owned):
                        self.variables[i].assign(array)
                grads = self._gradients()
                status = ray.get(chief.push.remote(self.id, version, [grads[i] for i in self.shards[0]]))
                if status == APPLIED:
                    ray.get([s.push.remote(self.id, v, [grads[i] for i in owned])
                             for s, (v, _), owned in zip(others, pulled[1:], self.shards[1:])])
                    self.counts["steps"] += 1
                else:
                    self.counts["dropped" if status == "dropped" else "retried"] += 1
            except (RayActorError, ActorUnavailableError):  # a server is restarting: try again
                self.counts["server_errors"] += 1
                time.sleep(0.05)
        try:
            ray.get([s.forget.remote(self.id) for s in self.servers])  # done: no round waits for it
        except (RayActorError, ActorUnavailableError):
            pass  # a restarted server does not know this worker anyway
        return dict(self.counts)

    def _gradients(self) -> list:
        rows = self.rng.integers(0, len(self.x), self.batch_size)
        with GradientTape() as tape:
            loss = self.loss_fn(self.model, self.x[rows], self.y[rows])
        return [None if g is None else g.numpy() for g in tape.gradient(loss, self.variables)]
