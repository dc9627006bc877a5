"""The models-people-train rows of the issue, each library in its own process (a library's idle
threads would slow the next one timed in the same process), alternated, repeated:

- conv2d 3x3, 16 -> 32 channels, 32x32, batch 32, forward + backward (target <= 1.5x PyTorch);
- a causal attention block (batch 16, T 64, 4 heads x 32: QKV and output projections,
  dot_product_attention) forward + backward (target <= 1.0x PyTorch);
- the training steps of examples/train_cnn_digits.py (batch 32, Adam) and train_char_gpt.py
  (batch 32, T 64, width 64, 2 blocks, AdamW with clipping), through train_on_batch, eager and
  with compile(jit_compile=True) (accel "function"), beside the same models in PyTorch eager
  (targets <= 1.0x eager, <= 0.9x through accel.function).

    python bench/compare_nn.py [--rounds 5] [--device cpu] [--only conv2d,attention,cnn_step,gpt_step]

Prints, per workload, each library's median step time over rounds (each round a fresh process:
warm-up, then the median of 15 steps), the ratio accel / PyTorch per round and its spread. Each
process checks that its step computed the gradient it times (a finite, nonzero norm).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

WORKER = r"""
import json, sys, time
import numpy as np
lib, workload, device = sys.argv[1], sys.argv[2], sys.argv[3]
rng = np.random.default_rng(0)
if workload.endswith("_step"):
    exec(STEP_WORKER)
    raise SystemExit
if workload == "conv2d":
    x = rng.normal(size=(32, 32, 32, 16)).astype(np.float32)
    params = [rng.normal(size=(3, 3, 16, 32)).astype(np.float32) * 0.1]
else:
    x = rng.normal(size=(16, 64, 128)).astype(np.float32)
    params = [rng.normal(size=(128, 128)).astype(np.float32) * 0.09 for _ in range(4)]
if lib == "accel":
    import accel as ac
    dev = ac.get_device(device)
    with ac.device(device):
        xt, ps = ac.tensor(x), [ac.Variable(p) for p in params]
    def forward():
        if workload == "conv2d":
            return ac.conv2d(xt, ps[0], 1, "SAME")
        q, k, v = (ac.reshape(xt @ w, (16, 64, 4, 32)) for w in ps[:3])
        return ac.reshape(ac.dot_product_attention(q, k, v, is_causal=True), (16, 64, 128)) @ ps[3]
    def step():
        with ac.GradientTape() as tape:
            tape.watch(xt)
            y = forward()
            loss = ac.sum(y * y)
        grads = tape.gradient(loss, [xt] + ps)
        dev.synchronize()
        return float(sum(float(ac.sum(g * g)) for g in grads))
else:
    import torch
    tdev = "cuda" if device.startswith("cuda") else "cpu"
    if workload == "conv2d":
        xt = torch.tensor(x.transpose(0, 3, 1, 2).copy(), device=tdev, requires_grad=True)
        ps = [torch.tensor(params[0].transpose(3, 2, 0, 1).copy(), device=tdev, requires_grad=True)]
    else:
        xt = torch.tensor(x, device=tdev, requires_grad=True)
        ps = [torch.tensor(p, device=tdev, requires_grad=True) for p in params]
    def forward():
        if workload == "conv2d":
            return torch.nn.functional.conv2d(xt, ps[0], padding=1)
        q, k, v = ((xt @ w).reshape(16, 64, 4, 32).transpose(1, 2) for w in ps[:3])
        a = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        return a.transpose(1, 2).reshape(16, 64, 128) @ ps[3]
    def step():
        y = forward()
        grads = torch.autograd.grad((y * y).sum(), [xt] + ps)
        if tdev == "cuda":
            torch.cuda.synchronize()
        return float(sum(float((g * g).sum()) for g in grads))
norm = step()
assert np.isfinite(norm) and norm > 0, norm
for _ in range(3):
    step()
times = []
for _ in range(15):
    t = time.perf_counter(); step(); times.append(time.perf_counter() - t)
print(json.dumps({"median_ms": 1000 * float(np.median(times)), "norm": norm}))
"""


STEP_WORKER = r"""
import importlib.util, math, os
root = os.environ["ACCEL_BENCH_ROOT"]
def example(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(root, "examples", name + ".py"))
    module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module); return module
if workload == "cnn_step":
    ex = example("train_cnn_digits")
    x_all, y_all, _, _ = ex.load_data(0)
    x, y = x_all[:32], y_all[:32].astype(np.int64)
else:
    ex = example("train_char_gpt")
    args = ex.parse_args([])
    text = ex.load_corpus(60000); alphabet = "".join(sorted(set(text)))
    codes = np.array([alphabet.index(c) for c in text], np.int64)
    xs, ys = ex.windows(codes, args.context, args.stride)
    x, y = xs[:32], ys[:32]
if lib.startswith("accel"):
    import accel as ac
    if workload == "cnn_step":
        model = ex.compile_model(ex.build_model(0, dropout=0.0), 3e-3, jit_compile=lib == "accel_function")
    else:
        args.function = lib == "accel_function"
        model = ex.compile_model(ex.build(len(alphabet), args, ac.get_device(device)), args)
    def step():
        return float(model.train_on_batch(x, y) if workload == "gpt_step" else model.train_on_batch(x, y)[0])
