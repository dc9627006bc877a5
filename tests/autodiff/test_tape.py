"""GradientTape against docs/semantics.md section 1 (exact worked values)."""

import gc
import sys
import weakref

import numpy
import pytest

import accel as ac


def test_non_scalar_target_is_summed():
    x = ac.tensor(2.0)
    with ac.GradientTape() as tape:
        tape.watch(x)
        y = x * ac.tensor([3.0, 4.0])
    assert tape.gradient(y, x).item() == 7.0


def test_dict_target():
    x = ac.tensor(2.0)
    with ac.GradientTape() as tape:
        tape.watch(x)
        y = {"a": x ** 2, "b": 1 / x}
    assert tape.gradient(y, x).item() == 3.75


def test_output_gradients_weight_each_target():
    x = ac.tensor([1.0, 2.0])
    with ac.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    g = tape.gradient(y, x, output_gradients=ac.tensor([10.0, -1.0]))
    numpy.testing.assert_array_equal(g.numpy(), [20.0, -4.0])


def test_output_gradients_shape_and_count_are_checked():
    x = ac.tensor([1.0, 2.0])
    with ac.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
    with pytest.raises(ValueError, match=r"output_gradients\[0\] has shape \(3,\), expected the target's shape \(2,\)"):
        tape.gradient(y, x, output_gradients=ac.zeros((3,)))
    with pytest.raises(ValueError, match="output_gradients has 2 entries but there are 1 targets"):
        tape.gradient(y, x, output_gradients=[ac.ones((2,)), ac.ones((2,))])


def test_result_has_the_nesting_of_sources():
    a, b, c = ac.tensor(1.0), ac.tensor(2.0), ac.tensor(3.0)
    with ac.GradientTape() as tape:
        tape.watch([a, b, c])
        y = a * b * c
    g = tape.gradient(y, {"first": a, "rest": [b, (c,)]})
    assert g["first"].item() == 6.0 and g["rest"][0].item() == 3.0 and g["rest"][1][0].item() == 2.0
    assert isinstance(g["rest"][1], tuple)


def test_unconnected_gradients():
    x, z = ac.tensor(1.0), ac.tensor([1.0, 2.0], dtype="float64")
    with ac.GradientTape(persistent=True) as tape:
        tape.watch([x, z])
        y = x * 2
    assert tape.gradient(y, z) is None
    zero = tape.gradient(y, z, unconnected_gradients="zero")
    assert zero.dtype == ac.float64 and zero.numpy().tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="unconnected_gradients must be 'none' or 'zero', got 'zeros'"):
        tape.gradient(y, z, unconnected_gradients="zeros")


def test_non_persistent_tape_allows_one_call():
    x = ac.tensor(3.0)
    with ac.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    tape.gradient(y, x)
    message = "A non-persistent GradientTape can only be used to compute one set of gradients (or jacobians)"
    with pytest.raises(RuntimeError) as info:
        tape.gradient(y, x)
    assert str(info.value) == message
    with pytest.raises(RuntimeError, match="non-persistent"):
        tape.jacobian(y, x)


def test_target_none_is_a_type_error():
    with ac.GradientTape() as tape:
        pass
    with pytest.raises(TypeError, match="target must be"):
        tape.gradient(None, [])


def test_jacobian():
    x = ac.tensor([1.0, 2.0])
    with ac.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    j = tape.jacobian(y, x)
    numpy.testing.assert_array_equal(j.numpy(), [[2, 0], [0, 4]])


def test_jacobian_shapes_and_unconnected():
    x = ac.tensor(numpy.arange(6.0).reshape(2, 3))
    w = ac.tensor([1.0])
    with ac.GradientTape(persistent=True) as tape:
        tape.watch([x, w])
        y = ac.sum(x * x, axis=1)
    j = tape.jacobian(y, x)
    assert j.shape == (2, 2, 3)
    want = numpy.zeros((2, 2, 3))
    want[0, 0], want[1, 1] = 2 * numpy.arange(3.0), 2 * numpy.arange(3.0, 6.0)
    numpy.testing.assert_array_equal(j.numpy(), want)
    assert tape.jacobian(y, w) is None
    assert tape.jacobian(y, w, unconnected_gradients="zero").shape == (2, 1)
    jx, jw = tape.jacobian(y, [x, w])
    assert jx.shape == (2, 2, 3) and jw is None


