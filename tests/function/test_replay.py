"""Replaying traces: values and gradients equal eager ones for new inputs (nothing frozen into
the trace), in array mode and under tapes (float64, 1e-12), with effects in order."""

import numpy
import pytest

import accel as ac
from accel import kernels


def rng():
    return numpy.random.default_rng(7)


def mlp_loss(params, x, labels):
    w1, b1, w2, b2 = params
    hidden = ac.relu(ac.matmul(x, w1) + b1)
    logits = ac.matmul(hidden, w2) + b2
    return ac.mean(ac.sparse_softmax_cross_entropy_with_logits(labels, logits))


def mlp_case(dtype="float64", seed=0):
    r = numpy.random.default_rng(seed)
    params = [ac.Variable(r.normal(size=(6, 5)) * 0.5, dtype=dtype), ac.Variable(r.normal(size=5) * 0.1, dtype=dtype),
              ac.Variable(r.normal(size=(5, 3)) * 0.5, dtype=dtype), ac.Variable(r.normal(size=3) * 0.1, dtype=dtype)]
    x = ac.tensor(r.normal(size=(4, 6)), dtype=dtype)
    labels = ac.tensor(r.integers(0, 3, size=4))
    return params, x, labels


# Many ops, each replayed with inputs it was not traced with: a value frozen into the trace shows.
OPS = {
    "elementwise": lambda x, y: ac.exp(ac.sin(x) * y) - ac.log1p(ac.square(y)) / (1 + ac.abs(x)),
    "tanh sigmoid softplus": lambda x, y: ac.tanh(x) * ac.sigmoid(y) + ac.softplus(x - y),
    "selections": lambda x, y: ac.where(x > y, ac.maximum(x, 0.2), ac.minimum(y, -0.1)) + ac.clip(x, -0.5, 0.5),
    "reductions": lambda x, y: ac.sum(x * y, axis=1) + ac.mean(x, axis=1) + ac.max(y, axis=1) + ac.logsumexp(x, axis=1),
    "shapes": lambda x, y: ac.reshape(ac.transpose(x), (-1,))[:6] + ac.concat([x[0], y[1]], 0)[:6],
    "matmul": lambda x, y: ac.matmul(x, ac.transpose(y)) * 0.5,
    "softmax": lambda x, y: ac.softmax(x, axis=-1) * ac.log_softmax(y, axis=-1),
    "stack gather": lambda x, y: ac.stack([x, y])[1] + ac.gather(x, ac.tensor([2, 0, 1]), axis=0),
    "power": lambda x, y: ac.pow(ac.abs(x) + 1, y) + ac.sqrt(ac.square(y) + 1) + ac.rsqrt(ac.square(x) + 2),
    "broadcast": lambda x, y: x * ac.sum(y, axis=0) + ac.expand_dims(ac.mean(y, axis=1), 1),
}


def pair(seed):
    r = numpy.random.default_rng(seed)
    return ac.tensor(r.normal(size=(3, 4))), ac.tensor(r.normal(size=(3, 4)))


@pytest.mark.parametrize("jit_compile", [None, False])
@pytest.mark.parametrize("name", sorted(OPS))
def test_replays_equal_eager_on_new_inputs(name, jit_compile):
    op = OPS[name]
    f = ac.function(op, jit_compile=jit_compile)
    f(*pair(0))  # traced here
    for seed in (1, 2, 3):
        x, y = pair(seed)
        expected = op(x, y).numpy()
        got = f(x, y).numpy()
        if jit_compile is False:
            numpy.testing.assert_array_equal(got, expected)  # unfused: the very same kernels
        else:
            numpy.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-14)  # float64
    assert f.experimental_get_tracing_count() == 1


