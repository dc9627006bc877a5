"""What the ops call while tapes record: the per-thread tape stack and the graph node.

An op whose output is floating point records one `Node` when at least one active tape watches
one of its inputs. Each tape has an id that is never reused; a recorded tensor carries the ids of
the tapes that watch it in `_tapes`, and Variables are watched through their tape's `variables`
dict (so long-lived variables never accumulate ids of finished tapes). Several nested tapes may
record the same op: the node is shared and lists them all in `tapes`.
"""

from __future__ import annotations

import itertools
import threading

from ..tensor import Tensor, Variable

__all__ = ["Node", "active_tapes", "record", "watched_by", "paused"]

_next_tape_id = itertools.count(1)


def new_tape_id() -> int:
    return next(_next_tape_id)


class _Recording(threading.local):
    def __init__(self):
        self.tapes: list = []  # tapes recording now in this thread, outermost first


_state = _Recording()


def active_tapes() -> list:
    return _state.tapes


class Node:
    """One recorded op: ``vjp(g, ans, *inputs, **params)`` gives the gradient for each input."""

    __slots__ = ("vjp", "inputs", "params", "tapes")

    def __init__(self, vjp, inputs, params, tapes):
        self.vjp = vjp
        self.inputs = inputs
        self.params = params
        self.tapes = tapes


def watched_by(x, tape) -> bool:
    """Whether `tape` differentiates through the tensor `x` (without watching anything new)."""
    if x.__class__ is Tensor:
        return tape.id in x._tapes
    if isinstance(x, Variable):
        return id(x) in tape.variables
    return isinstance(x, Tensor) and tape.id in x._tapes


def _watches(tape, x) -> bool:
    """`watched_by`, plus TF's rule that reading a trainable variable watches it."""
    if x.__class__ is Tensor:
        return tape.id in x._tapes
    if isinstance(x, Variable):
        if id(x) in tape.variables:
            return True
        if tape.watch_accessed_variables and x.trainable and x._data.dtype.kind == "f":
            tape.variables[id(x)] = x
            return True
        return False
    return isinstance(x, Tensor) and tape.id in x._tapes


def record(out: Tensor, inputs: tuple, vjp, params) -> None:
    """Attach a node to `out` for every active tape that watches one of `inputs`.

    Every input is offered to every tape (no early exit), so each trainable Variable an op reads
    is watched, as in TensorFlow.
    """
    ids = ()
    for tape in _state.tapes:
        hit = False
        for x in inputs:
            if _watches(tape, x):
                hit = True
        if hit:
            ids += (tape.id,)
    if ids:
        out._tapes = ids
        out._node = Node(vjp, inputs, params, ids)


class paused:
    """A context in which no tape of this thread records (used by stop_recording, custom ops)."""

    def __init__(self, tapes=None):
        self._only = tapes
        self._saved = None

    def __enter__(self):
        self._saved = list(_state.tapes)
        if self._only is None:
            _state.tapes[:] = []
        else:
            _state.tapes[:] = [t for t in _state.tapes if t not in self._only]
        return self

    def __exit__(self, *exc):
        _state.tapes[:] = self._saved
        return False
