"""The graph walk: reverse-mode accumulation over recorded nodes, and `gradients()`.

The walk is iterative (no recursion limit for long chains). It orders tensors by a depth-first
post-order that follows each node's inputs in order, so the order in which contributions are
summed is the same on every run. Each contribution is summed down to its input's shape (the one
place broadcasting is undone) and cast to its dtype. A non-persistent tape drops each node it
alone owns as soon as the node's VJPs have run, so intermediates are freed during the walk.
"""

from __future__ import annotations

from ..tensor import Tensor
from .. import ops
from .recording import watched_by

__all__ = ["backward", "gradients", "flatten", "pack", "check_unconnected"]


def flatten(structure) -> list:
    """The leaves of nested lists, tuples and dicts (dicts in sorted key order)."""
    if isinstance(structure, dict):
        return [leaf for key in sorted(structure) for leaf in flatten(structure[key])]
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in flatten(item)]
    return [structure]


def pack(structure, leaves):
    """`leaves` (an iterator) laid out with the nesting of `structure`."""
    if isinstance(structure, dict):
        return {key: pack(structure[key], leaves) for key in sorted(structure)}
    if isinstance(structure, (list, tuple)):
        return type(structure)(pack(item, leaves) for item in structure)
    return next(leaves)


def check_unconnected(value) -> str:
    value = getattr(value, "value", value)  # accept an enum-like with .value
    if value not in ("none", "zero"):
        raise ValueError(f"unconnected_gradients must be 'none' or 'zero', got {value!r}")
    return value


def _is_float_tensor(x) -> bool:
    return isinstance(x, Tensor) and x._data.dtype.kind == "f"


def backward(targets, weights, sources, tape=None, stop_ids=frozenset(), release=False,
             unconnected="none"):
    """Gradients of sum_i(sum(weights[i] * targets[i])) for each of `sources` (None if unconnected).

    `tape`: follow only nodes that tape recorded and tensors it watches (None: every node).
    `stop_ids`: ids of tensors backprop does not pass through. `release`: drop nodes owned only
    by `tape` once used.
    """
    if tape is None:
        def eligible(x):
            return _is_float_tensor(x)
        tape_id = None
    else:
        def eligible(x):
            return _is_float_tensor(x) and watched_by(x, tape)
        tape_id = tape.id

    def usable_node(t):
        node = t._node
        if node is None or id(t) in stop_ids or (tape_id is not None and tape_id not in node.tapes):
            return None
        return node

    # Depth-first post-order from the targets; reversed, it visits every tensor after all of the
    # tensors computed from it.
    order, seen = [], set()
    for target in targets:
        if not eligible(target) or id(target) in seen:
            continue
        seen.add(id(target))
        node = usable_node(target)
        stack = [(target, iter(node.inputs if node else ()))]
        while stack:
            tensor, pending = stack[-1]
            for x in pending:
                if id(x) not in seen and eligible(x):
                    seen.add(id(x))
                    node = usable_node(x)
                    stack.append((x, iter(node.inputs if node else ())))
                    break
            else:
                stack.pop()
                order.append(tensor)
    del seen

    grads = {}
    for target, weight in zip(targets, weights):
        if eligible(target):
            key = id(target)
            grads[key] = weight if key not in grads else grads[key] + weight

    wanted = {id(s) for s in sources}
    found = {}
    while order:
        tensor = order.pop()
        key = id(tensor)
        g = grads.get(key) if key in wanted else grads.pop(key, None)
        if g is None:
            continue
        if key in wanted:
            found[key] = g
        node = usable_node(tensor)
        if node is None:
            continue
        inputs, params = node.inputs, node.params
        for i, x in enumerate(inputs):
            if not eligible(x):
                continue
            vjp = node.vjp[i]
            if vjp is None:
                continue
            gi = vjp(g, tensor, *inputs, **params) if params else vjp(g, tensor, *inputs)
            if gi is None:
                continue
            if gi.shape != x.shape:
                gi = ops.sum_to(gi, x.shape)
            if gi.dtype != x.dtype:
                gi = ops.cast(gi, x.dtype)
            xk = id(x)
            previous = grads.get(xk)
            grads[xk] = gi if previous is None else previous + gi
        if release and node.tapes == (tape_id,):
            tensor._node = None  # this tape alone recorded it: free its inputs now
        del node, inputs, g

    results = []
    for s in sources:
        g = found.get(id(s))
        if g is None and unconnected == "zero" and _is_float_tensor(s):
            g = ops.zeros_like(s)
        results.append(g)
    return results


def _check_sources(xs, where: str):
    for i, x in enumerate(xs):
        if not isinstance(x, Tensor):
            raise TypeError(f"{where}: sources[{i}] must be a tensor or Variable, got {type(x).__name__}")


def target_weights(ys, grad_ys, where: str, argument: str):
    """The weight tensor for each target: the user's (checked for shape) or ones."""
    if grad_ys is None:
        return [ops.ones_like(y) if isinstance(y, Tensor) else None for y in ys]
    flat = flatten(grad_ys)
    if len(flat) != len(ys):
        raise ValueError(f"{where}: {argument} has {len(flat)} entries but there are {len(ys)} targets")
    weights = []
    for i, (y, w) in enumerate(zip(ys, flat)):
        if w is None:
            weights.append(ops.ones_like(y))
            continue
        w = ops.cast(w if isinstance(w, Tensor) else ops.tensor_like(w, y), y.dtype)
        if w.shape != y.shape:
            raise ValueError(
                f"{where}: {argument}[{i}] has shape {tuple(w.shape)}, expected the target's shape "
                f"{tuple(y.shape)}")
        weights.append(w)
    return weights


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
    _check_sources(xs_flat, "gradients")
    weights = target_weights(ys, grad_ys, "gradients", "grad_ys")
    stop_ids = frozenset(id(t) for t in flatten(stop_gradients)) if stop_gradients is not None else frozenset()
    return backward(ys, weights, xs_flat, tape=None, stop_ids=stop_ids, unconnected=unconnected)
