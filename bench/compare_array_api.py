"""The Array API standard's functions on accel CPU tensors beside NumPy 2's own functions of the same
name (NumPy's namespace is the standard's) on the same arrays: 1, 10^3 and 10^6 elements.

    python bench/compare_array_api.py [--sizes 1,1000,1000000] [--only real,vecdot] [--out FILE.md]

Each call is timed with timeit (the best of 5 repeats of an auto-ranged loop: the minimum is the
call's cost without the host's noise), accel and NumPy alternated per function; the table gives
both times and accel / NumPy. Both run NumPy's kernels on the same memory, so the ratio is accel's
own cost per call (argument checks, the tape and trace hooks, wrapping the result), which dominates
at one element and vanishes at a million. Before timing, each pair is checked to give the same
values (so both really did the work). Issue 37's target is <= 1.2x at every size; the report says
where it holds. OPENBLAS_CORETYPE is printed (it moves matmul, not these elementwise calls).
"""

from __future__ import annotations

import argparse
import os
import timeit

import numpy

import accel as ac
from report import publish  # (bench/ is on the path of a script run from it)

# name -> operand kind: u (floats in (0.1, 0.9)), g (floats >= 1), b (two floats), i / ii (int64), l / ll
# (bools), r (a reduction over a float array), s (a function of shape manipulation, args given)
UNARY = ["abs", "acos", "asin", "asinh", "atan", "atanh", "ceil", "conj", "cos", "cosh", "exp", "expm1", "floor",
         "imag", "isfinite", "isinf", "isnan", "log", "log1p", "log2", "log10", "negative", "positive", "real",
         "round", "sign", "signbit", "sin", "sinh", "sqrt", "square", "tan", "tanh", "trunc"]
BINARY = ["add", "atan2", "copysign", "divide", "equal", "floor_divide", "greater", "greater_equal", "hypot", "less",
          "less_equal", "logaddexp", "maximum", "minimum", "multiply", "nextafter", "not_equal", "pow", "remainder",
          "subtract"]
INTEGER = ["bitwise_invert"]
INTEGER2 = ["bitwise_and", "bitwise_left_shift", "bitwise_or", "bitwise_right_shift", "bitwise_xor"]
LOGICAL = ["logical_not"]
LOGICAL2 = ["logical_and", "logical_or", "logical_xor"]
REDUCE = ["sum", "prod", "mean", "max", "min", "std", "var", "argmax", "argmin", "cumulative_sum", "sort", "argsort",
          "unique_values", "nonzero", "all", "any"]
OTHER = {  # name: (arguments after the array, keyword arguments)
    "reshape": (((-1,),), {}), "flip": ((), {}), "roll": ((1,), {}), "expand_dims": ((), {"axis": 0}),
    "astype": (("float64",), {}), "clip": ((0.2, 0.8), {}), "where": None, "concat": None, "stack": None,
    "tile": (((2,),), {}), "repeat": ((2,), {}), "broadcast_to": None, "zeros_like": ((), {}), "ones_like": ((), {}),
    "searchsorted": None, "isin": None, "take": None, "vecdot": None,
}


def _operands(kind, n, rng):
    if kind == "u":
        return (rng.uniform(0.1, 0.9, n),)
    if kind == "b":
        return rng.uniform(0.1, 0.9, n), rng.uniform(0.1, 0.9, n)
    if kind == "i":
        return (rng.integers(0, 100, n),)
    if kind == "ii":
        return rng.integers(0, 100, n), rng.integers(0, 8, n)
    if kind == "l":
        return (rng.random(n) < 0.5,)
    if kind == "ll":
        return rng.random(n) < 0.5, rng.random(n) < 0.5
    raise ValueError(kind)


