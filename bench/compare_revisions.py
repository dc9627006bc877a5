"""Per-op eager overhead of this tree against an earlier revision, measured in one run.

    python bench/compare_revisions.py 74dd19a [--blocks 15] [--out FILE.md]

Each op of the per-op table (bench/test_autodiff.py's OPS, plus the Tensor methods and shape and
indexing ops a redesign of dispatch could slow) runs forward, and forward + backward (a tape, the
sum of the output, the gradients of every input), on a 4x4 and a 512x512 float32 CPU tensor. The
revision is checked out in a temporary git worktree, built and installed into a folder of its own
(pip --target, compiled modules included) and imported from there; the two trees run in processes
of their own, taking turns block after block (bench/workloads.py alternated_processes), both with
glibc's malloc told to keep freed memory (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_ at 1
GiB): otherwise whether a 1 MiB array comes from fresh mmapped pages (a page fault per 4 KiB on
first touch) depends on the process's allocation history, and the same code measured 0.31 ms in
one process and 2.2 ms in another (maximum forward+backward, 512x512). Medians, interquartile
ranges and after/before ratios go to stdout (and --out as Markdown).
"""

from __future__ import annotations

import argparse
import functools
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import numpy
from report import publish  # (bench/ is on the path of a script run from it)

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

SIZES = {"4x4": (4, 4), "512x512": (512, 512)}
# name: (call on the accel module and tensors, arity)
OPS = {
    "add": (lambda ac, a, b: ac.add(a, b), 2),
    "a + b": (lambda ac, a, b: a + b, 2),
    "multiply": (lambda ac, a, b: ac.multiply(a, b), 2),
    "2.0 - a": (lambda ac, a: 2.0 - a, 1),
    "exp": (lambda ac, a: ac.exp(a), 1),
    "tanh": (lambda ac, a: ac.tanh(a), 1),
    "relu": (lambda ac, a: ac.relu(a), 1),
    "maximum": (lambda ac, a, b: ac.maximum(a, b), 2),
    "sum": (lambda ac, a: ac.sum(a), 1),
    "a.sum(0)": (lambda ac, a: a.sum(0), 1),
    "matmul": (lambda ac, a, b: ac.matmul(a, b), 2),
    "reshape": (lambda ac, a: ac.reshape(a, (-1,)), 1),
    "a.T": (lambda ac, a: a.T, 1),
    "a[1:]": (lambda ac, a: a[1:], 1),
    "softmax": (lambda ac, a: ac.softmax(a), 1),
}


def _import_accel(root: str | None):
    """accel from `root` (the revision's install) instead of this one: the editable install's
    finder is taken off sys.meta_path and `root` put first on sys.path."""
    if root is not None:
        sys.meta_path[:] = [f for f in sys.meta_path if "Redirecting" not in type(f).__name__]
        sys.path.insert(0, root)
    import accel

    if root is not None and not accel.__file__.startswith(root):
        raise RuntimeError(f"imported {accel.__file__}, not the revision's accel under {root}")
    return accel


def step(root: str | None, op: str, size: str, backward: bool):
    """The zero-argument step of one op (built in the process that times it)."""
    ac = _import_accel(root)
    fn, arity = OPS[op]
    rng = numpy.random.default_rng(0)
    inputs = [ac.tensor(rng.standard_normal(SIZES[size]).astype(numpy.float32), device="cpu") for _ in range(arity)]
    if not backward:
        return lambda: fn(ac, *inputs)

    def forward_backward():
        with ac.GradientTape() as tape:
            tape.watch(inputs)
            y = ac.sum(fn(ac, *inputs))
        return tape.gradient(y, inputs)

    return forward_backward


def worktree(revision: str) -> tuple:
    """(git worktree of `revision`, the folder it is installed in): the revision built and installed
    on its own (pip, no dependencies), compiled modules included, so any two revisions compare."""
    path = tempfile.mkdtemp(prefix="accel-before-")
    tree, site = pathlib.Path(path, "tree"), pathlib.Path(path, "site")
    subprocess.run(["git", "worktree", "add", "--detach", str(tree), revision], cwd=ROOT, check=True,
                   capture_output=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(tree)],
                   check=True)
    return str(tree), str(site)


def main() -> None:
    from workloads import alternated_processes

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("revision")
    parser.add_argument("--blocks", type=int, default=15)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--out")
    parser.add_argument("--ops", nargs="*", default=list(OPS), help="a subset of the ops (default: all)")
    args = parser.parse_args()
    for name in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"):  # inherited by both processes
        os.environ.setdefault(name, str(1 << 30))
    tree, before = worktree(args.revision)
    rows = []
    try:
        for op in args.ops:
            for size in SIZES:
                for backward in (False, True):
                    steps = args.steps if size == "4x4" else max(args.steps // 20, 5)
                    stats = alternated_processes({
                        "before": functools.partial(step, before, op, size, backward),
                        "after": functools.partial(step, None, op, size, backward)}, args.blocks, steps)
                    (b, b_iqr), (a, a_iqr) = stats["before"], stats["after"]
                    kind = "forward+backward" if backward else "forward"
                    noisy = " †" if max(b_iqr / b, a_iqr / a) > 0.5 else ""  # report.py's NOISY rule
                    rows.append(f"| {op} | {size} | {kind} | {b * 1e6:.2f} ± {b_iqr * 1e6:.2f} | "
                                f"{a * 1e6:.2f} ± {a_iqr * 1e6:.2f} | {a / b:.3f}{noisy} |")
                    print(rows[-1], flush=True)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", tree], cwd=ROOT, capture_output=True)
        shutil.rmtree(pathlib.Path(before).parent, ignore_errors=True)
    publish([f"Per-op eager time, this tree (after) against {args.revision} (before): medians ± IQR in µs, "
             f"{args.blocks} alternating blocks, each tree in its own process (malloc keeps freed "
             "memory in both).", "",
             "| op | size | pass | before µs | after µs | after / before |",
             "| --- | --- | --- | --- | --- | --- |", *rows, "",
             "† an interquartile range over half the median on either side: too dispersed to trust."], args.out)


if __name__ == "__main__":
    main()
