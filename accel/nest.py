"""Nested structures, as TensorFlow's tf.nest: the one walker every package uses.

A structure is a list, a tuple (a named tuple keeps its type), or a dict, nested to any depth;
anything else is a leaf (a Tensor, a number, None, a string). `flatten` lists the leaves depth
first, a dict's values in sorted key order (tf.nest's rule, so two dicts with the same keys flatten
alike whatever order they were built in); `pack_sequence_as` is its inverse; `map_structure`
rebuilds a structure with each leaf mapped (a dict keeps its own key order). No recursion limit
beyond Python's: structures are what users write (arguments, outputs, gradients), never deep.
"""

from __future__ import annotations

__all__ = ["is_nested", "flatten", "pack_sequence_as", "map_structure"]


_NESTED = (list, tuple, dict)


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


def flatten(structure) -> list:
    """The leaves of `structure`, depth first (dict values in sorted key order)."""
    if isinstance(structure, (list, tuple)):
        if not any(isinstance(item, _NESTED) for item in structure):  # the common case: flat
            return list(structure)
        return [leaf for item in structure for leaf in flatten(item)]
    if isinstance(structure, dict):
        return [leaf for key in _keys(structure) for leaf in flatten(structure[key])]
    return [structure]


def pack_sequence_as(structure, flat):
    """`flat` (a sequence or an iterator of leaves, in `flatten`'s order) laid out as `structure`."""
    if (structure.__class__ is list and flat.__class__ is list and len(flat) == len(structure)
            and not any(isinstance(item, _NESTED) for item in structure)):
        return list(flat)  # the common case (a tape's list of sources): nothing to lay out
    leaves = iter(flat)
    out = _pack(structure, leaves)
    if isinstance(flat, (list, tuple)) and next(leaves, _END) is not _END:
        raise ValueError(f"pack_sequence_as: {len(flat)} leaves for a structure of {len(flatten(structure))}")
    return out


_END = object()


def _pack(structure, leaves):
    if isinstance(structure, (list, tuple)):
        return _rebuilt(structure, [_pack(item, leaves) for item in structure])
    if isinstance(structure, dict):
        packed = {key: _pack(structure[key], leaves) for key in _keys(structure)}
        return {key: packed[key] for key in structure}
    leaf = next(leaves, _END)
    if leaf is _END:
        raise ValueError("pack_sequence_as: fewer leaves than the structure has")
    return leaf


def map_structure(fn, structure):
    """`structure` with each leaf replaced by `fn(leaf)`."""
    if isinstance(structure, (list, tuple)):
        return _rebuilt(structure, [map_structure(fn, item) for item in structure])
    if isinstance(structure, dict):
        return {key: map_structure(fn, value) for key, value in structure.items()}
    return fn(structure)
