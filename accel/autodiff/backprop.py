"""Reverse-mode accumulation over recorded nodes (`backward`), and `gradients()`.

`backward` sets the walk up (the targets' weights, which tapes and stops apply, which sources are
reported as soon as they are final) and reads its result; the walk's loop itself is walk.py's
(compiled, iterative: no recursion limit for long chains).
"""

from __future__ import annotations

from ..dtypes import is_differentiable
from ..nest import flatten
from ..tensor import Tensor
from .. import ops
from . import sparse_grads
from .walk import walk

__all__ = ["backward", "gradients", "check_unconnected", "check_sources"]


def check_unconnected(value) -> str:
    value = getattr(value, "value", value)  # accept an enum-like with .value
    if value not in ("none", "zero"):
        raise ValueError(f"unconnected_gradients must be 'none' or 'zero', got {value!r}")
    return value


def backward(targets, weights, sources, tape=None, stop_ids=frozenset(), release=False,
             unconnected="none", on_ready=None):
    """Gradients of sum_i(sum(weights[i] * targets[i])) for each of `sources` (None if unconnected).

    `tape`: follow only nodes that tape recorded and tensors it watches (None: every node).
    `stop_ids`: ids of tensors backprop does not pass through. `release`: drop nodes owned only
    by `tape` once used. `on_ready(i, gradient)`: called once per source as soon as its gradient
    is final, while the walk goes on (data parallel starts reducing it then); unconnected
    sources are reported at the end, with None.
    """
    # A tensor takes part when it is floating point and (with a tape) the tape recorded or watches
    # it; walk.py's loop makes the same test of every input it reaches.
    if tape is None:
        tape_id, watched = None, None
    else:
        tape_id, watched = tape.id, tape.watched

    def eligible(x):
        return (isinstance(x, Tensor) and is_differentiable(x._data.dtype)
                and (tape_id is None or tape_id in x._tapes or id(x) in watched))

    def node_of(t):
        """t's node if the walk passes through it here, else None (t is then a leaf)."""
        node = t._node
        if node is None or (stop_ids and id(t) in stop_ids) or (tape_id is not None and tape_id not in node.tapes):
            return None
        return node

    grads, queued, roots = {}, set(), []
    for target, weight in zip(targets, weights):
        if not eligible(target):
            continue
        key = id(target)
        grads[key] = weight if key not in grads else grads[key] + weight
        if key not in queued:
            queued.add(key)
            if node_of(target) is not None:
                roots.append(target)

    # Leaves never enter the heap; their gradients stay in `grads`, as do those of sources.
    wanted = {id(s) for s in sources}
    pending = _consumers(roots, wanted, node_of) if on_ready is not None else None
    after_node = None
    if pending is not None:
        index_of = {}
        for i, s in enumerate(sources):
            index_of.setdefault(id(s), []).append(i)
        for key in [k for k, n in pending.items() if n == 0 and k in grads]:
            for i in index_of[key]:  # a target that no path from another target reaches
                on_ready(i, grads[key])

        def after_node(inputs):
            _report_ready(inputs, pending, grads, index_of, on_ready)

    walk(roots, grads, queued, wanted, tape_id, watched, stop_ids, release, ops.sum_to, ops.cast, after_node,
         sparse_grads)

    results = []
    for i, s in enumerate(sources):
        g = grads.get(id(s))
        if g is None and unconnected == "zero" and is_differentiable(s._data.dtype):
            g = ops.zeros_like(s)
        results.append(g)
        if pending is not None and (pending[id(s)] != 0 or id(s) not in grads):
            on_ready(i, g)  # unconnected, or reached only through nodes the walk did not need
    return results


def _consumers(roots, wanted, node_of) -> dict:
    """{id(source): how many edges into it the walk may follow}, for the sources in `wanted`:
    every edge from a node reachable from the targets' nodes. A superset of the edges the walk
    follows (it also skips integer inputs and VJPs that return None), so a count reaching zero
    means that source's gradient is final; one that never does is reported at the end."""
    pending = dict.fromkeys(wanted, 0)
    seen = set()
    stack = [root._node for root in roots]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for x in node.inputs:
            if not isinstance(x, Tensor):
                continue
            key = id(x)
            if key in pending:
                pending[key] += 1
            x_node = node_of(x)
            if x_node is not None:
                stack.append(x_node)
    return pending


def _report_ready(inputs, pending, grads, index_of, on_ready) -> None:
    """After a node's VJPs: each source among its inputs has one edge fewer to wait for."""
    for x in inputs:
        key = id(x)
        count = pending.get(key)
        if count:
            pending[key] = count - 1
            if count == 1 and key in grads:
                for i in index_of[key]:
                    on_ready(i, grads[key])


def check_sources(xs, where: str):
    for i, x in enumerate(xs):
        if not isinstance(x, Tensor):
            raise TypeError(f"{where}: sources[{i}] must be a tensor or Variable, got {type(x).__name__}")


def target_weights(ys, grad_ys, where: str, argument: str):
    """The weight tensor for each target: the user's (checked for shape) or ones."""
    if grad_ys is None:
        return [_ones_like(y) for y in ys]
    flat = flatten(grad_ys)
    if len(flat) != len(ys):
        raise ValueError(f"{where}: {argument} has {len(flat)} entries but there are {len(ys)} targets")
    weights = []
    for i, (y, w) in enumerate(zip(ys, flat)):
        if w is None:
            weights.append(_ones_like(y))
            continue
        w = ops.cast(w if isinstance(w, Tensor) else ops.tensor_like(w, y), y.dtype)
        if w.shape != y.shape:
            raise ValueError(
                f"{where}: {argument}[{i}] has shape {tuple(w.shape)}, expected the target's shape "
                f"{tuple(y.shape)}")
        weights.append(w)
    return weights


def _ones_like(y):
    device = y._device
    if not device.contextual:  # the CPU: no device context to enter
        return Tensor(device.xp.ones(y._data.shape, y._data.dtype), device)
    with device.activate():
        return Tensor(device.xp.ones(y._data.shape, y._data.dtype), device)


def gradients(ys, xs, grad_ys=None, stop_gradients=None, unconnected_gradients="none"):
    """[sum over y in ys of d(y)/d(x) for x in xs], each y weighted by its grad_ys entry (default
    ones). Works on anything recorded by an active or finished tape. Tensors in `stop_gradients`
    are constants to backprop, yet their own gradients are returned; integer tensors are
    constants too."""
    unconnected = check_unconnected(unconnected_gradients)
    ys = flatten(ys)
    xs_flat = flatten(xs)
    if any(y is None for y in ys):
        raise TypeError("gradients: ys must be tensors, got None")
    check_sources(xs_flat, "gradients")
    weights = target_weights(ys, grad_ys, "gradients", "grad_ys")
    stop_ids = frozenset(id(t) for t in flatten(stop_gradients)) if stop_gradients is not None else frozenset()
    return backward(ys, weights, xs_flat, tape=None, stop_ids=stop_ids, unconnected=unconnected)