@pytest.mark.parametrize("name", sorted(OPS))
def test_gradients_through_a_function_equal_eager(name):
    op = OPS[name]
    f = ac.function(op)
    f(*pair(0))
    x, y = pair(5)
    with ac.GradientTape(persistent=True) as tape:
        tape.watch([x, y])
        traced = ac.sum(ac.cos(f(x, y)))
        eager = ac.sum(ac.cos(op(x, y)))
    for a, b in zip(tape.gradient(traced, [x, y]), tape.gradient(eager, [x, y])):
        numpy.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", sorted(OPS))
def test_gradients_inside_a_function_equal_eager(name):
    op = OPS[name]

    def grads(x, y):
        with ac.GradientTape() as tape:
            tape.watch([x, y])
            z = ac.sum(op(x, y) ** 2)
        return tape.gradient(z, [x, y])

    f = ac.function(grads)
    f(*pair(0))
    for seed in (8, 9):
        x, y = pair(seed)
        for a, b in zip(f(x, y), grads(x, y)):
            numpy.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-14)


def test_second_order_through_a_function_that_takes_a_gradient():
    def grad_of_cube(x):
        with ac.GradientTape() as tape:
            tape.watch(x)
            y = ac.sum(x ** 3 + ac.sin(x))
        return tape.gradient(y, x)  # 3x^2 + cos x

    f = ac.function(grad_of_cube)
    x = ac.tensor([0.5, -1.25, 2.0], dtype="float64")
    f(ac.tensor([9.0, 9.0, 9.0], dtype="float64"))
    with ac.GradientTape() as outer:
        outer.watch(x)
        g = f(x)
        total = ac.sum(g)
    second = outer.gradient(total, x)  # 6x - sin x
    numpy.testing.assert_allclose(g.numpy(), 3 * x.numpy() ** 2 + numpy.cos(x.numpy()), rtol=1e-14)
    numpy.testing.assert_allclose(second.numpy(), 6 * x.numpy() - numpy.sin(x.numpy()), rtol=1e-13)


def test_mlp_gradients_of_and_through_a_function():
    params, x, labels = mlp_case()

    def grads(x, labels):
        with ac.GradientTape() as tape:
            loss = mlp_loss(params, x, labels)
        return loss, tape.gradient(loss, params)

    f = ac.function(grads)
    f(x, labels)
    _, x2, labels2 = mlp_case(seed=3)
    loss, got = f(x2, labels2)
    want_loss, want = grads(x2, labels2)
    numpy.testing.assert_allclose(loss.numpy(), want_loss.numpy(), rtol=1e-13)
    for a, b in zip(got, want):
        numpy.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-15)
    g = ac.function(lambda x, labels: mlp_loss(params, x, labels))
    g(x, labels)
    with ac.GradientTape() as tape:
        value = g(x2, labels2)
    for a, b in zip(tape.gradient(value, params), want):
        numpy.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-15)


def test_training_step_inside_a_function_is_one_fused_launch(monkeypatch):
    params, x, labels = mlp_case("float32")
    eager_params, _, _ = mlp_case("float32")
    opt, eager_opt = ac.optimizers.Adam(0.01), ac.optimizers.Adam(0.01)

    @ac.function
    def step(x, labels):
        with ac.GradientTape() as tape:
            loss = mlp_loss(params, x, labels)
        opt.apply_gradients(zip(tape.gradient(loss, params), params))
        return loss

    launches = []
    original = kernels.launch
    monkeypatch.setattr(kernels, "launch", lambda *a, **k: launches.append(1) or original(*a, **k))
    for _ in range(5):
        loss = step(x, labels)
        with ac.GradientTape() as tape:
            eager_loss = mlp_loss(eager_params, x, labels)
        eager_opt.apply_gradients(zip(tape.gradient(eager_loss, eager_params), eager_params))
        numpy.testing.assert_allclose(loss.numpy(), eager_loss.numpy(), rtol=1e-6)
    assert len(launches) == 10  # one per step each: the traced step and the eager one
    assert opt.iterations == 5 and step.experimental_get_tracing_count() == 1
    for a, b in zip(params, eager_params):
        numpy.testing.assert_allclose(a.numpy(), b.numpy(), rtol=2e-5, atol=1e-6)


