"""A factorization machine for click prediction on synthetic user / item ids (no download), trained
with Keras's compile / fit and DeepRec's AdagradDecay on one large embedding table: the gradient of
each step is IndexedSlices (the rows the batch looked up), and the optimizer reads and writes only
those rows (semantics.md section 17).

The data: users and items drawn from Zipf distributions (a few are frequent, most rare), each with
a hidden factor vector; a click happens with probability sigmoid(<u, i> + bias). The model: one
table of (users + items) rows holding each id's factors and its linear weight; the logit of a pair
is w0 + lin[u] + lin[i] + <v_u, v_i>. Binary cross-entropy on logits, a progress bar, a PNG of the
loss curves, and the held-out accuracy beside the base rate and beside the accuracy of the data's own
click probabilities (the best any model can do).

    python examples/train_recommender.py                     # writes accel_examples/train_recommender/
    python examples/train_recommender.py --users 1000000 --items 200000 --epochs 2
    mpiexec -n 2 python examples/train_recommender.py --distributed   # data parallel, same global batch
"""

from __future__ import annotations

import argparse
import os
import time

import numpy

import accel as ac

L = ac.nn.layers


def synthetic_clicks(samples: int, users: int, items: int, factors: int, seed: int):
    """(pairs (samples, 2) int64 of (user, item), clicks (samples, 1) float32, click probabilities):
    Zipf-distributed ids (exponent 1.3, folded into range), a click with probability
    sigmoid(4 <u, i> - 0.5)."""
    rng = numpy.random.default_rng(seed)
    user_factors = rng.normal(size=(users, factors)) / numpy.sqrt(factors)
    item_factors = rng.normal(size=(items, factors)) / numpy.sqrt(factors)
    user = (rng.zipf(1.3, samples) - 1) % users
    item = (rng.zipf(1.3, samples) - 1) % items
    logit = 4.0 * numpy.einsum("nf,nf->n", user_factors[user], item_factors[item]) - 0.5
    probability = 1.0 / (1.0 + numpy.exp(-logit))
    clicks = rng.random(samples) < probability
    return numpy.stack([user, item], axis=1).astype(numpy.int64), clicks.astype(numpy.float32)[:, None], probability


class FactorizationMachine(ac.nn.Module):
    """w0 + lin[user] + lin[item] + <v_user, v_item> over one table of users + items rows (items
    after users), each row [v (factors), lin]."""

    def __init__(self, users: int, items: int, factors: int, seed: int = 0, name="fm"):
        super().__init__(name=name)
        self.users, self.factors = users, factors
        self.table = L.Embedding(users + items, factors + 1, embeddings_initializer=ac.nn.initializers.RandomNormal(
            stddev=0.1, seed=seed))
        self.bias = ac.Variable(numpy.zeros((1,), numpy.float32), name="w0")

    def call(self, pairs):
        pairs = ac.tensor(pairs)
        rows = self.table(pairs + ac.tensor([0, self.users], device=pairs.device))  # (batch, 2, factors + 1)
        user, item = rows[:, 0, :], rows[:, 1, :]
        v_user, v_item = user[:, :self.factors], item[:, :self.factors]
        interaction = ac.sum(v_user * v_item, axis=1, keepdims=True)
        return self.bias + user[:, self.factors:] + item[:, self.factors:] + interaction


def build(args, device):
    with ac.device(device):
        model = FactorizationMachine(args.users, args.items, args.factors, args.seed)
        model(numpy.zeros((1, 2), numpy.int64))  # build the table
    return model


def compile_model(model, args, distributed: bool = False):
    optimizer = ac.optimizers.AdagradDecay(learning_rate=args.learning_rate, initial_accumulator_value=0.1,
                                           accumulator_decay_step=args.decay_step, accumulator_decay_rate=0.9)
    if distributed:
        optimizer = ac.distributed.DistributedOptimizer(optimizer)
    model.compile(optimizer=optimizer, loss=ac.nn.losses.BinaryCrossentropy(from_logits=True),
                  metrics=[ac.nn.metrics.BinaryAccuracy(threshold=0.0)], jit_compile=args.function)
    return model


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Train a factorization machine on synthetic Zipf-distributed ids.")
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--factors", type=int, default=16)
    parser.add_argument("--hidden-factors", type=int, default=4, help="of the synthetic data")
    parser.add_argument("--samples", type=int, default=500_000)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--learning-rate", type=float, default=1.0)
    parser.add_argument("--decay-step", type=int, default=100, help="AdagradDecay's accumulator_decay_step")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: accel's default)")
    parser.add_argument("--function", action="store_true", help="compile(jit_compile=True): the step traced")
    parser.add_argument("--distributed", action="store_true",
                        help="data parallel over the processes mpiexec started (alone: a world of one)")
    parser.add_argument("--out", default=os.path.join("accel_examples", "train_recommender"))
    parser.add_argument("--plot", default="recommender_loss.png", help="PNG of the loss curves (in --out)")
    parser.add_argument("--verbose", type=int, default=None, choices=[0, 1, 2])
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    device = ac.get_device(args.device)
    started = time.perf_counter()
    ac.random.set_seed(args.seed)  # fit's shuffling
    pairs, clicks, probability = synthetic_clicks(args.samples, args.users, args.items, args.hidden_factors,
                                                  args.seed)
    split = int(0.9 * len(pairs))
    x_train, y_train, x_val, y_val = pairs[:split], clicks[:split], pairs[split:], clicks[split:]
    dist = ac.distributed
    rank, workers = (dist.init().rank, dist.size()) if args.distributed else (0, 1)
    model = compile_model(build(args, device), args, args.distributed)
    batch_size = args.batch_size
    if args.distributed:
        dist.broadcast_variables(model, root=0)
        x_train, y_train = dist.shard((x_train, y_train))
        batch_size = max(1, args.batch_size // workers)
    verbose = "auto" if args.verbose is None else args.verbose
    callbacks = [dist.MetricAverageCallback()] if args.distributed else []
    history = model.fit(x_train, y_train, epochs=args.epochs, batch_size=batch_size, validation_data=(x_val, y_val),
                        callbacks=callbacks, verbose=verbose if rank == 0 else 0)
    if rank != 0:
        return history
    base_rate = float(y_train.mean())
    baseline = max(base_rate, 1 - base_rate)
    best = float(((probability[split:] > 0.5) == (y_val[:, 0] > 0.5)).mean())  # knowing the hidden factors
    rows = args.users + args.items
    print(f"{len(x_train)} training pairs; a table of {rows:,} x {args.factors + 1} "
          f"({rows * (args.factors + 1) * 4 / 2 ** 20:.0f} MB), AdagradDecay")
    print(f"final loss {history.history['loss'][-1]:.4f}, val_loss {history.history['val_loss'][-1]:.4f}, "
          f"val accuracy {history.history['val_binary_accuracy'][-1]:.4f} (base rate {baseline:.4f}, "
          f"the data's own probabilities {best:.4f}) "
          f"({time.perf_counter() - started:.1f} s, {device})")
    if args.plot:
        history.plot(os.path.join(args.out, args.plot), metrics=["loss"],
                     title=f"FM, {rows:,} rows")
    return history


if __name__ == "__main__":
    main()
