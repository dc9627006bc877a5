"""Handwritten digits with a small accel CNN, trained with Keras's compile / fit.

scikit-learn's bundled digits (load_digits: 1797 8x8 images, no download) as (N, 8, 8, 1) images
scaled to [0, 1], a stratified 80/20 split; Conv2D(32, 3, "same", relu) -> BatchNormalization ->
MaxPooling2D -> Conv2D(64, 3, "same", relu) -> BatchNormalization -> MaxPooling2D -> Flatten ->
Dropout(0.3) -> Dense(10), Adam, sparse categorical cross-entropy on logits; `fit` holds out 10%
of the training rows for validation with ReduceLROnPlateau and EarlyStopping (best weights
restored), calls the layers with training=True (BatchNormalization's batch statistics and moving
averages, Dropout's masks), and `evaluate` with training=False (the moving averages, no dropout).
A PNG of the learning curves; the final test accuracy.

    python examples/train_cnn_digits.py                   # default device; writes accel_examples/train_cnn_digits/
    python examples/train_cnn_digits.py --device cpu --function   # the step through accel.function
"""

from __future__ import annotations

import argparse
import os
import time

import numpy

import accel as ac

CLASSES = 10


def load_data(seed: int = 0):
    """(x_train, y_train, x_test, y_test): (N, 8, 8, 1) images in [0, 1], integer labels."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = (digits.images / 16.0).astype(numpy.float32)[..., None]
    x_train, x_test, y_train, y_test = train_test_split(images, digits.target, test_size=0.2,
                                                        stratify=digits.target, random_state=seed)
    return x_train, y_train, x_test, y_test


def build_model(seed: int, dtype="float32", device=None, dropout: float = 0.3):
    layers = ac.nn.layers
    common = dict(dtype=dtype, device=device)
    return ac.nn.Sequential([
        layers.Conv2D(32, 3, padding="same", activation="relu", seed=seed, input_shape=(8, 8, 1), **common),
        layers.BatchNormalization(**common),
        layers.MaxPooling2D(**common),
        layers.Conv2D(64, 3, padding="same", activation="relu", seed=seed + 1, **common),
        layers.BatchNormalization(**common),
        layers.MaxPooling2D(**common),
        layers.Flatten(**common),
        layers.Dropout(dropout, seed=seed + 2, **common),
        layers.Dense(CLASSES, seed=seed + 3, **common),
    ], name="cnn")


def compile_model(model, learning_rate: float, jit_compile: bool = False):
    model.compile(optimizer=ac.optimizers.Adam(learning_rate=learning_rate),
                  loss=ac.nn.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], jit_compile=jit_compile)
    return model


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Train a CNN on scikit-learn's digits with accel's fit.")
    parser.add_argument("--epochs", type=int, default=40, help="at most this many (EarlyStopping may stop sooner)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--patience", type=int, default=8, help="EarlyStopping's patience (ReduceLROnPlateau: 3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: accel's default)")
    parser.add_argument("--function", action="store_true", help="compile(jit_compile=True): the step traced")
    parser.add_argument("--out", default=os.path.join("accel_examples", "train_cnn_digits"),
                        help="the folder for the PNG (created; default under the working directory)")
    parser.add_argument("--plot", default="cnn_digits_curves.png", help="PNG of the learning curves (in --out)")
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
    model = compile_model(build_model(args.seed, device=device), args.learning_rate, args.function)
    stopping = ac.callbacks.EarlyStopping(monitor="val_loss", patience=args.patience, restore_best_weights=True)
    callbacks = [ac.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=3, min_lr=1e-5), stopping]
    verbose = "auto" if args.verbose is None else args.verbose
    history = model.fit(x_train, y_train, epochs=args.epochs, batch_size=args.batch_size, validation_split=0.1,
                        callbacks=callbacks, verbose=verbose)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"{len(history.epoch)} epochs (best: {stopping.best_epoch + 1}); test loss {loss:.4f}")
    print(f"test accuracy: {accuracy:.4f} ({time.perf_counter() - started:.1f} s, {device})")
    if args.plot:
        history.plot(os.path.join(args.out, args.plot), metrics=["loss", "accuracy", "learning_rate"],
                     title="digits CNN: Conv2D + BatchNormalization + MaxPooling2D + Dropout",
                     mark_epoch=stopping.best_epoch)
    return accuracy


if __name__ == "__main__":
    main()
