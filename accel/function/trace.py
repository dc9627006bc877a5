"""Tracing: running a Python function once, eagerly, while every op call it makes is recorded.

accel traces concretely: the function runs on real tensors (so shapes, dtypes and any Python
logic are exactly eager's), and each op call at the top level (`accel.ops`, Tensor operators,
tape gradients' VJP ops, custom_gradient calls, random draws) becomes one `Step`: the op, its
arguments with tensors replaced by `Ref`s to slots, and the slots of its outputs. A slot is an
input, a Variable (captured by reference: each replay reads its current value), a constant (a
tensor that no traced value produced) or a step's output. Ops an op calls itself are not steps:
the trace clears `recording.state.trace` while an op runs.

Effects (print, Variable writes, optimizer updates) are recorded and NOT run while tracing: every
call then replays the graph once, so they happen exactly once per call, and a retrace (a
function that creates Variables is traced twice) never repeats them. Python's own side effects
run while tracing only, as in TensorFlow.
"""

from __future__ import annotations

import functools

from .. import recording
from ..nest import flatten, is_composite, map_structure, pack_sequence_as
from ..ops.table import record_of
from ..tensor import Tensor, is_device_array
from ..variable import Variable

__all__ = ["Trace", "Step", "Ref", "ShapeChanged", "current", "tracing", "not_tracing", "refs", "resolve", "resolver",
           "bind"]

_state = recording.state


def current():
    """The trace recording in this thread, or None."""
    return _state.trace


class Ref:
    """A reference to a slot inside a step's argument template."""

    __slots__ = ("slot",)

    def __init__(self, slot: int):
        self.slot = slot

    def __repr__(self):
        return f"%{self.slot}"


class Step:
    """One op call: `op(*args, **kwargs)` with Refs in the templates; `outs` is the output
    structure with Refs for tensors. kind: "pure"; "stateful" (random draws, and control flow
    whose path depends on values: what it computes is not fixed by the trace, so it is never
    folded, always run, and a call holding one records its ops under a tape instead of being one
    node); or "effect" (print, writes: not run while tracing, always kept, in order)."""

    __slots__ = ("op", "args", "kwargs", "outs", "kind", "ins", "out_slots", "guard")

    def __init__(self, op, args, kwargs, kind):
        self.op, self.args, self.kwargs, self.kind = op, args, kwargs, kind
        self.ins = sorted(set(refs((args, kwargs))))
        self.outs = None
        self.out_slots = ()
        # An op whose output SHAPE depends on its inputs' values (indexing with a traced boolean
        # mask): the graph checks the shapes it had while tracing on every run (`ShapeChanged`).
        self.guard = False

    def __repr__(self):
        name = getattr(self.op, "__qualname__", repr(self.op))
        return f"{self.out_slots} = {name}{self.args!r}"


def refs(template) -> list:
    """The slots a template refers to, in nest.flatten's order (with repeats)."""
    return [leaf.slot for leaf in flatten(template, expand_composites=True) if leaf.__class__ is Ref]


def resolve(template, values):
    """The template with each Ref replaced by `values[slot]` (values: a list or a dict)."""
    if template.__class__ is Ref:  # the common case: one operand
        return values[template.slot]
    return map_structure(lambda leaf: values[leaf.slot] if leaf.__class__ is Ref else leaf, template,
                         expand_composites=True)


def resolver(template):
    """`lambda values: resolve(template, values)`, built once for a template a replay resolves on
    every run: closures per container and Ref instead of a walk that tests every leaf's type."""
    if template.__class__ is Ref:
        slot = template.slot
        return lambda values: values[slot]
    if isinstance(template, (list, tuple)):
        parts = [resolver(item) for item in template]
        if isinstance(template, list):
            return lambda values: [part(values) for part in parts]
        kind = type(template)
        if hasattr(template, "_fields"):  # a named tuple
            return lambda values: kind(*[part(values) for part in parts])
        if kind is tuple:
            return lambda values: tuple([part(values) for part in parts])
        return lambda values: kind([part(values) for part in parts])
    if isinstance(template, dict):
        parts = [(key, resolver(value)) for key, value in template.items()]
        return lambda values: {key: part(values) for key, part in parts}
    if is_composite(template):  # IndexedSlices: its components resolved, its static facts kept
        parts = [resolver(part) for part in flatten([template], expand_composites=True)]
        return lambda values: pack_sequence_as(template, [part(values) for part in parts], expand_composites=True)
    return lambda values: template


def bind(template, out, values, each=None) -> None:
    """Store a step's output `out` into `values` at the template's slots; `each(slot, tensor)` is
    told of every one."""
    if template is None:
        return
    if template.__class__ is Ref:
        pairs = [(template, out)]
    else:
        pairs = zip(flatten(template, expand_composites=True), flatten(out, expand_composites=True))
    for leaf, value in pairs:
        if leaf.__class__ is Ref:
            values[leaf.slot] = value
            if each is not None:
                each(leaf.slot, value)


