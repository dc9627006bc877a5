"""The inner loop of the graph walk: `walk` is the compiled one (accel._autodiff, csrc/autodiff/walk.cpp),
`walk_python` the same loop in Python, statement for statement: the readable statement of what the
compiled loop does, and the oracle tests compare it with.

The loop pops the tensor created last (a max-heap on its node's sequence number, as PyTorch's
engine orders by sequence_nr), so every tensor pops after all the tensors computed from it:
discovery and ordering are one pass, and contributions are summed in the same order on every run.
For each input of the popped tensor's node that takes part (a floating-point tensor the tape
recorded or watches, with a VJP), it calls the VJP, sums the contribution down to the input's shape
(the one place broadcasting is undone) and casts it to its dtype, adds it to the input's gradient,
and queues the input's node the first time the input is reached (unless the input is a stop or its
node is another tape's). A non-persistent tape (`release`) drops each node it alone recorded once
its VJPs have run, so intermediates are freed during the walk.

It was compiled because its own bookkeeping was the largest line of a profile of a small-tensor
backward pass (~27% of a 20-op chain's forward+backward); the compiled loop calls the same Python
VJPs, `sum_to`, `cast` and `+`, so a tape recording the walk records the same ops.
"""

from __future__ import annotations

import heapq
import os

from .. import _autodiff
from ..dtypes import is_differentiable
from ..tensor import Tensor

__all__ = ["walk", "walk_python"]


def walk_python(roots, grads, queued, wanted, tape_id, watched, stop_ids, release, sum_to, cast,
                after_node, sparse) -> None:
    """Run the walk from `roots` (tensors whose nodes it passes through), accumulating into `grads`
    ({id(tensor): gradient}, the targets' weights already in it). `queued`: ids already reached.
    `wanted`: ids whose gradients stay in `grads` (the others are popped as their nodes run).
    `tape_id`, `watched`: the tape whose nodes and watched tensors count (None: every node).
    `after_node(inputs)`: called after each node's VJPs (None: nothing). `sparse`: what a gradient
    that is not a Tensor (IndexedSlices) goes through: `accumulate(previous, gradient, x)` and
    `densify(gradient)` (accel.autodiff.sparse_grads)."""
    heap = [(-root._node.seq, root) for root in roots]
    heapq.heapify(heap)
    heappop, heappush = heapq.heappop, heapq.heappush
    while heap:
        tensor = heappop(heap)[1]
        key = id(tensor)
        g = grads[key] if key in wanted else grads.pop(key)
        if not isinstance(g, Tensor):  # IndexedSlices reaching a node: its VJPs take the dense tensor
            g = sparse.densify(g)
        node = tensor._node
        inputs, values, params, vjps = node.inputs, node.values, node.params, node.vjp
        for i, x in enumerate(inputs):
            vjp = vjps[i]
            if vjp is None:
                continue
            if x.__class__ is not Tensor and not isinstance(x, Tensor):
                continue  # a constant operand
            xd = x._data
            if not is_differentiable(xd.dtype):
                continue
            xk = id(x)
            if tape_id is not None and tape_id not in x._tapes and not (watched is not None and xk in watched):
                continue
            gi = vjp(g, tensor, *values, **params) if params else vjp(g, tensor, *values)
            if gi is None:
                continue
            previous = grads.get(xk)
            if not isinstance(gi, Tensor) or (previous is not None and not isinstance(previous, Tensor)):
                grads[xk] = sparse.accumulate(previous, gi, x)  # IndexedSlices: kept sparse while it can
            else:
                gd = gi._data
                if gd.shape != xd.shape:
                    gi = sum_to(gi, xd.shape)
                if gd.dtype is not xd.dtype and gd.dtype != xd.dtype:
                    gi = cast(gi, xd.dtype)
                grads[xk] = gi if previous is None else previous + gi
            if xk not in queued:
                queued.add(xk)
                x_node = x._node
                if x_node is not None and not (stop_ids and xk in stop_ids) and (
                        tape_id is None or tape_id in x_node.tapes):
                    heappush(heap, (-x_node.seq, x))
        if after_node is not None:
            after_node(inputs)
        if release and tape_id is not None and node.tapes == (tape_id,):
            tensor._node = None  # this tape alone recorded it: free its inputs now
        del node, inputs, values, g, tensor


# ACCEL_PYTHON_GRAPH=1 runs the Python loop (and records with recording.record_python), to compare
# or to step through in a debugger.
walk = walk_python if os.environ.get("ACCEL_PYTHON_GRAPH") == "1" else _autodiff.walk