def test_minimize_inside_a_function():
    v = ac.Variable([1.0, -2.0])
    opt = ac.optimizers.SGD(0.1)

    @ac.function
    def step():
        opt.minimize(lambda: ac.sum(v * v), [v])

    for _ in range(3):
        step()
    numpy.testing.assert_allclose(v.numpy(), numpy.array([1.0, -2.0]) * 0.8 ** 3, rtol=1e-6)
    assert opt.iterations == 3


def test_writes_run_once_per_call_in_order():
    v = ac.Variable(1.0)

    @ac.function
    def f(x):
        before = v * 1.0
        v.assign_add(x)
        after = v * 1.0
        v.assign(v * 2.0)
        return before, after

    before, after = f(ac.tensor(3.0))
    assert (before.numpy(), after.numpy(), v.numpy()) == (1.0, 4.0, 8.0)
    before, after = f(ac.tensor(1.0))
    assert (before.numpy(), after.numpy(), v.numpy()) == (8.0, 9.0, 18.0)



def test_sliced_variable_writes():
    v = ac.Variable([0.0, 0.0, 0.0])

    @ac.function
    def f(x):
        v[1:].assign_add(x)
        return v[0] + 1

    f(ac.tensor([1.0, 2.0]))
    out = f(ac.tensor([1.0, 2.0]))
    numpy.testing.assert_array_equal(v.numpy(), [0, 2, 4])
    assert out.numpy() == 1


def test_random_draws_are_new_on_every_call():
    @ac.function
    def f():
        return ac.random.normal([4])

    a, b = f().numpy(), f().numpy()
    assert not numpy.array_equal(a, b)


def test_custom_gradient_inside_a_function_keeps_its_gradient():
    @ac.custom_gradient
    def clipped_identity(x):
        return ac.identity(x), lambda dy: ac.clip(dy, -0.5, 0.5)

    def f(x):
        with ac.GradientTape() as tape:
            tape.watch(x)
            y = ac.sum(clipped_identity(x) * 3.0)
        return tape.gradient(y, x)

    traced = ac.function(f)
    x = ac.tensor([1.0, 2.0])
    numpy.testing.assert_array_equal(traced(x).numpy(), [0.5, 0.5])
    g = ac.function(lambda x: clipped_identity(x) * 3.0)
    with ac.GradientTape() as tape:
        tape.watch(x)
        y = ac.sum(g(x))
    numpy.testing.assert_array_equal(tape.gradient(y, x).numpy(), [0.5, 0.5])


def test_a_failed_trace_changes_nothing():
    v = ac.Variable(1.0)

    @ac.function
    def f(x):
        v.assign_add(1.0)
        return ac.matmul(x, x)  # a vector: matmul raises while tracing

    with pytest.raises(ValueError, match="matmul"):
        f(ac.tensor(2.0))
    assert v.numpy() == 1.0 and f.experimental_get_tracing_count() == 0


def test_outputs_never_alias_variables():
    v = ac.Variable([1.0, 2.0])
    f = ac.function(lambda: v)
    out = f()
    v.assign([5.0, 6.0])
    numpy.testing.assert_array_equal(out.numpy(), [1, 2])


def test_variable_arguments_are_inputs_of_each_call():
    @ac.function
    def f(v, x):
        v.assign_add(x)
        return v * 2.0

    a, b = ac.Variable([1.0, 2.0]), ac.Variable([10.0, 20.0])
    numpy.testing.assert_array_equal(f(a, ac.tensor([1.0, 1.0])).numpy(), [4, 6])
    numpy.testing.assert_array_equal(f(b, ac.tensor([1.0, 1.0])).numpy(), [22, 42])
    numpy.testing.assert_array_equal(a.numpy(), [2, 3])
    numpy.testing.assert_array_equal(b.numpy(), [11, 21])
    assert f.experimental_get_tracing_count() == 1
    with ac.GradientTape() as tape:
        y = ac.sum(ac.function(lambda v: v * v)(b))
    numpy.testing.assert_array_equal(tape.gradient(y, b).numpy(), [22, 42])