class ShapeChanged(Exception):
    """A replay met an op whose output shape depends on values (a boolean mask) with a shape the
    graph was not traced for. Later steps may hold the traced shape (a VJP's scatter into it, a
    reshape the function computed from it), so the graph cannot go on: the function traces again
    for these values (function.py), as it does for a new input shape. Raised only before any effect
    or random draw of the run (`Graph` checks where that holds)."""

    def __init__(self, op, traced, now):
        name = getattr(op, "__name__", None) or repr(op)
        super().__init__(f"{name} gave shape {now} where the trace had {traced}")


class Trace:
    """The recording of one run of a function: its slots and steps."""

    def __init__(self, allow_variables: bool):
        self.steps: list[Step] = []
        self.kinds: list[str] = []  # per slot: "input", "var", "const", "step", "read"
        # per slot: None (an input), Variable, constant array, step index, (var slot, step index)
        self.payload: list = []
        self.tensors: list = []  # per slot: its tensor while tracing (a folded step's value)
        self.meta: list = []  # per slot: (shape, dtype, device)
        self._slot_of: dict[int, int] = {}
        self._aliases: list = []  # tensors standing for a slot they did not create (kept alive)
        self.allow_variables = allow_variables
        self.created: list[Variable] = []

    # -- slots ----------------------------------------------------------------------------------
    def _new_slot(self, tensor: Tensor, kind: str, payload) -> int:
        slot = len(self.kinds)
        self.kinds.append(kind)
        self.payload.append(payload)
        self.meta.append((tuple(tensor._data.shape), tensor._data.dtype, tensor._device))
        self._slot_of[id(tensor)] = slot
        self.tensors.append(tensor)  # alive while tracing: its id keys _slot_of
        return slot

    def add_input(self, tensor: Tensor) -> int:
        """An argument's slot. A Variable argument is an input too (each call passes its own), read
        and written as the Variable it is."""
        return self._new_slot(tensor, "input", None)

    def slot_for(self, tensor: Tensor) -> int:
        slot = self._slot_of.get(id(tensor))
        if slot is not None:
            return slot
        if isinstance(tensor, Variable):
            return self._new_slot(tensor, "var", tensor)
        if tensor._node is not None:
            raise RuntimeError(
                "accel.function: a tensor computed outside the trace reached a traced op. A tape "
                "inside the function cannot differentiate through a while_loop over traced values (or "
                "a cond whose branches print or write): take that gradient outside the function. "
                "Otherwise an op bypassed accel's op entry points: please report it as a bug")
        return self._new_slot(tensor, "const", tensor._data)

    def alias(self, tensor: Tensor, target: Tensor) -> None:
        """From now on `tensor` means `target`'s slot (call_node.py: a forward op rerun on a tape,
        untraced, stands for the value the forward kept)."""
        self._slot_of[id(tensor)] = self.slot_for(target)
        self._aliases.append(tensor)

    def is_traced(self, tensor) -> bool:
        """Whether `tensor` depends on the function's inputs or Variables (its value is only
        known when the graph runs)."""
        if isinstance(tensor, Variable):
            return True
        slot = self._slot_of.get(id(tensor))
        return slot is not None and self.kinds[slot] != "const"

    def template(self, value):
        """`value` with each tensor replaced by a Ref to its slot."""
        return map_structure(lambda leaf: Ref(self.slot_for(leaf)) if isinstance(leaf, Tensor) else leaf, value,
                             expand_composites=True)

    # -- recording ----------------------------------------------------------------------------------
    def call(self, op, args, kwargs, effect=None, stateful: bool = False):
        """Run `op(*args, **kwargs)` and record it as one step; an effect is recorded only, and
        `effect(*args, **kwargs)` stands for its result."""
        args = tuple(list(a) if _is_iterator(a) else a for a in args)  # zip(grads, vars): read once
        step = Step(op, self.template(args), self.template(kwargs), "effect" if effect is not None else
                    "stateful" if stateful else "pure")
        record = record_of(op)
        shaped = record.shape_from_values if record is not None else None
        if shaped is not None and shaped(args, kwargs):
            step.guard = True
        if effect is not None:
            self.steps.append(step)
            for i in step.ins:  # as a real write would: later reads get captures of their own
                if isinstance(self.tensors[i], Variable):
                    self.tensors[i]._before_write()
            return effect(*args, **kwargs)
        else:
            _state.trace = None
            try:
                out = op(*args, **kwargs)
            finally:
                _state.trace = self
            self.check_node(op, args, kwargs, out)
        index = len(self.steps)
        slots = []
        step.outs = self._outputs(out, index, slots)
        step.out_slots = tuple(slots)
        self.steps.append(step)
        return out

    def check_node(self, op, args, kwargs, out) -> None:
        """Refuse a step whose recorded VJPs would read a value the trace cannot follow.

        A VJP runs later (in the same trace, when a tape inside the function takes a gradient, or
        in a traced backward): each value it reads becomes an argument of a traced step, and an
        array or tensor the trace does not know is recorded as a constant. If the op computed it
        from a traced argument (the index arrays of a gather, a mask), every later call would
        replay the first call's values. So a node's parameters and its VJPs' closures may hold
        only: the op's own arguments as given (the same objects), tensors the trace knows,
        Variables, and Python values (numbers, strings, slices, shapes, dtypes)."""
        nodes = [t._node for t in _tensors(out) if t._node is not None]
        if not nodes:
            return
        given = set()
        _collect_ids((args, kwargs), given)
        for node in nodes:
            held = [node.params] if node.params else []
            vjps = node.vjp if isinstance(node.vjp, (list, tuple)) else (node.vjp,)
            held += [_closure(f) for f in vjps if f is not None]
            for value in held:
                bad = self._untraceable(value, given)
                if bad is not None:
                    name = getattr(op, "__name__", None) or repr(op)
                    raise TypeError(
                        f"accel.function: the gradient of {name} would read a {bad} that the op "
                        "computed from its arguments; a trace would replay it as a constant (the first "
                        "call's value) on every call. Please report this as a bug in accel; meanwhile "
                        "take this gradient outside accel.function")

    def _untraceable(self, value, given):
        """A description of the first thing in `value` a traced VJP could not follow, or None."""
        if id(value) in given or value is None:
            return None
        if isinstance(value, Tensor):
            if isinstance(value, Variable) or id(value) in self._slot_of:
                return None
            return f"tensor of shape {tuple(value.shape)}"
        if is_device_array(value) or hasattr(value, "__array_interface__"):
            return f"{type(value).__name__} of shape {getattr(value, 'shape', ())}"
        if isinstance(value, dict):
            value = list(value.values())
        if isinstance(value, (list, tuple)):
            for item in value:
                bad = self._untraceable(item, given)
                if bad is not None:
                    return bad
        return None

    def _outputs(self, out, index, slots):
        if isinstance(out, Tensor):
            slot = self._new_slot(out, "step", index)
            slots.append(slot)
            self._note_captures(out, index)
            return Ref(slot)
        if isinstance(out, (list, tuple)):
            return type(out)(self._outputs(o, index, slots) for o in out)
        return None

    def _note_captures(self, out: Tensor, index: int) -> None:
        """A recorded op holds each Variable it read as a capture (its value at that op, sharing
        the Variable's array); VJP ops then read the capture. In the graph it is a "read" slot:
        the Variable's value right after step `index` (copied there if a later step writes it)."""
        node = out._node
        if node is None or node.values is node.inputs:
            return
        for x, value in zip(node.inputs, node.values):
            if value is not x and isinstance(x, Variable) and id(value) not in self._slot_of:
                self._new_slot(value, "read", (self.slot_for(x), index))

    def variable_created(self, variable: Variable) -> None:
        if not self.allow_variables:
            raise ValueError(
                "accel.function only supports singleton Variables created on the first call: this "
                f"trace creates Variable {variable.name!r} again. Create it outside the function, "
                "or only when it does not exist yet")
        self.created.append(variable)


