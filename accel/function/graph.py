"""A traced function as a graph of steps, and how it runs: on raw arrays, or on tensors under tapes.

Building (`Graph(trace, outputs)`):
- folding: a pure step whose inputs are all constants is its traced value (a constant);
- pruning: only the steps that outputs, effects and random draws need are kept;
- kernels: a step whose op's record has a raw `kernel` (elementwise, matmul, reductions) and plain
  operands runs as `kernel(xp, *arrays)`; elementwise chains become fused kernels
  (`fusion.py`); anything else runs its op on tensors wrapped around the arrays, with no tape
  recording.

Running: with no tape recording, `run_arrays` executes the plan on raw arrays: no Tensor per
op, no recording, no argument checks (the trace checked them for these shapes and dtypes). When
a tape records (a function called inside `GradientTape`, or by `optimizer.minimize`), the call is
one node with a traced backward (call_node.py) where it can be; otherwise `run_tensors` calls
every op on tensors, so the tapes record exactly what eager execution records.
"""

from __future__ import annotations

import bisect

import numpy

from .. import recording
from ..ops._core import as_array
from ..ops.conversion import identity
from ..nest import map_structure
from ..ops.table import record_of
from ..tensor import Tensor
from ..variable import Variable
from .fusion import plan_fusion
from .trace import Ref, ShapeChanged, Trace, bind, not_tracing, refs, resolve, resolver

__all__ = ["Graph"]

_NDARRAY = numpy.ndarray