def test_a_call_under_a_tape_is_one_node_whose_backward_is_traced_once():
    from accel.function.call_node import _CallVJPs

    w = ac.Variable([0.5, -1.5, 2.0], dtype="float64")

    def chain(x, scale):
        return ac.sum(ac.tanh(ac.sin(x * w) * scale + 0.5) ** 2)

    f = ac.function(chain)
    for seed in range(3):
        x = ac.tensor(numpy.random.default_rng(seed).normal(size=3))
        with ac.GradientTape(persistent=True) as tape:
            tape.watch(x)
            y = f(x, 1.5)
            eager = chain(x, 1.5)
        assert isinstance(y._node.vjp, _CallVJPs)  # the whole call: one node
        for a, b in zip(tape.gradient(y, [x, w]), tape.gradient(eager, [x, w])):
            numpy.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-15)
    graph = next(iter(f._graphs.values()))
    (backward,) = graph.call_node._backward.values()
    assert backward.experimental_get_tracing_count() == 1


@pytest.mark.parametrize("order", [2, 3])
def test_higher_orders_through_a_one_node_call(order):
    def f(x):
        return ac.sum(ac.tanh(ac.sin(x) * 1.5 + 0.5) * ac.exp(x * 0.3))

    traced = ac.function(f)
    x = ac.tensor([0.3, -0.7, 1.1], dtype="float64")

    def derivative(fn, n):
        tapes = [ac.GradientTape() for _ in range(n)]
        for t in tapes:
            t.__enter__()
            t.watch(x)
        y = fn(x)
        for i in range(n - 1, -1, -1):
            tapes[i].__exit__(None, None, None)
            y = ac.sum(tapes[i].gradient(y, x))
        return y

    numpy.testing.assert_allclose(derivative(traced, order).numpy(), derivative(f, order).numpy(), rtol=1e-11)


def test_on_every_device_a_training_step_function_equals_eager(device):
    """On the CPU and (gpu-marked) on each CUDA device: fused chains, the MLP step with Adam."""
    r = numpy.random.default_rng(4)
    init = [r.normal(size=(6, 5)) * 0.5, r.normal(size=5) * 0.1, r.normal(size=(5, 3)) * 0.5, r.normal(size=3) * 0.1]
    x = ac.tensor(r.normal(size=(8, 6)), device=device)
    labels = ac.tensor(r.integers(0, 3, size=8), device=device)
    runs = {}
    for kind in ("eager", "function"):
        params = [ac.Variable(ac.tensor(v, device=device)) for v in init]
        opt = ac.optimizers.Adam(0.05)

        def step(x, labels, params=params, opt=opt):
            with ac.GradientTape() as tape:
                loss = mlp_loss(params, ac.tanh(ac.sin(x) * 1.5 + 0.5), labels)
            opt.apply_gradients(zip(tape.gradient(loss, params), params))
            return loss

        run = ac.function(step) if kind == "function" else step
        losses = [float(run(x, labels).numpy()) for _ in range(4)]
        runs[kind] = (losses, [p.numpy() for p in params])
    numpy.testing.assert_allclose(runs["function"][0], runs["eager"][0], rtol=1e-6)
    for a, b in zip(runs["function"][1], runs["eager"][1]):
        numpy.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_while_loop_in_a_function_runs_every_call_and_tapes_outside_see_every_iteration():
    def doubling(x):
        return ac.while_loop(lambda v: ac.reduce_all(v < 100.0), lambda v: [v * 2.0], [x])[0]

    f = ac.function(doubling)
    for start, want in ((1.0, 128.0), (30.0, 120.0), (200.0, 200.0)):
        x = ac.tensor([start], dtype="float64")
        with ac.GradientTape() as tape:
            tape.watch(x)
            y = f(x)
        assert y.numpy()[0] == want
        assert tape.gradient(y, x).numpy()[0] == want / start  # 2 ** iterations

    def inside(x):
        with ac.GradientTape() as tape:
            tape.watch(x)
            y = doubling(x)
        return tape.gradient(y, x)

    with pytest.raises(RuntimeError, match="while_loop"):
        ac.function(inside)(ac.tensor([1.0]))


