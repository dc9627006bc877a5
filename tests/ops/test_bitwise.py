"""& | ^ ~ << >> and their ops: bitwise on integers (as TensorFlow's tf.bitwise, NumPy and
PyTorch), logical on booleans, refused on floats."""

import numpy
import pytest

import accel as ac

INTS = ["int8", "int16", "int32", "int64", "uint8"]
R = numpy.random.default_rng(7)


def _values(dtype, n=6):
    info = numpy.iinfo(dtype)
    return R.integers(max(info.min, -100), min(info.max, 100), n, dtype=dtype)


def test_the_reported_case():
    assert (ac.tensor([3, 5]) & ac.tensor([1, 4])).tolist() == [1, 4]


@pytest.mark.parametrize("dtype", INTS)
@pytest.mark.parametrize("op,numpy_op", [
    (lambda a, b: a & b, numpy.bitwise_and), (lambda a, b: a | b, numpy.bitwise_or),
    (lambda a, b: a ^ b, numpy.bitwise_xor), (ac.bitwise_and, numpy.bitwise_and),
    (ac.bitwise_or, numpy.bitwise_or), (ac.bitwise_xor, numpy.bitwise_xor),
])
def test_binary_bitwise_ops_on_integers_are_numpys(dtype, op, numpy_op):
    a, b = _values(dtype), _values(dtype)
    got = op(ac.tensor(a), ac.tensor(b)).numpy()
    assert got.dtype == numpy.dtype(dtype) and got.tolist() == numpy_op(a, b).tolist()


@pytest.mark.parametrize("dtype", INTS)
def test_invert_and_shifts_on_integers_are_numpys(dtype):
    a = _values(dtype)
    shifts = R.integers(0, 4, 6).astype(dtype)
    t, s = ac.tensor(a), ac.tensor(shifts)
    assert (~t).numpy().tolist() == numpy.invert(a).tolist()
    assert ac.invert(t).numpy().tolist() == numpy.invert(a).tolist()
    assert (t << s).numpy().tolist() == numpy.left_shift(a, shifts).tolist()
    assert (t >> s).numpy().tolist() == numpy.right_shift(a, shifts).tolist()
    assert ac.left_shift(t, 1).dtype == numpy.dtype(dtype)  # a Python int does not upcast


def test_python_ints_on_either_side():
    t = ac.tensor([1, 2, 12])
    assert (6 & t).tolist() == [0, 2, 4] and (t | 1).tolist() == [1, 3, 13] and (3 ^ t).tolist() == [2, 1, 15]
    assert (1 << t).tolist() == [2, 4, 4096] and (64 >> t).tolist() == [32, 16, 0]


def test_on_booleans_they_are_logical():
    a, b = ac.tensor([True, True, False, False]), ac.tensor([True, False, True, False])
    assert (a & b).tolist() == [True, False, False, False]
    assert (a | b).tolist() == [True, True, True, False]
    assert (a ^ b).tolist() == [False, True, True, False]
    assert (~a).tolist() == [False, False, True, True] and (~a).dtype == numpy.bool_


@pytest.mark.parametrize("call", [lambda: ac.tensor([1.0]) & ac.tensor([1.0]), lambda: ac.tensor([1]) | 1.5,
                                  lambda: ~ac.tensor([1.0]), lambda: ac.tensor([1.0]) << 1,
                                  lambda: ac.right_shift(ac.tensor([4]), ac.tensor([1.0]))])
def test_floats_are_refused_naming_the_op(call):
    with pytest.raises(TypeError, match=r"(bitwise_and|bitwise_or|invert|left_shift|right_shift): operands must be integers or booleans"):
        call()


def test_numpy_ufuncs_run_the_accel_ops():
    t, u = ac.tensor([3, 5]), ac.tensor([1, 4])
    for ufunc in (numpy.bitwise_and, numpy.bitwise_or, numpy.bitwise_xor, numpy.left_shift, numpy.right_shift):
        out = ufunc(t, u)
        assert isinstance(out, ac.Tensor) and out.tolist() == ufunc(numpy.array([3, 5]), numpy.array([1, 4])).tolist()
    assert isinstance(numpy.invert(t), ac.Tensor) and numpy.invert(t).tolist() == [-4, -6]


def test_traced_bitwise_ops_follow_their_inputs():
    f = ac.function(lambda a, b: ((a & b) | (a << 1)) ^ ~b)
    for a, b in (([3, 5], [1, 4]), ([7, 0], [2, 9])):
        want = ((numpy.array(a) & numpy.array(b)) | (numpy.array(a) << 1)) ^ ~numpy.array(b)
        assert f(ac.tensor(a), ac.tensor(b)).tolist() == want.tolist()
