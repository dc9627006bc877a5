"""Handwritten digits with an accel MLP, end to end.

scikit-learn's bundled digits (load_digits: 1797 8x8 images, no download), standardised with the
training statistics, a stratified 80/20 split; an MLP 64-128-10 trained with Adam, a cosine
learning-rate schedule and global-norm clipping; a progress bar with loss and accuracy; a
checkpoint after every epoch (continue an interrupted run with --resume); a PNG of the curves;
the final test accuracy.

    python examples/train_digits.py                      # default device; writes accel_examples/train_digits/
    python examples/train_digits.py --device cpu --epochs 30 --plot curves.png
    python examples/train_digits.py --resume             # continue from the last checkpoint
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


def build_model(seed: int, dtype="float32", device=None, inputs: int = 64):
    return ac.nn.Sequential([
        ac.nn.Dense(HIDDEN, activation="relu", input_dim=inputs, seed=seed, dtype=dtype, device=device),
        ac.nn.Dense(CLASSES, input_dim=HIDDEN, seed=seed + 1, dtype=dtype, device=device),
    ])


def batch_order(n: int, batch_size: int, epoch: int, seed: int):
    """The batches of one epoch: the same for a given (seed, epoch), so a resumed run sees the
    batches an uninterrupted one would."""
    order = numpy.random.default_rng([seed, epoch]).permutation(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def make_optimizer(total_steps: int, learning_rate: float, clip: float):
    schedule = ac.optimizers.schedules.CosineDecay(learning_rate, decay_steps=total_steps, alpha=0.05)
    return ac.optimizers.Adam(learning_rate=schedule, global_clipnorm=clip)


def train_step(model, optimizer, x, y):
    """One step; returns (loss, number of correct predictions) of the batch."""
    with ac.GradientTape() as tape:
        logits = model(x)
        loss = ac.nn.sparse_softmax_cross_entropy(y, logits)
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    correct = int(ac.sum(ac.equal(ac.argmax(logits, axis=1), y)).item())
    return loss.item(), correct


def accuracy(model, x, y) -> float:
    return float(ac.mean(ac.cast(ac.equal(ac.argmax(model(x), axis=1), y), "float64")).item())


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Train an MLP on scikit-learn's digits with accel.")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--clip", type=float, default=5.0, help="global gradient-norm clip")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: accel's default)")
    parser.add_argument("--out", default=os.path.join("accel_examples", "train_digits"),
                        help="the folder for the checkpoint and the PNG (created; default under the working directory)")
    parser.add_argument("--checkpoint", default="digits_checkpoint.npz", help="checkpoint file (in --out)")
    parser.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    parser.add_argument("--stop-after", type=int, default=None,
                        help="stop after this many epochs of this run (to simulate an interruption)")
    parser.add_argument("--plot", default="digits_curves.png", help="PNG of the loss and accuracy curves (in --out)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    args.checkpoint = os.path.join(args.out, args.checkpoint)
    args.plot = args.plot and os.path.join(args.out, args.plot)
    from tqdm import tqdm

    device = ac.get_device(args.device)
    started = time.perf_counter()
    x_train, y_train, x_test, y_test = load_data(args.seed)
    with ac.device(device):
        xs_train, ys_train = ac.tensor(x_train, dtype=args.dtype), ac.tensor(y_train)
        xs_test, ys_test = ac.tensor(x_test, dtype=args.dtype), ac.tensor(y_test)
    model = build_model(args.seed, args.dtype, device)
    steps_per_epoch = -(-len(x_train) // args.batch_size)
    optimizer = make_optimizer(args.epochs * steps_per_epoch, args.learning_rate, args.clip)
    epoch = ac.Variable(0, name="epoch", device="cpu")
    history = {name: ac.Variable(numpy.zeros(args.epochs), name=name, device="cpu")
               for name in ("train_loss", "train_accuracy", "test_accuracy")}
    checkpoint = ac.Checkpoint(model=model, optimizer=optimizer, epoch=epoch, history=history)
    if args.resume and os.path.exists(args.checkpoint):
        checkpoint.restore(args.checkpoint)
        print(f"resumed from {args.checkpoint} after epoch {epoch.item()}")

    done_here = 0
    while epoch.item() < args.epochs and (args.stop_after is None or done_here < args.stop_after):
        e = epoch.item()
        batches = batch_order(len(x_train), args.batch_size, e, args.seed)
        total_loss, total_correct = 0.0, 0
        bar = tqdm(batches, desc=f"epoch {e + 1}/{args.epochs}", leave=False, disable=args.no_progress)
        for seen, index in enumerate(bar, start=1):
            loss, correct = train_step(model, optimizer, xs_train[index], ys_train[index])
            total_loss += loss * len(index)
            total_correct += correct
            bar.set_postfix(loss=f"{total_loss / (seen * args.batch_size):.4f}")
        train_loss, train_acc = total_loss / len(x_train), total_correct / len(x_train)
        test_acc = accuracy(model, xs_test, ys_test)
        for name, value in (("train_loss", train_loss), ("train_accuracy", train_acc), ("test_accuracy", test_acc)):
            values = history[name].numpy()
            values[e] = value
            history[name].assign(values)
        epoch.assign(e + 1)
        checkpoint.save(args.checkpoint)
        done_here += 1
        print(f"epoch {e + 1}: loss {train_loss:.4f}, train accuracy {train_acc:.4f}, test accuracy {test_acc:.4f}")

    final = accuracy(model, xs_test, ys_test)
    print(f"test accuracy: {final:.4f} ({time.perf_counter() - started:.1f} s on {device})")
    if args.plot:
        plot(history, epoch.item(), args.plot)
    return final


def plot(history, epochs: int, out: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = numpy.arange(1, epochs + 1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(x, history["train_loss"].numpy()[:epochs], marker=".")
    left.set(title="training loss", xlabel="epoch", yscale="log")
    train, test = history["train_accuracy"].numpy()[:epochs], history["test_accuracy"].numpy()[:epochs]
    right.plot(x, train, marker=".", label="train")
    right.plot(x, test, marker=".", label="test")
    # every epoch on the chart, the first included (its accuracy is far below the later ones)
    low = float(min(train.min(), test.min()))
    right.set(title="accuracy", xlabel="epoch", ylim=(max(0.0, numpy.floor(low * 20) / 20 - 0.02), 1.005))
    right.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
