import numpy
import pytest

import accel as ac

INDICES = [
    0, -1, slice(1, 3), (slice(None), 1), (Ellipsis, 0), (None, 1), (1, None, slice(None, None, -1)),
    [2, 0, 2], (slice(None), [0, 0, 3]), ([0, 2], [1, 3]), numpy.array([True, False, True]),
    (slice(None), numpy.array([[0, 1], [2, 3]])),
]


@pytest.mark.parametrize("index", INDICES, ids=str)
def test_getitem_matches_numpy(device, rng, index):
    x = rng.standard_normal((3, 4))
    got = ac.tensor(x, device=device)[index]
    numpy.testing.assert_array_equal(got.numpy(), x[index])


def test_index_with_integer_tensor(device):
    x = ac.tensor([[1.0, 2.0], [3.0, 4.0]], device=device)
    numpy.testing.assert_array_equal(x[ac.tensor([1, 1], device=device)].numpy(), [[3, 4], [3, 4]])
    numpy.testing.assert_array_equal(x[x > 2].numpy(), [3, 4])
    with pytest.raises(TypeError, match="getitem: index tensors must be integer or bool, got float32"):
        x[ac.tensor([0.0], device=device)]


def test_getitem_out_of_range():
    with pytest.raises(IndexError, match=r"getitem: index 5 is out of bounds .*tensor shape \(3,\)"):
        ac.zeros((3,))[5]


def test_gather(device, rng):
    params = rng.standard_normal((4, 3))
    p = ac.tensor(params, device=device)
    numpy.testing.assert_array_equal(ac.gather(p, [3, 0, 3]).numpy(), params[[3, 0, 3]])
    numpy.testing.assert_array_equal(ac.gather(p, [[2, 1]], axis=1).numpy(), numpy.take(params, [[2, 1]], axis=1))
    with pytest.raises(IndexError, match=r"gather: indices must be in \[0, 4\) for axis 0, got values in \[-1, 2\]"):
        ac.gather(p, [-1, 2])
    with pytest.raises(TypeError, match="gather: indices must be integers"):
        ac.gather(p, ac.tensor([0.5], device=device))


def test_one_hot(device):
    out = ac.one_hot(ac.tensor([0, 2, 5, -1], device=device), 3)
    numpy.testing.assert_array_equal(out.numpy(), [[1, 0, 0], [0, 0, 1], [0, 0, 0], [0, 0, 0]])
    assert out.dtype == ac.float32
    assert ac.one_hot(ac.tensor([[1]], device=device), 4, axis=0).shape == (4, 1, 1)
    assert ac.one_hot(ac.tensor([1], device=device), 2, on_value=5, off_value=-1, dtype="int32").numpy().tolist() == [[-1, 5]]


def test_scatter_add_accumulates_repeats(device):
    out = ac.scatter_add(ac.tensor([1.0, 2.0, 3.0], device=device), numpy.array([0, 2, 0]), (3,))
    numpy.testing.assert_array_equal(out.numpy(), [4.0, 0.0, 2.0])