def _tensors(out):
    return [leaf for leaf in flatten(out, expand_composites=True) if isinstance(leaf, Tensor)]


def _collect_ids(value, into: set) -> None:
    """The ids of `value` and of everything inside it (lists, tuples, dicts)."""
    into.add(id(value))
    if isinstance(value, (list, tuple)):
        for item in value:
            _collect_ids(item, into)
    elif isinstance(value, dict):
        for item in value.values():
            _collect_ids(item, into)


def _closure(vjp) -> list:
    """What a VJP holds beyond its code: a closure's cells, a partial's arguments."""
    if isinstance(vjp, functools.partial):
        return [*vjp.args, *vjp.keywords.values(), *_closure(vjp.func)]
    cells = getattr(vjp, "__closure__", None) or ()
    out = []
    for cell in cells:
        try:
            out.append(cell.cell_contents)
        except ValueError:  # an empty cell
            pass
    return out


def _is_iterator(value) -> bool:
    return hasattr(value, "__next__") and not isinstance(value, (Tensor, str, bytes))


class tracing:
    """`with tracing(trace):` ops record into `trace` (nested traces are saved and restored)."""

    def __init__(self, trace: Trace):
        self._trace = trace

    def __enter__(self):
        self._saved = _state.trace
        _state.trace = self._trace
        return self._trace

    def __exit__(self, *exc):
        _state.trace = self._saved
        return False


class not_tracing:
    """Run without recording steps (replays and a nested function's own work)."""

    def __enter__(self):
        self._saved = _state.trace
        _state.trace = None

    def __exit__(self, *exc):
        _state.trace = self._saved
        return False
