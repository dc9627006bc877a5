import numpy
import pytest

import accel as ac


def test_python_values_get_default_dtypes(device):
    assert ac.tensor(1.5, device=device).dtype == ac.float32
    assert ac.tensor([1, 2], device=device).dtype == ac.int64
    assert ac.tensor([True], device=device).dtype == ac.bool_
    assert ac.tensor([[1.0, 2.0]], device=device).shape == (1, 2)
    assert ac.tensor(numpy.zeros(3, numpy.float64), device=device).dtype == ac.float64
    assert ac.tensor([1, 2], dtype="float16", device=device).dtype == ac.float16
    assert ac.tensor(numpy.float64(2.0), device=device).dtype == ac.float64


def test_metadata_and_conversion(device):
    x = ac.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], device=device)
    assert (x.shape, x.ndim, x.size, x.device, len(x)) == ((2, 3), 2, 6, device, 2)
    numpy.testing.assert_array_equal(x.numpy(), [[1, 2, 3], [4, 5, 6]])
    assert x.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    assert ac.tensor(3.5, device=device).item() == 3.5
    assert float(ac.tensor([2.0], device=device)) == 2.0
    with pytest.raises(ValueError, match="item\\(\\): the tensor has 6 elements, expected 1"):
        x.item()
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(ac.tensor(1.0, device=device))
    assert x.astype("float64").dtype == ac.float64
    assert x.to(device) is x


def test_numpy_returns_a_copy():
    x = ac.tensor([1.0, 2.0])
    x.numpy()[0] = 99
    assert x.numpy()[0] == 1.0


def test_repr_shows_values_dtype_device(device):
    text = repr(ac.tensor([1.0, 2.5], device=device))
    assert text == f"Tensor([1. , 2.5], dtype=float32, device={device})"
    v = ac.Variable([1.0], name="w", device=device)
    assert repr(v) == f"Variable('w', [1.], dtype=float32, device={device}, trainable=True)"


def test_array_protocol_on_cpu():
    x = ac.tensor([1.0, 2.0])
    numpy.testing.assert_array_equal(numpy.asarray(x), [1.0, 2.0])
    assert numpy.asarray(x, dtype=numpy.float64).dtype == numpy.float64


@pytest.mark.gpu
def test_array_protocol_refuses_gpu_tensors():
    cuda = [d for d in ac.devices() if d.kind == "cuda"]
    if not cuda:
        pytest.skip("no CUDA device")
    with pytest.raises(TypeError, match="call .numpy\\(\\) to copy it to the host"):
        numpy.asarray(ac.tensor([1.0], device=cuda[0]))


def test_tensors_are_unhashable_and_bool_needs_one_element():
    x = ac.tensor([1.0, 2.0])
    with pytest.raises(TypeError, match="unhashable"):
        hash(x)
    with pytest.raises(ValueError, match="ambiguous"):
        bool(x)
    assert bool(ac.tensor([3.0]))


def test_unknown_dtype():
    with pytest.raises(TypeError, match="unsupported dtype 'timedelta64'; expected one of bool"):
        ac.tensor([1.0], dtype="timedelta64")
    with pytest.raises(TypeError, match="dtype: unsupported dtype 'fp8'"):
        ac.zeros((2,), dtype="fp8")
    with pytest.raises(TypeError, match="data: unsupported dtype"):
        ac.tensor(["a", "b"])


def test_python_scalars_do_not_upcast(device):
    x = ac.tensor([1.0, 2.0], dtype="float16", device=device)
    assert (x * 2.5).dtype == ac.float16
    assert (2 + x).dtype == ac.float16
    assert (ac.tensor([1, 2], dtype="int32", device=device) + 1).dtype == ac.int32
    assert (x + [1.0, 2.0]).dtype == ac.float16  # lists take the tensor's float dtype
    assert (x + ac.tensor([1.0, 1.0], device=device)).dtype == ac.float32  # tensors promote


