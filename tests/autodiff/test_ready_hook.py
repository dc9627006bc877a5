"""The backward walk tells when each source's gradient is final (on_ready), so data parallel can
start reducing it while the walk goes on."""

import numpy

import accel as ac


def _gradient_with_reports(tape, target, sources, **kwargs):
    reports = []

    def on_ready(i, g):
        reports.append((i, None if g is None else g.numpy().copy()))

    grads = tape._gradient(target, sources, on_ready=on_ready, **kwargs)
    return grads, reports


def test_each_source_is_reported_once_with_its_final_gradient():
    rng = numpy.random.default_rng(0)
    a, b = ac.Variable(rng.standard_normal(3)), ac.Variable(rng.standard_normal(3))
    unused, count = ac.Variable([1.0]), ac.Variable(numpy.arange(3))
    with ac.GradientTape(persistent=True) as tape:
        h = a * b
        mid = ac.exp(h) * a  # a is used twice; h is itself a source below
        y = ac.sum(mid) + ac.sum(b * b) + ac.sum(ac.cast(count, "float64"))
    sources = [a, b, unused, count, h, b]  # b twice
    for unconnected in ("none", "zero"):
        grads, reports = _gradient_with_reports(tape, y, sources, unconnected_gradients=unconnected)
        assert sorted(i for i, _ in reports) == list(range(len(sources)))
        for i, value in reports:
            if grads[i] is None:
                assert value is None
            else:
                numpy.testing.assert_array_equal(value, grads[i].numpy())  # final when reported
        assert (grads[2] is None) == (unconnected == "none") and grads[3] is None


def test_later_layers_are_reported_before_the_walk_reaches_earlier_ones():
    rng = numpy.random.default_rng(1)
    weights = [ac.Variable(rng.standard_normal((4, 4))) for _ in range(3)]
    x = ac.tensor(rng.standard_normal((2, 4)))
    with ac.GradientTape() as tape:
        h = x
        for w in weights:
            h = ac.relu(h @ w)
        loss = ac.sum(h)
    _, reports = _gradient_with_reports(tape, loss, weights)
    assert [i for i, _ in reports] == [2, 1, 0]


def test_a_target_that_is_a_source_is_reported():
    v = ac.Variable([1.0, 2.0])
    with ac.GradientTape() as tape:
        tape.watch(v)
    grads, reports = _gradient_with_reports(tape, v, [v])
    assert [i for i, _ in reports] == [0] and reports[0][1].tolist() == [1.0, 1.0]
