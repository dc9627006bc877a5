"""Handwritten digits with an accel MLP, trained with Keras's compile / fit.

scikit-learn's bundled digits (load_digits: 1797 8x8 images, no download), standardised with the
training statistics, a stratified 80/20 split; an MLP 64-128-10 with L2 weight regularization,
compiled with Adam (global-norm clipping), sparse categorical cross-entropy on logits and
accuracy; `fit` holds out the last 15% of the training rows for validation and runs
ReduceLROnPlateau (halve the rate when val_loss stalls), EarlyStopping (stop when it stops
improving; keep the best weights) and ModelCheckpoint (the best model and its optimizer, written
atomically); a progress bar; a PNG of the learning curves; the final test accuracy.

    python examples/train_digits.py                      # default device; writes accel_examples/train_digits/
    python examples/train_digits.py --device cpu --epochs 60 --plot curves.png
    mpiexec -n 2 python examples/train_digits.py --distributed   # data parallel: 2 workers, same global batch

With --distributed (accel.distributed; `pip install -e ".[dist]"`), each worker trains on every
size()-th training row with batch_size // size() rows a step and a DistributedOptimizer averages
the gradients, so the workers take the steps one process would on the whole batches. The
validation rows are held out before sharding and every worker validates on all of them (the
callbacks then decide alike everywhere: a worker that stopped alone would leave the others
waiting), MetricAverageCallback averages the training logs, and only rank 0 prints, saves the
checkpoint and draws the PNG.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy

import accel as ac

HIDDEN = 128
CLASSES = 10


def load_data(seed: int = 0):
    """(x_train, y_train, x_test, y_test): standardised features, integer labels."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        digits.data.astype(numpy.float64), digits.target, test_size=0.2, stratify=digits.target,
        random_state=seed)
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    std[std == 0] = 1.0  # always-blank pixels
    return (x_train - mean) / std, y_train, (x_test - mean) / std, y_test


def build_model(seed: int, dtype="float32", device=None, inputs: int = 64, l2: float = 1e-4):
    regularizer = ac.nn.regularizers.L2(l2) if l2 else None
    return ac.nn.Sequential([
        ac.nn.Dense(HIDDEN, activation="relu", input_dim=inputs, seed=seed, dtype=dtype, device=device,
                    kernel_regularizer=regularizer),
        ac.nn.Dense(CLASSES, input_dim=HIDDEN, seed=seed + 1, dtype=dtype, device=device,
                    kernel_regularizer=regularizer),
    ])


def compile_model(model, learning_rate: float, clip: float, distributed: bool = False):
    optimizer = ac.optimizers.Adam(learning_rate=learning_rate, global_clipnorm=clip)
    if distributed:
        optimizer = ac.distributed.DistributedOptimizer(optimizer)
    model.compile(optimizer=optimizer,
                  loss=ac.nn.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Train an MLP on scikit-learn's digits with accel's fit.")
    parser.add_argument("--epochs", type=int, default=60, help="at most this many (EarlyStopping may stop sooner)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--clip", type=float, default=5.0, help="global gradient-norm clip")
    parser.add_argument("--l2", type=float, default=1e-4, help="L2 regularization of the kernels")
    parser.add_argument("--patience", type=int, default=8, help="EarlyStopping's patience (ReduceLROnPlateau: 3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64", "mixed_float16"],
                        help="the layers' dtype policy (mixed_float16: float32 variables, float16 compute, "
                             "and compile adds a LossScaleOptimizer)")
    parser.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: accel's default)")
    parser.add_argument("--out", default=os.path.join("accel_examples", "train_digits"),
                        help="the folder for the checkpoint and the PNG (created; default under the working directory)")
    parser.add_argument("--checkpoint", default="digits_best.npz", help="best-model checkpoint file (in --out)")
    parser.add_argument("--plot", default="digits_curves.png", help="PNG of the learning curves (in --out)")
    parser.add_argument("--distributed", action="store_true",
                        help="data parallel over the processes mpiexec started (alone: a world of one)")
    parser.add_argument("--verbose", type=int, default=None, choices=[0, 1, 2],
                        help="0 silent, 1 a progress bar per epoch, 2 one line per epoch (default: fit's 'auto')")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    device = ac.get_device(args.device)
    started = time.perf_counter()
    ac.random.set_seed(args.seed)  # fit's shuffling draws from accel.random
    x_train, y_train, x_test, y_test = load_data(args.seed)
    dist = ac.distributed
    rank, workers = (dist.init().rank, dist.size()) if args.distributed else (0, 1)
    model = compile_model(build_model(args.seed, args.dtype, device, l2=args.l2), args.learning_rate, args.clip,
                          args.distributed)
    if args.distributed:
        dist.broadcast_variables(model, root=0)  # one starting point (the seeds already agree; resumed runs need it)
    stopping = ac.callbacks.EarlyStopping(monitor="val_loss", patience=args.patience, restore_best_weights=True)
    callbacks = [
        ac.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=3, min_lr=1e-5),
        stopping,
    ]
    if rank == 0:
        callbacks.append(ac.callbacks.ModelCheckpoint(os.path.join(args.out, args.checkpoint), monitor="val_loss",
                                                      save_best_only=True))
    fit_args = dict(batch_size=args.batch_size, validation_split=0.15)
    if args.distributed:  # fit's validation_split would take each worker's own last rows: split first
        held = len(x_train) - int(len(x_train) * 0.15)
        x_val, y_val = x_train[held:], y_train[held:]
        x_train, y_train = dist.shard((x_train[:held], y_train[:held]))
        fit_args = dict(batch_size=max(1, args.batch_size // workers), validation_data=(x_val, y_val))
        callbacks.insert(0, dist.MetricAverageCallback())
    verbose = "auto" if args.verbose is None else args.verbose
    history = model.fit(x_train, y_train, epochs=args.epochs, callbacks=callbacks,
                        verbose=verbose if rank == 0 else 0, **fit_args)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    if rank != 0:
        return accuracy
    where = f"{workers} workers on {device}" if args.distributed else str(device)
    print(f"{len(history.epoch)} epochs (best: {stopping.best_epoch + 1}); test loss {loss:.4f}")
    print(f"test accuracy: {accuracy:.4f} ({time.perf_counter() - started:.1f} s, {where})")
    if args.plot:
        history.plot(os.path.join(args.out, args.plot), metrics=["loss", "accuracy", "learning_rate"],
                     title="digits MLP: fit with ReduceLROnPlateau and EarlyStopping (best weights restored)",
                     mark_epoch=stopping.best_epoch)
    return accuracy


if __name__ == "__main__":
    main()
