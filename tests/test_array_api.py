"""accel as an Array API namespace (accel/array_api.py): identification, the namespace info, and
the dtype functions against array_api_strict's (the standard's reference implementation)."""

import itertools

import numpy
import pytest

import accel as ac

NAMES = [dt.name for dt in ac.dtypes.SUPPORTED]


def test_tensors_name_accel_as_their_namespace():
    t = ac.tensor([1.0, 2.0])
    assert t.__array_namespace__() is ac and t.__array_namespace__(api_version="2023.12") is ac
    assert ac.__array_api_version__ == "2024.12"
    with pytest.raises(ValueError, match="2024.12"):
        t.__array_namespace__(api_version="2099.01")
    compat = pytest.importorskip("array_api_compat")
    assert compat.array_namespace(t) is ac and compat.is_array_api_obj(t)


def test_the_namespace_info():
    info = ac.__array_namespace_info__()
    assert info.capabilities() == {"boolean indexing": True, "data-dependent shapes": True, "max dimensions": 64}
    assert info.default_device() == ac.default_device() and ac.get_device("cpu") in info.devices()
    assert info.default_dtypes()["real floating"] == ac.float32 and info.default_dtypes()["indexing"] == ac.int64
    assert list(info.dtypes(kind="real floating")) == ["float32", "float64"]  # float16: not a standard dtype
    assert "float16" not in info.dtypes() and ac.isdtype(ac.float16, "real floating")
    assert sorted(info.dtypes(kind=("bool", "unsigned integer"))) == ["bool", "uint16", "uint32", "uint64", "uint8"]
    assert info.dtypes()["int32"] == ac.int32


def test_matrix_transpose_and_to_device_as_attributes():
    t = ac.tensor(numpy.arange(6.0).reshape(1, 2, 3))
    numpy.testing.assert_array_equal(t.mT.numpy(), t.numpy().swapaxes(-1, -2))
    assert t.to_device("cpu") is t
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        _ = ac.tensor([1.0]).mT


@pytest.mark.parametrize("kind, expected", [
    ("bool", ["bool"]), ("signed integer", ["int8", "int16", "int32", "int64"]),
    ("unsigned integer", ["uint8", "uint16", "uint32", "uint64"]),
    ("integral", ["uint8", "int8", "int16", "int32", "int64", "uint16", "uint32", "uint64"]),
    ("real floating", ["float16", "float32", "float64"]),
    ("complex floating", ["complex64", "complex128"]), ("numeric", NAMES[1:]), (("bool", "real floating"), ["bool", "float16", "float32",
                                                                                 "float64"]),
    (ac.int16, ["int16"]), (ac.uint32, ["uint32"])])
def test_isdtype(kind, expected):
    assert [name for name in NAMES if ac.isdtype(name, kind)] == expected


def test_isdtype_names_an_unknown_kind():
    with pytest.raises(ValueError, match="unknown kind 'integer'"):
        ac.isdtype(ac.int8, "integer")


def _standard_result(xp, a, b):
    """array_api_strict's promotion of two dtypes by name (None: none defined). float16 is not in
    the standard: it promotes among the floating kinds (real and complex) as NumPy's does, and with
    nothing else."""
    if "float16" in (a, b):
        floats = all(name.startswith(("float", "complex")) for name in (a, b))
        return numpy.promote_types(a, b).name if floats else None
    try:
        return str(xp.result_type(getattr(xp, a), getattr(xp, b))).rsplit(".", 1)[-1]
    except TypeError:
        return None


@pytest.mark.parametrize("a, b", list(itertools.combinations_with_replacement(NAMES, 2)))
def test_promotion_is_the_standards(a, b):
    xp = pytest.importorskip("array_api_strict")
    expected = _standard_result(xp, a, b)
    if expected is None:
        with pytest.raises(TypeError, match="no promotion"):
            ac.result_type(a, b)
        assert not ac.can_cast(a, b) and not ac.can_cast(b, a)
    else:
        assert ac.result_type(a, b).name == expected == ac.result_type(b, a).name
        assert ac.can_cast(a, b) == (expected == b) and ac.can_cast(b, a) == (expected == a)


