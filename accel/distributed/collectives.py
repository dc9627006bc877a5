"""Collectives on tensors: all_reduce, broadcast, broadcast_variables.

Every call first checks that all ranks passed the same shapes and dtypes (one small host
message), so a mismatch raises on every rank, naming the differences, instead of hanging or
mixing bytes. Results are new tensors (not recorded on tapes: a reduced value is a constant to
autodiff); broadcast_variables writes in place, the only collective that changes what a user
holds, as its name says.
"""

from __future__ import annotations

import numpy

from ..dtypes import is_floating
from ..tensor import Tensor, convert
from ..variable import Variable
from .buckets import check_same, signature
from .communicators import OPS
from .world import world as current_world

__all__ = ["all_reduce", "broadcast", "broadcast_variables"]


def _root(root, the_world) -> int:
    if isinstance(root, bool) or not isinstance(root, (int, numpy.integer)) or not 0 <= root < the_world.size:
        raise ValueError(f"root must be a rank in [0, {the_world.size}), got {root!r}")
    return int(root)


def all_reduce(tensor, op: str = "average", name: str | None = None) -> Tensor:
    """A new tensor: the element-wise sum, average, max or min (`op`) of `tensor` over every
    worker. "average" needs a floating dtype."""
    if op not in OPS:
        raise ValueError(f"all_reduce: op must be one of {', '.join(OPS)}, got {op!r}")
    tensor = tensor if isinstance(tensor, Tensor) else convert(tensor)
    if tensor.dtype == numpy.bool_ or op == "average" and not is_floating(tensor.dtype):
        raise TypeError(f"all_reduce: op {op!r} needs a {'floating' if op == 'average' else 'numeric'} tensor, got "
                        f"{tensor.dtype.name} (cast it first{'' if op != 'average' else ', or use op=' + repr('sum')})")
    the_world = current_world()
    device = tensor.device
    with device.activate():
        if the_world.size == 1:
            return Tensor(tensor._data.copy(), device)
        check_same([(name, tuple(tensor.shape), tensor.dtype.name)], "all_reduce operands", the_world)
        communicator = the_world.communicator(device)
        buffer = device.xp.ascontiguousarray(tensor._data, dtype=communicator.buffer_dtype(tensor.dtype)).reshape(-1)
        if buffer is tensor._data or buffer.base is tensor._data:
            buffer = buffer.copy()
        communicator.start_all_reduce(buffer, op).wait()
        if op == "average":
            buffer /= the_world.size
        return Tensor(buffer.astype(tensor.dtype, copy=False).reshape(tensor.shape), device)


def broadcast(tensor, root: int = 0, name: str | None = None) -> Tensor:
    """A new tensor holding rank `root`'s `tensor` on every rank."""
    the_world = current_world()
    root = _root(root, the_world)
    tensor = tensor if isinstance(tensor, Tensor) else convert(tensor)
    device = tensor.device
    with device.activate():
        data = device.xp.ascontiguousarray(tensor._data).copy()
        if the_world.size > 1:
            check_same([(name, tuple(tensor.shape), tensor.dtype.name)], "broadcast operands", the_world)
            the_world.communicator(device).broadcast(_bytes(data), root)
        return Tensor(data, device)


def broadcast_variables(variables, root: int = 0) -> None:
    """Every rank's variables take rank `root`'s values, in place (start training from the same
    weights, or resume from a checkpoint only `root` restored). `variables`: Variables, Modules
    (their variables), optimizers (their slots and step counts), or lists of them. The names,
    shapes and dtypes are checked on every rank first: a mismatch raises ValueError everywhere
    and nothing is written."""
    the_world = current_world()
    root = _root(root, the_world)
    items, optimizers = _expand(variables)
    if the_world.size == 1:
        return
    check_same(signature(items) + [("optimizers", (len(optimizers),), "")], "variables", the_world)
    for variable in items:
        variable._before_write()  # values recorded on a tape keep theirs (copy-on-write)
        with variable.device.activate():
            the_world.communicator(variable.device).broadcast(_bytes(variable._data), root)
    for optimizer in optimizers:
        optimizer.raw_iterations = the_world.share(optimizer.raw_iterations, root)


def _bytes(array):
    """The array's bytes as a flat uint8 view: a broadcast moves bytes, whatever the dtype."""
    return array.reshape(-1).view(numpy.uint8)


def _expand(structure) -> tuple:
    """(variables, optimizers) found in `structure`, each once, in order."""
    from ..optimizers.base import Optimizer

    out, optimizers, seen = [], [], set()

    def visit(item):
        if isinstance(item, (list, tuple)):
            for x in item:
                visit(x)
        elif isinstance(item, dict):
            for key in sorted(item):
                visit(item[key])
        elif isinstance(item, Variable):
            if id(item) not in seen:
                seen.add(id(item))
                if not item._data.flags.c_contiguous:
                    raise ValueError(f"broadcast_variables: variable {item.name!r} is not contiguous")
                out.append(item)
        elif isinstance(item, Optimizer):
            optimizers.append(item)
            visit(list(item.variables))  # slots (and a loss scale), in the order it made them
        elif hasattr(item, "variables") and not isinstance(item, Tensor):  # a Module
            visit(list(item.variables))
        else:
            raise TypeError(f"broadcast_variables: expected Variables, Modules or optimizers, got "
                            f"{type(item).__name__}")

    visit(structure)
    return out, optimizers
