"""An optimizer's per-variable state (Keras's model): slot Variables of each variable's own, and
the launch plans that point the fused kernels at them.

Nothing here touches a user's storage: a Variable keeps its array for life, and the kernels take
pointer tables (per variable: parameter, gradient and slot addresses). Variables are held weakly:
when one is collected, its slots and every plan that names it go, so an optimizer never keeps a
dropped model (or its memory) alive.
"""

from __future__ import annotations

import weakref

import numpy

from .. import kernels
from . import placement
from ..device import CPU
from ..variable import Variable

_PLAN_CACHE = 8


class VariableSlots:
    """The slots of one variable: name -> slot Variable (device slots shaped like the variable;
    host slots are int64 on the CPU, one per row of the variable: one for a 0-d variable)."""

    __slots__ = ("ref", "slots", "streams", "__weakref__")

    def __init__(self, ref):
        self.ref = ref
        self.slots: dict = {}
        self.streams = 0  # device slots created so far: the next one's place (placement.py)


class Plan:
    """How one list of variables is launched: per (device, dtype) group, the positions of its
    variables in the list and the kernel table holding their arrays."""

    __slots__ = ("groups", "decays")

    def __init__(self, groups):
        self.groups = groups  # [(device, dtype, positions, table or None)]
        self.decays = None  # (exclusion generation, per-group uint8 masks): weight decay per variable


def _slot_array(variable, index: int, initial):
    """The array of slot `index` (1, 2, ...) of `variable`, filled with `initial` (None: a copy of
    the variable). Host memory is placed so the fused step streams at the memory limit
    (placement.py); device memory comes from its pool (CuPy's, 512-byte aligned; GPUs hash
    addresses across their memory channels, and a placement sweep needs a GPU to be measured)."""
    device = variable.device
    source = variable._data
    if not device.host_readable:
        with device.activate():
            return source.copy() if initial is None else device.xp.full(variable.shape, initial, dtype=variable.dtype)
    data = placement.staggered_empty(source.shape, source.dtype, source, index)
    if initial is None:
        numpy.copyto(data, source)
    else:
        data.fill(initial)
    return data


class SlotStore:
    """Slots and plans of one optimizer, keyed by variable identity and held weakly."""

    def __init__(self):
        self._entries: dict = {}  # id(variable) -> VariableSlots
        self._plans: dict = {}  # tuple of ids -> Plan
        self._plan_members: dict = {}  # id(variable) -> keys of the plans that name it

    # -- entries ------------------------------------------------------------------------------
    def _forget(self, key):
        self._entries.pop(key, None)
        for plan_key in self._plan_members.pop(key, ()):
            self._plans.pop(plan_key, None)

    def entry(self, variable, create: bool = True):
        key = id(variable)
        entry = self._entries.get(key)
        if entry is not None and entry.ref() is variable:
            return entry
        if not create:
            return None
        store = weakref.ref(self)

        def collected(_, key=key):
            owner = store()
            if owner is not None:
                owner._forget(key)

        entry = self._entries[key] = VariableSlots(weakref.ref(variable, collected))
        return entry

    def add(self, variable, name: str, initial, host: bool = False) -> Variable:
        """The slot `name` of `variable`, created filled with `initial` (a number, or None for a
        copy of the variable's value) if it does not exist."""
        entry = self.entry(variable)
        slot = entry.slots.get(name)
        if slot is None:
            label = f"{variable.name or 'variable'}/{name}"
            if host:
                slot = Variable._wrap(numpy.full(tuple(variable.shape[:1]), initial, numpy.int64), CPU, name=label,
                                      trainable=False)
            else:
                entry.streams += 1
                data = _slot_array(variable, entry.streams, initial)
                slot = Variable._wrap(data, variable.device, name=label, trainable=False)
            entry.slots[name] = slot
        return slot

    def get(self, variable, name: str):
        entry = self.entry(variable, create=False)
        return None if entry is None else entry.slots.get(name)

    def holding(self, name: str) -> list:
        """[(variable, slot)] of every live variable that has the slot `name`."""
        out = []
        for entry in self._entries.values():
            var, slot = entry.ref(), entry.slots.get(name)
            if var is not None and slot is not None:
                out.append((var, slot))
        return out

    def __len__(self) -> int:
        return len(self._entries)

    def has(self, variable) -> bool:
        entry = self.entry(variable, create=False)
        return entry is not None and bool(entry.slots)

    def owners(self) -> list:
        """[(variable, slot name, slot Variable)] in creation order, slot names sorted."""
        out = []
        for entry in self._entries.values():
            var = entry.ref()
            if var is not None:
                out += [(var, name, entry.slots[name]) for name in sorted(entry.slots)]
        return out

    # -- plans ----------------------------------------------------------------------------------
    def plan(self, key):
        return self._plans.get(key)

    def make_plan(self, key, variables, rule, slot_names, accumulator=None, average=None) -> Plan:
        """Group `variables` by (device, dtype) and build each group's kernel table (slots must
        exist; `accumulator` / `average`: the names of the gradient-accumulation and EMA slots,
        if any). Cached under `key` until one of the variables is collected."""
        by_group = {}
        for position, var in enumerate(variables):
            by_group.setdefault((var.device, var.dtype), []).append(position)
        groups = []
        for (device, dtype), positions in by_group.items():
            params = [variables[p]._data for p in positions]
            slots = [[self.get(variables[p], name)._data for p in positions] for name in slot_names]
            extras = {arg: None if name is None else [self.get(variables[p], name)._data for p in positions]
                      for arg, name in (("accumulators", accumulator), ("averages", average))}
            groups.append((device, dtype, positions, kernels.table(rule, params, slots, device, **extras)))
        if len(self._plans) >= _PLAN_CACHE:
            self._drop_plan(next(iter(self._plans)))
        plan = self._plans[key] = Plan(groups)
        for var_id in key:
            self._plan_members.setdefault(var_id, []).append(key)
        return plan

    def _drop_plan(self, key):
        self._plans.pop(key, None)
        for var_id in key:
            keys = self._plan_members.get(var_id)
            if keys is not None and key in keys:
                keys.remove(key)