def test_batch_jacobian():
    x = ac.tensor([[1.0, 2.0], [3.0, 4.0]])
    with ac.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    j = tape.batch_jacobian(y, x)
    numpy.testing.assert_array_equal(j.numpy(), [[[2, 0], [0, 4]], [[6, 0], [0, 8]]])


def test_batch_jacobian_needs_matching_first_dimensions():
    x = ac.zeros((2, 3))
    with ac.GradientTape() as tape:
        tape.watch(x)
        y = ac.zeros((3, 2)) + ac.sum(x)
    with pytest.raises(ValueError, match="batch_jacobian: the first dimensions must match"):
        tape.batch_jacobian(y, x)


def test_second_derivative_with_nested_tapes():
    x = ac.tensor(5.0)
    with ac.GradientTape() as outer:
        outer.watch(x)
        with ac.GradientTape() as inner:
            inner.watch(x)
            y = x * x
        dy_dx = inner.gradient(y, x)
    d2y_dx2 = outer.gradient(dy_dx, x)
    assert dy_dx.item() == 10.0 and d2y_dx2.item() == 2.0


def test_third_derivative():
    x = ac.tensor(2.0, dtype="float64")
    with ac.GradientTape() as t3:
        t3.watch(x)
        with ac.GradientTape() as t2:
            t2.watch(x)
            with ac.GradientTape() as t1:
                t1.watch(x)
                y = x ** 4
            d1 = t1.gradient(y, x)
        d2 = t2.gradient(d1, x)
    d3 = t3.gradient(d2, x)
    assert (d1.item(), d2.item(), d3.item()) == (32.0, 48.0, 48.0)


def test_persistent_tape():
    x = ac.tensor(3.0)
    with ac.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
        z = y * y
    assert tape.gradient(z, x).item() == 108.0
    assert tape.gradient(y, x).item() == 6.0


def test_watch_accessed_variables_false():
    x, w = ac.Variable(2.0), ac.Variable(5.0)
    with ac.GradientTape(persistent=True, watch_accessed_variables=False) as tape:
        tape.watch(x)
        y = x ** 2
        z = w ** 3
    assert tape.gradient(y, x).item() == 4.0
    assert tape.gradient(z, w) is None
    assert tape.watched_variables() == (x,)


def test_variables_read_are_watched_in_order():
    a, b = ac.Variable(1.0, name="a"), ac.Variable(2.0, name="b")
    frozen = ac.Variable(3.0, trainable=False)
    with ac.GradientTape() as tape:
        y = b * a * frozen
    assert [v.name for v in tape.watched_variables()] == ["b", "a"]
    gb, ga, gf = tape.gradient(y, [b, a, frozen])
    assert (gb.item(), ga.item(), gf) == (3.0, 6.0, None)


def test_integer_tensors_have_no_gradient():
    i = ac.tensor([1, 2])
    x = ac.tensor([1.0, 1.0])
    with ac.GradientTape() as tape:
        tape.watch([i, x])
        y = ac.cast(i, "float32") * x
    gi, gx = tape.gradient(y, [i, x])
    assert gi is None and gx.numpy().tolist() == [1.0, 2.0]


def test_entering_a_recording_tape_again_raises():
    tape = ac.GradientTape()
    with tape:
        with pytest.raises(ValueError, match="already recording"):
            tape.__enter__()


def test_stop_recording():
    x = ac.tensor(4.0)
    with ac.GradientTape() as tape:
        tape.watch(x)
        with tape.stop_recording():
            y = x ** 2
    assert tape.gradient(y, x) is None
    with pytest.raises(RuntimeError, match="not recording"):
        with tape.stop_recording():
            pass


def test_reset_forgets_what_was_recorded():
    x = ac.tensor(3.0)
    with ac.GradientTape() as tape:
        tape.watch(x)
        y = x * x
        tape.reset()
        tape.watch(x)
        z = x * 5
    assert tape.gradient(y, x) is None
    with ac.GradientTape(persistent=True) as tape:
        tape.watch(x)
        tape.reset()
        z = x * 5
    assert tape.gradient(z, x) is None


