"""Numerical gradient checking and assertion helpers, public for users' own ops.

check_gradients compares backprop's directional derivative sum_i <grad_i, r_i> along a random
unit direction r with the central difference (F(x + eps r) - F(x - eps r)) / (2 eps), in
float64, where F(x) = sum(u * f(x)) for a fixed random u (so non-scalar outputs are covered).
order=2 applies the same check to the gradient function itself, computed under a nested tape.
"""

from __future__ import annotations

import numpy

from .dtypes import is_floating
from . import ops
from .autodiff.tape import GradientTape
from .tensor import Tensor, convert, is_device_array

__all__ = ["check_gradients", "assert_allclose", "differentiable_ops", "NOT_DIFFERENTIABLE"]  # noqa: F822 (lazy)

def __getattr__(name):
    """NOT_DIFFERENTIABLE: the public ops that have no gradient (bool or integer results,
    creation, counting, random draws, stop_gradient), read from the op table when asked (ops
    outside accel.ops enter the table after this module is imported). Every other op, the
    internal ones that VJPs call (`*_grad`, _spread) included, is differentiable: the tests check
    each one's gradient, and that accel.function replays it as eager runs it, from
    `differentiable_ops()`."""
    if name == "NOT_DIFFERENTIABLE":
        from .ops.table import registry

        return frozenset(name for name, r in registry.items() if r.public and not r.differentiable)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def differentiable_ops() -> dict:
    """{name: op} for every differentiable op of the op table, the internal ones VJPs call (the
    fused gradient ops) included."""
    from .ops.table import registry

    return {name: r.fn for r in registry.values() if r.differentiable for name in (r.name, *r.aliases)}


def _outputs(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _weighted_sum(f, xs, weights):
    outs = _outputs(f(*xs))
    total = None
    for out, u in zip(outs, weights):
        term = ops.sum(out * u) if u is not None else ops.sum(out)
        total = term if total is None else total + term
    return total


def _first_order(f, xs, rng):
    """The gradient function of F(x) = sum(u * f(x)) for a fixed random u, as a function of xs."""
    outs = _outputs(f(*xs))
    weights = [convert(rng.standard_normal(o.shape), dtype="float64", device=o.device)
               if isinstance(o, Tensor) and is_floating(o.dtype) else None for o in outs]
    return weights


def check_gradients(f, inputs, eps: float = 1e-6, atol: float = 1e-6, rtol: float = 1e-5,
                    order: int = 1, seed: int = 0) -> None:
    """Assert that backprop through `f` agrees with finite differences at `inputs`.

    `f` takes the inputs (float64 tensors; integer inputs are passed through as constants) and
    returns a tensor or a list of tensors. Raises AssertionError naming the inputs, the direction
    and both numbers when they disagree beyond atol + rtol * |numeric|.
    """
    if order not in (1, 2):
        raise ValueError(f"check_gradients: order must be 1 or 2, got {order}")
    rng = numpy.random.default_rng(seed)
    xs = [convert(x) for x in inputs]
    xs = [ops.cast(x, "float64") if is_floating(x.dtype) else x for x in xs]
    if order == 2:
        grad_f = _gradient_function(f, xs, rng)
        return check_gradients(grad_f, xs, eps=eps, atol=atol, rtol=rtol, order=1, seed=seed + 1)

    differentiable = [i for i, x in enumerate(xs) if is_floating(x.dtype)]
    weights = _first_order(f, xs, rng)
    direction = {i: rng.standard_normal(xs[i].shape) for i in differentiable}
    norm = numpy.sqrt(sum(float(numpy.sum(d * d)) for d in direction.values())) or 1.0
    direction = {i: convert(d / norm, dtype="float64", device=xs[i].device) for i, d in direction.items()}

    with GradientTape() as tape:
        for i in differentiable:
            tape.watch(xs[i])
        total = _weighted_sum(f, xs, weights)
    grads = tape.gradient(total, [xs[i] for i in differentiable])
    analytic = sum(float(ops.sum(g * direction[i]).item()) for i, g in zip(differentiable, grads)
                   if g is not None)

    def shifted(step):
        moved = [x + step * direction[i] if i in direction else x for i, x in enumerate(xs)]
        return float(_weighted_sum(f, moved, weights).item())

    numeric = (shifted(eps) - shifted(-eps)) / (2 * eps)
    if not abs(analytic - numeric) <= atol + rtol * abs(numeric):
        shapes = ", ".join(f"inputs[{i}] shape {tuple(x.shape)} {x.dtype.name}" for i, x in enumerate(xs))
        raise AssertionError(
            f"check_gradients: backprop and finite differences disagree for "
            f"{getattr(f, '__name__', f)} at {shapes}\n"
            f"  direction: {[direction[i].numpy().round(6).tolist() for i in differentiable]}\n"
            f"  backprop directional derivative: {analytic!r}\n"
            f"  central difference (eps={eps}):  {numeric!r}\n"
            f"  difference {abs(analytic - numeric):.3e} > atol {atol} + rtol {rtol} * |numeric|")


def _gradient_function(f, xs, rng):
    """x -> the gradients of sum(u * f(x)) (u fixed), computed under a nested tape."""
    weights = _first_order(f, xs, rng)
    differentiable = [i for i, x in enumerate(xs) if is_floating(x.dtype)]

    def grad_f(*args):
        with GradientTape() as inner:
            for i in differentiable:
                inner.watch(args[i])
            total = _weighted_sum(f, args, weights)
        grads = inner.gradient(total, [args[i] for i in differentiable], unconnected_gradients="zero")
        return list(grads)

    grad_f.__name__ = f"gradient of {getattr(f, '__name__', f)}"
    return grad_f


def assert_allclose(actual, desired, rtol: float = 1e-7, atol: float = 0.0, err_msg: str = "") -> None:
    """numpy.testing.assert_allclose for tensors (copied to the host), arrays and numbers."""
    def host(v):
        if isinstance(v, Tensor):
            return v.numpy()
        if is_device_array(v):  # a CuPy array: copied from its device
            return v.get()
        return numpy.asarray(v)
    numpy.testing.assert_allclose(host(actual), host(desired), rtol=rtol, atol=atol, err_msg=err_msg)
