"""uint16, uint32 and uint64 (the Array API's unsigned types) through the stack: ops and their
promotion, reductions, indexing, checkpoints, DLPack and accel.function."""

import numpy
import pytest

import accel as ac

UNSIGNED = ["uint16", "uint32", "uint64"]


@pytest.mark.parametrize("name", UNSIGNED)
def test_arithmetic_and_reductions_keep_numpys_results(name):
    a = numpy.array([1, 7, 250, 65535], dtype=name)
    t = ac.tensor(a)
    assert t.dtype == numpy.dtype(name) and getattr(ac, name) == numpy.dtype(name)
    for got, want in [(t + 3, a + 3), (t * t, a * a), (t // 2, a // 2), (t & 5, a & 5), (t >> 1, a >> 1),
                      (ac.sum(t), a.sum()), (ac.max(t), a.max()), (ac.cumulative_sum(t), a.cumsum()),
                      (t[numpy.array([3, 0])], a[[3, 0]]), (ac.sort(ac.flip(t)), numpy.sort(a))]:
        assert got.dtype == want.dtype and got.numpy().tolist() == want.tolist()
    assert (t + ac.tensor([1], dtype="uint8")).dtype == numpy.dtype(name)  # the wider unsigned type


def test_unsigned_and_signed_promote_as_the_standard_says():
    assert ac.result_type(ac.uint16, ac.int8) == ac.int32 and ac.result_type(ac.uint32, ac.int64) == ac.int64
    with pytest.raises(TypeError, match="no promotion"):
        ac.result_type(ac.uint64, ac.int64)


def test_checkpoints_and_function_take_unsigned_tensors(tmp_path):
    v = ac.Variable(numpy.array([1, 2 ** 40], dtype="uint64"), name="counts")
    path = ac.Checkpoint(v=v).save(tmp_path / "u.npz")
    w = ac.Variable(numpy.zeros(2, dtype="uint64"), name="counts")
    ac.Checkpoint(v=w).restore(path)
    assert w.numpy().tolist() == [1, 2 ** 40]

    @ac.function
    def double(x):
        return x * 2

    for values in ([1, 2], [40000, 3]):
        assert double(ac.tensor(numpy.array(values, dtype="uint16"))).numpy().tolist() == [2 * v % 65536 for v in values]
    assert double.experimental_get_tracing_count() == 1


def test_dlpack_round_trip():
    t = ac.tensor(numpy.array([3, 4], dtype="uint32"))
    back = ac.from_dlpack(numpy.from_dlpack(t))
    assert back.dtype == ac.uint32 and back.numpy().tolist() == [3, 4]
