"""Nested structures, as TensorFlow's tf.nest: the one walker every package uses.

A structure is a list, a tuple (a named tuple keeps its type), or a dict, nested to any depth;
anything else is a leaf (a Tensor, a number, None, a string). A composite tensor (IndexedSlices)
is a leaf too, unless `expand_composites=True` (tf.nest's flag) opens it into its component
tensors: accel.function does, so a traced value inside one is never a constant of the trace.
`flatten` lists the leaves depth first, a dict's values in sorted key order (tf.nest's rule, so
two dicts with the same keys flatten alike whatever order they were built in); `pack_sequence_as`
is its inverse; `map_structure` rebuilds a structure with each leaf mapped (a dict keeps its own
key order). No recursion limit beyond Python's: structures are what users write (arguments,
outputs, gradients), never deep.
"""

from __future__ import annotations

__all__ = ["is_nested", "flatten", "pack_sequence_as", "map_structure", "register_composite", "is_composite",
           "composite_parts", "rebuild_composite"]


_NESTED = (list, tuple, dict)

# type -> (components(value) -> tuple, rebuild(value, components) -> a value like `value`,
#          static(value) -> what is fixed beside the components, hashable)
_COMPOSITES: dict = {}


def register_composite(kind: type, components, rebuild, static) -> None:
    """Values of `kind` are composites of tensors: `components(value)` lists them (a tuple),
    `rebuild(value, parts)` makes the value like `value` from new parts, which may be anything (a
    trace's references), so it must not check them, and `static(value)` is what else it holds
    (hashable: accel.function keys a call by it, as by a tensor's shape)."""
    _COMPOSITES[kind] = (components, rebuild, static)


def is_composite(value) -> bool:
    return type(value) in _COMPOSITES


def composite_parts(value) -> tuple:
    """(components, static facts) of a composite."""
    components, _, static = _COMPOSITES[type(value)]
    return tuple(components(value)), static(value)


def rebuild_composite(value, parts):
    """A composite like `value` holding `parts`."""
    return _COMPOSITES[type(value)][1](value, list(parts))


def is_nested(value) -> bool:
    """Whether `value` is a structure (list, tuple or dict) rather than a leaf."""
    return isinstance(value, (list, tuple, dict))


def _keys(structure: dict) -> list:
    try:
        return sorted(structure)
    except TypeError:
        raise TypeError(f"nest: a dict's keys must be sortable (its values are taken in sorted key order), got "
                        f"{[type(k).__name__ for k in structure]}") from None


def _rebuilt(structure, items):
    """A list or tuple like `structure` holding `items` (named tuples by their fields)."""
    if isinstance(structure, list):
        return list(items)
    if hasattr(structure, "_fields"):  # a named tuple
        return type(structure)(*items)
    return type(structure)(items)


def flatten(structure, expand_composites: bool = False) -> list:
    """The leaves of `structure`, depth first (dict values in sorted key order); with
    `expand_composites`, a composite's component tensors in its order."""
    if isinstance(structure, (list, tuple)):
        if not expand_composites and not any(isinstance(item, _NESTED) for item in structure):
            return list(structure)  # the common case: flat
        return [leaf for item in structure for leaf in flatten(item, expand_composites)]
    if isinstance(structure, dict):
        return [leaf for key in _keys(structure) for leaf in flatten(structure[key], expand_composites)]
    if expand_composites and type(structure) in _COMPOSITES:
        return flatten(list(composite_parts(structure)[0]), True)
    return [structure]


def pack_sequence_as(structure, flat, expand_composites: bool = False):
    """`flat` (a sequence or an iterator of leaves, in `flatten`'s order) laid out as `structure`."""
    if (not expand_composites and structure.__class__ is list and flat.__class__ is list
            and len(flat) == len(structure) and not any(isinstance(item, _NESTED) for item in structure)):
        return list(flat)  # the common case (a tape's list of sources): nothing to lay out
    leaves = iter(flat)
    out = _pack(structure, leaves, expand_composites)
    if isinstance(flat, (list, tuple)) and next(leaves, _END) is not _END:
        raise ValueError(f"pack_sequence_as: {len(flat)} leaves for a structure of "
                         f"{len(flatten(structure, expand_composites))}")
    return out


_END = object()


def _pack(structure, leaves, expand_composites):
    if isinstance(structure, (list, tuple)):
        return _rebuilt(structure, [_pack(item, leaves, expand_composites) for item in structure])
    if isinstance(structure, dict):
        packed = {key: _pack(structure[key], leaves, expand_composites) for key in _keys(structure)}
        return {key: packed[key] for key in structure}
    if expand_composites and type(structure) in _COMPOSITES:
        parts = composite_parts(structure)[0]
        return rebuild_composite(structure, [_pack(part, leaves, True) for part in parts])
    leaf = next(leaves, _END)
    if leaf is _END:
        raise ValueError("pack_sequence_as: fewer leaves than the structure has")
    return leaf


def map_structure(fn, structure, expand_composites: bool = False):
    """`structure` with each leaf replaced by `fn(leaf)`."""
    if isinstance(structure, (list, tuple)):
        return _rebuilt(structure, [map_structure(fn, item, expand_composites) for item in structure])
    if isinstance(structure, dict):
        return {key: map_structure(fn, value, expand_composites) for key, value in structure.items()}
    if expand_composites and type(structure) in _COMPOSITES:
        parts = composite_parts(structure)[0]
        return rebuild_composite(structure, [map_structure(fn, part, True) for part in parts])
    return fn(structure)
