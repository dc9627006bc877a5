"""The fused step with its streams (parameter, gradient, slots) at a sweep of relative placements,
for accel's kernel and PyTorch's fused one, at 1 and 2 threads, beside the probe of the same
access pattern (written and read-only streams, kernels.stream_probe) at the same thread count.

    python bench/placement.py               # 2^25 float32 elements (about 9 minutes on 2 cores)
    python bench/placement.py --size quick  # 2^22

A memory-bound step can run at the memory limit or far below it depending only on where its
buffers lie relative to each other (cache sets, 4 KB aliasing, DRAM banks inside a huge page).
Each layout puts every stream in one arena whose start is on a 2 MB boundary, one stream after
another, each moved by the layout's stagger; "separate allocations" gives each stream its own
np.empty (what NumPy alone gives a user); "own allocation" is each library's normal path (accel:
Variables and apply_gradients, its slots placed by accel/optimizers/placement.py; PyTorch:
tensors and state it allocated itself). Each library runs in a process of its own; the processes
take turns layout by layout, and the whole sweep runs three times (every visit allocating anew),
so drift in the machine hits both alike. Reported per layout: the min / median / max step time.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time

import numpy

from workloads import SETTLE_S, pattern_probe

HUGE_PAGE = 2 << 20
LINE, PAGE = 64, 4096
SIZES = {"full": 1 << 25, "quick": 1 << 22, "tiny": 1 << 12}
# name -> bytes between the end of one stream and the start of the next (None: separate arrays)
LAYOUTS = {
    "2 MB apart (same offset)": 0,
    "+1 line": LINE,
    "+3 lines": 3 * LINE,
    "+1 page": PAGE,
    "+1 page 1 line": PAGE + LINE,
    "+2 pages 3 lines (accel's stagger)": 2 * PAGE + 3 * LINE,
    "+16 pages 5 lines": 16 * PAGE + 5 * LINE,
    "+1 MB 1 page 3 lines": (1 << 20) + PAGE + 3 * LINE,
    "separate allocations": None,
}
OWN = "own allocation"
# optimizer -> (accel kernel id and scalars, slot count, torch class and options, torch state names)
OPTIMIZERS = {
    "adam": ("adam", [1e-3, 0.9, 0.999, 1e-7], 2, "Adam", {"eps": 1e-7}, ["exp_avg", "exp_avg_sq"]),
    "momentum": ("sgd_momentum", [1e-3, 0.9], 1, "SGD", {"momentum": 0.9}, ["momentum_buffer"]),
    "adagrad": ("adagrad", [1e-3, 1e-7, 0.0, 0.0], 1, "Adagrad", {"eps": 1e-7}, ["sum"]),
}


def streams(n: int, count: int, stagger):
    """`count` float32 arrays of n elements: one arena from a 2 MB boundary with `stagger` bytes
    between consecutive streams, or separate np.empty arrays for stagger None."""
    if stagger is None:
        return [numpy.empty(n, numpy.float32) for _ in range(count)]
    nbytes = n * 4
    step = -(-nbytes // HUGE_PAGE) * HUGE_PAGE + stagger  # each start 2 MB-aligned before the stagger
    arena = numpy.empty(count * step + HUGE_PAGE, numpy.uint8)
    base = -arena.ctypes.data % HUGE_PAGE
    return [arena[base + i * step: base + i * step + nbytes].view(numpy.float32) for i in range(count)]


def _accel_step(optimizer, n, layout):
    import accel as ac
    from accel import kernels

    rule, scalars, slots, *_ = OPTIMIZERS[optimizer]
    rng = numpy.random.default_rng(0)
    if layout == OWN:
        var = ac.Variable(rng.standard_normal(n, numpy.float32))
        grad = ac.tensor(rng.standard_normal(n, numpy.float32))
        opt = {"adam": lambda: ac.optimizers.Adam(1e-3), "momentum": lambda: ac.optimizers.SGD(1e-3, momentum=0.9),
               "adagrad": lambda: ac.optimizers.Adagrad(1e-3)}[optimizer]()
        return lambda: opt.apply_gradients([(grad, var)])
    arrays = streams(n, 2 + slots, LAYOUTS[layout])
    param, grad, *state = arrays
    param[:] = rng.standard_normal(n, numpy.float32)
    grad[:] = rng.standard_normal(n, numpy.float32)
    for s in state:
        s.fill(0.1 if optimizer == "adagrad" else 0.0)
    table = kernels.table(rule, [param], [[s] for s in state])
    return lambda: kernels.launch(table, [grad], scalars=scalars)


def _torch_step(optimizer, n, layout):
    import torch

    _, _, slots, name, options, state_names = OPTIMIZERS[optimizer]
    rng = numpy.random.default_rng(0)
    if layout == OWN:
        param = torch.tensor(rng.standard_normal(n, numpy.float32)).requires_grad_()
        param.grad = torch.tensor(rng.standard_normal(n, numpy.float32))
        opt = getattr(torch.optim, name)([param], lr=1e-3, fused=True, **options)
        return opt.step
    arrays = streams(n, 2 + slots, LAYOUTS[layout])
    arrays[0][:] = rng.standard_normal(n, numpy.float32)
    arrays[1][:] = rng.standard_normal(n, numpy.float32)
    param = torch.from_numpy(arrays[0]).requires_grad_()
    param.grad = torch.from_numpy(arrays[1])
    opt = getattr(torch.optim, name)([param], lr=1e-3, fused=True, **options)
    state = {"step": torch.tensor(0.0)}
    for state_name, array in zip(state_names, arrays[2:]):
        array.fill(0.1 if optimizer == "adagrad" else 0.0)
        state[state_name] = torch.from_numpy(array)
    opt.state[param] = state  # torch's fused step uses these buffers in place
    opt.step()
    assert param.data_ptr() == arrays[0].ctypes.data  # the step ran on the placed buffers
    assert opt.state[param][state_names[0]].data_ptr() == arrays[2].ctypes.data
    return opt.step


def _streams_written(optimizer: str) -> int:
    return 1 + OPTIMIZERS[optimizer][2]  # the parameter and each slot


def _moved(optimizer: str, n: int) -> int:
    return 4 * n * (2 * _streams_written(optimizer) + 1)


def _worker(connection, library):
    """One library's process: for each (threads, optimizer, layout, n, steps) asked, build the
    buffers, warm up, time `steps` steps, free the buffers, send the times."""
    if library == "torch":
        import torch

        set_threads = torch.set_num_threads
    else:
        from accel import kernels

        set_threads = kernels.set_num_threads
    while True:
        job = connection.recv()
        if job is None:
            return
        threads, optimizer, layout, n, steps = job
        set_threads(threads)
        if optimizer == "probe":
            step = pattern_probe(n, written=layout)  # layout: the number of written streams
        else:
            step = (_torch_step if library == "torch" else _accel_step)(optimizer, n, layout)
        step()
        step()
        times = []
        for _ in range(steps):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
        del step
        connection.send(times)


def sweep(n: int, steps: int, rounds: int = 3, threads=(1, 2), optimizers=tuple(OPTIMIZERS),
          layouts=(*LAYOUTS, OWN)) -> dict:
    """{"results": [{threads, optimizer, layout, library, min_s, median_s, max_s, bytes}],
    "probe": {threads: bytes per second (best step)}}: accel and torch (when installed), each in
    its own process, taking turns layout by layout. The whole sweep runs `rounds` times with
    `steps` timed steps per visit, every visit allocating its buffers anew, so a moment of drift
    in the machine touches one visit of each cell, not the cell."""
    context = multiprocessing.get_context("spawn")
    libraries = ["accel"]
    try:
        import torch  # noqa: F401

        libraries.append("torch")
    except ImportError:
        pass
    workers = {}
    for library in libraries:
        ours, theirs = context.Pipe()
        process = context.Process(target=_worker, args=(theirs, library), daemon=True)
        process.start()
        workers[library] = (process, ours)

    def run(library, job):
        workers[library][1].send(job)
        times = workers[library][1].recv()
        time.sleep(SETTLE_S)  # let the library's threads park before the other runs
        return times

    patterns = sorted({_streams_written(optimizer) for optimizer in optimizers})
    times: dict = {}
    try:
        for _ in range(rounds):
            for count in threads:
                for written in patterns:
                    times.setdefault((count, "probe", written, "accel"), []).extend(
                        run("accel", (count, "probe", written, n, steps)))
                for optimizer in optimizers:
                    for layout in layouts:
                        for library in libraries:
                            times.setdefault((count, optimizer, layout, library), []).extend(
                                run(library, (count, optimizer, layout, n, steps)))
    finally:
        for process, connection in workers.values():
            connection.send(None)
            process.join(timeout=30)
    # {threads: {written streams: bytes per second at the best step}}
    probe = {count: {written: 4 * n * (2 * written + 1) / min(times.pop((count, "probe", written, "accel")))
                     for written in patterns} for count in threads}
    results = [{"threads": count, "optimizer": optimizer, "layout": layout, "library": library,
                "min_s": min(t), "median_s": float(numpy.median(t)), "max_s": max(t),
                "bytes": _moved(optimizer, n)}
               for (count, optimizer, layout, library), t in times.items()]
    return {"n": n, "steps": steps * rounds, "results": results, "probe": probe}


def table(data: dict) -> str:
    """Markdown: per thread count and optimizer, a row per layout with accel's and torch's
    min / median / max, accel's % of the probe, and accel ÷ torch; then the summary the
    placement promise is judged by."""
    rows = data["results"]
    lines = [f"Fused step on {data['n']:,} float32 elements, {data['steps']} steps per layout over several "
             "rounds; accel and torch each in its own process, taking turns layout by layout. "
             "Times min / median / max.", ""]
    for threads in sorted({r["threads"] for r in rows}):
        probes = _keyed(data["probe"], threads)
        lines += [f"#### {threads} thread{'s' * (threads > 1)} (probes: "
                  + ", ".join(f"{w}w1r {_keyed(probes, w) / 1e9:.1f} GB/s" for w in sorted(map(int, probes))) + ")", ""]
        for optimizer in [o for o in OPTIMIZERS if any(r["optimizer"] == o for r in rows)]:
            probe = _keyed(probes, _streams_written(optimizer))
            lines += [f"{optimizer} ({_streams_written(optimizer)} written streams, 1 read):", "",
                      "| layout | accel | % of the probe | torch fused | accel ÷ torch |",
                      "|---|---|---|---|---|"]
            picked = [r for r in rows if r["threads"] == threads and r["optimizer"] == optimizer]
            for layout in dict.fromkeys(r["layout"] for r in picked):
                cell = {r["library"]: r for r in picked if r["layout"] == layout}
                ours, theirs = cell.get("accel"), cell.get("torch")
                ratio = f"{ours['median_s'] / theirs['median_s']:.2f}" if theirs else "—"
                share = 100 * ours["bytes"] / ours["median_s"] / probe
                lines.append(f"| {layout} | {_span(ours)} | {share:.0f}% | {_span(theirs)} | {ratio} |")
            lines.append("")
    lines += ["Summary (medians): accel's own allocation against the best and worst placed layout, and "
              "against torch's own.", "",
              "| threads | optimizer | accel own | best layout | own ÷ best | worst ÷ best | torch own | "
              "accel own ÷ torch own |", "|---|---|---|---|---|---|---|---|"]
    for summary in summarise(data):
        lines.append(f"| {summary['threads']} | {summary['optimizer']} | {_ms(summary['own_s'])} | "
                     f"{summary['best_layout']} ({_ms(summary['best_s'])}) | {summary['own_over_best']:.2f} | "
                     f"{summary['worst_over_best']:.2f} | "
                     + (f"{_ms(summary['torch_own_s'])} | {summary['own_over_torch_own']:.2f} |"
                        if summary.get("torch_own_s") else "— | — |"))
    return "\n".join(lines) + "\n"


def summarise(data: dict) -> list:
    """Per (threads, optimizer): accel's own allocation ÷ its best sweep point, the spread of the
    sweep (worst ÷ best), and accel's own ÷ torch's own."""
    out = []
    rows = data["results"]
    for threads in sorted({r["threads"] for r in rows}):
        for optimizer in [o for o in OPTIMIZERS if any(r["optimizer"] == o for r in rows)]:
            picked = {(r["library"], r["layout"]): r["median_s"] for r in rows
                      if r["threads"] == threads and r["optimizer"] == optimizer}
            placed = {layout: t for (library, layout), t in picked.items() if library == "accel" and layout != OWN}
            best = min(placed, key=placed.get)
            own = picked[("accel", OWN)]
            summary = {"threads": threads, "optimizer": optimizer, "own_s": own, "best_layout": best,
                       "best_s": placed[best], "own_over_best": own / placed[best],
                       "worst_over_best": max(placed.values()) / placed[best]}
            if ("torch", OWN) in picked:
                summary.update(torch_own_s=picked[("torch", OWN)], own_over_torch_own=own / picked[("torch", OWN)])
            out.append(summary)
    return out


def _keyed(mapping: dict, key):
    """mapping[key], for a dict that may have been through JSON (its int keys then strings)."""
    return mapping[key] if key in mapping else mapping[str(key)]


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g} ms"


def _span(row) -> str:
    if row is None:
        return "—"
    return f"{row['min_s'] * 1e3:.3g} / {row['median_s'] * 1e3:.3g} / {row['max_s'] * 1e3:.3g} ms"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=list(SIZES), default="full")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per visit (default 4; tiny 2)")
    parser.add_argument("--rounds", type=int, default=3, help="times the whole sweep runs (default 3)")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args(argv)
    data = sweep(SIZES[args.size], args.steps or (2 if args.size == "tiny" else 4), args.rounds)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(data, out, indent=1)
    print(table(data))


if __name__ == "__main__":
    main()
