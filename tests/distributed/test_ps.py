"""Parameter-server training on a local Ray cluster (num_cpus=2): accuracy, the staleness bound,
a killed worker, a killed server resuming from its checkpoint, and the errors."""

import sys
import time

import numpy
import pytest

import accel as ac

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'accel-tensors[ps]')")
pytest.importorskip("sklearn")

from accel.distributed import ps  # noqa: E402

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # Ray's workers cannot import this file


def digits():
    from sklearn.datasets import load_digits

    data = load_digits()
    order = numpy.random.default_rng(0).permutation(len(data.target))
    x, y = data.data.astype(numpy.float32)[order], data.target[order]
    mean, std = x[:1400].mean(0), x[:1400].std(0)
    std[std == 0] = 1
    x = (x - mean) / std
    return x[:1400], y[:1400], x[1400:], y[1400:]


def model_fn():
    return ac.nn.Sequential([ac.nn.Dense(64, activation="relu", input_dim=64, seed=0),
                             ac.nn.Dense(10, input_dim=64, seed=1)])


def loss_fn(model, x, y):
    return ac.mean(ac.sparse_softmax_cross_entropy_with_logits(ac.tensor(y), model(ac.tensor(x))))


def optimizer_fn():
    return ac.optimizers.Adam(1e-2)


def accuracy(model, x, y):
    return float(numpy.mean(numpy.argmax(model(ac.tensor(x)).numpy(), axis=-1) == y))


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield digits()
    ray.shutdown()


def wait_for_updates(trainer, count, timeout=60):
    deadline = time.perf_counter() + timeout
    while trainer.stats()["version"] < count:
        trainer.poll()
        assert time.perf_counter() < deadline, f"no {count} updates after {timeout} s: {trainer.stats()}"
        time.sleep(0.01)


def train(data, steps=200, **options):
    x, y, x_test, y_test = data
    trainer = ps.ParameterServerTrainer(model_fn, loss_fn, optimizer_fn, **options)
    return trainer, x, y, x_test, y_test


def test_one_server_two_workers_reach_the_accuracy(cluster):
    trainer, x, y, x_test, y_test = train(cluster)
    try:
        trainer.start(x, y, batch_size=32, steps_per_worker=200)
        results = trainer.join(timeout=120)
        stats = trainer.stats()
        assert [r["steps"] for r in results.values()] == [200, 200]
        assert stats["version"] == 400 and len(stats["staleness"]) == 400
        assert accuracy(trainer.model(), x_test, y_test) >= 0.95
    finally:
        trainer.shutdown()


@pytest.mark.parametrize("k", [0, 1])
def test_recorded_staleness_never_exceeds_max_staleness(cluster, k):
    trainer, x, y, x_test, y_test = train(cluster, num_workers=3, max_staleness=k)
    try:
        trainer.start(x, y, batch_size=32, steps_per_worker=60)
        trainer.join(timeout=120)
        staleness = trainer.stats()["staleness"]
        assert len(staleness) == 180 and max(staleness) <= k
    finally:
        trainer.shutdown()


def test_two_servers_and_synchronous_rounds(cluster):
    for options in ({"num_servers": 2}, {"synchronous": True}):
        trainer, x, y, x_test, y_test = train(cluster, **options)
        try:
            trainer.start(x, y, batch_size=32, steps_per_worker=200)
            trainer.join(timeout=120)
            assert accuracy(trainer.model(), x_test, y_test) >= 0.95, options
            if options.get("synchronous"):
                assert trainer.stats()["version"] == 200  # one update per round of both workers
        finally:
            trainer.shutdown()


def test_a_killed_worker_does_not_stop_training(cluster):
    trainer, x, y, x_test, y_test = train(cluster, max_staleness=1)  # its ticket must not block the other
    try:
        trainer.start(x, y, batch_size=32, steps_per_worker=300)
        wait_for_updates(trainer, 30)
        trainer.kill_worker(0)
        results = trainer.join(timeout=120)
        assert isinstance(results[0], ray.exceptions.RayActorError) and results[1]["steps"] == 300
        replacement = trainer.add_worker()  # takes the dead worker's rows
        trainer.join(timeout=120)
        assert trainer.results[replacement]["steps"] == 300
        assert accuracy(trainer.model(), x_test, y_test) >= 0.95
    finally:
        trainer.shutdown()


def test_a_killed_server_resumes_from_its_checkpoint(cluster, tmp_path):
    trainer, x, y, x_test, y_test = train(cluster, checkpoint_dir=tmp_path, checkpoint_every=20)
    try:
        trainer.start(x, y, batch_size=32, steps_per_worker=200)
        wait_for_updates(trainer, 60)
        trainer.kill_server(0)
        results = trainer.join(timeout=120)
        stats = trainer.stats()
        assert stats["restored"] and (tmp_path / "server-0.npz").exists()
        assert all(r["steps"] == 200 for r in results.values())
        assert any(r["server_errors"] + r["retried"] for r in results.values())  # they noticed, and went on
        assert stats["version"] >= 400 - 20  # at most the updates since the last checkpoint are lost
        assert accuracy(trainer.model(), x_test, y_test) >= 0.95
    finally:
        trainer.shutdown()


def test_a_worker_whose_model_differs_is_refused():
    # the worker's layer is "dense" when no Dense was made before in this process, else "dense_N"
    # (tests run in any order)
    from accel.distributed.ps.worker import Worker

    expected = [("dense/kernel", (64, 32), "float32"), ("dense/bias", (32,), "float32")]
    with pytest.raises(ValueError, match=r"does not match the servers'.*variable 0: servers \('dense/kernel', "
                                         r"\(64, 32\), 'float32'\), worker \('dense(_\d+)?/kernel', \(64, 64\)"):
        Worker(0, model_fn, loss_fn, None, None, 8, 0, [], [[0, 1, 2, 3]], expected)


def test_bad_options_are_refused(cluster):
    with pytest.raises(ValueError, match="synchronous training has no staleness"):
        ps.ParameterServerTrainer(model_fn, loss_fn, optimizer_fn, synchronous=True, max_staleness=1)
    with pytest.raises(ValueError, match="num_workers must be an int >= 1"):
        ps.ParameterServerTrainer(model_fn, loss_fn, optimizer_fn, num_workers=0)
    with pytest.raises(ValueError, match="without trainable variables"):
        ps.ParameterServerTrainer(lambda: ac.nn.Sequential([ac.nn.Dense(3)]), loss_fn, optimizer_fn)
