"""Weight regularizers (Keras's values): callables weight -> a 0-d penalty added to the loss.

    L1(l1)       l1 * sum(|w|)
    L2(l2)       l2 * sum(w**2)          (Keras: L2(0.01) adds 0.01 * sum(w**2), no 1/2)
    L1L2(l1, l2) l1 * sum(|w|) + l2 * sum(w**2)

Layers take them as `kernel_regularizer=`, `bias_regularizer=` and `activity_regularizer=`;
`Module.losses` collects the penalties and `fit` adds them to the loss it reports and minimises.
"""

from __future__ import annotations

import math

from .. import ops

__all__ = ["Regularizer", "L1", "L2", "L1L2", "get"]


def _factor(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


class Regularizer:
    """Base class: subclasses define `__call__(weight) -> 0-d tensor` and `get_config()`."""

    def __call__(self, weight):
        raise TypeError(f"{type(self).__name__} must define __call__(weight)")

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)


class L1L2(Regularizer):
    """l1 * sum(|w|) + l2 * sum(w**2); Keras's defaults are 0 for both."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0):
        self.l1 = _factor("L1L2: l1", l1)
        self.l2 = _factor("L1L2: l2", l2)

    def __call__(self, weight):
        terms = []
        if self.l1:
            terms.append(self.l1 * ops.sum(ops.abs(weight)))
        if self.l2:
            terms.append(self.l2 * ops.sum(ops.square(weight)))
        if not terms:
            return ops.zeros((), dtype=weight.dtype, device=weight.device)
        return terms[0] if len(terms) == 1 else terms[0] + terms[1]

    def get_config(self) -> dict:
        return {"l1": self.l1, "l2": self.l2}

    def __repr__(self) -> str:
        return f"L1L2(l1={self.l1}, l2={self.l2})"


class L1(L1L2):
    """l1 * sum(|w|); Keras's default l1 is 0.01."""

    def __init__(self, l1: float = 0.01):
        super().__init__(l1=_factor("L1: l1", l1))

    def get_config(self) -> dict:
        return {"l1": self.l1}

    def __repr__(self) -> str:
        return f"L1(l1={self.l1})"


class L2(L1L2):
    """l2 * sum(w**2); Keras's default l2 is 0.01."""

    def __init__(self, l2: float = 0.01):
        super().__init__(l2=_factor("L2: l2", l2))

    def get_config(self) -> dict:
        return {"l2": self.l2}

    def __repr__(self) -> str:
        return f"L2(l2={self.l2})"


_BY_NAME = {"l1": L1, "l2": L2, "l1l2": L1L2, "l1_l2": L1L2}


def get(identifier):
    """A regularizer from None, a name ("l1", "l2", "l1_l2", with Keras's defaults), a
    {"class_name", "config"} dict, or a callable (returned as it is)."""
    if identifier is None or callable(identifier):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower())
        if cls is None:
            raise ValueError(f"unknown regularizer {identifier!r}; expected one of {sorted(_BY_NAME)}, a callable "
                             "or None")
        return cls()
    if isinstance(identifier, dict) and "class_name" in identifier:
        cls = _BY_NAME.get(str(identifier["class_name"]).lower())
        if cls is None:
            raise ValueError(f"unknown regularizer {identifier['class_name']!r}; expected one of {sorted(_BY_NAME)}")
        return cls.from_config(identifier.get("config", {}))
    raise TypeError(f"expected a regularizer name, a callable or None, got {type(identifier).__name__}")
