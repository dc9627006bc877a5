"""cond and while_loop (TensorFlow's). Eagerly the predicate is read (a Python bool or a scalar
boolean tensor, one host read) and Python runs the branch or the loop, so a tape records exactly
the ops that ran and gradients flow through the branch taken and through every iteration.
Inside accel.function, with a traced predicate, cond traces both branches and selects, and
while_loop becomes one step that runs the loop on every call."""

from __future__ import annotations

import numpy

from ..nest import flatten
from ..ops.elementwise import where
from ..tensor import Tensor, convert
from .trace import current

__all__ = ["cond", "while_loop"]


def _check_pred(pred, where: str, argument: str) -> None:
    if isinstance(pred, (bool, numpy.bool_)):
        return
    if isinstance(pred, Tensor):
        if pred.shape != ():
            raise ValueError(f"{where}: {argument} must be a scalar, got a tensor of shape {tuple(pred.shape)}")
        if pred.dtype != numpy.bool_:
            raise TypeError(f"{where}: {argument} must be boolean, got a {pred.dtype.name} tensor")
        return
    raise TypeError(f"{where}: {argument} must be a bool or a scalar boolean tensor, got {type(pred).__name__}")


def _truth(pred, where: str, argument: str) -> bool:
    """A Python bool from a bool, a NumPy bool, or a scalar boolean tensor."""
    _check_pred(pred, where, argument)
    return bool(pred.item()) if isinstance(pred, Tensor) else bool(pred)


def _traced(value) -> bool:
    """Whether `value` is a tensor whose value is only known when a traced function runs."""
    trace = current()
    return trace is not None and isinstance(value, Tensor) and trace.is_traced(value)


def cond(pred, true_fn=None, false_fn=None):
    """true_fn() if pred else false_fn(); what the branch returns, unchanged (a Python value
    stays one, as in eager TensorFlow). Inside accel.function with a traced `pred`, one trace
    serves both branches: see `_traced_cond`."""
    for name, fn in (("true_fn", true_fn), ("false_fn", false_fn)):
        if not callable(fn):
            raise TypeError(f"cond: {name} must be callable, got {type(fn).__name__}")
    if _traced(pred):
        _check_pred(pred, "cond", "pred")
        return _traced_cond(pred, true_fn, false_fn)
    return true_fn() if _truth(pred, "cond", "pred") else false_fn()


def _traced_cond(pred, true_fn, false_fn):
    """Both branches traced, the result selected by `pred`: where(pred, true, false) per tensor
    (gradients reach the taken branch only; a branch's NaN or inf never leaks into the other's
    gradient: selection VJPs give exact zeros). Branches that print or write (effects) cannot run
    both: then the whole cond is one step that runs the taken branch on each call."""
    trace = current()
    start = len(trace.steps)
    true_out, false_out = true_fn(), false_fn()
    branches = trace.steps[start:]
    selectable = not any(step.kind == "effect" for step in branches)
    try:
        merged = _select(pred, true_out, false_out) if selectable else None
    except _Mismatch:
        merged = None
    if merged is not None:
        return merged
    del trace.steps[start:]  # the branches become one step that runs the taken one
    return _opaque(trace.call(_eager_cond, (pred, true_fn, false_fn), {}, stateful=True), "cond")


class _Mismatch(Exception):
    pass


def _select(pred, a, b):
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        if a.shape != b.shape or a.dtype != b.dtype:
            raise _Mismatch
        return where(pred, a, b)
    if isinstance(a, (list, tuple)) and type(a) is type(b) and len(a) == len(b):
        return type(a)(_select(pred, x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict) and sorted(a) == sorted(b):
        return {k: _select(pred, a[k], b[k]) for k in a}
    if not isinstance(a, Tensor) and not isinstance(b, Tensor) and a is b:
        return a
    raise _Mismatch


def _opaque(out, where: str):
    """The outputs of a control-flow step, as the trace sees them: a tape inside the function
    that recorded the step's iterations must not differentiate through them (the trace would
    freeze this call's path into every later call), so their nodes refuse."""

    def refuse(*args, **kwargs):
        raise RuntimeError(
            f"accel.function: a tape inside the function cannot differentiate through a {where} whose "
            "path depends on traced values (its gradient would be frozen to this trace's path); take "
            "that gradient outside the function, where the tape records every call's own path")

    for t in flatten(out if isinstance(out, (list, tuple)) else [out], expand_composites=True):
        node = getattr(t, "_node", None)
        if node is not None:
            node.vjp = (refuse,) * len(node.inputs)
    return out


def _eager_cond(pred, true_fn, false_fn):
    return true_fn() if bool(pred.item()) else false_fn()


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
    trace = current()
    if trace is not None and _depends_on_trace(trace, cond, loop_vars):
        # Inside accel.function: the loop is one step; each call runs it (its trip count is the
        # values' business), on tensors, so tapes outside the function record every iteration.
        # Python numbers among the loop variables become tensors (as TensorFlow converts them):
        # their values change with the trip count, so they cannot be frozen into the trace.
        start = [convert(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v for v in loop_vars]
        out = trace.call(_eager_while, (cond, body, start, type(loop_vars), maximum_iterations), {}, stateful=True)
        return _opaque(out, "while_loop")
    return _eager_while(cond, body, loop_vars, type(loop_vars), maximum_iterations)


def _depends_on_trace(trace, cond, loop_vars) -> bool:
    """Whether the loop's trip count may depend on traced values: traced loop variables, or a
    condition that gives a traced tensor (it is evaluated once to see; its steps are dropped)."""
    if any(trace.is_traced(v) for v in flatten(list(loop_vars), expand_composites=True)
           if isinstance(v, Tensor)):
        return True
    start = len(trace.steps)
    traced = _traced(cond(*loop_vars))
    del trace.steps[start:]
    return traced


def _eager_while(cond, body, loop_vars, kind, maximum_iterations):
    count, iterations = len(loop_vars), 0
    loop_vars = kind(loop_vars)
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
