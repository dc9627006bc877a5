"""accel.nest, the one walker of nested structures (tf.nest's rules): leaves depth first, dict values
in sorted key order, named tuples kept, pack_sequence_as the inverse of flatten."""

import collections

import pytest
from hypothesis import given, settings, strategies as st

from accel import nest

Point = collections.namedtuple("Point", "x y")

leaves = st.one_of(st.integers(), st.none(), st.text(max_size=3))
structures = st.recursive(leaves, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.tuples(inner, inner), st.dictionaries(st.text(max_size=2), inner, max_size=3),
    st.builds(Point, inner, inner)), max_leaves=12)


def test_flatten_takes_dict_values_in_sorted_key_order_and_keeps_named_tuples():
    value = {"b": [1, (2, 3)], "a": Point(4, {"z": 5, "y": 6})}
    assert nest.flatten(value) == [4, 6, 5, 1, 2, 3]
    mapped = nest.map_structure(lambda v: v * 10, value)
    assert mapped == {"b": [10, (20, 30)], "a": Point(40, {"z": 50, "y": 60})}
    assert isinstance(mapped["a"], Point) and list(mapped) == ["b", "a"]  # a dict keeps its own order
    assert nest.flatten(7) == [7] and nest.flatten(None) == [None] and nest.flatten([]) == []
    assert nest.is_nested([]) and nest.is_nested({}) and not nest.is_nested("ab")


@settings(max_examples=200, deadline=None, derandomize=True)
@given(structures)
def test_pack_sequence_as_inverts_flatten(structure):
    flat = nest.flatten(structure)
    assert nest.pack_sequence_as(structure, flat) == structure
    assert nest.pack_sequence_as(structure, iter(flat)) == structure
    assert nest.map_structure(lambda v: v, structure) == structure


def test_a_wrong_leaf_count_or_unsortable_keys_are_errors():
    with pytest.raises(ValueError, match="fewer leaves"):
        nest.pack_sequence_as([1, [2, 3]], [1, 2])
    with pytest.raises(ValueError, match="4 leaves for a structure of 3"):
        nest.pack_sequence_as([1, [2, 3]], [1, 2, 3, 4])
    with pytest.raises(TypeError, match="keys must be sortable"):
        nest.flatten({1: "a", "b": 2})
