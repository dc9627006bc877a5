"""The models-people-train rows of the issue, each library in its own process (a library's idle
threads would slow the next one timed in the same process), alternated, repeated:

- conv2d 3x3, 16 -> 32 channels, 32x32, batch 32, forward + backward (target <= 1.5x PyTorch);
- a causal attention block (batch 16, T 64, 4 heads x 32: QKV and output projections,
  dot_product_attention) forward + backward (target <= 1.0x PyTorch).

    python bench/compare_nn.py [--rounds 5] [--device cpu]

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


def run(lib: str, workload: str, device: str) -> dict:
    out = subprocess.run([sys.executable, "-c", WORKER, lib, workload, device], capture_output=True, text=True,
                         check=True, env=dict(os.environ))
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    print(f"device {args.device}; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")
    for workload, target in (("conv2d", 1.5), ("attention", 1.0)):
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