else:
    import torch
    f = torch.nn.functional
    if workload == "cnn_step":
        net = torch.nn.Sequential(torch.nn.Conv2d(1, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.BatchNorm2d(32, 1e-3),
                                  torch.nn.MaxPool2d(2), torch.nn.Conv2d(32, 64, 3, padding=1), torch.nn.ReLU(),
                                  torch.nn.BatchNorm2d(64, 1e-3), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
                                  torch.nn.Linear(256, 10))
        opt = torch.optim.Adam(net.parameters(), 3e-3, eps=1e-7)
        tx, ty = torch.tensor(x).permute(0, 3, 1, 2).contiguous(), torch.tensor(y)
        def loss_fn():
            return f.cross_entropy(net(tx), ty)
    else:
        V, D, T = len(alphabet), args.width, args.context
        class Block(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.n1, self.n2 = torch.nn.LayerNorm(D, 1e-5), torch.nn.LayerNorm(D, 1e-5)
                self.qkv, self.o = torch.nn.Linear(D, 3 * D), torch.nn.Linear(D, D)
                self.h, self.out = torch.nn.Linear(D, 4 * D), torch.nn.Linear(4 * D, D)
            def forward(self, z):
                q, k, v = (t.reshape(z.shape[0], T, args.heads, -1).transpose(1, 2)
                           for t in self.qkv(self.n1(z)).chunk(3, -1))
                a = f.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(z.shape)
                z = z + self.o(a)
                return z + self.out(f.gelu(self.h(self.n2(z))))
        class GPT(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.tok, self.pos = torch.nn.Embedding(V, D), torch.nn.Embedding(T, D)
                self.blocks = torch.nn.ModuleList([Block() for _ in range(args.blocks)])
                self.norm, self.head = torch.nn.LayerNorm(D, 1e-5), torch.nn.Linear(D, V)
            def forward(self, ids):
                z = self.tok(ids) + self.pos(torch.arange(T))
                for b in self.blocks:
                    z = b(z)
                return self.head(self.norm(z))
        net = GPT()
        opt = torch.optim.AdamW(net.parameters(), args.learning_rate, weight_decay=args.weight_decay, eps=1e-7)
        tx, ty = torch.tensor(x), torch.tensor(y)
        def loss_fn():
            return f.cross_entropy(net(tx).reshape(-1, V), ty.reshape(-1))
    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(); loss.backward()
        if workload == "gpt_step":
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        return float(loss)
first = step()
assert np.isfinite(first)
for _ in range(3):
    step()
times = []
for _ in range(15):
    t = time.perf_counter(); step(); times.append(time.perf_counter() - t)
print(json.dumps({"median_ms": 1000 * float(np.median(times)), "norm": first}))
"""


def run(lib: str, workload: str, device: str) -> dict:
    env = dict(os.environ, ACCEL_BENCH_ROOT=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    code = WORKER.replace("exec(STEP_WORKER)", "exec(" + repr(STEP_WORKER) + ")")
    out = subprocess.run([sys.executable, "-c", code, lib, workload, device], capture_output=True, text=True,
                         check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--only", default="conv2d,attention,cnn_step,gpt_step")
    args = parser.parse_args(argv)
    print(f"device {args.device}; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")
    wanted = args.only.split(",")
    for workload in ("cnn_step", "gpt_step"):
        if workload not in wanted:
            continue
        medians = {"accel": [], "accel_function": [], "torch": []}
        for r in range(args.rounds):
            order = list(medians) if r % 2 == 0 else list(reversed(medians))
            for lib in order:
                medians[lib].append(run(lib, workload, args.device)["median_ms"])
        for lib, target in (("accel", 1.0), ("accel_function", 0.9)):
            ratios = [a / t for a, t in zip(medians[lib], medians["torch"])]
            print(f"{workload} [{lib}]: {statistics.median(medians[lib]):.2f} ms, torch "
                  f"{statistics.median(medians['torch']):.2f} ms; ratio median {statistics.median(ratios):.2f} "
                  f"(min {min(ratios):.2f}, max {max(ratios):.2f}; target <= {target})")
    for workload, target in (("conv2d", 1.5), ("attention", 1.0)):
        if workload not in wanted:
            continue
        medians = {"accel": [], "torch": []}
        for r in range(args.rounds):
            order = ("accel", "torch") if r % 2 == 0 else ("torch", "accel")
            results = {lib: run(lib, workload, args.device) for lib in order}
            for lib in order:
                medians[lib].append(results[lib]["median_ms"])
            rel = abs(results["accel"]["norm"] / results["torch"]["norm"] - 1)
            assert rel < 1e-3, f"{workload}: the libraries computed different gradients ({rel:.2e})"
        ratios = [a / t for a, t in zip(medians["accel"], medians["torch"])]
        print(f"{workload}: accel {statistics.median(medians['accel']):.2f} ms, torch "
              f"{statistics.median(medians['torch']):.2f} ms; ratio median {statistics.median(ratios):.2f} "
              f"(min {min(ratios):.2f}, max {max(ratios):.2f}; target <= {target})")


if __name__ == "__main__":
    main()