def test_tensorflow_tutorial_polynomial():
    x = ac.tensor(3.0)
    with ac.GradientTape() as tape:
        tape.watch(x)
        y = 5 * x ** 3 + 3 * x ** 2 - 8 * x + 10
    assert tape.gradient(y, x).item() == 145.0


def test_long_chain_has_no_recursion_limit():
    x = ac.tensor(1.0, dtype="float64")
    with ac.GradientTape() as tape:
        tape.watch(x)
        y = x
        for _ in range(10_000):
            y = y * 1.0001
    assert 10_000 > sys.getrecursionlimit() / 2
    numpy.testing.assert_allclose(tape.gradient(y, x).item(), 1.0001 ** 10_000, rtol=1e-9)


def test_no_graph_outside_a_tape():
    x = ac.tensor([1.0, 2.0])
    y = ac.exp(x) * 2
    assert y._node is None and y._tapes == ()
    with ac.GradientTape():
        z = ac.exp(x)  # x is not watched: nothing to record
    assert z._node is None


def test_intermediates_are_freed_while_the_walk_runs():
    """Each intermediate of a non-persistent tape is released once its VJP has run: when the
    walk reaches the first op, the tensors from later ops are already gone."""
    seen = {}
    refs = {}

    @ac.custom_gradient
    def first(x):
        def grad(dy):
            gc.collect()
            seen["alive"] = [name for name, ref in refs.items() if ref() is not None]
            return dy * 2
        return x * 2, grad

    x = ac.tensor([1.0, 2.0])
    with ac.GradientTape() as tape:
        tape.watch(x)
        h1 = first(x)
        h2 = ac.exp(h1)
        h3 = ac.sin(h2)
        loss = ac.sum(h3)
    refs.update(h2=weakref.ref(h2), h3=weakref.ref(h3))
    del h1, h2, h3
    tape.gradient(loss, x)
    assert seen["alive"] == []


def test_persistent_tape_keeps_intermediates():
    x = ac.tensor([1.0])
    with ac.GradientTape(persistent=True) as tape:
        tape.watch(x)
        h = ac.exp(x)
        loss = ac.sum(h * 3)
    ref = weakref.ref(h)
    del h
    tape.gradient(loss, x)
    gc.collect()
    assert ref() is not None
    assert tape.gradient(loss, x).item() == pytest.approx(3 * numpy.e)


def test_accumulation_is_deterministic():
    rng = numpy.random.default_rng(0)
    x = ac.tensor(rng.standard_normal(1000).astype(numpy.float32))
    results = []
    for _ in range(3):
        with ac.GradientTape() as tape:
            tape.watch(x)
            terms = [ac.sin(x * (i + 1)) for i in range(20)]
            y = terms[0]
            for t in terms[1:]:
                y = y + t
        results.append(tape.gradient(y, x).numpy())
    assert all(numpy.array_equal(results[0], r) for r in results[1:])


def test_gradient_inside_the_tape_context_is_recorded_by_outer_tapes():
    x = ac.tensor(2.0)
    with ac.GradientTape() as outer:
        outer.watch(x)
        with ac.GradientTape() as inner:
            inner.watch(x)
            y = x ** 3
        g = inner.gradient(y, x)  # 3x^2
        h = g * x  # 3x^3
    assert outer.gradient(h, x).item() == 36.0


def test_source_that_is_also_an_intermediate():
    x = ac.tensor(2.0)
    with ac.GradientTape() as tape:
        tape.watch(x)
        y = x * x
        z = y * 3
    gx, gy = tape.gradient(z, [x, y])
    assert (gx.item(), gy.item()) == (12.0, 3.0)


def test_jacobian_of_a_matrix_target():
    x = ac.tensor(numpy.arange(4.0).reshape(2, 2), dtype="float64")
    w = ac.tensor([[1.0, 2.0], [3.0, 4.0]], dtype="float64")
    with ac.GradientTape() as tape:
        tape.watch(x)
        y = x @ w  # y[i, j] = sum_k x[i, k] w[k, j]
    j = tape.jacobian(y, x)
    want = numpy.zeros((2, 2, 2, 2))
    for i in range(2):
        for jj in range(2):
            want[i, jj, i, :] = w.numpy()[:, jj]
    numpy.testing.assert_array_equal(j.numpy(), want)
