"""custom_gradient: a user op whose VJP the user writes (e.g. for numerical stability).

    @accel.custom_gradient
    def log1pexp(x):
        e = accel.exp(x)
        def grad(dy):
            return dy * (1 - 1 / (1 + e))
        return accel.log(1 + e), grad

The function's own ops are not recorded; the result gets one node whose VJP calls `grad`.
Written in accel ops, `grad` is itself recorded by surrounding tapes (higher derivatives).
`grad` returns one gradient per positional argument (a single tensor for one argument).

A function may return several outputs (a tuple or list of tensors); `grad` then takes one upstream
gradient per output. Each output gets its own node, which calls `grad` with its upstream gradient
and zeros for the others; the graph walk adds the results, which is the joint VJP because a VJP
is linear in the upstream gradients.
"""

from __future__ import annotations

import functools

from ..tensor import Tensor
from ..ops._core import make
from ..ops.creation import zeros_like
from . import recording

__all__ = ["custom_gradient"]


class _CustomVJPs:
    """Per-input VJPs that share one call of the user's grad function per upstream gradient.
    For output `position` of `outputs` (several outputs), the other upstream gradients are zeros."""

    __slots__ = ("grad_fn", "count", "outputs", "position", "_last")

    def __init__(self, grad_fn, count, outputs=None, position=0):
        self.grad_fn = grad_fn
        self.count = count
        self.outputs = outputs
        self.position = position
        self._last = None

    def _upstream(self, g):
        if self.outputs is None:
            return (g,)
        return tuple(g if i == self.position else zeros_like(out) for i, out in enumerate(self.outputs))

    def _grads(self, g):
        if self._last is None or self._last[0] is not g:
            grads = self.grad_fn(*self._upstream(g))
            if not isinstance(grads, (list, tuple)):
                grads = (grads,)
            if len(grads) != self.count:
                raise ValueError(
                    f"custom_gradient: the gradient function returned {len(grads)} gradients for "
                    f"{self.count} inputs")
            self._last = (g, tuple(grads))
        return self._last[1]

    def __getitem__(self, i):
        return lambda g, ans, *inputs: self._grads(g)[i]


def custom_gradient(f):
    """Decorate `f(*args) -> (output tensor, grad_fn)`; grad_fn(dy) gives the input gradients."""

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        with recording.paused():
            result = f(*args, **kwargs)
        if not (isinstance(result, tuple) and len(result) == 2 and callable(result[1])):
            raise TypeError(f"custom_gradient: {f.__name__} must return (output, grad_fn)")
        out, grad_fn = result
        if isinstance(out, (tuple, list)):
            if not out or not all(isinstance(o, Tensor) for o in out):
                raise TypeError(f"custom_gradient: {f.__name__} must return tensors as its outputs")
            # The zeros for the other outputs are made from these shapes and dtypes, not the
            # recorded results, so the nodes hold no references to each other.
            shapes = [Tensor(o._data, o._device) for o in out]
            results = [make(o._data, o._device, args, _CustomVJPs(grad_fn, len(args), shapes, i))
                       for i, o in enumerate(out)]
            return type(out)(results)
        if not isinstance(out, Tensor):
            raise TypeError(f"custom_gradient: {f.__name__} must return a tensor as its output")
        return make(out._data, out._device, args, _CustomVJPs(grad_fn, len(args)))

    return wrapper
