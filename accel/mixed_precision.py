"""Mixed precision: dtype policies (Keras's DTypePolicy) and, re-exported, LossScaleOptimizer.

    Policy("mixed_float16")   variables float32, layers compute in float16
    Policy("float32")         both float32 (also "float16", "float64")

A layer made under a policy (its `dtype=` argument, or the global policy) keeps its variables in
the variable dtype and casts its floating-point inputs and its variables to the compute dtype
when called; the cast's gradient brings float16 gradients back to the float32 variables, so the
optimizer updates float32 values. Losses compute in float32. Train a mixed_float16 model with a
LossScaleOptimizer (compile does the wrapping, as Keras's does): float16 gradients underflow
without a scaled loss.

When to choose which: mixed_float16 on GPUs (half the memory traffic of the activations, tensor
cores); float32 on CPUs, where NumPy's float16 arithmetic is emulated and slower than float32;
float16 *storage* of variables (`dtype="float16"`) halves the memory of parameters and slots but
accumulates rounding in every update: prefer float32 variables unless memory is the limit.
bfloat16 is not available: NumPy has no such dtype.
"""

from __future__ import annotations

import numpy

from . import dtypes
from .optimizers.loss_scale import LossScaleOptimizer

__all__ = ["Policy", "DTypePolicy", "set_global_policy", "global_policy", "LossScaleOptimizer"]

_MIXED = {"mixed_float16": ("float16", "float32")}


class Policy:
    """A dtype policy: `compute_dtype` (what layers calculate in) and `variable_dtype` (what
    their variables are stored in), named as Keras names them."""

    def __init__(self, name: str = "float32"):
        if not isinstance(name, str):
            raise TypeError(f"'name' must be a string, such as 'mixed_float16' or 'float32', got {name!r}")
        if name in _MIXED:
            compute, variable = _MIXED[name]
        elif name == "mixed_bfloat16":
            raise ValueError("Policy('mixed_bfloat16'): accel has no bfloat16 (NumPy has no such dtype); use "
                             "'mixed_float16'")
        else:
            try:
                dtype = dtypes.as_dtype(name)
            except (TypeError, ValueError):
                dtype = None
            if dtype is None or not dtypes.is_floating(dtype) or name.startswith("mixed_"):
                raise ValueError(f"Cannot convert {name!r} to a mixed precision Policy; expected 'mixed_float16', "
                                 "'float16', 'float32' or 'float64'")
            compute = variable = dtype.name
        self._name = name
        self._compute = numpy.dtype(compute)
        self._variable = numpy.dtype(variable)

    @property
    def name(self) -> str:
        return self._name

    @property
    def compute_dtype(self) -> str:
        return self._compute.name

    @property
    def variable_dtype(self) -> str:
        return self._variable.name

    @property
    def is_mixed(self) -> bool:
        return self._compute != self._variable

    def __eq__(self, other) -> bool:
        return isinstance(other, Policy) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f'<Policy "{self.name}">'

    def get_config(self) -> dict:
        return {"name": self.name}


DTypePolicy = Policy  # Keras 3's name

_process_default = Policy("float32")


def global_policy() -> Policy:
    """The policy layers take when made without a dtype (float32 unless set)."""
    return _process_default


def set_global_policy(policy) -> None:
    """Sets the policy of layers made from now on: a Policy, a name, or None for float32. The
    setting is process-wide (threads share it, as Keras's does)."""
    global _process_default
    _process_default = Policy("float32") if policy is None else as_policy(policy)


def as_policy(value) -> Policy:
    """A Policy from a Policy, a policy name or a float dtype (None: the global policy)."""
    if value is None:
        return global_policy()
    if isinstance(value, Policy):
        return value
    if isinstance(value, numpy.dtype) or (isinstance(value, type) and issubclass(value, numpy.generic)):
        value = numpy.dtype(value).name
    return Policy(value)