def test_result_type_of_tensors_and_python_scalars():
    assert ac.result_type(ac.tensor([1], dtype="int8"), 300) == ac.int8  # NumPy 2: the array's dtype
    assert ac.result_type(ac.tensor([True]), False) == ac.bool_
    assert ac.result_type(ac.float16, 2.5) == ac.float16 and ac.result_type(ac.int32, 7) == ac.int32
    with pytest.raises(TypeError, match="Python float does not combine with int32"):
        ac.result_type(ac.int32, 2.5)
    with pytest.raises(ValueError, match="Python scalars alone"):
        ac.result_type(1, 2.0)


@pytest.mark.parametrize("name", ["float16", "float32", "float64"])
def test_finfo_is_numpys_as_python_floats(name):
    info, want = ac.finfo(name), numpy.finfo(name)
    assert (info.bits, info.eps, info.max, info.min, info.smallest_normal) == (
        want.bits, float(want.eps), float(want.max), float(want.min), float(want.smallest_normal))
    assert type(info.eps) is float and info.dtype == numpy.dtype(name)
    assert ac.finfo(ac.ones(2, dtype=name)).bits == want.bits


@pytest.mark.parametrize("name", ["uint8", "int8", "int16", "int32", "int64", "uint16", "uint32", "uint64"])
def test_iinfo_is_numpys_as_python_ints(name):
    info, want = ac.iinfo(name), numpy.iinfo(name)
    assert (info.bits, info.max, info.min) == (want.bits, int(want.max), int(want.min)) and type(info.max) is int


def test_finfo_and_iinfo_refuse_the_other_kind():
    with pytest.raises(TypeError, match="iinfo describes integers"):
        ac.finfo(ac.int32)
    with pytest.raises(TypeError, match="finfo describes floats"):
        ac.iinfo(ac.float32)


def test_the_standards_constants_and_conversions():
    assert (ac.e, ac.pi, ac.inf, ac.newaxis) == (numpy.e, numpy.pi, numpy.inf, None) and ac.nan != ac.nan
    assert complex(ac.tensor(1 + 2j)) == 1 + 2j and complex(ac.tensor(2.0)) == 2 + 0j


def test_array_api_test_suite_findings():
    """What data-apis/array-api-tests found (and this session mended)."""
    assert ac.concat([ac.tensor(1.0), ac.ones((2,))], axis=None).shape == (3,)  # axis=None flattens
    assert ac.linalg.vecdot(ac.tensor([1, 2], dtype="uint8"), ac.tensor([3, 4], dtype="uint8")).dtype == ac.uint8
    assert ac.linalg.tensordot(ac.ones((2, 3), dtype="uint16"), ac.ones((3, 2), dtype="uint8"), axes=1).dtype == \
        ac.uint16
    assert ac.repeat(ac.tensor([1, 2]), numpy.array([2], numpy.int8)).numpy().tolist() == [1, 1, 2, 2]
    assert ac.linalg.cholesky(ac.tensor([[4 + 0j]])).numpy().tolist() == [[2 + 0j]]  # complex linalg


def test_the_standards_keywords_of_creation_reshape_and_transfer():
    numpy.testing.assert_array_equal(ac.eye(3, 4, k=1).numpy(), numpy.eye(3, 4, k=1))
    numpy.testing.assert_array_equal(ac.eye(3, k=-2, dtype="int32").numpy(), numpy.eye(3, k=-2, dtype="int32"))
    numpy.testing.assert_allclose(ac.linspace(0, 1, 4, endpoint=False).numpy(), [0.0, 0.25, 0.5, 0.75])
    with pytest.raises(TypeError, match="k must be an int"):
        ac.eye(2, k=0.5)
    x = ac.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert ac.reshape(x, (4,), copy=False).numpy().tolist() == [1.0, 2.0, 3.0, 4.0]
    assert ac.reshape(x.T, (4,)).numpy().tolist() == [1.0, 3.0, 2.0, 4.0]  # a copy where the layout needs one
    with pytest.raises(ValueError, match="without a copy"):
        ac.reshape(x.T, (4,), copy=False)
    assert not numpy.shares_memory(ac.reshape(x, (4,), copy=True)._data, x._data)
    shared = numpy.arange(3.0)
    assert numpy.shares_memory(ac.from_dlpack(shared)._data, shared)
    assert not numpy.shares_memory(ac.from_dlpack(shared, copy=True)._data, shared)
    with pytest.raises(ValueError, match="stream must be None"):
        x.to_device("cpu", stream=1)
    assert x.to_device("cpu") is x
