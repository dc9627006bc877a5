"""A small character-level GPT trained on the installed Python's own standard-library sources
(no download), with Keras's compile / fit, then sampled from a prompt.

The corpus: the first --corpus-chars characters of the standard library's .py files (sorted by
path, so every run reads the same text), split 90/10 into training and validation text; windows
of --context characters predict the next character at every position. The model (GPT below):
token and position Embedding, --blocks pre-LayerNorm blocks of causal MultiHeadAttention and a
GELU MLP (4x wide), each with a residual connection (Add), a final LayerNormalization and a Dense
to the vocabulary. AdamW, sparse categorical cross-entropy on logits, a progress bar, a PNG of the
loss curves, and text sampled character by character (accel.random.categorical, temperature).

    python examples/train_char_gpt.py                    # default device; writes accel_examples/train_char_gpt/
    python examples/train_char_gpt.py --device cpu --function --epochs 2
    mpiexec -n 2 python examples/train_char_gpt.py --distributed   # data parallel, same global batch
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sysconfig
import time

import numpy

import accel as ac

L = ac.nn.layers


def load_corpus(chars: int) -> str:
    """The first `chars` characters of the standard library's sources, files in path order."""
    root = pathlib.Path(sysconfig.get_paths()["stdlib"])
    parts, total = [], 0
    for path in sorted(root.glob("*.py")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        parts.append(text)
        total += len(text)
        if total >= chars:
            break
    return "".join(parts)[:chars]


def windows(codes: numpy.ndarray, context: int, stride: int):
    """(x, y): inputs codes[i:i+context] and targets codes[i+1:i+context+1], i every `stride`."""
    starts = numpy.arange(0, len(codes) - context - 1, stride)
    index = starts[:, None] + numpy.arange(context)[None, :]
    return codes[index], codes[index + 1]


class Block(ac.nn.Module):
    """x + attention(LayerNorm(x)), then + MLP(LayerNorm(...)): the pre-LayerNorm transformer block."""

    def __init__(self, width: int, heads: int, seed: int, dropout: float, name=None):
        super().__init__(name=name)
        self.norm1 = L.LayerNormalization(epsilon=1e-5)
        self.attention = L.MultiHeadAttention(heads, width // heads, seed=seed)
        self.norm2 = L.LayerNormalization(epsilon=1e-5)
        self.hidden = L.Dense(4 * width, activation="gelu", seed=seed + 1)
        self.out = L.Dense(width, seed=seed + 2)
        self.dropout = L.Dropout(dropout, seed=seed + 3)
        self.add = L.Add()

    def call(self, x):
        h = self.norm1(x)
        x = self.add([x, self.dropout(self.attention(h, h, use_causal_mask=True))])
        return self.add([x, self.dropout(self.out(self.hidden(self.norm2(x))))])


class GPT(ac.nn.Module):
    def __init__(self, vocabulary: int, context: int, width: int = 64, heads: int = 4, blocks: int = 2,
                 dropout: float = 0.0, seed: int = 0, name="gpt"):
        super().__init__(name=name)
        self.context = context
        self.tokens = L.Embedding(vocabulary, width, embeddings_initializer=ac.nn.initializers.RandomNormal(
            stddev=0.02, seed=seed))
        self.positions = L.Embedding(context, width, embeddings_initializer=ac.nn.initializers.RandomNormal(
            stddev=0.02, seed=seed + 1))
        self.blocks = [Block(width, heads, seed + 10 * (i + 1), dropout) for i in range(blocks)]
        self.norm = L.LayerNormalization(epsilon=1e-5)
        self.head = L.Dense(vocabulary, seed=seed + 2)

    def call(self, ids):
        ids = ac.tensor(ids)
        t = ids.shape[1]
        x = self.tokens(ids) + self.positions(ac.arange(t, device=ids.device))
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))


def build(vocabulary: int, args, device):
    with ac.device(device):  # the layers' weights are created on it
        model = GPT(vocabulary, args.context, args.width, args.heads, args.blocks, args.dropout, args.seed)
        model(numpy.zeros((1, args.context), numpy.int64))  # build every layer
    return model


def compile_model(model, args, distributed: bool = False):
    optimizer = ac.optimizers.AdamW(learning_rate=args.learning_rate, weight_decay=args.weight_decay,
                                    global_clipnorm=1.0)
    if distributed:
        optimizer = ac.distributed.DistributedOptimizer(optimizer)
    model.compile(optimizer=optimizer, loss=ac.nn.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=args.function)
    return model


def sample(model, prompt: str, alphabet: str, length: int, temperature: float, seed: int, device=None) -> str:
    """`length` characters after `prompt`, each drawn from softmax(logits / temperature) of the
    last position (the window the model last saw: the final `context` characters)."""
    index = {ch: i for i, ch in enumerate(alphabet)}
    codes = [index.get(ch, 0) for ch in prompt]
    generator = ac.random.Generator(seed)
    for _ in range(length):
        window = numpy.array([codes[-model.context:]], numpy.int64)
        logits = model(ac.tensor(window, device=device))[:, -1, :] / temperature
        codes.append(int(generator.categorical(logits, 1).numpy()[0, 0]))
    return prompt + "".join(alphabet[c] for c in codes[len(prompt):])


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Train a character-level GPT on Python's standard library.")
    parser.add_argument("--corpus-chars", type=int, default=300_000)
    parser.add_argument("--context", type=int, default=64)
    parser.add_argument("--stride", type=int, default=32, help="characters between training windows")
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: accel's default)")
    parser.add_argument("--function", action="store_true", help="compile(jit_compile=True): the step traced")
    parser.add_argument("--distributed", action="store_true",
                        help="data parallel over the processes mpiexec started (alone: a world of one)")
    parser.add_argument("--prompt", default="def ")
    parser.add_argument("--sample-chars", type=int, default=200)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--out", default=os.path.join("accel_examples", "train_char_gpt"))
    parser.add_argument("--plot", default="char_gpt_loss.png", help="PNG of the loss curves (in --out)")
    parser.add_argument("--verbose", type=int, default=None, choices=[0, 1, 2])
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    device = ac.get_device(args.device)
    started = time.perf_counter()
    ac.random.set_seed(args.seed)
    text = load_corpus(args.corpus_chars)
    alphabet = "".join(sorted(set(text)))
    codes = numpy.array([alphabet.index(ch) for ch in text], numpy.int64)
    split = int(len(codes) * 0.9)
    x_train, y_train = windows(codes[:split], args.context, args.stride)
    x_val, y_val = windows(codes[split:], args.context, args.context)
    dist = ac.distributed
    rank, workers = (dist.init().rank, dist.size()) if args.distributed else (0, 1)
    model = compile_model(build(len(alphabet), args, device), args, args.distributed)
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
    params = sum(int(numpy.prod(v.shape)) for v in model.trainable_variables)
    print(f"{len(alphabet)} characters, {len(x_train)} windows of {args.context}; {params:,} parameters")
    print(f"final loss {history.history['loss'][-1]:.4f}, val_loss {history.history['val_loss'][-1]:.4f} "
          f"({time.perf_counter() - started:.1f} s, {device})")
    if args.plot:
        history.plot(os.path.join(args.out, args.plot), metrics=["loss"],
                     title=f"char GPT ({args.blocks} blocks, width {args.width})")
    print("sample:")
    print(sample(model, args.prompt, alphabet, args.sample_chars, args.temperature, args.seed, device))
    return history


if __name__ == "__main__":
    main()
