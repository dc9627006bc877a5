"""Parameter servers (accel.distributed.ps).

- server update: what a parameter server does per push for the 193-tensor transformer gradient
  set (float32, Adam): its fused update (one launch for the shard) against a per-tensor update
  (one apply_gradients per variable, as a server without a multi-tensor kernel would), strictly
  alternated in this process; updates/s = 1 / median.
- time to accuracy: the digits MLP (examples/train_digits_async.py) trained by 2 workers and one
  server asynchronously and in synchronous rounds, on a local Ray cluster (num_cpus=2), the two
  taking turns; the wall time until the servers' weights first reach 0.95 test accuracy (sampled
  every 20 ms), from the start of the workers (their start-up included).
"""

import pathlib
import sys
import time

import numpy
import pytest

import accel as ac

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


class _Shapes:
    """A 'model' whose trainable variables are a given parameter set (for ParameterServer)."""

    def __init__(self, shapes):
        from workloads import arrays

        self.trainable_variables = [ac.Variable(a, name=f"p{i}") for i, a in enumerate(arrays(shapes, seed=1))]


def test_server_update_fused_vs_per_tensor(benchmark, bench_size):
    from accel.distributed.ps.server import ParameterServer
    from workloads import WORKLOADS, arrays, interleaved, transformer_shapes

    shapes = transformer_shapes() if bench_size == "full" else WORKLOADS["quick"]["49 transformer tensors"]
    rounds = {"full": 30, "quick": 10, "tiny": 3}[bench_size]
    fused = ParameterServer(0, lambda: _Shapes(shapes), lambda: ac.optimizers.Adam(1e-3), range(len(shapes)), {})
    single = ParameterServer(0, lambda: _Shapes(shapes), lambda: ac.optimizers.Adam(1e-3), range(len(shapes)), {})
    own = [ac.optimizers.Adam(1e-3) for _ in shapes]  # each tensor its own update (and step count)
    grads = arrays(shapes, seed=2)

    def per_tensor():
        for g, v, opt in zip(grads, single.variables, own):
            opt.apply_gradients([(ac.from_numpy(g), v)])  # read in place, as the server does

    fused._apply(grads)
    per_tensor()
    assert all(numpy.array_equal(a.numpy(), b.numpy()) for a, b in zip(fused.variables, single.variables))  # same work
    stats = interleaved({"fused": lambda: fused._apply(grads), "per_tensor": per_tensor}, rounds, spread=True)
    benchmark.group = f"parameter server update, Adam float32: {len(shapes)} transformer tensors [cpu]"
    benchmark.extra_info.update({"median_s": {k: v[0] for k, v in stats.items()},
                                 "iqr_s": {k: v[1] for k, v in stats.items()},
                                 "per_tensor_over_fused": stats["per_tensor"][0] / stats["fused"][0],
                                 "updates_per_s": {k: 1 / v[0] for k, v in stats.items()}})
    benchmark.pedantic(lambda: fused._apply(grads), rounds=1, iterations=1)


def _example():
    """examples/train_digits_async.py, its functions sent to Ray's workers by value."""
    import ray

    sys.path.insert(0, str(EXAMPLES))
    import train_digits_async as ex

    ray.cloudpickle.register_pickle_by_value(ex)
    return ex


def _time_to(trainer_options, data, steps, target=0.95):
    ex = _example()

    x, y, x_test, y_test = data
    trainer = ac.distributed.ps.ParameterServerTrainer(ex.model_fn, ex.loss_fn, lambda: ac.optimizers.Adam(1e-2),
                                                       num_workers=2, **trainer_options)
    probe, reached = ex.model_fn(), []

    def on_progress(t):
        if not reached:
            for variable, value in zip(probe.trainable_variables, t.weights()):
                variable.assign(value)
            if ex.accuracy(probe, x_test, y_test) >= target:
                reached.append(time.perf_counter() - t.started)
                t.stop()

    try:
        trainer.fit(x, y, batch_size=32, steps_per_worker=steps, on_progress=on_progress, interval=0.02)
    finally:
        trainer.shutdown()
    assert reached, f"{trainer_options}: {target} test accuracy not reached in {steps} steps per worker"
    return reached[0]


def test_time_to_accuracy_async_vs_sync(benchmark, bench_size):
    ray = pytest.importorskip("ray")
    pytest.importorskip("sklearn")
    ex = _example()

    blocks = {"full": 5, "quick": 2, "tiny": 1}[bench_size]
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        data = ex.load_data(0)
        times = {"async": [], "sync": []}
        for _ in range(blocks):
            times["async"].append(_time_to({}, data, 400))
            times["sync"].append(_time_to({"synchronous": True}, data, 400))
    finally:
        if started_here:
            ray.shutdown()
    stats = {k: (float(numpy.median(v)), float(numpy.subtract(*numpy.percentile(v, [75, 25]))))
             for k, v in times.items()}
    benchmark.group = "parameter servers, time to 0.95 test accuracy: digits MLP, 2 workers, 1 server [cpu]"
    benchmark.extra_info.update({"median_s": {k: v[0] for k, v in stats.items()},
                                 "iqr_s": {k: v[1] for k, v in stats.items()},
                                 "async_over_sync": stats["async"][0] / stats["sync"][0], "runs": blocks})
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