def test_input_signature_rounds_python_floats_but_refuses_lossy_integers():
    f = ac.function(lambda x: x, input_signature=[ac.TensorSpec([None], "float32")])
    assert f([0.1]).numpy()[0] == numpy.float32(0.1)
    g = ac.function(lambda n: n, input_signature=[ac.TensorSpec([], "int32")])
    assert g(3).numpy() == 3
    with pytest.raises(TypeError, match="not integers"):
        g(2.5)
    with pytest.raises(TypeError, match="range"):
        g(2 ** 40)


def test_metrics_update_on_every_call_and_results_are_read_anew():
    metric = ac.nn.metrics.Mean()

    @ac.function
    def f(x):
        metric.update_state(x)
        return metric.result()

    values = [f(ac.tensor([float(i), float(i) + 1])).numpy() for i in range(3)]
    numpy.testing.assert_allclose(values, [0.5, 1.0, 1.5])
    numpy.testing.assert_allclose(metric.result().numpy(), 1.5)


def test_a_returned_variable_is_its_value_with_or_without_a_tape():
    v = ac.Variable([1.0, 2.0], dtype="float64")
    f = ac.function(lambda: v)
    with ac.GradientTape() as tape:
        out = f()
        y = ac.sum(out * out)
    v.assign([5.0, 6.0])
    assert not isinstance(out, ac.Variable)
    numpy.testing.assert_array_equal(out.numpy(), [1, 2])
    numpy.testing.assert_array_equal(tape.gradient(y, v).numpy(), [2, 4])


def test_gradients_read_each_variable_value_as_the_op_that_read_it():
    """Before an in-function write the VJP reads the old value, after it the new one (as eager)."""
    v = ac.Variable([2.0, 3.0], dtype="float64")

    def f(x):
        with ac.GradientTape() as tape:
            tape.watch(x)
            before = ac.sum(x * v)
            v.assign(v * 10.0)
            after = ac.sum(x * v)
            total = before + after
        g = tape.gradient(total, x)
        v.assign([2.0, 3.0])
        return g

    traced = ac.function(f)
    x = ac.tensor([1.0, 1.0], dtype="float64")
    numpy.testing.assert_array_equal(f(x).numpy(), [22.0, 33.0])
    for _ in range(2):
        numpy.testing.assert_array_equal(traced(x).numpy(), [22.0, 33.0])


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_a_replayed_cross_entropy_checks_its_labels_on_every_call(dtype):
    """The replay computes the loss on raw arrays (the op's kernel): labels out of range in a
    later call are refused as eagerly, on either path (the one-pass CPU loop, the NumPy form)."""
    loss = ac.function(lambda labels, logits: ac.sparse_softmax_cross_entropy_with_logits(labels, logits))
    logits = ac.tensor(numpy.arange(6.0).reshape(2, 3), dtype=dtype)
    eager = ac.sparse_softmax_cross_entropy_with_logits(ac.tensor([0, 2]), logits).numpy()
    numpy.testing.assert_array_equal(loss(ac.tensor([0, 2]), logits).numpy(), eager)
    numpy.testing.assert_array_equal(loss(ac.tensor([0, 2]), logits).numpy(), eager)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\), got values in \[0, 3\]"):
        loss(ac.tensor([0, 3]), logits)
