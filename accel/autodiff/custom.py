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
import inspect

from ..dtypes import is_differentiable
from ..tensor import Tensor, convert
from ..ops._core import make, traceable
from ..ops.creation import zeros_like
from .. import recording

__all__ = ["custom_gradient"]


class _CustomVJPs:
    """Per-input VJPs that share one call of the user's grad function per upstream gradient.
    For output `position` of `outputs` (several outputs), the other upstream gradients are zeros.
    With `variables` (Variables read inside the function), grad_fn is called with
    `variables=` and returns (input gradients, variable gradients), TensorFlow's protocol."""

    __slots__ = ("grad_fn", "count", "outputs", "position", "variables", "_last")

    def __init__(self, grad_fn, count, outputs=None, position=0, variables=()):
        self.grad_fn = grad_fn
        self.count = count
        self.outputs = outputs
        self.position = position
        self.variables = variables
        self._last = None

    def _upstream(self, g):
        if self.outputs is None:
            return (g,)
        return tuple(g if i == self.position else zeros_like(out) for i, out in enumerate(self.outputs))

    def _grads(self, g):
        if self._last is None or self._last[0] is not g:
            if self.variables:
                result = self.grad_fn(*self._upstream(g), variables=list(self.variables))
                if not (isinstance(result, (list, tuple)) and len(result) == 2):
                    raise ValueError("custom_gradient: with variables=, the gradient function must return "
                                     "(input gradients, variable gradients)")
                grads, variable_grads = result
                grads = list(grads) if isinstance(grads, (list, tuple)) else [grads]
                variable_grads = list(variable_grads) if isinstance(variable_grads, (list, tuple)) \
                    else [variable_grads]
                if len(variable_grads) != len(self.variables):
                    raise ValueError(f"custom_gradient: the gradient function returned {len(variable_grads)} "
                                     f"variable gradients for {len(self.variables)} variables")
            else:
                grads = self.grad_fn(*self._upstream(g))
                grads = list(grads) if isinstance(grads, (list, tuple)) else [grads]
                variable_grads = []
            if len(grads) != self.count:
                raise ValueError(
                    f"custom_gradient: the gradient function returned {len(grads)} gradients for "
                    f"{self.count} inputs")
            self._last = (g, tuple(grads + variable_grads))
        return self._last[1]

    def __getitem__(self, i):
        def vjp(g, ans, *inputs):
            grad = self._grads(g)[i]
            if grad is None or isinstance(grad, Tensor):
                return grad
            like = inputs[i]  # a number or an array: a gradient of the input's dtype, on its device
            return convert(grad, dtype=like.dtype, device=like.device)
        return vjp


def _accepts_variables(fn) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.name == "variables" or p.kind is p.VAR_KEYWORD for p in params)


def _as_output(value, name):
    if isinstance(value, Tensor):
        return value
    try:
        return convert(value)  # a number or an array the function returned
    except (TypeError, ValueError):
        raise TypeError(f"custom_gradient: {name} must return tensors as its outputs, got "
                        f"{type(value).__name__}") from None


@traceable  # inside accel.function the whole call is one step: its node keeps the custom VJP
def _call(f, bound, args, kwargs):
    """f(*bound, *args) with the differentiable inputs `args`; `bound` (a method's instance)
    is passed but is not an input."""
    with recording.watching_variables() as accessed:
        result = f(*bound, *args, **kwargs)
    if not (isinstance(result, tuple) and len(result) == 2 and callable(result[1])):
        raise TypeError(f"custom_gradient: {f.__name__} must return (output, grad_fn)")
    out, grad_fn = result
    inputs = tuple(a if isinstance(a, Tensor) or a is None else _as_input(a) for a in args)
    variables = tuple(v for v in accessed if v.trainable and is_differentiable(v.dtype)
                      and not any(v is a for a in inputs))
    if variables and not _accepts_variables(grad_fn):
        raise TypeError("custom_gradient: the function reads Variables "
                        f"({', '.join(repr(v.name) for v in variables)}), so its gradient function must "
                        "accept a keyword argument `variables` and return (input gradients, variable "
                        "gradients) (TensorFlow's protocol)")
    nodes_inputs = inputs + variables
    if isinstance(out, (tuple, list)):
        if not out:
            raise TypeError(f"custom_gradient: {f.__name__} must return tensors as its outputs")
        outs = [_as_output(o, f.__name__) for o in out]
        # The zeros for the other outputs are made from these shapes and dtypes, not the
        # recorded results, so the nodes hold no references to each other.
        shapes = [Tensor(o._data, o._device) for o in outs]
        results = [make(o._data, o._device, nodes_inputs,
                        _CustomVJPs(grad_fn, len(inputs), shapes, i, variables)) for i, o in enumerate(outs)]
        return type(out)(results)
    out = _as_output(out, f.__name__)
    return make(out._data, out._device, nodes_inputs, _CustomVJPs(grad_fn, len(inputs), variables=variables))


def _as_input(value):
    try:
        return convert(value)
    except (TypeError, ValueError):
        return value  # not numeric (a string, an object): passed through, never differentiated


class _CustomGradient:
    """The decorated function; as a method, its instance is passed along but is not an input."""

    def __init__(self, f, bound=()):
        self._f, self._bound = f, bound
        functools.update_wrapper(self, f)

    def __call__(self, *args, **kwargs):
        return _call(self._f, self._bound, args, kwargs)

    def __get__(self, instance, owner=None):
        return self if instance is None else _CustomGradient(self._f, (instance,))


def custom_gradient(f):
    """Decorate `f(*args) -> (output tensor, grad_fn)`; grad_fn(dy) gives the input gradients.
    If `f` reads Variables, grad_fn must take `variables=` and return (input gradients, variable
    gradients), as in TensorFlow. On a method, `self` is not an input."""
    return _CustomGradient(f)