def test_operators_map_onto_ops(device):
    a = ac.tensor([1.0, -2.0, 3.0], device=device)
    b = ac.tensor([2.0, 2.0, 2.0], device=device)
    cases = {
        "add": (a + b, [3, 0, 5]), "radd": (1 + a, [2, -1, 4]), "sub": (a - b, [-1, -4, 1]),
        "rsub": (1 - a, [0, 3, -2]), "mul": (a * b, [2, -4, 6]), "div": (a / b, [0.5, -1, 1.5]),
        "rdiv": (6 / b, [3, 3, 3]), "pow": (a ** 2, [1, 4, 9]), "rpow": (2 ** b, [4, 4, 4]),
        "neg": (-a, [-1, 2, -3]), "abs": (abs(a), [1, 2, 3]), "floordiv": (a // b, [0, -1, 1]),
        "mod": (a % b, [1, 0, 1]),
    }
    for name, (got, want) in cases.items():
        numpy.testing.assert_allclose(got.numpy(), want, err_msg=name)
    assert (a @ b).item() == 4.0
    numpy.testing.assert_array_equal((a > 0).numpy(), [True, False, True])
    numpy.testing.assert_array_equal((a == b).numpy(), [False, False, False])
    numpy.testing.assert_array_equal(((a > 0) & (b > 0)).numpy(), [True, False, True])
    numpy.testing.assert_array_equal((~(a > 0)).numpy(), [False, True, False])
    numpy.testing.assert_array_equal(((a > 0) | (a < -1)).numpy(), [True, True, True])
    numpy.testing.assert_array_equal(((a > 0) ^ (b > 0)).numpy(), [False, True, False])
    assert [t.item() for t in a] == [1.0, -2.0, 3.0]


def test_numpy_array_on_the_left_defers_to_tensor():
    out = numpy.array([1.0, 2.0]) + ac.tensor([1.0, 1.0])
    assert isinstance(out, ac.Tensor)


def test_tensor_methods(device):
    x = ac.tensor([[1.0, 4.0], [9.0, 16.0]], device=device)
    assert x.reshape(4).shape == (4,) and x.reshape(1, 4).shape == (1, 4)
    assert x.T.numpy().tolist() == [[1, 9], [4, 16]]
    assert x.transpose(1, 0).numpy().tolist() == [[1, 9], [4, 16]]
    assert x.sum().item() == 30 and x.mean(axis=0).numpy().tolist() == [5, 10]
    assert x.max().item() == 16 and x.min(axis=1).numpy().tolist() == [1, 9]
    assert x.sqrt().numpy().tolist() == [[1, 2], [3, 4]]
    assert x.argmax().item() == 3 and x.argmin(axis=0).numpy().tolist() == [0, 0]
    assert x.expand_dims(0).shape == (1, 2, 2) and x.expand_dims(0).squeeze().shape == (2, 2)
    assert x.prod().item() == 576.0
    assert x.clip(2, 10).numpy().tolist() == [[2, 4], [9, 10]]


def test_variable_assignments(device):
    v = ac.Variable([1.0, 2.0], name="w", device=device)
    assert v.trainable and v.name == "w" and isinstance(v, ac.Tensor)
    assert v.assign([3.0, 4.0]) is v
    numpy.testing.assert_array_equal(v.numpy(), [3, 4])
    v.assign_add(ac.tensor([1.0, 1.0], device=device))
    v.assign_sub(0.5)
    numpy.testing.assert_array_equal(v.numpy(), [3.5, 4.5])
    snapshot = v.value()
    v.assign([0.0, 0.0])
    numpy.testing.assert_array_equal(snapshot.numpy(), [3.5, 4.5])
    assert (v + 1).numpy().tolist() == [1.0, 1.0]


def test_variable_owns_its_buffer():
    source = numpy.array([1.0, 2.0], dtype=numpy.float32)
    t = ac.tensor(source)
    v = ac.Variable(t)
    v.assign_add(1.0)
    numpy.testing.assert_array_equal(source, [1.0, 2.0])
    numpy.testing.assert_array_equal(t.numpy(), [1.0, 2.0])
    assert ac.Variable(lambda: ac.zeros((2,)), trainable=False).trainable is False


def test_views_of_variables_do_not_change_with_them():
    v = ac.Variable([[1.0, 2.0], [3.0, 4.0]])
    views = [v[0], v.reshape(4), v.T, ac.expand_dims(v, 0), ac.squeeze(v), ac.stop_gradient(v),
             ac.tensor(v), ac.broadcast_to(v, (3, 2, 2)), ac.broadcast_to(v, (2, 2)), ac.cast(v, "float32"),
             ac.sum_to(v, (2, 2)), v.to("cpu")]
    assert not any(isinstance(w, ac.Variable) for w in views)
    before = [w.numpy() for w in views]
    v.assign(ac.zeros((2, 2)))
    for w, b in zip(views, before):
        numpy.testing.assert_array_equal(w.numpy(), b)


def test_variable_assign_errors(device):
    v = ac.Variable([1.0, 2.0], name="w", device=device)
    with pytest.raises(ValueError, match=r"Variable.assign: value has shape \(3,\), expected \(2,\)"):
        v.assign([1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="value has dtype float64, expected float32"):
        v.assign(ac.tensor(numpy.zeros(2), device=device))
    numpy.testing.assert_array_equal(v.numpy(), [1.0, 2.0])


def test_cross_device_ops_raise(monkeypatch):
    from accel.device import Device

    fake = Device("cuda", 5, numpy)  # a second device backed by NumPy, to test the check alone
    a = ac.tensor([1.0])
    b = ac.Tensor(numpy.array([1.0], dtype=numpy.float32), fake)
    with pytest.raises(ValueError, match=r"add: inputs are on different devices \(cpu and cuda:5\)"):
        a + b
    with pytest.raises(ValueError, match="matmul: inputs are on different devices"):
        ac.matmul(a, b)
    with pytest.raises(ValueError, match="concat: inputs are on different devices"):
        ac.concat([a, b])
    v = ac.Variable([1.0])
    with pytest.raises(ValueError, match="value is on cuda:5"):
        v.assign(b)


# -- tensors own their memory ----------------------------------------------------------------------
def test_tensor_copies_a_numpy_array():
    buf = numpy.array([1.0, 2.0])
    x = ac.tensor(buf)
    buf[:] = [10.0, 20.0]
    numpy.testing.assert_array_equal(x.numpy(), [1.0, 2.0])


def test_a_recorded_numpy_operand_is_captured_by_value():
    """Defect: ac.tensor(ndarray) shared the caller's buffer, so writing into it after a recorded
    x * w changed d/dw."""
    buf = numpy.array([1.0, 2.0])
    w = ac.Variable(ac.tensor([3.0, 4.0], dtype="float64"))
    x = ac.tensor(buf)
    operand = numpy.array([5.0, 6.0])
    with ac.GradientTape(persistent=True) as tape:
        y = ac.sum(x * w)
        z = ac.sum(w * operand)
    buf[:] = [10.0, 20.0]
    operand[:] = 0.0
    numpy.testing.assert_array_equal(tape.gradient(y, w).numpy(), [1.0, 2.0])
    numpy.testing.assert_array_equal(tape.gradient(z, w).numpy(), [5.0, 6.0])


def test_numpy_view_of_a_tensor_is_read_only():
    x = ac.tensor([1.0, 2.0])
    view = numpy.asarray(x)
    assert not view.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        view[0] = 5.0
    numpy.testing.assert_array_equal(x.numpy(), [1.0, 2.0])
    copied = numpy.array(x)  # an explicit copy is the caller's own
    copied[0] = 5.0
    assert x.numpy()[0] == 1.0
    assert numpy.asarray(x, dtype=numpy.float64).dtype == numpy.float64


def test_from_numpy_shares_memory_as_documented():
    buf = numpy.array([1.0, 2.0], dtype=numpy.float32)
    x = ac.from_numpy(buf)
    buf[0] = 7.0
    assert x.numpy()[0] == 7.0 and x.dtype == numpy.float32
    with pytest.raises(TypeError, match="from_numpy: expected a NumPy or CuPy array, got list"):
        ac.from_numpy([1.0, 2.0])
    if not any(d.kind == "cuda" for d in ac.devices()):
        with pytest.raises(ac.DeviceUnavailableError):
            ac.from_numpy(buf, device="cuda")


@pytest.mark.parametrize("method", ["assign", "assign_add", "assign_sub"])
def test_assigning_none_raises_and_changes_nothing(method):
    v = ac.Variable(ac.tensor([1.0, 2.0]))
    with pytest.raises(TypeError, match=f"Variable.{method}: value must be a tensor, an array or a number, got None"):
        getattr(v, method)(None)
    assert v.numpy().tolist() == [1.0, 2.0]


def test_full_of_none_raises():
    with pytest.raises(TypeError, match="full: fill_value must be a number, got None"):
        ac.full((2,), None)
