"""Handwritten digits trained asynchronously with parameter servers on Ray, beside synchronous
rounds of the same workers.

A local Ray cluster (or the one `RAY_ADDRESS` names) runs one parameter server (Adam, fused, on
its shard of the MLP 64-64-10) and N workers, each on its own rows of the training set. In the
asynchronous run every worker pulls, computes a gradient and pushes without waiting (optionally
with --max-staleness k); in the synchronous run the server waits for one gradient from each worker,
averages and applies once. Both runs compute the same number of gradients. A progress bar follows
the updates; the PNG shows test accuracy against wall time for both, and the histogram of the
staleness (updates between a gradient's pull and its application) of the asynchronous run.

    pip install -e ".[ps,examples]"
    python examples/train_digits_async.py --workers 2 --steps 200 --out accel_examples/async
"""

from __future__ import annotations

import argparse
import os
import time

import numpy

import accel as ac

HIDDEN = 64


def load_data(seed: int = 0):
    """(x_train, y_train, x_test, y_test): digits shuffled, 1400 training rows, standardised."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    order = numpy.random.default_rng(seed).permutation(len(digits.target))
    x, y = digits.data.astype(numpy.float32)[order], digits.target[order]
    mean, std = x[:1400].mean(axis=0), x[:1400].std(axis=0)
    std[std == 0] = 1.0
    x = (x - mean) / std
    return x[:1400], y[:1400], x[1400:], y[1400:]


def model_fn():
    return ac.nn.Sequential([ac.nn.Dense(HIDDEN, activation="relu", input_dim=64, seed=0),
                             ac.nn.Dense(10, input_dim=HIDDEN, seed=1)])


def loss_fn(model, x, y):
    return ac.mean(ac.sparse_softmax_cross_entropy_with_logits(ac.tensor(y), model(ac.tensor(x))))


def accuracy(model, x, y) -> float:
    return float(numpy.mean(numpy.argmax(model(ac.tensor(x)).numpy(), axis=-1) == y))


def run(name, x, y, x_test, y_test, args, **options):
    """Trains one way; returns {"time": [...], "accuracy": [...], "stats": ..., "seconds": ...}."""
    from tqdm import tqdm

    trainer = ac.distributed.ps.ParameterServerTrainer(
        model_fn, loss_fn, lambda: ac.optimizers.Adam(args.learning_rate), num_servers=args.servers,
        num_workers=args.workers, seed=args.seed, **options)
    curve = {"time": [], "accuracy": []}
    total = args.steps * args.workers
    bar = tqdm(total=total, desc=name, unit="grad", leave=True)
    probe = model_fn()

    def on_progress(t):
        version = t.stats()["version"]
        bar.n = min(version * (args.workers if options.get("synchronous") else 1), total)
        bar.refresh()
        for variable, value in zip(probe.trainable_variables, t.weights()):
            variable.assign(value)
        curve["time"].append(time.perf_counter() - t.started)
        curve["accuracy"].append(accuracy(probe, x_test, y_test))

    try:
        trainer.fit(x, y, batch_size=args.batch_size, steps_per_worker=args.steps, on_progress=on_progress,
                    interval=args.interval)
        curve["seconds"] = time.perf_counter() - trainer.started
        curve["stats"] = trainer.stats()
    finally:
        bar.close()
        trainer.shutdown()
    return curve


def plot(curves: dict, path: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for name, curve in curves.items():
        left.plot(curve["time"], curve["accuracy"], label=f"{name} ({curve['seconds']:.1f} s)")
    left.set_xlabel("wall time (s)")
    left.set_ylabel("test accuracy")
    left.set_ylim(0, 1)
    left.grid(alpha=0.3)
    left.legend(loc="lower right")
    left.set_title("test accuracy against wall time")
    staleness = numpy.asarray(curves["asynchronous"]["stats"]["staleness"])
    right.bar(*numpy.unique(staleness, return_counts=True), color="tab:orange")
    right.set_xlabel("staleness (updates between pull and apply)")
    right.set_ylabel("gradients applied")
    right.set_title(f"asynchronous: staleness of {len(staleness)} gradients")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Asynchronous digits training with parameter servers on Ray.")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--servers", type=int, default=1)
    parser.add_argument("--steps", type=int, default=200, help="gradients each worker computes")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-2)
    parser.add_argument("--max-staleness", type=int, default=None, help="bounded staleness (default: none)")
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between accuracy samples")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-cpus", type=int, default=None, help="for the local Ray cluster (default: all)")
    parser.add_argument("--out", default=os.path.join("accel_examples", "train_digits_async"))
    parser.add_argument("--plot", default="async_vs_sync.png", help="PNG file in --out ('' for none)")
    return parser.parse_args(argv)


def main(argv=None):
    import ray

    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    if not ray.is_initialized():
        ray.init(num_cpus=args.num_cpus, include_dashboard=False, log_to_driver=False)
    x, y, x_test, y_test = load_data(args.seed)
    curves = {"asynchronous": run("asynchronous", x, y, x_test, y_test, args, max_staleness=args.max_staleness),
              "synchronous": run("synchronous", x, y, x_test, y_test, args, synchronous=True)}
    for name, curve in curves.items():
        stats = curve["stats"]
        print(f"{name}: test accuracy {curve['accuracy'][-1]:.4f} after {stats['version']} updates in "
              f"{curve['seconds']:.2f} s; staleness max {max(stats['staleness'])}, dropped {stats['dropped']}")
    if args.plot:
        plot(curves, os.path.join(args.out, args.plot),
             f"digits MLP: {args.workers} workers, {args.servers} server(s), {args.steps} gradients each")
    return curves


if __name__ == "__main__":
    main()
