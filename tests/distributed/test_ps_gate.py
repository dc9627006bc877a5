"""The consistency gate of parameter-server training (no Ray): staleness bounds hold under any
interleaving of workers, and waiting never deadlocks."""

import numpy
import pytest

from accel.distributed.ps import Gate, shard_by_size
from accel.distributed.ps.gate import APPLY, DROP, RETRY, WAIT, feasible


def test_feasibility_is_earliest_deadline_first():
    assert feasible([]) and feasible([0]) and feasible([0, 1, 2]) and feasible([2, 0, 1])
    assert not feasible([0, 0]) and not feasible([1, 1, 1]) and not feasible([-1])


def test_max_staleness_zero_allows_one_gradient_in_flight():
    gate = Gate(max_staleness=0)
    assert gate.may_pull("a")
    gate.pulled("a")
    assert not gate.may_pull("b")  # b's gradient could not land before a's without staleness 1
    assert gate.decide("a", 0) == APPLY
    gate.applied("a")
    assert gate.may_pull("b") and gate.staleness == [0]


@pytest.mark.parametrize("k,workers", [(0, 3), (1, 3), (2, 4), (3, 2)])
def test_random_interleavings_never_exceed_k_and_never_deadlock(k, workers):
    rng = numpy.random.default_rng(k * 10 + workers)
    gate = Gate(max_staleness=k)
    state = {w: None for w in range(workers)}  # None: idle, else the version it pulled
    for _ in range(3000):
        movable = [w for w in state if (state[w] is None and gate.may_pull(w))
                   or (state[w] is not None and gate.decide(w, state[w]) == APPLY)]
        assert movable, f"deadlock: {gate.in_flight}"
        w = movable[rng.integers(len(movable))]
        if state[w] is None:
            state[w] = gate.pulled(w)
        else:
            gate.applied(w)
            state[w] = None
    assert max(gate.staleness) == k  # the bound is reached, never passed
    assert all(0 <= s <= k for s in gate.staleness)


def test_a_forgotten_worker_frees_the_others():
    gate = Gate(max_staleness=0)
    gate.pulled("dead")
    assert not gate.may_pull("b")
    gate.forget("dead")
    assert gate.may_pull("b")


def test_bounded_push_waits_for_the_oldest_gradient():
    gate = Gate(max_staleness=1)
    gate.pulled("slow")
    gate.pulled("fast")
    assert gate.decide("fast", 0) == APPLY
    gate.applied("fast")
    gate.pulled("fast")  # its budget is 1, slow's is 0: fast may not land before slow
    assert gate.decide("fast", 1) == WAIT
    assert gate.decide("slow", 0) == APPLY
    gate.applied("slow")
    assert gate.decide("fast", 1) == APPLY and gate.staleness == [0, 1]


def test_drop_and_retry():
    gate = Gate(drop_stale=0)
    gate.pulled("a")
    gate.pulled("b")
    gate.applied("a")
    assert gate.decide("b", 0) == DROP
    gate.discarded("b")
    assert gate.dropped == 1
    assert gate.decide("c", 0) == RETRY  # never pulled here (a restarted server knows no tickets)
    with pytest.raises(ValueError, match="max_staleness must be None or an int >= 0"):
        Gate(max_staleness=-1)


def test_shards_by_size_balance_the_servers():
    assert shard_by_size([100, 10, 80, 10, 5], 2) == [[0, 4], [1, 2, 3]]
    assert shard_by_size([3, 3], 1) == [[0, 1]]


def test_without_ray_the_trainer_says_what_to_install(monkeypatch):
    import builtins

    import accel as ac
    from accel.distributed import ps

    real_import = builtins.__import__

    def without_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_ray)
    with pytest.raises(ImportError, match=r"runs on Ray, which is not installed: pip install 'accel-tensors\[ps\]'"):
        ps.ParameterServerTrainer(lambda: None, None, ac.optimizers.SGD)


def _server(**consistency):
    import accel as ac
    from accel.distributed.ps.server import ParameterServer

    def model_fn():
        return ac.nn.Dense(2, input_dim=3, seed=0)

    return ParameterServer(0, model_fn, lambda: ac.optimizers.SGD(1.0), [0, 1], consistency)


def test_a_server_skips_gradients_the_loss_did_not_produce():
    import asyncio

    server = _server()
    kernel, bias = (v.numpy().copy() for v in server.variables)

    async def step():
        version, _ = await server.pull("w")
        return await server.push("w", version, [None, numpy.ones(2, "float32")])

    assert asyncio.run(step()) == "applied"
    numpy.testing.assert_array_equal(server.variables[0].numpy(), kernel)
    numpy.testing.assert_array_equal(server.variables[1].numpy(), bias - 1)


def test_a_synchronous_round_averages_with_zeros_for_a_missing_gradient():
    import asyncio

    server = _server(synchronous=True)
    kernel, bias = (v.numpy().copy() for v in server.variables)

    async def round_of_two():
        await server.join("a")
        await server.join("b")
        (va, _), (vb, _) = await server.pull("a"), await server.pull("b")
        return await asyncio.gather(server.push("a", va, [numpy.ones((3, 2), "float32"), None]),
                                    server.push("b", vb, [numpy.ones((3, 2), "float32"),
                                                          numpy.full(2, 4.0, "float32")]))

    assert asyncio.run(round_of_two()) == ["applied", "applied"]
    assert server.gate.version == 1
    numpy.testing.assert_array_equal(server.variables[0].numpy(), kernel - 1)  # (1 + 1) / 2
    numpy.testing.assert_array_equal(server.variables[1].numpy(), bias - 2)  # (0 + 4) / 2
