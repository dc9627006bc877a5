"""Which variables weight decay applies to: Keras's `exclude_from_weight_decay(var_list,
var_names)` (semantics.md section 8), kept per optimizer.

Excluded variables are held weakly (by identity) and names matched with one regular expression.
The fused path reads a per-group uint8 mask, built once per launch plan and exclusion change."""

from __future__ import annotations

import re
import weakref

import numpy

from ..nest import flatten
from .validation import check_variables


class DecayExclusions:
    """The variables an optimizer does not decay (none until `set` is called)."""

    def __init__(self):
        self._refs: dict = {}  # id(variable) -> weakref
        self._pattern = None
        self._generation = 0  # moves on at every `set`: cached masks then go stale

    def set(self, var_list=None, var_names=None) -> None:
        """Replace every earlier exclusion with these variables and name patterns."""
        refs = {id(var): weakref.ref(var) for var in check_variables(
            flatten(var_list) if var_list is not None else [], "exclude_from_weight_decay")}
        if var_names is not None and (isinstance(var_names, str) or not all(isinstance(n, str) for n in var_names)):
            raise TypeError(f"exclude_from_weight_decay: var_names must be a list of strings, got {var_names!r}")
        self._refs = refs
        self._pattern = re.compile("|".join(var_names)) if var_names else None
        self._generation += 1

    @property
    def active(self) -> bool:
        return bool(self._refs) or self._pattern is not None

    def applies(self, var) -> bool:
        """Whether weight decay applies to `var`."""
        ref = self._refs.get(id(var))
        if ref is not None and ref() is var:
            return False
        return not (self._pattern is not None and var.name is not None and self._pattern.search(var.name))

    def masks(self, plan, variables):
        """Per group of `plan`, the uint8 mask of the variables that decay; None when all do."""
        if not self.active:
            return None
        cached = plan.decays
        if cached is None or cached[0] != self._generation:
            masks = [numpy.array([self.applies(variables[p]) for p in positions], dtype=numpy.uint8)
                     for _, _, positions, _ in plan.groups]
            plan.decays = cached = (self._generation, masks)
        return cached[1]
