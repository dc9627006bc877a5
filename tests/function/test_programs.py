"""Property-based checks (hypothesis): random programs of elementwise ops, broadcasts and
reductions, traced and replayed on new inputs, against eager execution (values, and gradients
taken inside and outside the function), float64. Fusion's inlining (operands read twice, chains
that end at an op without a form, constants) is what these programs shake.

Small by default; ACCEL_FUZZ_EXAMPLES=500 (say) searches harder."""

import os

import numpy
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import accel as ac

EXAMPLES = int(os.environ.get("ACCEL_FUZZ_EXAMPLES", "25"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])

UNARY = [ac.sin, ac.cos, ac.tanh, ac.sigmoid, ac.relu, ac.square, ac.negative, ac.abs,
         lambda t: ac.exp(ac.clip(t, -5.0, 5.0)), lambda t: ac.log1p(ac.square(t)), lambda t: ac.sqrt(ac.square(t) + 1.0),
         ac.softplus]
BINARY = [ac.add, ac.subtract, ac.multiply, lambda a, b: a / (ac.square(b) + 1.0), ac.maximum, ac.minimum]
CONSTANTS = [0.5, -1.25, 2.0, 3]


@st.composite
def programs(draw):
    """A list of instructions over a growing list of values (two inputs of shape (3, 4) to start)."""
    program = []
    count = 2
    for _ in range(draw(st.integers(1, 12))):
        kind = draw(st.sampled_from(["unary", "binary", "constant", "row", "reduce"]))
        a = draw(st.integers(0, count - 1))
        if kind == "unary":
            program.append(("unary", draw(st.integers(0, len(UNARY) - 1)), a))
        elif kind == "binary":
            program.append(("binary", draw(st.integers(0, len(BINARY) - 1)), a, draw(st.integers(0, count - 1))))
        elif kind == "constant":
            program.append(("constant", draw(st.integers(0, len(BINARY) - 3)), a, draw(st.sampled_from(CONSTANTS))))
        elif kind == "row":  # a broadcast: the mean over rows, added back to every row
            program.append(("row", a))
        else:
            program.append(("reduce", a))
        count += 1
    return program


def run(program, x, y):
    values = [x, y]
    for instruction in program:
        kind = instruction[0]
        if kind == "unary":
            out = UNARY[instruction[1]](values[instruction[2]])
        elif kind == "binary":
            out = BINARY[instruction[1]](values[instruction[2]], values[instruction[3]])
        elif kind == "constant":
            out = BINARY[instruction[1]](values[instruction[2]], instruction[3])
        elif kind == "row":
            v = values[instruction[1]]
            out = v + ac.mean(v, axis=0, keepdims=True) if v.ndim == 2 else v * 2.0
        else:
            v = values[instruction[1]]
            out = ac.sum(v, axis=-1, keepdims=True) * 0.5 if v.ndim == 2 else v - 1.0
        values.append(out)
    return values[-1]


def inputs(seed):
    rng = numpy.random.default_rng(seed)
    return [ac.tensor(rng.uniform(-2, 2, (3, 4))) for _ in range(2)]


@pytest.mark.parametrize("jit_compile", [None, False])
@SETTINGS
@given(program=programs())
def test_random_programs_replay_as_eager(program, jit_compile):
    f = ac.function(lambda x, y: run(program, x, y), jit_compile=jit_compile)
    f(*inputs(0))
    for seed in (1, 2):
        x, y = inputs(seed)
        numpy.testing.assert_allclose(f(x, y).numpy(), run(program, x, y).numpy(), rtol=1e-12, atol=1e-12)
    assert f.experimental_get_tracing_count() == 1


@SETTINGS
@given(program=programs())
def test_random_programs_differentiate_as_eager(program):
    def grads(x, y):
        with ac.GradientTape() as tape:
            tape.watch([x, y])
            z = ac.sum(ac.square(run(program, x, y)))
        return tape.gradient(z, [x, y], unconnected_gradients="zero")

    inside = ac.function(grads)
    through = ac.function(lambda x, y: run(program, x, y))
    inside(*inputs(0))
    through(*inputs(0))
    x, y = inputs(3)
    want = grads(x, y)
    for a, b in zip(inside(x, y), want):
        numpy.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-11, atol=1e-12)
    with ac.GradientTape() as tape:
        tape.watch([x, y])
        z = ac.sum(ac.square(through(x, y)))
    for a, b in zip(tape.gradient(z, [x, y], unconnected_gradients="zero"), want):
        numpy.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-11, atol=1e-12)
