"""ParameterServerTrainer: starts parameter servers and workers as Ray actors and drives them.

    trainer = ps.ParameterServerTrainer(model_fn, loss_fn, optimizer_fn, num_servers=1, num_workers=2)
    trainer.fit(x, y, batch_size=64, steps_per_worker=300)      # or start() ... join()
    model = trainer.model()                                     # the servers' current weights

`ray.init()` is called with no address when Ray is not initialised yet: a local cluster, so the
same code runs on one machine and, after `ray.init(address=...)`, on a Ray cluster.
"""

from __future__ import annotations

import os
import time

import numpy

from .gate import check_bound
from .server import ParameterServer
from .worker import Worker

__all__ = ["ParameterServerTrainer", "shard_by_size"]


def _ray():
    try:
        import ray
    except ImportError as error:
        raise ImportError("accel.distributed.ps runs on Ray, which is not installed: pip install "
                          "'accel-tensors[ps]'") from error
    return ray


def shard_by_size(sizes, count: int) -> list:
    """Variable indices per server: largest first onto the least-loaded server (sorted within)."""
    loads, shards = [0] * count, [[] for _ in range(count)]
    for i in sorted(range(len(sizes)), key=lambda i: (-sizes[i], i)):
        target = loads.index(min(loads))
        shards[target].append(i)
        loads[target] += sizes[i]
    return [sorted(s) for s in shards]