def _calls(n, rng):
    """(name, accel call, NumPy call): each a no-argument function on prepared operands."""
    out = []

    def pair(name, arrays, args=(), kwargs=None, np_name=None):
        kwargs = kwargs or {}
        tensors = [ac.tensor(a) for a in arrays]
        np_fn = getattr(numpy, np_name or name)
        ac_fn = getattr(ac, name)
        out.append((name, lambda: ac_fn(*tensors, *args, **kwargs), lambda: np_fn(*arrays, *args, **kwargs)))

    for names, kind in ((UNARY, "u"), (BINARY, "b"), (INTEGER, "i"), (INTEGER2, "ii"), (LOGICAL, "l"),
                        (LOGICAL2, "ll")):
        for name in names:
            pair(name, _operands(kind, n, rng))
    pair("acosh", (rng.uniform(1.1, 2.0, n),))
    for name in REDUCE:
        pair(name, _operands("u", n, rng))
    x = rng.uniform(0.1, 0.9, n)
    for name, spec in OTHER.items():
        if spec is not None:
            pair(name, (x,), *spec)
    mask = rng.random(n) < 0.5
    pair("where", (mask, x, x[::-1].copy()))
    tx = ac.tensor(x)
    out.append(("concat", lambda: ac.concat([tx, tx]), lambda: numpy.concat([x, x])))
    out.append(("stack", lambda: ac.stack([tx, tx]), lambda: numpy.stack([x, x])))
    out.append(("broadcast_to", lambda: ac.broadcast_to(tx, (2, n)), lambda: numpy.broadcast_to(x, (2, n))))
    s, ts = numpy.sort(x), ac.tensor(numpy.sort(x))
    tq, q = ac.tensor(x[:64].copy()), x[:64].copy()
    out.append(("searchsorted", lambda: ac.searchsorted(ts, tq), lambda: numpy.searchsorted(s, q)))
    ids = rng.integers(0, n, min(n, 1000))
    tids = ac.tensor(ids)
    out.append(("take", lambda: ac.take(tx, tids, axis=0), lambda: numpy.take(x, ids, axis=0)))
    out.append(("vecdot", lambda: ac.vecdot(tx, tx), lambda: numpy.vecdot(x, x)))
    out.append(("isin", lambda: ac.isin(tx, tq), lambda: numpy.isin(x, q)))
    out.append(("matmul", lambda: ac.matmul(tx, tx), lambda: numpy.matmul(x, x)))
    return out


def _same(a, b) -> bool:
    a = a.numpy() if isinstance(a, ac.Tensor) else a
    if isinstance(a, tuple):
        return all(_same(p, q) for p, q in zip(a, b))
    if isinstance(b, tuple) and not isinstance(a, tuple):
        return False
    a = numpy.asarray(a.numpy() if isinstance(a, ac.Tensor) else a)
    b = numpy.asarray(b)
    return a.shape == b.shape and numpy.allclose(a.astype(float), b.astype(float), rtol=1e-6, equal_nan=True)


def _best(fn) -> float:
    number, _ = timeit.Timer(fn).autorange()
    return min(timeit.repeat(fn, number=number, repeat=5)) / number


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,1000,1000000")
    parser.add_argument("--only", default="", help="comma-separated function names (default: all)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rng = numpy.random.default_rng(0)
    rows = {}
    for n in sizes:
        for name, accel_call, numpy_call in _calls(n, rng):
            if args.only and name not in args.only.split(","):
                continue
            a, b = accel_call(), numpy_call()
            if not _same(a, b):
                raise AssertionError(f"{name} at {n}: accel and NumPy disagree")
            rows.setdefault(name, {})[n] = (_best(accel_call), _best(numpy_call))
    lines = [f"# Array API functions: accel CPU tensors beside NumPy {numpy.__version__} "
             f"(OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}, best of 5)", "",
             "| function | " + " | ".join(f"{n:g}: accel / NumPy µs (ratio)" for n in sizes) + " |",
             "|---|" + "---:|" * len(sizes)]
    within = {n: 0 for n in sizes}
    for name in sorted(rows):
        cells = []
        for n in sizes:
            accel_s, numpy_s = rows[name][n]
            ratio = accel_s / numpy_s
            within[n] += ratio <= 1.2
            cells.append(f"{accel_s * 1e6:.2f} / {numpy_s * 1e6:.2f} ({ratio:.2f}x)")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "Within 1.2x of NumPy: " + ", ".join(f"{within[n]} of {len(rows)} at {n:g} elements" for n in sizes)]
    publish(lines, args.out)


if __name__ == "__main__":
    main()
