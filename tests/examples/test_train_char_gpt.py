"""examples/train_char_gpt.py: a short run trains (the loss falls, a PNG, a sample), the traced
step too, and PyTorch doing the same 50 steps with the same weights gives the same loss curve."""

import math
import re

import numpy
import pytest

pytestmark = pytest.mark.slow  # CI runs them; a developer can skip them with -m 'not slow'

SMALL = ["--corpus-chars", "40000", "--epochs", "2", "--blocks", "1", "--width", "32", "--heads", "2",
         "--context", "32", "--sample-chars", "40"]


@pytest.mark.parametrize("extra", [[], ["--function"]], ids=["eager", "function"])
def test_a_short_run_learns_and_samples(tmp_path, run_example, extra):
    pytest.importorskip("matplotlib")
    out = run_example("train_char_gpt", *SMALL, *extra)
    losses = [float(v) for v in re.findall(r" - loss: ([0-9.]+)", out)]
    assert len(losses) == 2 and losses[1] < losses[0] < math.log(95)
    sample = out.split("sample:\n", 1)[1]
    assert sample.startswith("def ") and len(sample.rstrip("\n")) >= 44
    assert (tmp_path / "char_gpt_loss.png").read_bytes()[:4] == b"\x89PNG"


def _torch_gpt_loss(torch, w, ids, targets, heads, looked_up=None):
    """The example's GPT written in PyTorch from accel's weights (get_weights order); the token
    rows it looks up are appended to `looked_up` (their gradient is the embedding's IndexedSlices)."""
    f = torch.nn.functional
    it = iter(w)
    take = lambda: next(it)  # noqa: E731
    tokens, positions = take(), take()
    rows = tokens[ids]
    if looked_up is not None:
        rows.retain_grad()
        looked_up.append(rows)
    x = rows + positions[: ids.shape[1]]
    t = ids.shape[1]
    causal = torch.tril(torch.ones(t, t, dtype=torch.bool))
    blocks = (len(w) - 6) // 16
    for _ in range(blocks):
        g1, b1 = take(), take()
        wq, bq, wk, bk, wv, bv, wo, bo = (take() for _ in range(8))
        g2, b2, w1, c1, w2, c2 = (take() for _ in range(6))
        h = f.layer_norm(x, (x.shape[-1],), g1, b1, eps=1e-5)
        q = torch.einsum("btd,dnh->btnh", h, wq) + bq
        k = torch.einsum("btd,dnh->btnh", h, wk) + bk
        v = torch.einsum("btd,dnh->btnh", h, wv) + bv
        scores = torch.einsum("btnh,bsnh->bnts", q, k) / math.sqrt(q.shape[-1])
        weights = torch.softmax(scores.masked_fill(~causal, float("-inf")), dim=-1)
        x = x + torch.einsum("bnts,bsnh->btnh", weights, v).flatten(2) @ wo.flatten(0, 1) + bo
        h = f.layer_norm(x, (x.shape[-1],), g2, b2, eps=1e-5)
        x = x + f.gelu(h @ w1 + c1) @ w2 + c2
    g, b, wh, bh = take(), take(), take(), take()
    logits = f.layer_norm(x, (x.shape[-1],), g, b, eps=1e-5) @ wh + bh
    return f.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def test_pytorch_gives_the_same_loss_curve(example_module):
    """50 train_on_batch steps (AdamW with global-norm clipping, float64, no dropout) against
    PyTorch with the same weights and batches (Adam's eps set to TensorFlow's epsilon-hat, the
    clipping norm TensorFlow's)."""
    torch = pytest.importorskip("torch")
    ex = example_module("train_char_gpt")
    args = ex.parse_args(["--width", "32", "--heads", "2", "--blocks", "2", "--context", "16"])
    text = ex.load_corpus(20000)
    alphabet = "".join(sorted(set(text)))
    codes = numpy.array([alphabet.index(ch) for ch in text], numpy.int64)
    x, y = ex.windows(codes, args.context, 8)
    ac = ex.ac
    ac.mixed_precision.set_global_policy("float64")
    try:
        model = ex.compile_model(ex.build(len(alphabet), args, ac.get_device("cpu")), args)
    finally:
        ac.mixed_precision.set_global_policy("float32")
    start = model.get_weights()
    assert all(a.dtype == numpy.float64 for a in start)
    batches = [numpy.arange(i * 16, (i + 1) * 16) % len(x) for i in range(50)]
    ours = [model.train_on_batch(x[b], y[b]) for b in batches]

    params = [torch.tensor(a, requires_grad=True) for a in start]
    topt = torch.optim.AdamW(params, lr=args.learning_rate, weight_decay=args.weight_decay, eps=1e-7)
    theirs = []
    for step, b in enumerate(batches):
        for group in topt.param_groups:
            group["eps"] = 1e-7 / (1 - 0.999 ** (step + 1)) ** 0.5
        topt.zero_grad()
        looked_up = []
        loss = _torch_gpt_loss(torch, params, torch.tensor(x[b]), torch.tensor(y[b]), args.heads, looked_up)
        loss.backward()
        # Global-norm clipping as TensorFlow's (and accel's): the token embedding's gradient is
        # IndexedSlices, whose norm is that of the looked-up rows' gradients (a character that
        # repeats counts once per use), not of the summed table gradient.
        norm_sq = (looked_up[0].grad ** 2).sum() + sum((p.grad ** 2).sum() for p in params[1:])
        scale = 1.0 / max(float(norm_sq) ** 0.5, 1.0)
        for p in params:
            p.grad *= scale
        topt.step()
        theirs.append(loss.item())
    numpy.testing.assert_allclose(ours, theirs, rtol=1e-7, atol=1e-9)
    assert ours[-1] < ours[0] - 1.0
