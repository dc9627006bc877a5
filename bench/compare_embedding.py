"""Sparse embedding updates beside PyTorch, each library in its own process, alternated, repeated:

a table of ROWS x 64 float32 (1M and 10M rows), a batch of 4096 Zipf-distributed ids (exponent 1.2,
folded into the table), one step = lookup forward + backward (the gradient of sum(rows * w)) + the
optimizer update:

- "lazy adagrad": accel Adagrad (IndexedSlices: only the touched rows; the dense result) beside
  torch.nn.Embedding(sparse=True) + torch.optim.Adagrad;
- "lazy adam": accel Adam(lazy_sparse=True) beside torch.nn.Embedding(sparse=True) + SparseAdam;
- "dense adam" (1M rows only: it streams the whole table and both moments every step): accel Adam
  on the densified gradient beside torch.nn.Embedding(sparse=False) + Adam(foreach).

Targets (issue 36): a lazy step at 10M rows within 1.2x of the same step at 1M rows; lazy steps
<= 1.0x PyTorch's.

    python bench/compare_embedding.py [--rounds 5] [--rows 1000000,10000000] [--only adagrad,adam,dense]

Each process warms up (5 steps), checks that the step did its work (the touched rows moved, an
untouched row did not), then times 20 steps and reports their median; the table prints each
library's median over rounds, the accel / PyTorch ratio per round and its spread.
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
lib, workload, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
width, batch, steps, warmup = 64, 4096, 20, 5
rng = np.random.default_rng(0)
id_batches = [((rng.zipf(1.2, batch) - 1) % rows).astype(np.int64) for _ in range(steps + warmup)]
w = rng.normal(size=(batch, width)).astype(np.float32)
untouched = int(np.setdiff1d(np.arange(rows - 1000, rows), np.concatenate(id_batches))[-1])
if lib == "accel":
    import accel as ac
    table = ac.Variable(np.full((rows, width), 0.01, np.float32), name="table")
    opt = {"adagrad": lambda: ac.optimizers.Adagrad(0.1),
           "adam": lambda: ac.optimizers.Adam(0.001, epsilon=1e-8, lazy_sparse=True),
           "dense": lambda: ac.optimizers.Adam(0.001, epsilon=1e-8)}[workload]()
    wt = ac.tensor(w)
    def step(ids):
        ids = ac.tensor(ids)
        with ac.GradientTape() as tape:
            loss = ac.sum(ac.embedding_lookup(table, ids) * wt)
        g = tape.gradient(loss, table)
        opt.apply_gradients([(g, table)])
    def value(i):
        return table[i].numpy()
else:
    import torch
    torch.set_num_threads(int(__import__("os").environ.get("OMP_NUM_THREADS", "2")))
    emb = torch.nn.Embedding(rows, width, sparse=workload != "dense")
    with torch.no_grad():
        emb.weight.fill_(0.01)
    opt = {"adagrad": lambda: torch.optim.Adagrad(emb.parameters(), lr=0.1, initial_accumulator_value=0.1),
           "adam": lambda: torch.optim.SparseAdam(list(emb.parameters()), lr=0.001, eps=1e-8),
           "dense": lambda: torch.optim.Adam(emb.parameters(), lr=0.001, eps=1e-8, foreach=True)}[workload]()
    wt = torch.tensor(w)
    def step(ids):
        opt.zero_grad(set_to_none=True)
        loss = (emb(torch.from_numpy(ids)) * wt).sum()
        loss.backward()
        opt.step()
    def value(i):
        return emb.weight[i].detach().numpy().copy()
first = int(id_batches[0][0])
before, before_untouched = value(first), value(untouched)
for ids in id_batches[:warmup]:
    step(ids)
if np.array_equal(value(first), before) or not np.array_equal(value(untouched), before_untouched):
    raise SystemExit(f"{lib} {workload}: the step did not do its work")
times = []
for ids in id_batches[warmup:]:
    t = time.perf_counter()
    step(ids)
    times.append(time.perf_counter() - t)
print(json.dumps({"median_ms": 1e3 * sorted(times)[len(times) // 2]}))
"""

WORKLOADS = {"adagrad": "lazy adagrad", "adam": "lazy adam", "dense": "dense adam"}


def run(lib: str, workload: str, rows: int) -> float:
    env = dict(os.environ)
    out = subprocess.run([sys.executable, "-c", WORKER, lib, workload, str(rows)], capture_output=True, text=True,
                         env=env, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(f"{lib} {workload} {rows}: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])["median_ms"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rows", default="1000000,10000000")
    parser.add_argument("--only", default="adagrad,adam,dense")
    args = parser.parse_args()
    sizes = [int(r) for r in args.rows.split(",")]
    print(f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '(unset)')}, rounds={args.rounds}")
    print("| workload | rows | accel ms | PyTorch ms | accel / PyTorch, median (min, max) |")
    print("|---|---|---|---|---|")
    medians = {}
    for workload in args.only.split(","):
        for rows in sizes:
            if workload == "dense" and rows > 1_000_000:
                continue
            accel_times, torch_times, ratios = [], [], []
            for _ in range(args.rounds):
                a, t = run("accel", workload, rows), run("torch", workload, rows)
                accel_times.append(a)
                torch_times.append(t)
                ratios.append(a / t)
            medians[(workload, rows)] = statistics.median(accel_times)
            print(f"| {WORKLOADS[workload]} | {rows:,} | {statistics.median(accel_times):.2f} | "
                  f"{statistics.median(torch_times):.2f} | {statistics.median(ratios):.2f} "
                  f"({min(ratios):.2f}, {max(ratios):.2f}) |", flush=True)
    for workload in args.only.split(","):
        if (workload, 1_000_000) in medians and (workload, 10_000_000) in medians:
            scale = medians[(workload, 10_000_000)] / medians[(workload, 1_000_000)]
            print(f"{WORKLOADS[workload]}: accel's step at 10M rows is {scale:.2f}x its step at 1M rows")


if __name__ == "__main__":
    main()
