"""What the ops call while tapes record: the per-thread tape stack and the graph node (and the
per-thread trace that accel.function records op calls into).

An op whose output is differentiable (floating point or complex) records one `Node` when at least
one active tape watches one of its inputs. Each tape has an id that is never reused. The output of a recorded op carries
the ids of the tapes that recorded it in `_tapes`; what a tape watches explicitly (and the
Variables it watches on access) sits in the tape's own `watched` dict, so long-lived tensors
never accumulate ids of finished tapes. Several nested tapes may record the same op: the node is
shared and lists them all in `tapes`. `Node` and `record` are compiled (accel._autodiff,
csrc/autodiff/node.cpp); `record_python` below is the same function in Python.
"""

from __future__ import annotations

import itertools
import os
import threading
import weakref

from . import _autodiff
from .dtypes import COMPLEX, DIFFERENTIABLE, is_complex, is_differentiable
from .tensor import Tensor
from .variable import Variable

__all__ = ["Node", "active_tapes", "record", "record_python", "watched_by", "paused"]

_next_tape_id = itertools.count(1)


def new_tape_id() -> int:
    return next(_next_tape_id)


class _Recording(threading.local):
    def __init__(self):
        self.tapes: list = []  # tapes recording now in this thread, outermost first
        # The accel.function trace recording op calls in this thread (None: none). An op called
        # while it is set becomes one step of the trace; the trace clears it while the op runs, so
        # the ops an op calls itself are not steps of their own.
        self.trace = None


state = _Recording()


def active_tapes() -> list:
    return state.tapes


# Node: one recorded op, ``vjp[i](g, ans, *values, **params)`` gives the gradient for input i
# (compiled: accel._autodiff, csrc/autodiff/node.cpp). `inputs` are what gradients flow to;
# `values` are what the VJPs read: the inputs themselves, except that a Variable is replaced by its
# value at record time (a capture, see `capture`), so a later assign or optimizer step does not
# change this op's gradient (TensorFlow's semantics). `tapes`: the ids of the tapes that recorded
# it. `seq` numbers nodes in creation order. Every input exists before the op that reads it, so
# decreasing `seq` is a reverse topological order: the graph walk needs no separate sort.
# Node(vjp, inputs, params, tapes, values=None).
Node = _autodiff.Node


_CAPTURE_VJPS = (lambda g, ans, x: g,)
_live_lock = threading.Lock()
_live = [0]  # captures alive in the process: optimizers skip their copy-on-write pass at 0


def _capture_collected(_ref) -> None:
    with _live_lock:
        _live[0] -= 1


def live_captures() -> int:
    """How many recorded Variable values are alive (0 in the usual steady state: a
    non-persistent tape frees its nodes during the gradient walk)."""
    return _live[0]


def capture(var: Variable, tapes: tuple) -> Tensor:
    """The value of `var` now, as a tensor that shares its array (no copy) and is recorded as a
    read of `var` by `tapes` (so outer tapes differentiate through it: higher orders work).

    Copy-on-write: the Variable keeps weak references to its live captures, and an in-place
    write first hands them a copy of the old value (`Variable._before_write`). Captures are
    shared by every op that reads the same version under the same tapes."""
    captures = var._captures
    if captures:  # the newest first: an op usually reads what the previous op read
        cap = captures[-1]()
        if cap is not None and cap._data is var._data and cap._tapes == tapes:
            return cap
    cap = Tensor(var._data, var._device)
    cap._tapes = tapes
    cap._node = Node(_CAPTURE_VJPS, (var,), None, tapes)
    if len(captures) >= 8:  # drop the dead ones now and then
        captures[:] = [r for r in captures if r() is not None]
    captures.append(weakref.ref(cap, _capture_collected))
    with _live_lock:
        _live[0] += 1
    return cap


def watched_by(x, tape) -> bool:
    """Whether `tape` differentiates through the tensor `x` (without watching anything new)."""
    return isinstance(x, Tensor) and (tape.id in x._tapes or id(x) in tape.watched)


def _watches(tape, x) -> bool:
    """`watched_by`, plus TF's rule that reading a trainable variable watches it."""
    if x.__class__ is Tensor:
        return tape.id in x._tapes or id(x) in tape.watched
    if isinstance(x, Variable):
        if id(x) in tape.watched:
            return True
        if tape.watch_accessed_variables and x.trainable and is_differentiable(x._data.dtype):
            tape.watched[id(x)] = x
            return True
        return False
    return isinstance(x, Tensor) and (tape.id in x._tapes or id(x) in tape.watched)


