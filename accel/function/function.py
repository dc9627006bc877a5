"""accel.function: TensorFlow's tf.function. Trace once per input signature, then replay.

A call binds its arguments to the function's signature, keys them (`spec.call_key`: tensors by
shape, dtype and device, Python values by value), and reuses the first trace whose key covers
it; otherwise it traces (`trace.py`): the Python function runs once on the call's tensors while
every op call is recorded, and the recording becomes a `Graph` that the call, and every later
matching call, runs. docs/semantics.md section 14 states the rules this follows.

accel traces concretely, on the call's real shapes: a trace whose spec has None dimensions
(`reduce_retracing`, `input_signature`, `get_concrete_function`) specialises its graph for each
new shape it meets by running the Python function again (JAX's jit does the same); the tracing
count is TensorFlow's (one per spec), but Python side effects run once per specialisation.
"""

from __future__ import annotations

import collections
import functools
import inspect
import logging
import types
import weakref

import numpy

from .. import recording
from ..nest import composite_parts, is_composite, map_structure, rebuild_composite
from ..tensor import Tensor, convert
from ..variable import Variable
from .call_node import CallNode, eligible
from .graph import Graph
from .spec import TensorSpec, call_key, covers, readable, widen
from .trace import Ref, ShapeChanged, Trace, current, tracing

__all__ = ["function", "Function", "ConcreteFunction"]

_log = logging.getLogger("accel")
_RETRACE_WINDOW, _RETRACE_LIMIT, _WARNINGS_PER_FUNCTION = 10, 5, 2
_warned: dict = collections.Counter()  # python function -> retracing warnings given


class ConcreteFunction:
    """One trace of a Function: its input spec, and its graphs (one per concrete shape)."""

    def __init__(self, owner: "Function", key):
        self._owner = owner
        self.key = key
        self._graphs: dict = {}

    @property
    def structured_input_signature(self) -> dict:
        """{argument: its spec}: TensorSpecs (None dimensions where the trace is wider) and the
        Python values the trace was made for."""
        return {name: readable(spec) for name, spec in self.key}

    def _graph_for(self, bound, tensors, key):
        """The graph for a call keyed `key` (exact shapes): made by tracing on first use."""
        graph = self._graphs.get(key)
        if graph is None:
            graph = self._owner._trace_graph(bound, tensors)
            self._graphs[key] = graph
        return graph

    def __call__(self, *args, **kwargs):
        """Run this trace on tensors that match its spec (TypeError otherwise)."""
        bound = self._owner._bind(args, kwargs)
        key, tensors = call_key(bound)
        if not covers(self.key, key):
            given = {name: readable(spec) for name, spec in key}
            raise TypeError(f"{self._owner.__name__}: the arguments {given} do not match this concrete "
                            f"function's signature {self.structured_input_signature}")
        return self._owner._run(self, bound, tensors)


