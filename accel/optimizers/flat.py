"""FlatGroup: the variables of one (device, dtype) and their slots, in flat buffers.

The fused kernels update a whole group in one launch, so a group's parameter values live in one
contiguous buffer and each slot (m, v, ...) in another of the same layout. Each Variable's array
is a view into the parameter buffer, each slot Variable a view into its slot buffer, so reading a
variable needs no copy and an update writes through to it. Segments start on 64-byte boundaries
(aligned vector loads on CPU and GPU).

Host slots are one value per variable kept on the host (AdagradDecay's integer decay power, which
steers the launch): an int64 array with a 0-d Variable view per variable.

A variable whose array was replaced behind the group's back (e.g. by another optimizer that also
flattened it) is noticed on the next step and copied back in: `rehome` compares identities.
"""

from __future__ import annotations

import numpy

from ..device import CPU
from ..tensor import Variable

_ALIGN_BYTES = 64


class FlatGroup:
    """Variables of one device and dtype, with their slots, as segments of flat buffers."""

    def __init__(self, device, dtype, slots: dict, host_slots: dict | None = None):
        self.device = device
        self.dtype = numpy.dtype(dtype)
        self.slot_initial = dict(slots)  # slot name -> initial value
        self.variables: list[Variable] = []
        self.position: dict[int, int] = {}  # id(variable) -> its index in the group
        self.offsets: list[int] = []
        self.params = self._alloc(0)
        self.slot_buffers = {name: self._alloc(0) for name in self.slot_initial}
        self.slot_variables: dict[str, list[Variable]] = {name: [] for name in self.slot_initial}
        self.host_slot_initial = dict(host_slots or {})  # name -> initial (int64, one per variable)
        self.host_slots = {name: numpy.zeros(0, numpy.int64) for name in self.host_slot_initial}
        self.host_slot_variables: dict[str, list[Variable]] = {name: [] for name in self.host_slot_initial}
        self._views: list = []  # the parameter views handed to the variables, for identity checks
        self._offsets_array = numpy.zeros(0, numpy.int64)

    def _alloc(self, n: int, fill=0.0):
        xp = self.device.xp
        with self.device.activate():
            return xp.full(n, fill, dtype=self.dtype)

    def _padded(self, size: int) -> int:
        step = max(_ALIGN_BYTES // self.dtype.itemsize, 1)
        return -(-size // step) * step

    def __contains__(self, variable) -> bool:
        return id(variable) in self.position

    def add(self, variables: list) -> None:
        """Take in new variables (their current values), creating their slots with initial values."""
        new = [v for v in variables if id(v) not in self.position]
        if not new:
            return
        with self.device.activate():  # the copies below run on the group's device
            self._add(new)

    def _add(self, new: list) -> None:
        sizes = [int(v.size) for v in self.variables + new]
        offsets, total = [], 0
        for size in sizes:
            offsets.append(total)
            total += self._padded(size)
        params = self._alloc(total)
        slots = {name: self._alloc(total, initial) for name, initial in self.slot_initial.items()}
        # Existing segments keep their slots; new ones get fresh slots. Every parameter value is
        # taken from its variable, the source of truth even if its array was replaced since.
        for i in range(len(self.variables)):
            old, new_off, n = self.offsets[i], offsets[i], sizes[i]
            for name in slots:
                slots[name][new_off:new_off + n] = self.slot_buffers[name][old:old + n]
        for var in new:
            self.position[id(var)] = len(self.variables)
            self.variables.append(var)
        for i, var in enumerate(self.variables):
            params[offsets[i]:offsets[i] + sizes[i]] = var._data.reshape(-1)
        for var in new:
            for name in slots:
                self.slot_variables[name].append(
                    Variable._wrap(None, self.device, name=f"{var.name or 'variable'}/{name}", trainable=False))
            for name in self.host_slot_initial:
                self.host_slot_variables[name].append(
                    Variable._wrap(None, CPU, name=f"{var.name or 'variable'}/{name}", trainable=False))
        for name, initial in self.host_slot_initial.items():
            grown = numpy.full(len(self.variables), initial, numpy.int64)
            grown[:len(self.host_slots[name])] = self.host_slots[name]
            self.host_slots[name] = grown
            for i, slot_var in enumerate(self.host_slot_variables[name]):
                slot_var._data = grown[i:i + 1].reshape(())
        self.params, self.slot_buffers, self.offsets = params, slots, offsets
        self._offsets_array = numpy.asarray(offsets, dtype=numpy.int64)
        self._views = []
        for i, var in enumerate(self.variables):
            view = self._segment(params, i)
            var._data = view
            self._views.append(view)
            for name in slots:
                self.slot_variables[name][i]._data = self._segment(slots[name], i)

    def _segment(self, buffer, i: int):
        var = self.variables[i]
        return buffer[self.offsets[i]:self.offsets[i] + int(var.size)].reshape(var.shape)

    def rehome(self, indices) -> None:
        """Copy back any variable of `indices` whose array is no longer its view of the buffer."""
        views, variables = self._views, self.variables
        for i in indices:
            var = variables[i]
            if var._data is not views[i]:
                with self.device.activate():
                    views[i][...] = var._data
                var._data = views[i]

    def offsets_of(self, indices) -> numpy.ndarray:
        return self._offsets_array[indices]

    def slot(self, variable, name: str) -> Variable:
        i = self.position[id(variable)]
        if name in self.host_slot_variables:
            return self.host_slot_variables[name][i]
        return self.slot_variables[name][i]

    def slot_names(self) -> list:
        return sorted(list(self.slot_initial) + list(self.host_slot_initial))