def watch_reads(inputs) -> None:
    """TensorFlow's rule for an op that records nothing (a comparison, argmax, an integer
    result): reading a trainable float Variable still watches it on every active tape."""
    for x in inputs:
        if x.__class__ is not Tensor and isinstance(x, Variable):
            for tape in state.tapes:
                _watches(tape, x)


def record_python(out: Tensor, inputs: tuple, vjp, params) -> None:
    """Attach a node to `out` for every active tape that watches one of `inputs`.

    Every input is offered to every tape (no early exit), so each trainable Variable an op reads
    is watched, as in TensorFlow. `record` is this function compiled (csrc/autodiff/node.cpp:
    every recorded op calls it); this is its readable statement and the tests' oracle.
    """
    ids = ()
    has_variable = False
    for tape in state.tapes:
        tape_id, watched = tape.id, tape.watched
        hit = False
        for x in inputs:
            if x.__class__ is Tensor:  # the common case, inlined
                if tape_id in x._tapes or id(x) in watched:
                    hit = True
            else:
                if x.__class__ is not float and isinstance(x, Variable):
                    has_variable = True
                if _watches(tape, x):
                    hit = True
        if hit:
            ids += (tape_id,)
    if ids:
        for x in inputs:  # VJPs read them: item assignment refuses them from now on
            if isinstance(x, Tensor):
                x._saved = True
        if _complex_involved(out, inputs):  # TensorFlow's complex gradients (autodiff/complex_grads.py)
            vjp = _complex_vjps(vjp, inputs)
        out._tapes = ids
        out._node = Node(vjp, inputs, params, ids, capture_values(inputs, ids) if has_variable else None)


def _complex_involved(out: Tensor, inputs) -> bool:
    """Whether a complex array takes part in an op: its output's or a tensor input's."""
    return is_complex(out._data.dtype) or any(isinstance(x, Tensor) and is_complex(x._data.dtype) for x in inputs)


_complex_forms = None  # autodiff.complex_grads.complex_vjps, handed over when it loads (it builds on the ops)


def use_complex_forms(complex_vjps) -> None:
    """The hook autodiff/complex_grads.py calls at import: how a node where a complex array takes
    part picks its VJPs' complex forms."""
    global _complex_forms
    _complex_forms = complex_vjps


def _complex_vjps(vjp, inputs):
    return _complex_forms(vjp, inputs)


def capture_values(inputs, tapes: tuple):
    """What a node's VJPs read: `inputs` with each Variable replaced by its capture (None if
    there is none)."""
    values = None
    for i, x in enumerate(inputs):
        if isinstance(x, Variable):
            if values is None:
                values = list(inputs)
            values[i] = capture(x, tapes)
    return values and tuple(values)


# ACCEL_PYTHON_GRAPH=1 records with the Python function (and backward walks with walk_python), to
# compare or to step through in a debugger.
CONFIGURATION = (state, Tensor, Variable, _watches, capture_values, watch_reads, is_differentiable, DIFFERENTIABLE,
                 COMPLEX, _complex_vjps)  # what the compiled code reads (accel._autodiff.configure's arguments)
_autodiff.configure(*CONFIGURATION)
record = record_python if os.environ.get("ACCEL_PYTHON_GRAPH") == "1" else _autodiff.record


class _VariableWatcher:
    """A pseudo-tape that only notes the Variables read (custom_gradient's VariableWatcher)."""

    def __init__(self):
        self.id = new_tape_id()
        self.watched: dict = {}
        self.watch_accessed_variables = True


class watching_variables:
    """Run with no tape recording but every Variable read noted: `with watching_variables() as
    accessed:` gives the Variables read inside, in order."""

    def __enter__(self):
        self._saved = list(state.tapes)
        self._watcher = _VariableWatcher()
        state.tapes[:] = [self._watcher]
        self._accessed = []
        return self._accessed

    def __exit__(self, *exc):
        state.tapes[:] = self._saved
        self._accessed.extend(v for v in self._watcher.watched.values() if isinstance(v, Variable))
        return False


class paused:
    """A context in which no tape of this thread records (used by stop_recording, custom ops)."""

    def __init__(self, tapes=None):
        self._only = tapes
        self._saved = None

    def __enter__(self):
        self._saved = list(state.tapes)
        if self._only is None:
            state.tapes[:] = []
        else:
            state.tapes[:] = [t for t in state.tapes if t not in self._only]
        return self

    def __exit__(self, *exc):
        state.tapes[:] = self._saved
        return False
