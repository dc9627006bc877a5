"""accel.function's tracing rules (docs/semantics.md section 14): what shares a trace,
input_signature, reduce_retracing, methods, Variables, the retracing warning."""

import logging

import numpy
import pytest

import accel as ac


def counting(**options):
    """A traced identity-like function and the list of its traces' Python side effects."""
    traced = []

    @ac.function(**options)
    def f(x):
        traced.append(1)
        return x

    return f, traced


def test_the_issue_example_matches_tensorflow(capfd):
    x = ac.Variable(3.0)

    @ac.function
    def f():
        with ac.GradientTape() as tape:
            tape.watch(x)
            y = 5.0 * ac.pow(x, 3) + 3.0 * ac.pow(x, 2) - 8.0 * x + 10
        ac.print(tape.gradient(y, x))
        return y

    opt = ac.optimizers.SGD(learning_rate=0.01)
    expected_x, printed = numpy.float32(3.0), []
    for _ in range(100):
        opt.minimize(f, [x])
        grad = numpy.float32(15) * expected_x ** 2 + numpy.float32(6) * expected_x - numpy.float32(8)
        printed.append(grad)
        expected_x = numpy.float32(expected_x - numpy.float32(0.01) * grad)
    lines = capfd.readouterr().err.split()
    assert len(lines) == 100  # printed on every call, once
    assert lines[:3] == ["145", "37.3375", "19.8264446"]  # TensorFlow's output
    numpy.testing.assert_allclose([float(v) for v in lines], printed, rtol=2e-6, atol=1e-5)
    numpy.testing.assert_allclose(x.numpy(), expected_x, rtol=1e-6)
    root = (-6 + numpy.sqrt(36 + 480)) / 30  # where the gradient vanishes
    assert abs(float(x.numpy()) - root) < 1e-5
    value = f()
    numpy.testing.assert_allclose(value.numpy(), 5 * root ** 3 + 3 * root ** 2 - 8 * root + 10, rtol=1e-5)
    assert f.experimental_get_tracing_count() == 1


@pytest.mark.parametrize("calls, counts", [
    # Python values: by == and hash (1, 1.0 and True share a trace)
    ([1, 1.0, True, 2, 2, "a", "a"], [1, 1, 1, 2, 2, 3, 3]),
    # tensors: by shape and dtype
    ([("t", [1.0, 2.0]), ("t", [3.0, 4.0]), ("t", [1.0]), ("t64", [1.0])], [1, 1, 2, 3]),
    # NumPy arrays and scalars count as tensors (by shape and dtype), not by value
    ([("np", [1.0, 2.0]), ("np", [5.0, 6.0]), ("np32", [1.0, 2.0]), ("t", [7.0, 8.0])], [1, 1, 2, 2]),
    # a list and a tuple differ; dict order does not matter
    ([[1, 2], (1, 2), [1, 2], {"a": 1, "b": 2}, {"b": 2, "a": 1}], [1, 2, 2, 3, 3]),
    # a Variable differs from a tensor of the same shape
    ([("t", [1.0]), ("v", [1.0]), ("v", [2.0]), ("t", [3.0])], [1, 2, 2, 2]),
])
def test_tracing_counts_follow_tensorflow(calls, counts):
    f, _ = counting()
    seen = []
    for call in calls:
        if isinstance(call, tuple) and call and call[0] in ("t", "t64", "np", "np32", "v"):
            kind, data = call
            value = {"t": lambda d: ac.tensor(d), "t64": lambda d: ac.tensor(d, dtype="float64"),
                     "np": lambda d: numpy.asarray(d), "np32": lambda d: numpy.asarray(d, numpy.float32),
                     "v": lambda d: ac.Variable(d)}[kind](data)
        else:
            value = call
        f(value)
        seen.append(f.experimental_get_tracing_count())
    assert seen == counts


