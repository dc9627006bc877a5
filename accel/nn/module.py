"""Module: the base of layers and models. It finds its variables in its attributes (Variables,
other Modules, and lists, tuples and dicts of them), in attribute order.

`training` (Keras's call argument) reaches every layer: a call with `training=True` / `False`
sets it for everything called inside, and a nested call without it inherits the enclosing one
(so a custom Module whose `call` ignores `training` still runs its Dropout / BatchNormalization
layers in the mode of the outer call). `call` receives it when its signature names `training`.
Outside any call that gives it, training is None: inference, as Keras.
"""

from __future__ import annotations

import inspect
import itertools
import re
import threading

import numpy

from ..variable import Variable
from .training import Trainer

__all__ = ["Module"]

_name_counters: dict = {}
_name_lock = threading.Lock()
_context = threading.local()  # .training: the mode of the innermost call that set one
_takes_training: dict = {}  # class -> whether its call() has a `training` parameter


def current_training():
    """The `training` of the enclosing module call (None outside one: inference)."""
    return getattr(_context, "training", None)


def _call_takes_training(cls) -> bool:
    known = _takes_training.get(cls)
    if known is None:
        try:
            parameters = inspect.signature(cls.call).parameters
        except (TypeError, ValueError):
            parameters = {}
        known = _takes_training[cls] = "training" in parameters or any(
            p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    return known


def _snake_case(name: str) -> str:
    """Keras's default layer names: Conv2D -> conv2d, MaxPooling2D -> max_pooling2d."""
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _unique_name(base: str) -> str:
    """Keras-style default names: dense, dense_1, dense_2, ..."""
    with _name_lock:
        n = next(_name_counters.setdefault(base, itertools.count()))
    return base if n == 0 else f"{base}_{n}"


class Module(Trainer):
    """Subclass and define `call`; assign Variables and sub-Modules as attributes. The Keras
    training API (compile, fit, evaluate, predict, ...) comes from `Trainer`."""

    def __init__(self, name: str | None = None):
        self.name = name or _unique_name(_snake_case(type(self).__name__))

    def __call__(self, *args, training=None, **kwargs):
        outer = getattr(_context, "training", None)
        if training is None:
            training = outer
        elif isinstance(training, (bool, numpy.bool_)):
            training = bool(training)
        else:
            raise TypeError(f"{self.name}: training must be True, False or None, got {training!r}")
        _context.training = training
        try:
            if _call_takes_training(type(self)):
                kwargs["training"] = training
            return self.call(*args, **kwargs)
        finally:
            _context.training = outer

    def call(self, *args, **kwargs):
        raise TypeError(f"{type(self).__name__} must define call()")

    _config_fields: tuple = ()  # the attributes repr shows after the name (layers name theirs)

    def __repr__(self) -> str:
        """`Type(name='...', field=value, ...)`, sub-modules nested under it, one per line."""
        parts = [f"name={self.name!r}"]
        for field in self._config_fields:
            value = getattr(self, field, None)
            shown = getattr(value, "__name__", None) if callable(value) else None
            parts.append(f"{field}={shown or repr(value)}")
        head = f"{type(self).__name__}({', '.join(parts)}"
        subs = [(path, item) for path, item in self.children() if isinstance(item, Module)]
        if not subs:
            return head + ")"
        body = [f"  ({path}): " + repr(item).replace("\n", "\n  ") for path, item in subs]
        return "\n".join([head + ",", *body]) + "\n)"

    def _checkpoint_items(self) -> dict:
        """Attribute name -> Variable, Module, or container of them (what checkpoints save)."""
        return {key: value for key, value in vars(self).items() if _holds_variables(value)}

    @property
    def variables(self) -> list:
        """Every Variable of this module and its sub-modules (no duplicates), in attribute order."""
        seen, out = set(), []
        _collect(self, seen, out)
        return [item for item in out if isinstance(item, Variable)]

    @property
    def trainable_variables(self) -> list:
        return [v for v in self.variables if v.trainable]

    @property
    def non_trainable_variables(self) -> list:
        return [v for v in self.variables if not v.trainable]

    def children(self) -> list:
        """(attribute path, item) for every Variable and Module this module holds directly, in
        attribute order (lists, tuples and dicts looked into; what a sub-module holds is its own)."""
        out = []

        def walk(value, path):
            if isinstance(value, (Variable, Module)):
                out.append((path, value))
            elif isinstance(value, dict):
                for key in value:
                    walk(value[key], f"{path}[{key!r}]")
            elif isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    walk(item, f"{path}[{i}]")

        for key, value in vars(self).items():
            walk(value, key)
        return out

    @property
    def modules(self) -> list:
        """This module and every sub-module (each once), in attribute order, depth first."""
        seen, out = set(), []
        _collect(self, seen, out)
        return [item for item in out if isinstance(item, Module)]

    def own_losses(self) -> list:
        """Penalties this module adds itself (layers with regularizers override it)."""
        return []

    def penalised_modules(self) -> list:
        """This module and its sub-modules that add penalties (their class overrides own_losses)."""
        return [m for m in self.modules if m._adds_penalties()]

    def _adds_penalties(self) -> bool:
        return type(self).own_losses is not Module.own_losses

    @property
    def losses(self) -> list:
        """Every regularization penalty of this module and its sub-modules (0-d tensors): weight
        penalties computed from the current values (read it inside the tape to differentiate
        them), activity penalties from the last call."""
        return [loss for module in self.penalised_modules() for loss in module.own_losses()]


def _holds_variables(value) -> bool:
    if isinstance(value, (Variable, Module)):
        return True
    if isinstance(value, dict):
        return any(_holds_variables(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_holds_variables(v) for v in value)
    return False


_WALKED = (Variable, dict, list, tuple)  # and Module (defined above): what _collect looks into


def _collect(value, seen: set, out: list) -> None:
    """Appends to `out` every Variable and Module reachable from `value` (each once), in
    attribute order, a module before what it holds. Items that cannot hold either (numbers,
    strings, arrays: most of a layer's attributes) are skipped without a call: a training step
    walks the model up to three times."""
    if isinstance(value, (Variable, Module)):
        if id(value) in seen:
            return
        seen.add(id(value))
        out.append(value)
        if isinstance(value, Module):
            for item in vars(value).values():
                if isinstance(item, _WALKED) or isinstance(item, Module):
                    _collect(item, seen, out)
        return
    items = value.values() if isinstance(value, dict) else value
    for item in items:
        if isinstance(item, _WALKED) or isinstance(item, Module):
            _collect(item, seen, out)
