"""The consistency rules of asynchronous training, as a gate the chief parameter server asks
before it lets a worker pull parameters and before it applies a pushed gradient. Pure logic (no
Ray): the server awaits its decisions.

A worker's gradient is computed from the parameters at the version it pulled (the number of
updates applied so far); applied at version V, its staleness is V - pulled.

    asynchronous     (max_staleness=None)  apply every gradient on arrival (Hogwild-style)
    bounded          (max_staleness=k)     no gradient is applied with staleness > k: a push
                                           waits while applying it would leave another worker's
                                           gradient unable to land within k, and a pull waits
                                           while one more gradient in flight could not
    drop             (drop_stale=k)        a gradient older than k is discarded (the worker
                                           pulls again); combinable with either of the above

Bounded staleness, precisely: each gradient in flight has a budget, the updates that may still
be applied before it (pulled + k - V). The set of budgets is feasible when, sorted ascending,
the i-th is >= i: there is an order that lands every one in time (earliest deadline first).
Pulls and applies are admitted only when they keep the set feasible, so the gradient with the
smallest budget can always be applied, and waiting never deadlocks as long as workers push; a
dead worker's gradient is forgotten (the trainer tells the server) so nobody waits for it.
max_staleness=0 means one gradient in flight at a time: sequential SGD.
"""

from __future__ import annotations

__all__ = ["Gate", "APPLY", "DROP", "WAIT", "RETRY", "check_bound", "feasible"]

APPLY, DROP, WAIT, RETRY = "apply", "drop", "wait", "retry"


def check_bound(name: str, value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be None or an int >= 0, got {value!r}")
    return value


def feasible(budgets) -> bool:
    """Whether gradients with these budgets can all be applied in time (sorted b[i] >= i)."""
    return all(b >= i for i, b in enumerate(sorted(budgets)))


class Gate:
    """Versions, gradients in flight (worker -> version pulled), and what was recorded."""

    def __init__(self, max_staleness: int | None = None, drop_stale: int | None = None, version: int = 0):
        self.max_staleness = check_bound("max_staleness", max_staleness)
        self.drop_stale = check_bound("drop_stale", drop_stale)
        self.version = version
        self.in_flight: dict = {}
        self.staleness: list = []  # of every applied gradient, in order
        self.dropped = 0

    def _budgets(self, exclude=None, after_one_more: bool = False) -> list:
        k, v = self.max_staleness, self.version + (1 if after_one_more else 0)
        return [pulled + k - v for worker, pulled in self.in_flight.items() if worker != exclude]

    def may_pull(self, worker) -> bool:
        """Whether `worker` may start a gradient now (False: wait for others to push)."""
        if self.max_staleness is None:
            return True
        return feasible(self._budgets(exclude=worker) + [self.max_staleness])

    def pulled(self, worker) -> int:
        """Records that `worker` computes from the current version; returns it."""
        self.in_flight[worker] = self.version
        return self.version

    def decide(self, worker, pulled: int) -> str:
        """APPLY, DROP, WAIT (push again once something changed), or RETRY (an unknown or
        outdated ticket: after a restart of this server; the worker pulls again)."""
        if self.in_flight.get(worker) != pulled:
            return RETRY
        if self.drop_stale is not None and self.version - pulled > self.drop_stale:
            return DROP
        if self.max_staleness is not None:
            budgets = self._budgets(exclude=worker, after_one_more=True)
            if not all(b >= 0 for b in budgets) or not feasible(budgets):
                return WAIT
        return APPLY

    def applied(self, worker) -> None:
        self.staleness.append(self.version - self.in_flight.pop(worker))
        self.version += 1

    def discarded(self, worker) -> None:
        self.in_flight.pop(worker, None)
        self.dropped += 1

    def forget(self, worker) -> None:
        """A worker died (or left): nobody waits for its gradient any more."""
        self.in_flight.pop(worker, None)
