"""Checking what optimizers are given, before anything is modified: hyperparameters, the
(gradient, variable) pairs of a step, and each gradient against its variable."""

from __future__ import annotations

import functools
import math
import numbers
import operator

from ..dtypes import is_floating
from ..tensor import Tensor, convert
from ..variable import Variable

__all__ = ["check_range", "check_pairs", "checked_gradients", "check_variables"]


def check_range(name: str, value, low=None, high=None, low_open=False, high_open=False, where=""):
    """`value` as a float, or ValueError naming the hyperparameter and the allowed range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{where}: {name} must be a finite real number, got {value!r}")
    ok = True
    if low is not None:
        ok &= value > low if low_open else value >= low
    if high is not None:
        ok &= value < high if high_open else value <= high
    if not ok:
        lo = "" if low is None else f"{'(' if low_open else '['}{low}"
        hi = "" if high is None else f"{high}{')' if high_open else ']'}"
        allowed = f"in {lo}, {hi}" if low is not None and high is not None else (
            f"{'>' if low_open else '>='} {low}" if low is not None else f"{'<' if high_open else '<='} {high}")
        raise ValueError(f"{where}: {name} must be {allowed}, got {value}")
    return float(value)


is_none = functools.partial(operator.is_, None)  # a C-level test, for map()


def check_pairs(pairs) -> None:
    for i, pair in enumerate(pairs):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"apply_gradients: entry {i} must be a (gradient, variable) pair")


def checked_gradients(grads, variables, floats_known: bool = False) -> list:
    """The gradients as tensors, after checking each against its variable (shape, device,
    floating dtype). `floats_known`: the variables are known to be floating point (a cached
    launch plan checked them). The common case (a tensor of the variable's own dtype, shape and
    device) costs a few attribute reads per variable."""
    out = None
    for i, (g, v) in enumerate(zip(grads, variables)):
        if g.__class__ is not Tensor:
            if not isinstance(v, Variable):
                raise TypeError(f"apply_gradients: expected Variables, got {type(v).__name__}")
            if not isinstance(g, Tensor):
                try:
                    g = convert(g, dtype=v.dtype, device=v.device)
                except (TypeError, ValueError) as exc:
                    raise TypeError(f"apply_gradients: the gradient for {who(v, i)} is not a tensor or a "
                                    f"numeric array ({exc})") from None
                if out is None:
                    out = list(grads)
                out[i] = g
        gd, vd = g._data, v._data
        if gd.dtype is vd.dtype and g._device is v._device and floats_known:
            if gd.shape != vd.shape:
                _explain_gradient_mismatch(g, v, i)
        elif gd.shape != vd.shape or (g._device is not v._device and g._device != v._device) \
                or not is_floating(gd.dtype) or not is_floating(vd.dtype):
            _explain_gradient_mismatch(g, v, i)
    return list(grads) if out is None else out


def who(var, position: int) -> str:
    """A variable as a message names it: its name, or (without one) its position and shape."""
    if getattr(var, "name", None):
        return repr(var.name)
    return f"variable {position} (unnamed, shape {tuple(var.shape)})"


def _explain_gradient_mismatch(grad, var, position) -> None:
    if grad.device != var.device:
        raise ValueError(f"apply_gradients: the gradient for {who(var, position)} is on {grad.device}, "
                         f"the variable on {var.device}")
    if tuple(grad.shape) != tuple(var.shape):
        raise ValueError(f"apply_gradients: the gradient for {who(var, position)} has shape {tuple(grad.shape)}, "
                         f"expected the variable's shape {tuple(var.shape)}")
    raise TypeError(f"apply_gradients: {who(var, position)} and its gradient must be floating point, got "
                    f"{var.dtype.name} and {grad.dtype.name}")


def check_variables(variables, where: str) -> list:
    variables = list(variables)
    for i, var in enumerate(variables):
        if not isinstance(var, Variable):
            raise TypeError(f"{where}: expected Variables, got {type(var).__name__} at position {i}")
    ids = [id(v) for v in variables]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{where}: a variable appears more than once")
    return variables