class Function:
    """A Python function that runs as a traced graph; see `function`."""

    def __init__(self, python_function, input_signature=None, reduce_retracing=False, jit_compile=None,
                 name=None, _instance=None):
        if not callable(python_function):
            raise TypeError(f"function: expected a callable, got {type(python_function).__name__}")
        if jit_compile not in (None, True, False):
            raise ValueError(f"function: jit_compile must be None, True or False, got {jit_compile!r}")
        self._python_function = python_function
        self._instance = _instance
        target = python_function if _instance is None else types.MethodType(python_function, _instance)
        self._call_target = target
        self._signature = inspect.signature(target)
        parameters = list(self._signature.parameters.values())
        # The common signature (positional-or-keyword parameters) binds without inspect's machinery.
        self._names = tuple(p.name for p in parameters) if all(
            p.kind is p.POSITIONAL_OR_KEYWORD for p in parameters) else None
        self._input_signature = None if input_signature is None else _check_signature(input_signature, self._signature)
        self._reduce_retracing = bool(reduce_retracing)
        self._jit_compile = jit_compile
        self._concrete: list[ConcreteFunction] = []
        self._exact: dict = {}  # call key -> the ConcreteFunction that serves it
        self._graphs: dict = {}  # call key -> its graph (specialised to the call's shapes)
        self._variants: dict = {}  # call key -> its graphs for other value-dependent shapes
        self._tracing_count = 0
        self._recent = collections.deque(maxlen=_RETRACE_WINDOW)
        self._traced_before = False  # Variables may be created on the first trace only
        self._instances = weakref.WeakKeyDictionary()
        self._by_id: dict = {}
        functools.update_wrapper(self, python_function)
        self.__name__ = name or getattr(python_function, "__name__", "function")

    # -- the Python side ---------------------------------------------------------------------------
    @property
    def python_function(self):
        return self._python_function

    @property
    def input_signature(self):
        return self._input_signature

    def experimental_get_tracing_count(self) -> int:
        """How many times this function has been traced (one per input signature)."""
        return self._tracing_count

    def __get__(self, instance, owner=None):
        """A decorated method: each instance has its own Function (cache and count)."""
        if instance is None:
            return self
        try:
            bound = self._instances.get(instance)
        except TypeError:  # not weakly referenceable or not hashable
            bound = self._by_id.get(id(instance))
        if bound is None:
            bound = Function(self._python_function, self._input_signature, self._reduce_retracing,
                             self._jit_compile, self.__name__, _instance=instance)
            try:
                self._instances[instance] = bound
            except TypeError:
                self._by_id[id(instance)] = bound
        return bound

    def _bind(self, args, kwargs) -> dict:
        """{parameter: value} in the signature's order, defaults filled in."""
        names = self._names
        if names is not None and not kwargs and len(args) == len(names):
            return dict(zip(names, args))
        try:
            bound = self._signature.bind(*args, **kwargs)
        except TypeError as error:
            raise TypeError(f"{self.__name__}: {error}") from None
        bound.apply_defaults()
        return dict(bound.arguments)

    # -- calls -------------------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        if current() is not None:  # called while another function traces: its ops join that trace
            return self._call_target(*args, **kwargs)
        bound = self._bind(args, kwargs)
        if self._input_signature is not None:
            self._conform(bound)
        key, tensors = call_key(bound)
        graph = self._graphs.get(key)
        if graph is not None:  # the steady state: a graph for exactly these shapes and values
            self._recent.append(False)
            try:
                return graph.run(tensors)
            except ShapeChanged:  # a boolean mask selected a new count: see _respecialize
                return self._respecialize(key, bound, tensors, graph)
        concrete = self._lookup(key)
        traced = concrete is None
        if traced:
            concrete = ConcreteFunction(self, self._new_spec(key))
            result = self._run(concrete, bound, tensors)  # a failed trace adds nothing
            self._concrete.append(concrete)
            self._exact[key] = concrete
            self._tracing_count += 1
        else:
            result = self._run(concrete, bound, tensors)
        self._note_call(traced)
        return result

    def _run(self, concrete, bound, tensors):
        key = call_key(bound)[0]
        graph = concrete._graph_for(bound, tensors, key)
        self._graphs[key] = graph
        try:
            return graph.run(tensors)
        except ShapeChanged:
            return self._respecialize(key, bound, tensors, graph)

    def _respecialize(self, key, bound, tensors, failed):
        """A call whose graph met a value-dependent shape it was not traced for (trace.ShapeChanged,
        raised before anything of the run took effect): the other graphs made for this key are
        tried, then the function is traced again for these values. Like a new input shape, this
        runs the Python function again but does not count as a new trace of its signature."""
        variants = self._variants.setdefault(key, [failed])
        for graph in variants:
            if graph is failed:
                continue
            try:
                result = graph.run(tensors)
            except ShapeChanged:
                continue
            self._graphs[key] = graph
            return result
        graph = self._trace_graph(bound, tensors)
        variants.append(graph)
        self._graphs[key] = graph
        return graph.run(tensors)

    def _lookup(self, key):
        concrete = self._exact.get(key)
        if concrete is not None:
            return concrete
        for concrete in self._concrete:  # a trace with None dimensions covers other shapes
            if covers(concrete.key, key):
                return concrete
        return None

    def _new_spec(self, key):
        """The spec of a new trace: the call's own, or with reduce_retracing widened against the
        traces made so far (dimensions that differ become None)."""
        if self._input_signature is not None:
            return call_key(self._bind(self._input_signature, {}))[0]
        if self._reduce_retracing:
            for concrete in self._concrete:
                wider = widen(key, concrete.key)
                if wider is not None:
                    key = wider
        return key

    def _note_call(self, traced: bool) -> None:
        self._recent.append(traced)
        if traced and sum(self._recent) >= _RETRACE_LIMIT and _warned[self._python_function] < _WARNINGS_PER_FUNCTION:
            _warned[self._python_function] += 1
            _log.warning(
                "%d out of the last %d calls to %s triggered accel.function retracing. Tracing is "
                "expensive; the cause may be: calling it with tensors of different shapes or dtypes "
                "(use input_signature or reduce_retracing=True), passing Python numbers that "
                "change (pass tensors), or decorating a function defined in a loop.",
                sum(self._recent), len(self._recent), self._python_function)

    # -- tracing -----------------------------------------------------------------------------------
    def _trace_graph(self, bound, tensors) -> Graph:
        """Run the Python function on `tensors` while recording; a trace that creates Variables
        is traced a second time (without creating them again), as TensorFlow does."""
        first = not self._traced_before
        graph, created = self._trace_once(bound, tensors, allow_variables=first)
        self._traced_before = True
        if created:
            graph, _ = self._trace_once(bound, tensors, allow_variables=False)
        return graph

    def _trace_once(self, bound, tensors, allow_variables: bool):
        trace = Trace(allow_variables)
        # Each input is a fresh tensor over the caller's array: the function sees one object per
        # argument even when the caller passes the same tensor twice, and outer tapes do not
        # record the trace (the replay that follows records the call).
        arguments, position = {}, iter(range(len(tensors)))
        inputs = []

        def substitute(value):
            if isinstance(value, (Tensor, numpy.ndarray, numpy.generic)):
                tensor = tensors[next(position)]
                if not isinstance(tensor, Variable):
                    tensor = Tensor(tensor._data, tensor._device)
                inputs.append(tensor)
                return tensor
            if is_composite(value):
                return rebuild_composite(value, [substitute(v) for v in composite_parts(value)[0]])
            if isinstance(value, list):
                return [substitute(v) for v in value]
            if isinstance(value, tuple):
                return tuple(substitute(v) for v in value)
            if isinstance(value, dict):
                return {k: substitute(value[k]) for k in sorted(value)}
            return value

        for name, value in bound.items():
            arguments[name] = substitute(value)
        for tensor in inputs:
            trace.add_input(tensor)
        call = inspect.BoundArguments(self._signature, arguments)
        with recording.paused(), tracing(trace):
            result = self._call_target(*call.args, **call.kwargs)
        outputs = _output_template(result, trace)
        graph = Graph(trace, outputs, fuse=self._jit_compile)
        if eligible(graph):
            graph.call_node = CallNode(graph, Function)
        return graph, trace.created

    def _conform(self, bound) -> None:
        """Check the call against input_signature and convert lists and NumPy arrays to tensors
        of the spec's dtype (TypeError naming the argument, the spec and the value otherwise)."""
        flat = list(bound.items())
        specs = self._input_signature
        if len(flat) != len(specs):
            raise TypeError(f"{self.__name__}: input_signature has {len(specs)} specs, but the call passes "
                            f"{len(flat)} arguments ({', '.join(n for n, _ in flat)})")
        for (name, value), spec in zip(flat, specs):
            tensor = _as_spec_tensor(value, spec, name, self.__name__)
            bound[name] = tensor

    def get_concrete_function(self, *args, **kwargs) -> ConcreteFunction:
        """The trace for these arguments (tensors, or TensorSpecs with None dimensions; none with
        an input_signature), made now if no trace covers them: later calls it covers reuse it.
        Its graph is built on the first call of each shape (tracing is concrete)."""
        if self._input_signature is not None and not args and not kwargs:
            args = self._input_signature
        bound = self._bind(args, kwargs)
        key, _ = call_key(bound)
        concrete = self._lookup(key)
        if concrete is None:
            concrete = ConcreteFunction(self, key)
            self._concrete.append(concrete)
            self._exact[key] = concrete
            self._tracing_count += 1
        return concrete