def test_reduce_retracing_widens_shapes_as_tensorflow():
    f, _ = counting(reduce_retracing=True)
    calls = [([2], "float32"), ([3], "float32"), ([2, 3], "float32"), ([4, 5], "float32"), ([4], "float32"),
             ([4], "float64"), ([7], "float64"), ([], "float32")]
    seen = []
    for shape, dtype in calls:
        out = f(ac.zeros(shape, dtype))
        assert out.shape == tuple(shape) and out.dtype == numpy.dtype(dtype)
        seen.append(f.experimental_get_tracing_count())
    assert seen == [1, 2, 3, 3, 3, 4, 5, 5]


def test_a_wider_trace_serves_new_shapes_without_retracing_and_computes_them():
    @ac.function
    def f(x):
        return ac.sum(x * x, axis=0)

    concrete = f.get_concrete_function(ac.TensorSpec([None, 2]))
    assert f.experimental_get_tracing_count() == 1
    for rows in (3, 5, 1):
        x = numpy.arange(rows * 2, dtype=numpy.float32).reshape(rows, 2)
        numpy.testing.assert_allclose(f(ac.tensor(x)).numpy(), (x * x).sum(0), rtol=1e-6)
        numpy.testing.assert_allclose(concrete(ac.tensor(x)).numpy(), (x * x).sum(0), rtol=1e-6)
    assert f.experimental_get_tracing_count() == 1
    with pytest.raises(TypeError, match="do not match"):
        concrete(ac.zeros([3, 3]))


def test_input_signature_accepts_matching_calls_and_names_the_argument_otherwise():
    traced = []

    @ac.function(input_signature=[ac.TensorSpec([None], "float32")])
    def f(values):
        traced.append(1)
        return values * 2

    numpy.testing.assert_array_equal(f(ac.tensor([1.0, 2.0])).numpy(), [2, 4])
    numpy.testing.assert_array_equal(f(numpy.asarray([1.0, 2.0, 3.0], numpy.float32)).numpy(), [2, 4, 6])
    numpy.testing.assert_array_equal(f([1.0, 2.0, 3.0, 4.0]).numpy(), [2, 4, 6, 8])
    assert f.experimental_get_tracing_count() == 1
    count = f.experimental_get_tracing_count()
    with pytest.raises(TypeError, match=r"'values'.*TensorSpec\(shape=\[None\], dtype=float32\).*float64"):
        f(ac.tensor([1.0], dtype="float64"))
    with pytest.raises(TypeError, match=r"'values'.*shape \(2, 2\)"):
        f(ac.zeros([2, 2]))
    with pytest.raises(TypeError, match="'values'"):
        f(numpy.asarray([1.0]))  # a float64 array for a float32 spec
    with pytest.raises(TypeError, match="2 arguments|too many"):
        f(ac.tensor([1.0]), ac.tensor([1.0]))
    assert f.experimental_get_tracing_count() == count


def test_input_signature_must_hold_specs():
    with pytest.raises(TypeError, match=r"input_signature\[0\]"):
        ac.function(lambda x: x, input_signature=[[None]])


def test_methods_have_a_function_per_instance():
    class Model:
        def __init__(self, scale):
            self.scale = scale

        @ac.function
        def apply(self, x):
            return x * self.scale  # a Python attribute: frozen into each instance's trace

    a, b = Model(2.0), Model(3.0)
    x = ac.tensor([1.0, 2.0])
    numpy.testing.assert_array_equal(a.apply(x).numpy(), [2, 4])
    numpy.testing.assert_array_equal(b.apply(x).numpy(), [3, 6])
    a.apply(x)
    assert a.apply.experimental_get_tracing_count() == 1
    assert b.apply.experimental_get_tracing_count() == 1
    assert Model.apply.experimental_get_tracing_count() == 0
    a.scale = 10.0
    numpy.testing.assert_array_equal(a.apply(x).numpy(), [2, 4])  # frozen, as in TensorFlow


def test_variables_are_captured_by_reference():
    v = ac.Variable([1.0, 2.0])

    @ac.function
    def f(x):
        return x * v

    x = ac.tensor([3.0, 4.0])
    numpy.testing.assert_array_equal(f(x).numpy(), [3, 8])
    v.assign([10.0, 20.0])
    numpy.testing.assert_array_equal(f(x).numpy(), [30, 80])
    assert f.experimental_get_tracing_count() == 1


