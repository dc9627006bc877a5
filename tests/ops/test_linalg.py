import numpy
import pytest

import accel as ac

SHAPES = [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)), ((5, 2, 3), (3, 4)),
          ((2, 3), (5, 3, 4)), ((5, 1, 2, 3), (4, 3, 2)), ((0, 3), (3, 2)), ((2, 0), (0, 3))]


@pytest.mark.parametrize("shapes", SHAPES, ids=str)
def test_matmul_matches_numpy(device, rng, shapes):
    a, b = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    got = ac.matmul(ac.tensor(a, device=device), ac.tensor(b, device=device))
    want = numpy.matmul(a, b)
    assert got.shape == want.shape
    numpy.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)


def test_matmul_errors():
    with pytest.raises(ValueError, match=r"matmul: inner dimensions differ: a has shape \(2, 3\) and b has shape \(4, 5\) \(3 != 4\)"):
        ac.matmul(ac.zeros((2, 3)), ac.zeros((4, 5)))
    with pytest.raises(ValueError, match="matmul: operands must have at least 1 dimension"):
        ac.matmul(ac.tensor(1.0), ac.zeros((1,)))
    with pytest.raises(ValueError, match=r"matmul: batch dimensions \(2,\) and \(3,\) do not broadcast"):
        ac.matmul(ac.zeros((2, 2, 3)), ac.zeros((3, 3, 4)))
