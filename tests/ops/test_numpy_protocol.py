"""NumPy functions on tensors (accel/ops/numpy_protocol.py), DLPack both ways, formatting, and
comparing with None: what users of NumPy and PyTorch expect."""

import numpy
import pytest

import accel as ac


def test_numpy_ufuncs_run_the_accel_op_and_are_recorded():
    x = ac.Variable(ac.tensor([0.5, 1.0, 2.0], dtype="float64"))
    with ac.GradientTape() as tape:
        y = numpy.sum(numpy.exp(x) * 2.0)
    assert isinstance(y, ac.Tensor) and y.item() == pytest.approx(2 * numpy.exp([0.5, 1.0, 2.0]).sum())
    numpy.testing.assert_allclose(tape.gradient(y, x).numpy(), 2 * numpy.exp([0.5, 1.0, 2.0]))
    mixed = numpy.ones(3) + ac.tensor([1.0, 2.0, 3.0])  # NumPy's operator comes to accel
    assert isinstance(mixed, ac.Tensor) and mixed.numpy().tolist() == [2.0, 3.0, 4.0]
    assert numpy.maximum(ac.tensor([1.0, 5.0]), 2.0).numpy().tolist() == [2.0, 5.0]


@pytest.mark.parametrize("call,want", [
    (lambda t: numpy.sum(t, axis=0, keepdims=True), [[4.0, 6.0]]),
    (lambda t: numpy.mean(t), 2.5),
    (lambda t: numpy.max(t, axis=1), [2.0, 4.0]),
    (lambda t: numpy.reshape(t, (4,)), [1.0, 2.0, 3.0, 4.0]),
    (lambda t: numpy.transpose(t), [[1.0, 3.0], [2.0, 4.0]]),
    (lambda t: numpy.concatenate([t, t], axis=0)[2:], [[1.0, 2.0], [3.0, 4.0]]),
    (lambda t: numpy.where(t > 2.0, t, 0.0), [[0.0, 0.0], [3.0, 4.0]]),
    (lambda t: numpy.clip(t, 1.5, 3.5), [[1.5, 2.0], [3.0, 3.5]]),
    (lambda t: numpy.matmul(t, t), [[7.0, 10.0], [15.0, 22.0]]),
])
def test_numpy_functions_with_an_accel_op_return_tensors(call, want):
    out = call(ac.tensor([[1.0, 2.0], [3.0, 4.0]]))
    assert isinstance(out, ac.Tensor)
    numpy.testing.assert_allclose(out.numpy(), want)


def test_numpy_functions_without_an_accel_op_run_on_the_host_values():
    t = ac.tensor([1.0, -1.0])
    out = numpy.fmod(t, 0.75)  # no accel op: NumPy computes on the CPU tensor's values
    assert isinstance(out, numpy.ndarray) and out.tolist() == pytest.approx([0.25, -0.25])
    assert numpy.allclose(t, [1.0, -1.0]) and numpy.median(t) == 0.0
    assert numpy.sum(t, dtype=numpy.float64) == 0.0  # an argument accel's sum does not take: NumPy's


def test_numpy_cannot_read_a_gpu_tensor_and_says_what_to_call():
    class FakeGPU:  # a device NumPy cannot read
        host_readable = False

        def __str__(self):
            return "cuda:0"

    t = ac.tensor([1.0, 2.0])
    t._device = FakeGPU()
    with pytest.raises(TypeError, match=r"numpy.fmod has no accel op and NumPy cannot read a tensor on cuda:0"):
        numpy.fmod(t, t)


def test_dlpack_both_ways_with_numpy_and_pytorch():
    torch = pytest.importorskip("torch")
    t = ac.tensor([1.0, 2.0, 3.0])
    shared = torch.from_dlpack(t)
    assert shared.tolist() == [1.0, 2.0, 3.0] and shared.data_ptr() == t._data.ctypes.data  # zero-copy
    source = torch.arange(4.0)
    back = ac.from_dlpack(source)
    source[0] = 9.0  # shared memory, as from_numpy
    assert back.numpy().tolist() == [9.0, 1.0, 2.0, 3.0] and back.device == ac.get_device("cpu")
    array = numpy.arange(3.0)
    assert ac.from_dlpack(array)._data.ctypes.data == array.ctypes.data
    assert numpy.from_dlpack(t).tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(TypeError, match="from_dlpack: expected an object with __dlpack__"):
        ac.from_dlpack([1.0, 2.0])


@pytest.mark.gpu
def test_dlpack_with_cupy_on_a_gpu():
    if not any(d.kind == "cuda" for d in ac.devices()):
        pytest.skip("no usable CUDA device")
    import cupy

    x = cupy.arange(4.0)
    t = ac.from_dlpack(x)
    assert t.device == ac.get_device("cuda:0") and t._data.data.ptr == x.data.ptr
    assert cupy.from_dlpack(t).data.ptr == x.data.ptr


def test_formatting_and_comparing_with_none():
    assert f"{ac.tensor(1.23456):.3f}" == "1.235" and f"{ac.tensor(7):>4}" == "   7"
    assert f"{ac.tensor([1.0, 2.0])}" == str(ac.tensor([1.0, 2.0]))
    with pytest.raises(TypeError, match=r"unsupported format string '.3f' for a tensor of shape \(2,\)"):
        f"{ac.tensor([1.0, 2.0]):.3f}"
    t = ac.tensor([1.0])
    assert (t == None) is False and (t != None) is True  # noqa: E711 (the comparison under test)
    assert t not in [None, 3.0]  # membership compares with ==: None is simply not equal