def _output_template(result, trace):
    return map_structure(lambda leaf: Ref(trace.slot_for(leaf)) if isinstance(leaf, Tensor) else leaf, result,
                         expand_composites=True)


def _check_signature(input_signature, signature) -> tuple:
    specs = tuple(input_signature)
    for i, spec in enumerate(specs):
        if not isinstance(spec, TensorSpec):
            raise TypeError(f"function: input_signature[{i}] must be a TensorSpec, got {type(spec).__name__}")
    return specs


def _as_spec_tensor(value, spec: TensorSpec, name: str, function_name: str):
    where = f"{function_name}: argument {name!r}"
    if isinstance(value, Variable):
        tensor = value.value()  # a spec takes the value (a Variable argument has a spec of its own)
    elif isinstance(value, Tensor):
        tensor = value
    else:
        try:
            array = numpy.asarray(value)
        except Exception:  # noqa: BLE001  (anything that is not array data)
            raise TypeError(f"{where} must match {spec!r}, got {value!r}") from None
        if array.dtype.kind not in "biufc":
            raise TypeError(f"{where} must match {spec!r}, got {value!r}")
        if isinstance(value, (numpy.ndarray, numpy.generic)):
            if array.dtype != spec.dtype:
                raise TypeError(f"{where} must match {spec!r}, got an array of dtype {array.dtype.name}")
            tensor = convert(array)
        else:  # Python numbers and lists take the spec's dtype (floats rounded, as accel.tensor does)
            if spec.dtype.kind in "biu" and array.dtype.kind not in "biu":
                raise TypeError(f"{where} must match {spec!r}, got {value!r} (not integers)")
            try:
                tensor = convert(value, dtype=spec.dtype)
            except (OverflowError, ValueError):
                raise TypeError(f"{where} must match {spec!r}, got {value!r} (out of the dtype's range)") from None
            if spec.dtype.kind in "biu" and not numpy.array_equal(tensor._data, array):
                raise TypeError(f"{where} must match {spec!r}, got {value!r} (out of the dtype's range)")
    probe = TensorSpec(spec.shape, spec.dtype)
    if not probe.is_compatible_with(TensorSpec(tensor.shape, tensor.dtype)):
        raise TypeError(f"{where} must match {spec!r}, got a tensor of shape {tuple(tensor.shape)} and dtype "
                        f"{tensor.dtype.name}")
    return tensor


def function(func=None, *, input_signature=None, reduce_retracing=False, jit_compile=None):
    """Compile `func` into a traced graph (TensorFlow's tf.function), as a decorator or a call.

    input_signature: TensorSpecs for every argument (one trace; other calls raise TypeError).
    reduce_retracing: after a retrace, generalise shapes (None dimensions) instead of tracing
    each new shape. jit_compile: None (fuse elementwise chains where it helps: on a GPU always,
    on the CPU small chains, see fusion.py), True (fuse every chain), False (no fusion).
    See docs/semantics.md section 14."""
    if func is None:
        return functools.partial(function, input_signature=input_signature, reduce_retracing=reduce_retracing,
                                 jit_compile=jit_compile)
    return Function(func, input_signature=input_signature, reduce_retracing=reduce_retracing,
                    jit_compile=jit_compile)