class Graph:
    """The steps of one trace that a call runs, with its inputs, outputs and constants."""

    def __init__(self, trace: Trace, output_template, fuse):
        self.kinds, self.meta = trace.kinds, trace.meta
        self.input_slots = [s for s, k in enumerate(trace.kinds) if k == "input"]
        self.output_template = output_template
        n = len(trace.kinds)
        live = [k in ("input", "var", "read") for k in trace.kinds]
        steps = trace.steps
        for step in steps:
            varies = step.kind != "pure" or any(live[i] for i in step.ins)
            for o in step.out_slots:
                live[o] = varies
        # Constants: the tensors themselves (tensor mode) and their arrays (array mode).
        self.constants = {s: trace.tensors[s] for s in range(n) if not live[s]}
        for constant in self.constants.values():  # replays read them: item assignment refuses them
            if isinstance(constant, Tensor):
                constant._saved = True
        needed = set()
        for r in refs(output_template):
            needed.add(r)
        kept = []
        for index in range(len(steps) - 1, -1, -1):
            step = steps[index]
            keep = step.kind != "pure" or (any(o in needed for o in step.out_slots)
                                           and any(live[o] for o in step.out_slots))
            if keep:
                kept.append(index)
                needed.update(step.ins)
        kept.reverse()
        self.steps = [steps[i] for i in kept]
        self.variables = {s: trace.payload[s] for s in range(n) if trace.kinds[s] == "var"}
        # A "read" slot is a Variable's value after a step (what a VJP reads). It shares the
        # Variable's array unless an effect that may write the Variable (any effect naming it)
        # comes between the read and the read value's last use: then it is a copy.
        self.reads_after = {}
        writes = {}  # var slot -> positions of the effects naming it
        last_use = {}  # slot -> position of its last use
        for position, step in enumerate(self.steps):
            for i in step.ins:
                last_use[i] = position
                if step.kind == "effect" and trace.kinds[i] in ("var", "input"):
                    writes.setdefault(i, []).append(position)
        for r in refs(output_template):
            last_use[r] = len(self.steps)
        for s in range(n):
            if trace.kinds[s] == "read" and s in needed:
                var_slot, index = trace.payload[s]
                # after the last kept step up to the op that read it (that op may be pruned)
                position = bisect.bisect_right(kept, index) - 1
                copy = any(position < w < last_use.get(s, -1) for w in writes.get(var_slot, ()))
                self.reads_after.setdefault(position, []).append((s, var_slot, copy))
        self.read_slots = {s: trace.payload[s] for s in range(n) if trace.kinds[s] == "read" and s in needed}
        self.n_slots = n
        self.fuse = fuse
        # Steps whose output shape depends on values (Step.guard): position -> the shapes traced.
        # Before the first effect or random draw a different shape means "trace again"
        # (ShapeChanged); after one, the run cannot be undone: a TypeError says so.
        self.guards = {position: [(slot, trace.meta[slot][0]) for slot in step.out_slots]
                       for position, step in enumerate(self.steps) if step.guard}
        self.first_effect = next((position for position, step in enumerate(self.steps) if step.kind != "pure"),
                                 len(self.steps))
        self.plan = self._compile(trace, fuse)
        self.call_node = None  # set by function.py where the call can be one node (call_node.py)

    def _compile(self, trace, fuse) -> list:
        """The array-mode program: one callable(values) per kernel, fused chain or fallback op,
        with the Variable reads that VJPs need in between."""
        uses = {}
        for step in self.steps:
            for r in refs((step.args, step.kwargs)):
                uses[r] = uses.get(r, 0) + 1
        outputs = set(refs(self.output_template))
        fused = plan_fusion(self.steps, trace, uses, outputs, fuse)
        plan = []
        for position, step in enumerate(self.steps):
            if position in fused:
                if fused[position] is not None:
                    plan.append(fused[position])
            else:
                plan.append(_kernel_call(step, trace) or _op_call(step, trace))
            if position in self.guards:
                plan.append(self._guard_call(position))
            for slot, var_slot, copy in self.reads_after.get(position, ()):
                plan.append(_read_call(slot, var_slot, copy))
        return plan

    def _guard_call(self, position):
        return lambda values, objects: self._check_shapes(position, values)

    def _check_shapes(self, position, values) -> None:
        """The outputs of the guarded step at `position` have the shapes traced (see guards)."""
        for slot, traced in self.guards[position]:
            now = tuple(values[slot].shape)
            if now != traced:
                self._shape_changed(position, self.steps[position], traced, now)

    def _shape_changed(self, position, step, traced, now):
        if position < self.first_effect:
            raise ShapeChanged(step.op, traced, now)
        name = getattr(step.op, "__name__", None) or repr(step.op)
        raise TypeError(
            f"accel.function: {name} gave shape {now} where the trace had {traced}, after this call "
            "already wrote a Variable, printed or drew random numbers: its graph cannot be traced again "
            "for these values. Compute the boolean-mask selection before those effects, use "
            "accel.where to keep shapes fixed, or call the function eagerly")

    # -- running --------------------------------------------------------------------------------------
    def run(self, inputs):
        """The outputs for `inputs` (tensors in key order)."""
        with not_tracing():
            if recording.state.tapes:
                if self.call_node is not None:
                    return self.call_node.run(inputs)
                return self.run_tensors(inputs)
            return self.run_arrays(inputs)

    def run_tensors(self, inputs):
        values = [None] * self.n_slots
        for s, t in zip(self.input_slots, inputs):
            values[s] = t
        for s, v in self.variables.items():
            values[s] = v
        for s, t in self.constants.items():
            values[s] = t
        self._reads(-1, values, tensors=True)
        for position, step in enumerate(self.steps):
            out = step.op(*resolve(step.args, values), **resolve(step.kwargs, values))
            bind(step.outs, out, values)
            if position in self.guards:
                self._check_shapes(position, values)
            if position in self.reads_after:
                self._reads(position, values, tensors=True)
        return _snapshots(resolve(self.output_template, values))

    def run_arrays(self, inputs, keep: bool = False):
        """The outputs for `inputs`, computed on arrays; with `keep`, (every slot's array, outputs)."""
        values = [None] * self.n_slots
        objects = self.variables  # slot -> Variable, for the ops that write or read them
        for s, t in zip(self.input_slots, inputs):
            values[s] = t._data
            if t.__class__ is not Tensor and isinstance(t, Variable):
                if objects is self.variables:
                    objects = dict(objects)
                objects[s] = t
        for s, v in self.variables.items():
            values[s] = v._data
        for s, t in self.constants.items():
            values[s] = t._data
        self._reads(-1, values, tensors=False)
        for run in self.plan:
            run(values, objects)
        if keep:
            return values, self._wrap(self.output_template, values, inputs)
        return self._wrap(self.output_template, values, inputs)

    def _reads(self, position, values, tensors: bool):
        for slot, var_slot, copy in self.reads_after.get(position, ()):
            var = values[var_slot]  # the Variable (tensor mode) or its array
            if tensors:
                values[slot] = Tensor(var._data.copy(), var._device) if copy else var
            else:
                values[slot] = var.copy() if copy else var

    def _wrap(self, template, values, inputs):
        """The outputs as tensors (an input returned is the caller's tensor; a Variable's own array
        is copied: a result never changes)."""
        def leaf(ref):
            if ref.__class__ is not Ref:
                return ref
            s = ref.slot
            value = values[s]
            if s in self.constants:
                return self.constants[s]
            if self.kinds[s] == "input":
                return inputs[self.input_slots.index(s)]
            if self.kinds[s] in ("var", "read"):
                value = value.copy()
            return Tensor(as_array(value), self.meta[s][2])

        return map_structure(leaf, template, expand_composites=True)


