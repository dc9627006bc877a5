"""Mixed precision on the CPU.

(a) An Adam step with dynamic loss scaling (LossScaleOptimizer) beside the plain step over the
    same float32 parameters, without and with global-norm clipping: both in this process in strict
    alternation; the launches of each are counted (update launches, norm passes). Target
    (mixed-precision issue): within 5%, the same update launches. Deciding to skip needs every
    gradient read before the first write: without clipping that is one read pass more than the
    plain step (Adam moves 7 streams, the scaled step 8: >= 8/7 at the bandwidth limit); with
    global clipping the pass is the clipping's own.
(b) The MLP 784-256-256-10 training step at batch 128 under mixed_float16 (accel: the compiled
    model's train_step with its LossScaleOptimizer; PyTorch: autocast to float16 + GradScaler +
    fused Adam), each library in a process of its own, taking turns.
"""

import functools

import numpy
import pytest

import accel as ac


def _counting(monkeypatch):
    from accel import kernels

    counts = {"launch": 0, "global_norm_sq": 0}
    for name in counts:
        original = getattr(kernels, name)

        def counted(*args, _name=name, _original=original, **kwargs):
            counts[_name] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(kernels, name, counted)
    return counts


@pytest.mark.parametrize("clip", [None, 1.0], ids=["no clipping", "global_clipnorm"])
@pytest.mark.parametrize("tensors", ["transformer 193 tensors", "one 2^22 tensor"])
def test_loss_scaled_adam(benchmark, tensors, clip, bench_size, monkeypatch):
    from workloads import arrays, elements, interleaved, transformer_shapes

    shapes = transformer_shapes() if tensors.startswith("transformer") else [(1 << 22,)]
    if bench_size == "tiny":
        shapes = shapes[:20] if len(shapes) > 1 else [(1 << 16,)]
    clipping = "" if clip is None else ", global_clipnorm"
    benchmark.group = f"loss scaling: adam float32 {tensors}{clipping}, LossScaleOptimizer vs plain [cpu]"
    steps = {}
    for kind in ("plain", "scaled"):
        variables = [ac.Variable(a) for a in arrays(shapes, seed=1)]
        pairs = list(zip([ac.tensor(a) for a in arrays(shapes)], variables))
        opt = ac.optimizers.Adam(1e-3, global_clipnorm=clip)
        if kind == "scaled":
            opt = ac.optimizers.LossScaleOptimizer(opt, initial_scale=1.0, dynamic_growth_steps=10 ** 9)
        steps[kind] = (functools.partial(opt.apply_gradients, pairs), opt, variables)
    launches = {}
    for kind, (step, _, _) in steps.items():
        counts = _counting(monkeypatch)
        step()
        monkeypatch.undo()
        launches[kind] = dict(counts)
    # both really update, and identically (scale 1: the same arithmetic)
    for a, b in zip(steps["plain"][2], steps["scaled"][2]):
        numpy.testing.assert_array_equal(a.numpy(), b.numpy())
    assert steps["scaled"][1].iterations == steps["plain"][1].iterations == 1
    assert launches["scaled"]["launch"] == launches["plain"]["launch"]
    rounds = 5 if bench_size == "tiny" else 40
    stats = interleaved({kind: s[0] for kind, s in steps.items()}, rounds, spread=True)
    benchmark.extra_info.update({"median_s": {k: v[0] for k, v in stats.items()},
                                 "iqr_s": {k: v[1] for k, v in stats.items()},
                                 "scaled_over_plain": stats["scaled"][0] / stats["plain"][0],
                                 "launches": launches, "elements": elements(shapes)})
    benchmark.pedantic(steps["scaled"][0], rounds=1, iterations=1)


def mixed_mlp_step(kind: str):
    """A zero-argument MLP 784-256-256-10 training step at batch 128 under float16 autocast,
    for a process of its own: "accel" (mixed_float16 layers, compile's LossScaleOptimizer around
    Adam) or "torch" (autocast float16, GradScaler, fused Adam)."""
    rng = numpy.random.default_rng(0)
    x = rng.standard_normal((128, 784)).astype(numpy.float32)
    labels = rng.integers(0, 10, 128)
    if kind == "accel":
        model = ac.nn.Sequential([ac.nn.Dense(256, activation="relu", input_dim=784, dtype="mixed_float16", seed=0),
                                  ac.nn.Dense(256, activation="relu", input_dim=256, dtype="mixed_float16", seed=1),
                                  ac.nn.Dense(10, input_dim=256, dtype="mixed_float16", seed=2)])
        model.compile(optimizer=ac.optimizers.Adam(1e-3),
                      loss=ac.nn.losses.SparseCategoricalCrossentropy(from_logits=True))
        batch = (ac.tensor(x), ac.tensor(labels))
        return lambda: model.train_step(batch)
    import torch

    net = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
                              torch.nn.ReLU(), torch.nn.Linear(256, 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, fused=True)
    scaler = torch.amp.GradScaler("cpu")
    tx, tl = torch.tensor(x), torch.tensor(labels)

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.float16):
            loss = torch.nn.functional.cross_entropy(net(tx), tl)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    return step


def test_mixed_mlp_step_processes(benchmark, torch_module, bench_size):
    from workloads import alternated_processes

    benchmark.group = "mixed_float16 training step: MLP 784-256-256-10, batch 128, Adam, each in its own process [cpu]"
    blocks = 2 if bench_size == "tiny" else 10
    stats = alternated_processes({lib: functools.partial(mixed_mlp_step, lib) for lib in ("accel", "torch")},
                                 blocks, 10)
    benchmark.extra_info.update({"median_s": {k: v[0] for k, v in stats.items()},
                                 "iqr_s": {k: v[1] for k, v in stats.items()},
                                 "accel_over_torch": stats["accel"][0] / stats["torch"][0]})
    ours = mixed_mlp_step("accel")
    ours()
    benchmark.pedantic(ours, rounds=1, iterations=1)
