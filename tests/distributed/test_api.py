"""accel.distributed in a world of one (no launcher): the same script runs alone, and the
wrappers change nothing; argument checks; sharding."""

import numpy
import pytest

import accel as ac

dist = ac.distributed


def test_a_world_of_one_without_a_launcher():
    assert (dist.rank(), dist.size(), dist.local_rank()) == (0, 1, 0)
    assert dist.is_initialized()
    dist.barrier()
    x = ac.tensor([1.0, 2.0])
    for op in ("average", "sum", "max", "min"):
        out = dist.all_reduce(x, op=op)
        assert out is not x and numpy.array_equal(out.numpy(), x.numpy())
    assert numpy.array_equal(dist.broadcast(x).numpy(), x.numpy())
    v = ac.Variable([1.0, 2.0])
    dist.broadcast_variables([v])
    assert v.numpy().tolist() == [1.0, 2.0]


def _train(opt, model, x, y, steps=5, tape_wrapper=None):
    for _ in range(steps):
        with ac.GradientTape() as tape:
            loss = ac.mean(ac.square(model(x) - y))
        if tape_wrapper is not None:
            tape = tape_wrapper(tape)
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
    return [v.numpy() for v in model.variables]


def test_wrappers_alone_train_exactly_as_the_plain_optimizer():
    rng = numpy.random.default_rng(0)
    x, y = ac.tensor(rng.standard_normal((16, 4))), ac.tensor(rng.standard_normal((16, 1)))

    def make():
        return ac.nn.Sequential([ac.nn.Dense(3, activation="tanh", input_dim=4, seed=1, dtype="float64"),
                                 ac.nn.Dense(1, input_dim=3, seed=2, dtype="float64")])

    plain = _train(ac.optimizers.Adam(0.1, global_clipnorm=0.5), make(), x, y)
    wrapped = _train(dist.DistributedOptimizer(ac.optimizers.Adam(0.1, global_clipnorm=0.5)), make(), x, y)
    taped = _train(ac.optimizers.Adam(0.1, global_clipnorm=0.5), make(), x, y,
                   tape_wrapper=dist.DistributedGradientTape)
    for a, b, c in zip(plain, wrapped, taped):
        numpy.testing.assert_array_equal(a, b)
        numpy.testing.assert_array_equal(a, c)


def test_distributed_optimizer_is_the_same_kind_of_optimizer():
    inner = ac.optimizers.Adam(learning_rate=ac.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5),
                               global_clipnorm=1.0, name="mine")
    opt = dist.DistributedOptimizer(inner)
    assert isinstance(opt, ac.optimizers.Adam) and type(opt).__name__ == "Adam"
    assert opt is not inner and opt.get_config() == inner.get_config()
    assert ac.optimizers.serialize(opt) == ac.optimizers.serialize(inner)
    scaled = dist.DistributedOptimizer(ac.optimizers.LossScaleOptimizer(ac.optimizers.SGD(0.1)))
    assert isinstance(scaled, ac.optimizers.LossScaleOptimizer)
    v = ac.Variable([1.0, -2.0])
    scaled.minimize(lambda: ac.sum(v * v), [v])
    numpy.testing.assert_allclose(v.numpy(), [0.8, -1.6])


def test_distributed_optimizer_refuses_what_would_go_wrong():
    used = ac.optimizers.SGD(0.1)
    v = ac.Variable([1.0])
    used.minimize(lambda: ac.sum(v * v), [v])
    with pytest.raises(ValueError, match="has already taken steps"):
        dist.DistributedOptimizer(used)
    with pytest.raises(TypeError, match="must be an accel optimizer"):
        dist.DistributedOptimizer("adam")
    twice = dist.DistributedOptimizer(ac.optimizers.SGD())
    with pytest.raises(ValueError, match="already averages"):
        dist.DistributedOptimizer(twice)
    with pytest.raises(TypeError, match="wrap the LossScaleOptimizer in the DistributedOptimizer"):
        ac.optimizers.LossScaleOptimizer(dist.DistributedOptimizer(ac.optimizers.SGD()))


def test_distributed_tape_is_the_tape_apart_from_gradient():
    v = ac.Variable([1.0, 2.0])
    with dist.DistributedGradientTape(persistent=True) as tape:
        tape.watch(v)
        y = ac.sum(v * v)
    assert tape.watched_variables() == (v,)
    numpy.testing.assert_array_equal(tape.gradient(y, v).numpy(), [2.0, 4.0])
    numpy.testing.assert_array_equal(tape.gradient(y, [v], unconnected_gradients="zero")[0].numpy(), [2.0, 4.0])
    with pytest.raises(TypeError, match="must be an accel.GradientTape"):
        dist.DistributedGradientTape("tape")