def _snapshots(outputs):
    """Outputs with each Variable replaced by its value now (recorded as a read of it, so a tape
    differentiates through it): a result never changes when the Variable does."""
    return map_structure(lambda leaf: identity(leaf) if isinstance(leaf, Variable) else leaf, outputs,
                         expand_composites=True)


def _plain(value) -> bool:
    """A literal argument a kernel takes as it is: no tensor inside."""
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(_plain(v) for v in value.values())
    return value.__class__ is not Ref and not isinstance(value, Tensor)


def _kernel_call(step, trace):
    """`values[out] = kernel(xp, *operands, **params)` for an op with a raw kernel: operands are
    slots of one non-contextual device, or literals; else None (the op itself runs)."""
    record = record_of(step.op)
    kernel = record.kernel if record is not None else None
    if kernel is None or len(step.out_slots) != 1 or step.outs.__class__ is not Ref:
        return None
    if not all(_plain(v) for v in step.kwargs.values()):
        return None
    views = record.kernel_views
    slots, device = [], None
    for arg in step.args:
        if arg.__class__ is Ref:
            device = trace.meta[arg.slot][2]
            if device.contextual or views and _holds_variable(trace, arg.slot):
                return None
            slots.append(arg.slot)
        elif _plain(arg):
            slots.append(None)
        else:
            return None
    if device is None:
        return None
    xp, out, args, kwargs = device.xp, step.out_slots[0], step.args, step.kwargs
    if len(args) == 1 and slots[0] is not None and not kwargs:
        x = slots[0]

        def unary(values, objects):
            r = kernel(xp, values[x])
            values[out] = r if r.__class__ is _NDARRAY else as_array(r)
        return unary
    if len(args) == 2 and None not in slots and not kwargs:
        x, y = slots

        def binary(values, objects):
            r = kernel(xp, values[x], values[y])
            values[out] = r if r.__class__ is _NDARRAY else as_array(r)
        return binary

    def general(values, objects):
        r = kernel(xp, *[values[a.slot] if a.__class__ is Ref else a for a in args], **kwargs)
        values[out] = r if r.__class__ is _NDARRAY else as_array(r)
    return general


def _holds_variable(trace, slot) -> bool:
    """Whether a slot's array may be a Variable's own (later writes would show through a view)."""
    kind = trace.kinds[slot]
    return kind in ("var", "read") or kind == "input" and isinstance(trace.tensors[slot], Variable)


def _op_call(step, trace):
    """The op itself on tensors wrapped around the arrays (no tape records: none is active in
    array mode); Variables (`objects`: slot -> Variable) are passed as themselves, so writes
    reach them and reads keep eager's semantics."""
    meta, op, args_t, kwargs_t, outs = trace.meta, step.op, step.args, step.kwargs, step.outs
    slots = [(s, meta[s][2]) for s in sorted(set(refs((args_t, kwargs_t))))]
    arguments, keywords = resolver(args_t), resolver(kwargs_t)
    out_slot = outs.slot if outs.__class__ is Ref else None

    def call(values, objects):
        view = {}
        for s, device in slots:
            view[s] = objects[s] if s in objects else Tensor(values[s], device)
        out = op(*arguments(view), **keywords(view))
        if out_slot is not None:  # one output tensor (the common case)
            values[out_slot] = out._data
        else:
            bind(outs, out, values, lambda slot, tensor: values.__setitem__(slot, tensor._data))
    return call


def _read_call(slot, var_slot, copy):
    def read(values, objects):
        values[slot] = values[var_slot].copy() if copy else values[var_slot]
    return read