class ParameterServerTrainer:
    """Asynchronous (or synchronous) training with parameter servers on Ray.

    model_fn(): builds the model (its variables must exist: give layers their input size);
    servers and workers each call it, so it must give every one the same variables (seeded).
    loss_fn(model, x, y): the loss of a batch (NumPy rows of the worker's data). optimizer_fn():
    a new accel optimizer for one server's shard. num_servers: variables are split across them by
    size. max_staleness / drop_stale / synchronous: the consistency (docs/distributed.md).
    checkpoint_dir / checkpoint_every: each server saves its shard every n updates and, when Ray
    restarts it, resumes from there. seed: the workers' batch sampling.
    """

    def __init__(self, model_fn, loss_fn, optimizer_fn, num_servers: int = 1, num_workers: int = 2,
                 max_staleness: int | None = None, drop_stale: int | None = None, synchronous: bool = False,
                 checkpoint_dir=None, checkpoint_every: int = 100, seed: int = 0):
        ray = _ray()
        for name, value in (("num_servers", num_servers), ("num_workers", num_workers),
                            ("checkpoint_every", checkpoint_every)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"ParameterServerTrainer: {name} must be an int >= 1, got {value!r}")
        check_bound("max_staleness", max_staleness)
        check_bound("drop_stale", drop_stale)
        if synchronous and (max_staleness is not None or drop_stale is not None):
            raise ValueError("ParameterServerTrainer: synchronous training has no staleness; leave max_staleness "
                             "and drop_stale unset")
        variables = list(model_fn().trainable_variables)
        if not variables:
            raise ValueError("ParameterServerTrainer: model_fn() built a model without trainable variables (give its "
                             "layers their input size, e.g. Dense(..., input_dim=...))")
        if num_servers > len(variables):
            raise ValueError(f"ParameterServerTrainer: {num_servers} servers for {len(variables)} variables")
        if not ray.is_initialized():
            ray.init(include_dashboard=False, log_to_driver=False)
        self._ray = ray
        self.model_fn, self.loss_fn, self.seed, self.num_workers = model_fn, loss_fn, seed, num_workers
        self.shards = shard_by_size([v.size for v in variables], num_servers)
        consistency = {"max_staleness": max_staleness, "drop_stale": drop_stale, "synchronous": synchronous}
        if checkpoint_dir is not None:
            os.makedirs(checkpoint_dir, exist_ok=True)
        server_class = ray.remote(ParameterServer).options(max_restarts=-1, max_concurrency=1000, num_cpus=0)
        self.servers = [server_class.remote(i, model_fn, optimizer_fn, owned, consistency,
                                            None if checkpoint_dir is None else
                                            os.path.join(os.fspath(checkpoint_dir), f"server-{i}.npz"),
                                            checkpoint_every)
                        for i, owned in enumerate(self.shards)]
        specs = ray.get([s.spec.remote() for s in self.servers])
        self.expected = [None] * len(variables)
        for owned, spec in zip(self.shards, specs):
            for i, item in zip(owned, spec):
                self.expected[i] = item
        self.workers: dict = {}  # worker id -> (actor, data slot)
        self.runs: dict = {}  # worker id -> the ObjectRef of its run()
        self.results: dict = {}  # worker id -> its counts, or the error it died of
        self._next_id = 0

    # -- workers ---------------------------------------------------------------------------------
    def _new_worker(self, slot: int):
        ray = self._ray
        worker_id = self._next_id
        self._next_id += 1
        rows = slice(slot, None, self.num_workers)
        actor = ray.remote(Worker).options(max_concurrency=2, num_cpus=0).remote(
            worker_id, self.model_fn, self.loss_fn, self._x[rows], self._y[rows], self._batch_size,
            self.seed + 1000 * worker_id, self.servers, self.shards, self.expected)
        self.workers[worker_id] = (actor, slot)
        ray.get([s.join.remote(worker_id) for s in self.servers])  # synchronous rounds wait for it from now on
        return worker_id

    def _run(self, worker_id: int) -> None:
        self.runs[worker_id] = self.workers[worker_id][0].run.remote(self._steps)

    def start(self, x, y, batch_size: int = 32, steps_per_worker: int = 100) -> None:
        """Starts num_workers workers, worker i on rows i, i + num_workers, ... of (x, y), each
        until it has had `steps_per_worker` gradients applied; returns at once."""
        if len(x) != len(y):
            raise ValueError(f"start: x has {len(x)} rows but y has {len(y)}")
        self._x, self._y = numpy.asarray(x), numpy.asarray(y)
        self._batch_size, self._steps = int(batch_size), int(steps_per_worker)
        self.started = time.perf_counter()
        for worker_id in [self._new_worker(slot) for slot in range(self.num_workers)]:  # all join, then all run
            self._run(worker_id)

    def add_worker(self) -> int:
        """A replacement: takes the data of the first dead worker's slot (else slot 0)."""
        dead = [slot for wid, (_, slot) in self.workers.items() if isinstance(self.results.get(wid), Exception)]
        worker_id = self._new_worker(dead[0] if dead else 0)
        self._run(worker_id)
        return worker_id

    def kill_worker(self, worker_id: int) -> None:
        """Kills a worker's process (a failure, for tests and demonstrations)."""
        self._ray.kill(self.workers[worker_id][0])

    def kill_server(self, index: int) -> None:
        """Kills a server's process; Ray restarts it, and it resumes from its checkpoint."""
        self._ray.kill(self.servers[index], no_restart=False)

    def poll(self) -> list:
        """Collects finished workers (a dead one is forgotten by the servers); returns the ids still running."""
        ray = self._ray
        running = [wid for wid in self.runs if wid not in self.results]
        if running:
            done, _ = ray.wait([self.runs[w] for w in running], num_returns=len(running), timeout=0)
            for wid in [w for w in running if self.runs[w] in done]:
                try:
                    self.results[wid] = ray.get(self.runs[wid])
                except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError) as error:
                    self.results[wid] = error
                    ray.get([s.forget.remote(wid) for s in self.servers])
        return [wid for wid in self.runs if wid not in self.results]

    def join(self, timeout: float | None = None, on_progress=None, interval: float = 0.1) -> dict:
        """Waits until every worker finished or died; returns {worker id: counts or error}.
        on_progress(trainer): called every `interval` seconds meanwhile (and once at the end),
        e.g. to evaluate the servers' weights or draw a progress bar."""
        deadline = None if timeout is None else time.perf_counter() + timeout
        last = time.perf_counter()
        while self.poll():
            now = time.perf_counter()
            if deadline is not None and now > deadline:
                raise TimeoutError(f"join: workers {self.poll()} still running after {timeout} s")
            if on_progress is not None and now - last >= interval:
                on_progress(self)
                last = now
            time.sleep(0.005)
        if on_progress is not None:
            on_progress(self)
        return dict(self.results)

    def stop(self) -> None:
        """Asks every running worker to finish its current step and stop."""
        for wid in self.poll():
            self.workers[wid][0].stop.remote()

    def fit(self, x, y, batch_size: int = 32, steps_per_worker: int = 100, on_progress=None,
            interval: float = 0.1) -> dict:
        """start(...) then join(on_progress=..., interval=...)."""
        self.start(x, y, batch_size, steps_per_worker)
        return self.join(on_progress=on_progress, interval=interval)

    # -- results ---------------------------------------------------------------------------------
    def weights(self) -> list:
        """The servers' current values, in model_fn().trainable_variables order."""
        out = [None] * len(self.expected)
        for owned, values in zip(self.shards, self._ray.get([s.weights.remote() for s in self.servers])):
            for i, value in zip(owned, values):
                out[i] = value
        return out

    def model(self):
        """A new model_fn() model holding the servers' current weights."""
        model = self.model_fn()
        for variable, value in zip(model.trainable_variables, self.weights()):
            variable.assign(value)
        return model

    def stats(self) -> dict:
        """The chief's record: version (updates applied), staleness of each applied gradient, dropped."""
        return self._ray.get(self.servers[0].stats.remote())

    def shutdown(self) -> None:
        for actor, _ in self.workers.values():
            self._ray.kill(actor)
        for server in self.servers:
            self._ray.kill(server)