def test_variables_created_on_the_first_trace_only():
    state = {}

    @ac.function
    def once(x):
        if "v" not in state:
            state["v"] = ac.Variable(2.0)
        return x * state["v"]

    numpy.testing.assert_array_equal(once(ac.tensor([1.0, 2.0])).numpy(), [2, 4])
    numpy.testing.assert_array_equal(once(ac.tensor([5.0])).numpy(), [10])  # a new trace: none created
    assert once.experimental_get_tracing_count() == 2

    @ac.function
    def every_time(x):
        return x * ac.Variable(2.0)

    with pytest.raises(ValueError, match="singleton Variables created on the first call"):
        every_time(ac.tensor([1.0]))
    assert every_time.experimental_get_tracing_count() == 0


def test_python_side_effects_run_while_tracing_only():
    f, traced = counting()
    x = ac.tensor([1.0])
    for _ in range(3):
        f(x)
    assert len(traced) == 1


def test_retracing_warns_after_five_traces_in_ten_calls_at_most_twice(caplog):
    f, _ = counting()
    with caplog.at_level(logging.WARNING, logger="accel"):
        for n in range(1, 5):
            f(ac.zeros([n]))
        assert not caplog.records
        f(ac.zeros([5]))
        assert len(caplog.records) == 1 and "5 out of the last 5 calls" in caplog.records[0].getMessage()
        for n in range(6, 12):
            f(ac.zeros([n]))
    assert len(caplog.records) == 2


def test_a_traced_tensor_is_not_a_python_value():
    @ac.function
    def branch(x):
        if ac.reduce_all(x > 0):
            return x
        return -x

    with pytest.raises(TypeError, match="accel.cond.*accel.while_loop"):
        branch(ac.tensor([1.0]))

    @ac.function
    def read(x):
        return float(ac.sum(x))

    with pytest.raises(TypeError, match="item"):
        read(ac.tensor([1.0]))
    assert branch.experimental_get_tracing_count() == 0


def test_nested_functions_join_the_outer_trace():
    @ac.function
    def inner(x):
        return x * 2

    @ac.function
    def outer(x):
        return inner(x) + 1

    numpy.testing.assert_array_equal(outer(ac.tensor([1.0, 2.0])).numpy(), [3, 5])
    numpy.testing.assert_array_equal(outer(ac.tensor([3.0, 4.0])).numpy(), [7, 9])
    assert inner.experimental_get_tracing_count() == 0


def test_outputs_keep_their_structure_and_python_values():
    @ac.function
    def f(x, n):
        return {"double": x * 2, "pair": (x, n), "n": n}

    out = f(ac.tensor([1.0]), 3)
    assert sorted(out) == ["double", "n", "pair"] and out["n"] == 3 and out["pair"][1] == 3
    numpy.testing.assert_array_equal(out["double"].numpy(), [2])
    numpy.testing.assert_array_equal(out["pair"][0].numpy(), [1])


def test_the_same_tensor_twice_and_then_two_tensors():
    @ac.function
    def f(a, b):
        return a - b

    x = ac.tensor([5.0])
    numpy.testing.assert_array_equal(f(x, x).numpy(), [0])
    numpy.testing.assert_array_equal(f(x, ac.tensor([2.0])).numpy(), [3])


def test_bad_arguments():
    with pytest.raises(TypeError, match="callable"):
        ac.function(3)
    with pytest.raises(ValueError, match="jit_compile"):
        ac.function(lambda: 1, jit_compile="yes")

    @ac.function
    def f(x):
        return x

    with pytest.raises(TypeError, match="f: missing a required argument"):
        f()


def test_a_concrete_function_shows_its_signature():
    @ac.function
    def f(x, n, pair):
        return x * n

    concrete = f.get_concrete_function(ac.TensorSpec([None, 3], "float64"), 2, (1, 2))
    signature = concrete.structured_input_signature
    assert list(signature) == ["x", "n", "pair"]
    assert repr(signature["x"]) == "TensorSpec(shape=[None, 3], dtype=float64)"
    assert signature["n"] == 2 and signature["pair"] == (1, 2)
