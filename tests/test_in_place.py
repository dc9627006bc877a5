"""The Array API's in-place operators: a Variable is written in place (copy-on-write for values a
tape captured, as assign); a Tensor's value never changes, so `t += y` rebinds t to a new tensor
(the standard's copy semantics) and `t[i] = v` gives t a new array (copy on write:
tests/test_item_assignment.py)."""

import numpy
import pytest

import accel as ac


@pytest.mark.parametrize("symbol, start, operand, expected", [
    ("+=", [1.0, 2.0], 1.5, [2.5, 3.5]), ("-=", [1.0, 2.0], [0.5, 1.0], [0.5, 1.0]), ("*=", [1.0, 2.0], 3.0, [3.0, 6.0]),
    ("/=", [1.0, 2.0], 4.0, [0.25, 0.5]), ("//=", [7.0, -7.0], 2.0, [3.0, -4.0]), ("%=", [7.0, -7.0], 3.0, [1.0, 2.0]),
    ("**=", [2.0, 3.0], 2.0, [4.0, 9.0]), ("&=", [6, 5], 3, [2, 1]), ("|=", [4, 1], 2, [6, 3]), ("^=", [6, 5], 3, [5, 6]),
    ("<<=", [1, 3], 2, [4, 12]), (">>=", [8, -8], 2, [2, -2]),
])
def test_a_variable_is_written_in_place(symbol, start, operand, expected):
    v = ac.Variable(start)
    held = v
    namespace = {"v": v, "y": operand}
    exec(f"v {symbol} y", namespace)  # noqa: S102  (each operator as a user writes it)
    assert namespace["v"] is held and held.numpy().tolist() == expected


def test_matmul_in_place():
    v = ac.Variable(numpy.eye(2))
    v @= ac.tensor([[2.0, 1.0], [0.0, 3.0]], dtype="float64")
    assert v.numpy().tolist() == [[2.0, 1.0], [0.0, 3.0]]


def test_in_place_refuses_a_new_dtype_or_shape_before_writing():
    v = ac.Variable([1, 2])
    with pytest.raises(TypeError, match="cannot change its dtype"):
        v /= 2
    w = ac.Variable([1.0, 2.0])
    with pytest.raises(ValueError, match="cannot change its shape"):
        w += ac.ones((3, 2))
    assert v.numpy().tolist() == [1, 2] and w.numpy().tolist() == [1.0, 2.0]


def test_a_value_a_tape_captured_keeps_its_value():
    v = ac.Variable([3.0])
    with ac.GradientTape() as tape:
        y = v * v
    v += 1.0
    assert tape.gradient(y, v).numpy().tolist() == [6.0] and v.numpy().tolist() == [4.0]


def test_a_tensor_rebinds_and_item_assignment_copies_on_write():
    t = ac.tensor([1.0, 2.0])
    original = t
    t += 1.0
    assert t is not original and original.numpy().tolist() == [1.0, 2.0] and t.numpy().tolist() == [2.0, 3.0]
    t[0] = 5.0
    assert t.numpy().tolist() == [5.0, 3.0] and original.numpy().tolist() == [1.0, 2.0]
