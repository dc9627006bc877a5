"""The compiled hot path (accel._autodiff: Node, record, the walk's loop, the elementwise ops'
front) against its Python statement (recording.record_python, walk.walk_python, the ops' Python
functions): the same nodes, the same gradients bit for bit, the same errors."""

import gc
import os
import pickle
import subprocess
import sys
import weakref

import numpy
import pytest

import accel as ac
from accel import recording
from accel.autodiff import backprop, sparse_grads, walk as walk_module
from accel.ops import _core, elementwise_op
from accel.recording import Node


def use_python_graph(monkeypatch):
    """Record and walk with the Python statements of the compiled code (the ops' compiled fronts
    still run: ACCEL_PYTHON_GRAPH=1 in a process of its own replaces them too)."""
    for module, name in ((recording, "record"), (elementwise_op, "_record"), (_core, "_record")):
        monkeypatch.setattr(module, name, recording.record_python)
    monkeypatch.setattr(backprop, "walk", walk_module.walk_python)


def test_the_library_runs_the_compiled_code():
    assert recording.record is ac._autodiff.record and elementwise_op._record is ac._autodiff.record
    assert backprop.walk is ac._autodiff.walk
    assert Node is ac._autodiff.Node
    assert isinstance(ac.add, ac._autodiff.ElementwiseOp) and isinstance(ac.tanh, ac._autodiff.ElementwiseOp)


# ---- the same gradients, bit for bit, on random programs ------------------------------------------
UNARY = {"tanh": ac.tanh, "sin": ac.sin, "square": ac.square, "relu": ac.relu, "neg": ac.negative}
BINARY = {"add": ac.add, "mul": ac.multiply, "sub": ac.subtract, "max": ac.maximum}
OPS = sorted(UNARY) + sorted(BINARY) + ["scalar", "sum_rows", "stop", "int"]
PROGRAMS = 120


def random_steps(rng) -> list:
    return [(OPS[rng.integers(len(OPS))], int(rng.integers(50)), int(rng.integers(50)), float(rng.uniform(-2, 2)))
            for _ in range(rng.integers(1, 26))]


