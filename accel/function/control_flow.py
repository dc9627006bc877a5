"""cond and while_loop (TensorFlow's), eagerly: the predicate is read (a Python bool or a scalar
boolean tensor, one host read) and Python runs the branch or the loop, so a tape records exactly
the ops that ran and gradients flow through the branch taken and through every iteration."""

from __future__ import annotations

import numpy

from ..tensor import Tensor

__all__ = ["cond", "while_loop"]


def _truth(pred, where: str, argument: str) -> bool:
    """A Python bool from a bool, a NumPy bool, or a scalar boolean tensor."""
    if isinstance(pred, (bool, numpy.bool_)):
        return bool(pred)
    if isinstance(pred, Tensor):
        if pred.shape != ():
            raise ValueError(f"{where}: {argument} must be a scalar, got a tensor of shape {tuple(pred.shape)}")
        if pred.dtype != numpy.bool_:
            raise TypeError(f"{where}: {argument} must be boolean, got a {pred.dtype.name} tensor")
        return bool(pred.item())
    raise TypeError(f"{where}: {argument} must be a bool or a scalar boolean tensor, got {type(pred).__name__}")


def cond(pred, true_fn=None, false_fn=None):
    """true_fn() if pred else false_fn(); what the branch returns, unchanged (a Python value
    stays one, as in eager TensorFlow)."""
    for name, fn in (("true_fn", true_fn), ("false_fn", false_fn)):
        if not callable(fn):
            raise TypeError(f"cond: {name} must be callable, got {type(fn).__name__}")
    return true_fn() if _truth(pred, "cond", "pred") else false_fn()


def while_loop(cond, body, loop_vars, maximum_iterations=None):
    """Runs `loop_vars = body(*loop_vars)` while `cond(*loop_vars)` (and fewer than
    maximum_iterations times); returns the final loop variables in loop_vars' structure (a list
    or a tuple; a body of one variable may return it bare)."""
    if not callable(cond) or not callable(body):
        raise TypeError("while_loop: cond and body must be callable")
    if not isinstance(loop_vars, (list, tuple)):
        raise TypeError(f"while_loop: loop_vars must be a list or a tuple, got {type(loop_vars).__name__} "
                        "(wrap a single variable: [x])")
    if maximum_iterations is not None:
        if isinstance(maximum_iterations, Tensor):
            maximum_iterations = maximum_iterations.item()
        if isinstance(maximum_iterations, bool) or not isinstance(maximum_iterations, (int, numpy.integer)) \
                or maximum_iterations < 0:
            raise ValueError(f"while_loop: maximum_iterations must be an int >= 0, got {maximum_iterations!r}")
    kind, count, iterations = type(loop_vars), len(loop_vars), 0
    while (maximum_iterations is None or iterations < maximum_iterations) and \
            _truth(cond(*loop_vars), "while_loop", "cond's result"):
        out = body(*loop_vars)
        if not isinstance(out, (list, tuple)):
            out = [out]
        if len(out) != count:
            raise ValueError(f"while_loop: body returned {len(out)} values for {count} loop variables")
        loop_vars = kind(out)
        iterations += 1
    return loop_vars
