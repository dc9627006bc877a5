"""A traced call under a recording tape as ONE node, whose backward is a traced function too.

The forward runs on raw arrays (as with no tape) and keeps the arrays its steps produced. Each
floating output then gets one node over the call's inputs and the graph's Variables; its VJPs
ask `backward(inputs, saved, g)`, an accel.function of its own (one per output), for every
input's gradient at once. Tracing that backward rebuilds the forward on a tape without
recomputing it: each forward step whose outputs were kept runs untraced and its outputs are
aliased to the kept arrays (`Trace.alias`), so the backward graph holds only the VJP ops, reading
the forward's values. A step that fusion computed inside a chain (never kept) is recomputed in the
backward graph. When the backward itself runs under a tape (second order), it is again one node
with a traced backward.

Used only for graphs of pure steps whose outputs are step results, inputs or constants (`eligible`;
graph.py runs the ops on tensors otherwise).
"""

from __future__ import annotations

from .. import recording
from ..autodiff.complex_grads import linear
from ..autodiff.tape import GradientTape
from ..dtypes import is_differentiable
from ..nest import flatten
from ..tensor import Tensor
from .trace import bind, current, not_tracing, refs, resolve

__all__ = ["CallNode", "eligible"]


def eligible(graph) -> bool:
    """Whether a call of `graph` can be one node: only pure steps (no effects, random draws or
    value-dependent control flow) and outputs that are step results, inputs or constants."""
    if any(step.kind != "pure" for step in graph.steps):
        return False
    return all(graph.kinds[s] in ("step", "input", "const") for s in refs(graph.output_template))


class CallNode:
    """The one-node path of a graph (see the module docstring)."""

    def __init__(self, graph, function_class):
        self.graph = graph
        self._function_class = function_class  # accel.function's Function (function.py makes us)
        self._backward = {}  # (output position, higher order) -> Function
        self._backward_graphs = {}  # the same -> its one graph, once traced
        self.var_slots = list(graph.variables)
        self.saved_slots = None  # the step slots a forward run materialises (known after one run)

    def run(self, inputs):
        graph = self.graph
        with recording.paused():
            values, outputs = graph.run_arrays(inputs, keep=True)
        if self.saved_slots is None:
            self.saved_slots = [s for s in range(graph.n_slots)
                                if graph.kinds[s] == "step" and values[s] is not None]
        saved = [Tensor(values[s], graph.meta[s][2]) for s in self.saved_slots]
        node_inputs = tuple(inputs) + tuple(graph.variables[s] for s in self.var_slots)
        flat, position = [], 0
        for slot in refs(graph.output_template):
            flat.append((slot, position))
            position += 1
        leaves = _leaves(outputs)
        for (slot, j), out in zip(flat, leaves):
            if graph.kinds[slot] != "step" or not is_differentiable(out.dtype):
                continue
            recording.record(out, node_inputs, _CallVJPs(self, j, saved, len(node_inputs)), None)
        return outputs

    def backward_function(self, j, higher_order: bool):
        """Output j's backward: from the kept forward values (first order), or recomputing the
        forward from the inputs (when a tape records the backward itself: the kept values are
        constants to it, so the second derivative must see them computed from the inputs)."""
        function = self._backward.get((j, higher_order))
        if function is None:
            graph = self.graph
            if higher_order:
                def backward(inputs, g):
                    return _backward(graph, self, j, inputs, None, g)
            else:
                def backward(inputs, saved, g):
                    return _backward(graph, self, j, inputs, saved, g)

            backward.__name__ = f"backward_{j}"
            function = self._function_class(backward, jit_compile=graph.fuse)
            self._backward[(j, higher_order)] = function
        return function


def _leaves(outputs):
    """The output tensors in nest.flatten's order (refs() of the output template has the same)."""
    return [leaf for leaf in flatten(outputs, expand_composites=True) if isinstance(leaf, Tensor)]


class _CallVJPs:
    """The VJPs of one output of a call: every input's gradient from one backward call per g."""

    __slots__ = ("owner", "j", "saved", "count", "_last")

    def __init__(self, owner, j, saved, count):
        self.owner, self.j, self.saved, self.count = owner, j, saved, count
        self._last = None

    def _grads(self, g, values):
        if self._last is None or self._last[0] is not g:
            higher = bool(recording.state.tapes)  # the backward is itself recorded: second order
            args = (list(values), g) if higher else (list(values), self.saved, g)
            graph = self.owner._backward_graphs.get((self.j, higher))
            if graph is not None:
                # The forward graph has fixed shapes (g has its output's: the tape checks), so the
                # backward's one graph serves every call: run it without keying the call again.
                flat = list(values) + ([] if higher else self.saved) + [g]
                grads = graph.run(flat)
            else:
                function = self.owner.backward_function(self.j, higher)
                grads = function(*args)
                if len(function._graphs) == 1:
                    (self.owner._backward_graphs[(self.j, higher)],) = function._graphs.values()
            self._last = (g, grads)
        return self._last[1]

    def __getitem__(self, i):
        def vjp(g, ans, *values):
            return self._grads(g, values)[i]
        # its own complex form: the replayed ops' tape gives TensorFlow's complex gradients
        return linear(vjp)

    def __len__(self):
        return self.count


def _backward(graph, node, j, inputs, saved, g):
    """Gradients of output j (weighted by g) for every input: the forward rebuilt on a tape from
    `saved` (aliased into the current trace, not recomputed), then the tape's VJP ops."""
    trace = current()
    n_inputs = len(graph.input_slots)
    values = {}
    for s, tensor in zip(graph.input_slots, inputs[:n_inputs]):
        values[s] = tensor
    for s, tensor in zip(node.var_slots, inputs[n_inputs:]):
        values[s] = tensor
    for s, t in graph.constants.items():
        values[s] = t
    for s, (var_slot, _) in graph.read_slots.items():
        values[s] = values[var_slot]
    kept = dict(zip(node.saved_slots, saved)) if saved is not None else {}
    sources = [t for t in inputs if is_differentiable(t.dtype)]
    with GradientTape() as tape:
        tape.watch(sources)
        for step in graph.steps:
            args = resolve(step.args, values)
            kwargs = resolve(step.kwargs, values)
            if trace is not None and step.out_slots and all(s in kept for s in step.out_slots):
                with not_tracing():
                    out = step.op(*args, **kwargs)
                trace.check_node(step.op, args, kwargs, out)
                bind(step.outs, out, values, lambda slot, t: trace.alias(t, kept[slot]))
            else:
                out = step.op(*args, **kwargs)
                bind(step.outs, out, values)
        outputs = [values[s] for s in refs(graph.output_template)]
    target = outputs[j]
    grads = tape.gradient(target, sources, output_gradients=g)
    it = iter(grads)
    return [next(it) if is_differentiable(t.dtype) else None for t in inputs]