def run_program(steps, persistent, seed):
    """The values of every source's gradient (None where unconnected; with a persistent tape also
    through ac.gradients with a stop) and how many nodes the tape left alive, for one random
    program on a (3, 4) tensor, a (4,) tensor and a Variable."""
    rng = numpy.random.default_rng(seed)
    a = ac.tensor(rng.standard_normal((3, 4)))
    b = ac.tensor(rng.standard_normal(4))
    v = ac.Variable(rng.standard_normal((3, 4)))
    with ac.GradientTape(persistent=persistent) as tape:
        tape.watch([a, b])
        pool = [a, b, v * 1.0]
        for op, i, j, c in steps:
            x = pool[i % len(pool)]
            if op in UNARY:
                pool.append(UNARY[op](x))
            elif op in BINARY:
                pool.append(BINARY[op](x, pool[j % len(pool)]))
            elif op == "scalar":
                pool.append(x * c + 0.5)
            elif op == "sum_rows":
                pool.append(ac.sum(x, axis=0) if x.ndim == 2 else ac.sum(x))
            elif op == "stop":
                pool.append(ac.stop_gradient(x))
            else:  # an integer intermediate: no gradient flows through it
                pool.append(ac.cast(ac.cast(x, "int32"), "float64") + x)
        target = ac.sum(pool[-1]) + ac.sum(pool[len(pool) // 2] * pool[-1])
    stopped = ac.gradients(target, [a, b, v], stop_gradients=[pool[len(pool) // 3]]) if persistent else []
    grads = tape.gradient(target, [a, b, v, pool[-1]])
    alive = sum(1 for t in pool if t._node is not None)
    return [None if g is None else g.numpy() for g in grads + stopped], alive


def run_programs() -> list:
    """PROGRAMS random programs (seeded), half of them on persistent tapes."""
    return [run_program(random_steps(numpy.random.default_rng(k)), bool(k % 2), k % 4) for k in range(PROGRAMS)]


def test_compiled_and_python_code_agree_bit_for_bit(tmp_path):
    """The same programs here (compiled fronts, record and walk) and in a process that runs the
    Python statement of all three (ACCEL_PYTHON_GRAPH=1): the same gradients, bit for bit, and the
    same nodes released by the walk."""
    out = tmp_path / "python.pickle"
    code = (f"import pickle, sys; sys.path.insert(0, {os.path.dirname(__file__)!r})\n"
            "from accel.ops import elementwise; assert not hasattr(elementwise.add, 'python')\n"
            "from test_compiled_graph import run_programs\n"
            f"open({str(out)!r}, 'wb').write(pickle.dumps(run_programs()))\n")
    subprocess.run([sys.executable, "-c", code], env={**os.environ, "ACCEL_PYTHON_GRAPH": "1"}, check=True)
    python = pickle.loads(out.read_bytes())
    compiled = run_programs()
    assert len(python) == len(compiled) == PROGRAMS
    for k, ((grads, alive), (theirs, their_alive)) in enumerate(zip(compiled, python)):
        assert alive == their_alive, k
        for g, h in zip(grads, theirs):
            assert (g is None) == (h is None), k
            if g is not None:
                numpy.testing.assert_array_equal(g, h, err_msg=f"program {k}")


def test_higher_orders_and_ready_hook_agree(monkeypatch):
    def derivatives():
        x = ac.tensor([0.3, -1.2, 2.0], dtype="float64")
        ready = []
        with ac.GradientTape() as outer:
            outer.watch(x)
            with ac.GradientTape() as inner:
                inner.watch(x)
                y = ac.sum(ac.tanh(x) * ac.sin(x) * x)
            (g,) = inner._gradient(y, [x], on_ready=lambda i, grad: ready.append(i))
            z = ac.sum(g * g)
        return outer.gradient(z, x).numpy(), g.numpy(), ready

    compiled = derivatives()
    use_python_graph(monkeypatch)
    python = derivatives()
    numpy.testing.assert_array_equal(compiled[0], python[0])
    numpy.testing.assert_array_equal(compiled[1], python[1])
    assert compiled[2] == python[2] == [0]


# ---- record: the same node as the Python statement ---------------------------------------------
def test_record_builds_the_node_record_python_builds():
    x = ac.tensor([1.0, 2.0])
    v = ac.Variable([3.0, 4.0])
    frozen = ac.Variable([5.0, 6.0], trainable=False)
    vjps = (lambda g, ans, *a: g,) * 4
    results = []
    for record in (ac._autodiff.record, recording.record_python):
        with ac.GradientTape() as outer, ac.GradientTape() as inner:
            inner.watch(x)
            out = ac.Tensor(x._data, x._device)
            record(out, (x, v, 2.5, frozen), vjps, {"axis": 0})
            results.append((out, outer.id, inner.id, dict(outer.watched), dict(inner.watched)))
    (out_c, o_c, i_c, ow_c, iw_c), (out_p, o_p, i_p, ow_p, iw_p) = results
    assert out_c._tapes == (o_c, i_c) and out_p._tapes == (o_p, i_p)  # both tapes, outermost first
    assert [id(t) for t in ow_c.values()] == [id(t) for t in ow_p.values()] == [id(v)]  # trainable: watched
    assert {id(t) for t in iw_c.values()} == {id(t) for t in iw_p.values()} == {id(x), id(v)}
    for out in (out_c, out_p):
        node = out._node
        assert node.inputs[0] is x and node.inputs[1] is v and node.inputs[2] == 2.5 and node.inputs[3] is frozen
        assert node.vjp is vjps and node.params == {"axis": 0}
        captured = node.values[1]
        assert captured is not v and captured._data is v._data  # the Variable's value, captured
        assert node.values[3] is not frozen and node.values[2] == 2.5 and node.values[0] is x


def test_record_leaves_an_unwatched_output_alone():
    x = ac.tensor([1.0, 2.0])
    with ac.GradientTape():
        out = ac.Tensor(x._data, x._device)
        ac._autodiff.record(out, (x, 1.0), (None, None), None)
    assert out._node is None and out._tapes == ()


def test_record_propagates_errors_of_the_slow_path():
    class Odd:
        pass

    def broken(tape, x):
        raise RuntimeError("watches failed")

    x = ac.tensor([1.0])
    ac._autodiff.configure(*recording.CONFIGURATION[:3], broken, *recording.CONFIGURATION[4:])
    try:
        with ac.GradientTape():
            with pytest.raises(RuntimeError, match="watches failed"):
                ac._autodiff.record(ac.Tensor(x._data, x._device), (x, Odd()), (None, None), None)
    finally:
        ac._autodiff.configure(*recording.CONFIGURATION)


# ---- Node ----------------------------------------------------------------------------------------
def test_node_members_and_creation_order():
    inputs = (1, 2)
    first = Node((None, None), inputs, None, (7,))
    second = Node((None, None), inputs, {"k": 1}, (7,), values=(3, 4))
    assert first.values is inputs and second.values == (3, 4) and second.params == {"k": 1}
    assert second.seq > first.seq
    first.vjp = ("changed",)
    assert first.vjp == ("changed",)
    with pytest.raises(AttributeError):
        first.seq = 0
    with pytest.raises(TypeError):
        Node((None,), inputs)


def test_nodes_in_a_reference_cycle_are_collected():
    x = ac.tensor([1.0])
    out = ac.Tensor(x._data, x._device)
    out._node = Node((None,), (out,), None, (1,))  # the output is its own input: a cycle
    ref = weakref.ref(out)
    del out
    gc.collect()
    assert ref() is None


def test_a_long_recorded_chain_is_freed_without_recursion():
    x = ac.tensor([1.0])
    with ac.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x
        for _ in range(200_000):
            y = y + 1.0
    ref = weakref.ref(y)
    del tape, y  # 200,000 nodes, each holding the previous tensor
    assert ref() is None


# ---- the walk: errors reach the caller unchanged --------------------------------------------------
def test_an_error_in_a_vjp_propagates(monkeypatch):
    def failing(g, ans, x):
        raise ZeroDivisionError("from the VJP")

    x = ac.tensor([1.0, 2.0])
    with ac.GradientTape() as tape:
        tape.watch(x)
        y = ac.tanh(x)
        y._node.vjp = (failing,)
    with pytest.raises(ZeroDivisionError, match="from the VJP"):
        tape.gradient(y, x)


def test_a_vjp_sequence_is_indexed_not_iterated():
    class Endless:  # like accel.function's call node: any index gives a VJP
        def __getitem__(self, i):
            return lambda g, ans, x: g * 2.0

    x = ac.tensor([1.0, 2.0])
    with ac.GradientTape() as tape:
        tape.watch(x)
        y = ac.tanh(x)
        y._node.vjp = Endless()
    numpy.testing.assert_array_equal(tape.gradient(y, x).numpy(), [2.0, 2.0])


def test_the_walk_checks_its_arguments():
    with pytest.raises(TypeError, match="grads must be a dict"):
        ac._autodiff.walk([], [], set(), set(), None, None, frozenset(), False, ac.ops.sum_to, ac.ops.cast, None,
                            sparse_grads)


def test_accel_python_graph_runs_the_python_statement():
    code = (
        "import accel as ac\n"
        "from accel import recording\n"
        "from accel.autodiff import backprop, walk\n"
        "from accel.ops import _core, elementwise_op\n"
        "assert recording.record is recording.record_python is elementwise_op._record is _core._record\n"
        "assert type(ac.add).__name__ == 'function' and ac.Tensor.__mul__ is ac.multiply\n"
        "assert backprop.walk is walk.walk_python\n"
        "x = ac.tensor([1.0, 2.0])\n"
        "with ac.GradientTape() as tape:\n"
        "    tape.watch(x)\n"
        "    y = ac.sum(x * x)\n"
        "assert tape.gradient(y, x).numpy().tolist() == [2.0, 4.0]\n"
    )
    subprocess.run([sys.executable, "-c", code], env={**os.environ, "ACCEL_PYTHON_GRAPH": "1"}, check=True)


# ---- the elementwise ops' compiled front ---------------------------------------------------------
def test_the_front_looks_and_binds_like_the_op():
    assert ac.add.__name__ == ac.add.__qualname__ == "add" and ac.add.__doc__ == "x + y."
    assert ac.add.__module__ == "accel.ops.elementwise" and ac.ops.registry["add"].fn is ac.add
    assert pickle.loads(pickle.dumps(ac.tanh)) is ac.tanh
    assert ac.Tensor.__add__ is ac.add
    x = ac.tensor([1.0, -2.0])
    numpy.testing.assert_array_equal((x + 1).numpy(), [2.0, -1.0])  # bound as a method
    numpy.testing.assert_array_equal((3 * x).numpy(), [3.0, -6.0])


def same(a, b):
    assert type(a) is type(b) and a.dtype == b.dtype and a.device == b.device
    numpy.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("call", [
    lambda op: op(1.0, ac.tensor([1.0, 2.0])),  # a number first
    lambda op: op(ac.tensor([1.0, 2.0]), numpy.array([3.0, 4.0])),  # a NumPy array
    lambda op: op([1.0, 2.0], ac.tensor([1.0, 2.0])),  # a list
    lambda op: op(x=ac.tensor([1.0, 2.0]), y=ac.tensor([3.0, 4.0])),  # keywords
    lambda op: op(ac.tensor([1.0, 2.0], dtype="float32"), True),  # a bool
    lambda op: op(ac.tensor([1, 2]), 3),  # integers
    lambda op: op(ac.Variable([1.0, 2.0]), ac.tensor([3.0, 4.0])),  # a Variable
    lambda op: op(ac.tensor([1.0, 2.0]), ac.Variable([3.0, 4.0])),
    lambda op: op(ac.tensor(numpy.float32(2.0)), 0.5),  # 0-d
], ids=["number-first", "ndarray", "list", "keywords", "bool", "integers", "variable-x", "variable-y", "0-d"])
def test_the_front_gives_the_python_ops_answer(call):
    for name in ("add", "multiply", "maximum", "subtract"):
        op = getattr(ac, name)
        same(call(op), call(op.python))


def test_unary_ops_on_integers_go_through_the_python_op():
    ints = ac.tensor([0, 1, 2])
    for op in (ac.sin, ac.exp, ac.tanh):
        same(op(ints), op.python(ints))
        assert op(ints).dtype == numpy.float32


def test_the_fronts_errors_are_the_python_ops():
    x, y = ac.tensor([1.0, 2.0]), ac.tensor([1.0, 2.0, 3.0])
    for call in (lambda op: op(x, y), lambda op: op(x), lambda op: op(x, "a"), lambda op: op(None, x)):
        with pytest.raises(Exception) as theirs:
            call(ac.add.python)
        with pytest.raises(type(theirs.value)) as ours:
            call(ac.add)
        assert str(ours.value) == str(theirs.value)


def test_the_front_records_what_the_python_op_records():
    x = ac.tensor([1.0, 2.0])
    v = ac.Variable([3.0, 4.0])
    outs = []
    for op in (ac.multiply, ac.multiply.python):
        with ac.GradientTape() as tape:
            tape.watch(x)
            out = op(x, v)
            flag = op(ac.tensor([1, 2]), 3)  # integers: nothing recorded
        node = out._node
        assert out._tapes == (tape.id,) and flag._node is None and flag._tapes == ()
        assert node.inputs[0] is x and node.inputs[1] is v and node.params is None
        assert node.values[0] is x and node.values[1] is not v and node.values[1]._data is v._data  # captured
        assert list(tape.watched.values())[-1] is v  # reading the Variable watched it
        outs.append(node.vjp)
        numpy.testing.assert_array_equal([g.numpy() for g in tape.gradient(out, [x, v])], [[3.0, 4.0], [1.0, 2.0]])
    assert outs[0] is outs[1]  # the same VJPs
