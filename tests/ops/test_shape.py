import numpy
import pytest

import accel as ac


def test_reshape_transpose_expand_squeeze(device, rng):
    x = rng.standard_normal((2, 3, 4))
    t = ac.tensor(x, device=device)
    numpy.testing.assert_array_equal(ac.reshape(t, (4, -1)).numpy(), x.reshape(4, -1))
    numpy.testing.assert_array_equal(ac.transpose(t).numpy(), x.transpose())
    numpy.testing.assert_array_equal(ac.transpose(t, (1, 0, 2)).numpy(), x.transpose(1, 0, 2))
    numpy.testing.assert_array_equal(ac.transpose(t, (-1, 0, 1)).numpy(), x.transpose(2, 0, 1))
    assert ac.expand_dims(t, -1).shape == (2, 3, 4, 1)
    assert ac.expand_dims(t, 0).shape == (1, 2, 3, 4)
    assert ac.squeeze(ac.zeros((1, 3, 1), device=device)).shape == (3,)
    assert ac.squeeze(ac.zeros((1, 3, 1), device=device), axis=0).shape == (3, 1)
    assert ac.flatten(t).shape == (24,)
    assert ac.matrix_transpose(t).shape == (2, 4, 3)
    assert ac.reshape(ac.tensor(5.0, device=device), (1, 1)).shape == (1, 1)


def test_shape_errors():
    t = ac.zeros((2, 3))
    with pytest.raises(ValueError, match=r"reshape: cannot reshape a tensor of shape \(2, 3\) \(6 elements\) into shape \(4,\)"):
        ac.reshape(t, (4,))
    with pytest.raises(ValueError, match="transpose: perm .* is not a permutation"):
        ac.transpose(t, (0, 0))
    with pytest.raises(ValueError, match="squeeze: axis 1 has size 3, expected 1"):
        ac.squeeze(t, axis=1)
    with pytest.raises(ValueError, match="expand_dims: axis 5 is out of range"):
        ac.expand_dims(t, 5)
    with pytest.raises(ValueError, match=r"broadcast_to: cannot broadcast shape \(2, 3\) to \(4, 3\)"):
        ac.broadcast_to(t, (4, 3))


def test_broadcast_to_and_sum_to(device):
    t = ac.tensor([[1.0], [2.0]], device=device)
    b = ac.broadcast_to(t, (3, 2, 4))
    assert b.shape == (3, 2, 4)
    numpy.testing.assert_array_equal(ac.sum_to(b, (2, 1)).numpy(), [[12.0], [24.0]])
    numpy.testing.assert_array_equal(ac.sum_to(b, (1, 4)).numpy(), [[9.0] * 4])
    with pytest.raises(ValueError, match="sum_to: shape"):
        ac.sum_to(b, (5,))


def test_concat_stack_split_unstack(device, rng):
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((4, 3))
    ta, tb = ac.tensor(a, device=device), ac.tensor(b, device=device)
    numpy.testing.assert_array_equal(ac.concat([ta, tb]).numpy(), numpy.concatenate([a, b]))
    numpy.testing.assert_array_equal(ac.concat([ta, ta], axis=-1).numpy(), numpy.concatenate([a, a], -1))
    numpy.testing.assert_array_equal(ac.stack([ta, ta], axis=1).numpy(), numpy.stack([a, a], 1))
    numpy.testing.assert_array_equal(ac.stack([ta, ta], axis=-1).numpy(), numpy.stack([a, a], -1))
    parts = ac.split(tb, 2)
    assert [p.shape for p in parts] == [(2, 3), (2, 3)]
    parts = ac.split(tb, [1, -1, 1], axis=0)
    assert [p.shape for p in parts] == [(1, 3), (2, 3), (1, 3)]
    numpy.testing.assert_array_equal(parts[1].numpy(), b[1:3])
    rows = ac.unstack(ta, axis=1)
    assert len(rows) == 3 and rows[2].shape == (2,)
    numpy.testing.assert_array_equal(rows[2].numpy(), a[:, 2])
    assert ac.concat([ac.zeros((0, 3), device=device), ta]).shape == (2, 3)


def test_concat_stack_split_errors():
    with pytest.raises(ValueError, match=r"concat: values\[1\] has shape \(2, 4\), incompatible with values\[0\] \(2, 3\)"):
        ac.concat([ac.zeros((2, 3)), ac.zeros((2, 4))])
    with pytest.raises(ValueError, match="concat: values is empty"):
        ac.concat([])
    with pytest.raises(ValueError, match="concat: axis 2 is out of range"):
        ac.concat([ac.zeros((2, 3))], axis=2)
    with pytest.raises(ValueError, match=r"stack: values\[1\] has shape \(3,\), expected \(2,\)"):
        ac.stack([ac.zeros((2,)), ac.zeros((3,))])
    with pytest.raises(ValueError, match="split: axis 0 of size 5 does not split into 2 equal parts"):
        ac.split(ac.zeros((5,)), 2)
    with pytest.raises(ValueError, match="split: sizes .* do not add up to 5"):
        ac.split(ac.zeros((5,)), [1, 2])