def test_collective_arguments_are_checked():
    with pytest.raises(ValueError, match="op must be one of sum, average, max, min"):
        dist.all_reduce(ac.tensor([1.0]), op="mean")
    with pytest.raises(TypeError, match="op 'average' needs a floating tensor"):
        dist.all_reduce(ac.tensor([1, 2]))
    with pytest.raises(TypeError, match="needs a numeric tensor"):
        dist.all_reduce(ac.tensor([True]), op="sum")
    with pytest.raises(ValueError, match=r"root must be a rank in \[0, 1\), got 1"):
        dist.broadcast(ac.tensor([1.0]), root=1)
    with pytest.raises(TypeError, match="expected Variables, Modules or optimizers, got str"):
        dist.broadcast_variables(["w"])


def test_shard_takes_every_size_th_row_alike_for_each_part():
    x, y = numpy.arange(20).reshape(10, 2), numpy.arange(10)
    xs, ys = dist.shard((x, y), rank=1, size=3)
    assert ys.tolist() == [1, 4, 7] and xs[:, 0].tolist() == [2, 8, 14]
    assert dist.shard(list("abcdefg"), rank=0, size=2).__len__() == 3
    assert dist.shard(list("abcdefg"), rank=0, size=2, drop_remainder=False) == ["a", "c", "e", "g"]
    t = dist.shard(ac.tensor(numpy.arange(6.0)), rank=1, size=2)
    assert isinstance(t, ac.Tensor) and t.numpy().tolist() == [1.0, 3.0, 5.0]
    assert dist.shard({"a": x, "b": y}, rank=0, size=5)["b"].tolist() == [0, 5]
    with pytest.raises(ValueError, match="different lengths"):
        dist.shard((x, y[:5]))
    with pytest.raises(ValueError, match=r"rank must be in \[0, size\)"):
        dist.shard(x, rank=2, size=2)


def test_sampler_agrees_across_ranks_and_changes_with_the_epoch():
    parts = [dist.DistributedSampler(10, seed=3, rank=r, size=3) for r in range(3)]
    for p in parts:
        p.set_epoch(1)
    first = [p.indices() for p in parts]
    assert [len(p) for p in parts] == [4, 4, 4]
    assert set(numpy.concatenate(first).tolist()) == set(range(10))  # padded by wrapping: 2 rows twice
    again = dist.DistributedSampler(10, seed=3, rank=0, size=3)
    again.set_epoch(1)
    assert again.indices().tolist() == first[0].tolist()
    again.set_epoch(2)
    assert again.indices().tolist() != first[0].tolist()
    dropped = dist.DistributedSampler(10, shuffle=False, drop_remainder=True, rank=2, size=3)
    assert list(dropped) == [2, 5, 8] and len(dropped) == 3


def test_metric_average_callback_averages_the_epoch_logs(monkeypatch):
    from accel.distributed import callbacks

    class TwoRanks:
        size = 2

        def __init__(self, theirs):
            self.theirs = theirs

        def gather(self, value):
            return [value, self.theirs]

    logs = {"loss": 1.0, "accuracy": 0.5, "note": "text"}
    monkeypatch.setattr(callbacks, "current_world", lambda: TwoRanks((["accuracy", "loss"], [0.7, 3.0])))
    callbacks.MetricAverageCallback().on_epoch_end(0, logs)
    assert logs == {"loss": 2.0, "accuracy": 0.6, "note": "text"}
    monkeypatch.setattr(callbacks, "current_world", lambda: TwoRanks((["loss"], [3.0])))
    with pytest.raises(ValueError, match="the workers logged different metrics"):
        callbacks.MetricAverageCallback().on_epoch_end(0, dict(logs))


def test_a_distributed_optimizer_checkpoints_as_its_class():
    v = ac.Variable([1.0, -2.0], name="v")
    opt = dist.DistributedOptimizer(ac.optimizers.Adam(0.1))
    opt.minimize(lambda: ac.sum(v * v), [v])
    ac.Checkpoint(v=v, optimizer=opt).save("ckpt.npz")
    w, plain = ac.Variable([0.0, 0.0], name="v"), ac.optimizers.Adam(0.1)
    plain.build([w])
    ac.Checkpoint(v=w, optimizer=plain).restore("ckpt.npz")
    assert plain.iterations == 1
    numpy.testing.assert_array_equal(w.numpy(), v.numpy())
    numpy.testing.assert_array_equal(plain.get_slot(w, "m").numpy(), opt.get_slot(v, "m").numpy())
