"""accel.function beside eager accel, PyTorch eager and torch.compile (issue 24's targets).

Two cases, each implementation in a process of its own, taking turns block after block
(workloads.alternated_processes): (a) the 20-op chain on 16 elements, forward + backward (target:
function >= 5x faster than eager accel); (b) the MLP 784-256-256-10 training step with Adam at
batch 128 (target: function <= 0.7x PyTorch eager), with accel's floor beside it: the step's
eight matmuls in NumPy's BLAS plus the fused Adam update, which no NumPy-based step can beat.
Every step is checked against a NumPy reference (the chain's gradient; the first step's loss and
that the weights moved) before it is timed, in its own process. torch.compile runs where it
compiles on the host (it needs a C++ compiler); where it does not, its column says why.
"""

import functools
import os

import numpy
import pytest

from test_autodiff import CHAIN_BLOCKS, _mlp_data, floor_step, mlp_logits

CASES = ["20-op chain, 16 elements", "MLP training step (Adam)"]
IMPLEMENTATIONS = ["accel eager", "accel function", "torch eager", "torch.compile"]


def _chain_reference():
    x = numpy.linspace(-1, 1, 16)
    grad = numpy.ones(16)
    values = [x]
    for _ in range(CHAIN_BLOCKS):
        values.append(numpy.tanh(numpy.sin(values[-1]) * 1.5 + 0.5))
    for block in range(CHAIN_BLOCKS, 0, -1):
        y, before = values[block], values[block - 1]
        grad = grad * (1 - y * y) * 1.5 * numpy.cos(before)
    return grad


def _mlp_reference_loss():
    weights, biases, x, labels = _mlp_data()
    h = x.astype(numpy.float64)
    for i in range(3):
        h = h @ weights[i] + biases[i]
        if i < 2:
            h = numpy.maximum(h, 0)
    h = h - h.max(1, keepdims=True)
    log_softmax = h - numpy.log(numpy.exp(h).sum(1, keepdims=True))
    return -log_softmax[numpy.arange(len(labels)), labels].mean()


def _checked(step, check):
    """`step`, after `check(first result)` confirmed it computes what it should."""
    check(step())
    return step


def make_step(implementation: str, case: str):
    """The step of `case` for one implementation (built in a benchmark process of its own)."""
    library = implementation.split()[0].split(".")[0]
    if library == "torch":
        import torch

        torch.set_num_threads(os.cpu_count() or 1)
    if case.startswith("20-op chain"):
        return _chain_step(implementation)
    return _mlp_step(implementation)


def _chain_step(implementation):
    reference = _chain_reference()

    def check(grad):
        got = grad.numpy() if hasattr(grad, "numpy") else grad.detach().numpy()
        numpy.testing.assert_allclose(got, reference, rtol=1e-4, atol=1e-5)

    if implementation.startswith("accel"):
        import accel as ac
        from test_autodiff import _accel_chain

        x = ac.tensor(numpy.linspace(-1, 1, 16), dtype="float32", device="cpu")
        chain = ac.function(_accel_chain) if implementation == "accel function" else _accel_chain
        return _checked(lambda: chain(x), check)
    import torch
    from test_autodiff import _torch_chain

    x = torch.linspace(-1, 1, 16)
    if implementation == "torch eager":
        return _checked(functools.partial(_torch_chain, torch, x), check)

    def forward(x):
        y = x
        for _ in range(CHAIN_BLOCKS):
            y = torch.tanh(torch.sin(y) * 1.5 + 0.5)
        return y.sum()

    compiled = torch.compile(forward)

    def step():
        leaf = x.detach().requires_grad_()
        compiled(leaf).backward()
        return leaf.grad

    return _checked(step, check)


def _mlp_step(implementation):
    if implementation == "accel floor":
        return _checked(floor_step(with_update=True), lambda iterations: None)
    weights, biases, x_np, labels_np = _mlp_data()
    reference = _mlp_reference_loss()
    if implementation.startswith("accel"):
        import accel as ac

        params = [ac.Variable(w, device="cpu") for w in weights] + [ac.Variable(b, device="cpu") for b in biases]
        x, labels = ac.tensor(x_np, device="cpu"), ac.tensor(labels_np, device="cpu")
        opt = ac.optimizers.Adam(1e-3)

        def step(x, labels):
            with ac.GradientTape() as tape:
                loss = ac.mean(ac.sparse_softmax_cross_entropy_with_logits(labels, mlp_logits(params, x, ac.relu)))
            opt.apply_gradients(zip(tape.gradient(loss, params), params))
            return loss

        run = ac.function(step) if implementation == "accel function" else step
        before = params[0].numpy()

        def check(loss):
            numpy.testing.assert_allclose(float(loss.numpy()), reference, rtol=1e-4)
            assert not numpy.array_equal(before, params[0].numpy()), "the step did not update the weights"

        return _checked(lambda: run(x, labels), check)
    import torch

    tparams = [torch.tensor(p, requires_grad=True) for p in weights + biases]
    tx, tlabels = torch.tensor(x_np), torch.tensor(labels_np)
    topt = torch.optim.Adam(tparams, lr=1e-3, fused=True)

    def loss_fn(x, labels):
        return torch.nn.functional.cross_entropy(mlp_logits(tparams, x, torch.relu), labels)

    forward = torch.compile(loss_fn) if implementation == "torch.compile" else loss_fn

    def step():
        for p in tparams:
            p.grad = None
        loss = forward(tx, tlabels)
        loss.backward()
        topt.step()
        return loss

    before = tparams[0].detach().clone()

    def check(loss):
        numpy.testing.assert_allclose(float(loss.detach()), reference, rtol=1e-4)
        assert not torch.equal(before, tparams[0].detach()), "the step did not update the weights"

    return _checked(step, check)


def _compiles() -> str | None:
    """None if torch.compile works here, else why not (a short reason)."""
    try:
        import torch

        compiled = torch.compile(lambda t: torch.sin(t) * 2)
        compiled(torch.ones(4))
        return None
    except Exception as error:  # noqa: BLE001  (any failure means: not on this host)
        return f"{type(error).__name__}: {str(error).splitlines()[0][:120]}"


@pytest.mark.parametrize("case", CASES)
def test_function_interleaved(benchmark, case, torch_module, bench_size):
    from workloads import alternated_processes

    benchmark.group = f"accel.function interleaved: {case} [cpu]"
    # tiny runs (the report's own test in CI) leave torch.compile out: it compiles for a minute
    why_not = "not run at size tiny" if bench_size == "tiny" else _compiles()
    names = [n for n in IMPLEMENTATIONS if n != "torch.compile" or why_not is None]
    if "MLP" in case:
        names.append("accel floor")
    steps = 200 if "chain" in case else 20
    blocks = 2 if bench_size == "tiny" else 10
    stats = alternated_processes({name: functools.partial(make_step, name, case) for name in names}, blocks, steps)
    medians = {k: v[0] for k, v in stats.items()}
    benchmark.extra_info.update({
        "median_s": medians, "iqr_s": {k: v[1] for k, v in stats.items()},
        "eager_over_function": medians["accel eager"] / medians["accel function"],
        "function_over_torch": medians["accel function"] / medians["torch eager"],
        "torch_compile": why_not or "ran"})
    ours = make_step("accel function", case)
    benchmark.pedantic(ours, rounds=3, iterations=1)
