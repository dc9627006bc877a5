"""Run accel's benchmark suite and report it: a markdown table per question (our time, each peer's
time with our ratio to it, and our % of the hardware limit), printed and saved, and a PNG chart.

    python bench/report.py                 # full sizes (about 21 minutes on a 2-vCPU EPYC: 1273 s measured)
    python bench/report.py --quick         # about 8 minutes on 2 CPU cores
    python bench/report.py --from-json results.json   # re-render a previous run

Without --out the report goes to bench/results/local/<machine>-<size>/ (ignored by git): the
committed results change only when asked (--out bench/results/<machine>).

Ratios are accel's median time divided by the peer's: below 1 means accel is faster. The limit of
a row is the fastest of what could bound it: the probe of the step's access pattern (or a += s*b,
or the matmul probe) and the best round of every implementation measured in that row, accel's
included, so no measurement exceeds 100% of it by construction; a row whose limit is one of the
measured implementations (it beat every probe) says so. Each target the project states is a row
of the targets table, met or missed, with the measured ratio; a ratio whose either side has an
interquartile range over half its median is flagged (†) as too dispersed to trust.
Benchmarks run on every device accel finds; without a GPU the report says why.
Some machines pin OpenBLAS to an older CPU kernel with OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE (it
slows NumPy's matmul ~1.5x); the run clears both for the benchmark process and says so.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import re
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
SETTINGS = {
    "full": [],
    "quick": ["--benchmark-max-time=0.05", "--benchmark-min-rounds=3", "--benchmark-warmup=off"],
    "tiny": ["--benchmark-max-time=0.005", "--benchmark-min-rounds=1", "--benchmark-warmup=off"],
}
PEER_ORDER = ["torch fused", "torch foreach", "torch for-loop", "torch", "numpy", "jax+optax"]


def run_suite(size: str, json_path: str) -> list:
    # Run from bench/ with the project's configuration: `python -m pytest` puts its working
    # directory first on sys.path, and the checkout's accel/ would shadow an installed wheel.
    command = [sys.executable, "-m", "pytest", str(HERE), f"--rootdir={HERE.parent}",
               "-c", str(HERE.parent / "pyproject.toml"), "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
               f"--bench-size={size}", f"--benchmark-json={json_path}",
               f"--excluded-peers={json_path}.excluded", *SETTINGS[size]]
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    result = subprocess.run(command, cwd=HERE, env=env)
    if result.returncode != 0:
        raise SystemExit(f"the benchmark suite failed (exit {result.returncode})")
    return command


def label(bench: dict) -> str:
    """Which implementation a benchmark measured: accel, a peer, or a probe."""
    name, params = bench["name"].split("[")[0], bench.get("params") or {}
    if name == "test_torch":
        return f"torch {params['flavour']}"
    if name.endswith("_accel") or name in ("test_accel", "test_adam_processes", "test_autodiff_interleaved",
                                           "test_op_overhead_interleaved", "test_placement_sweep", "test_fit_overhead",
                                           "test_loss_scaled_adam", "test_mixed_mlp_step_processes",
                                           "test_allreduce_bucketed_vs_per_tensor",
                                           "test_overlap_with_the_backward_pass", "test_scaling_beside_torch_ddp",
                                           "test_server_update_fused_vs_per_tensor",
                                           "test_time_to_accuracy_async_vs_sync", "test_function_interleaved"):
        return "accel"
    if name.endswith("_torch"):
        return "torch"
    return {"test_numpy_inplace": "numpy", "test_jax_optax": "jax+optax",
            "test_bandwidth_probe": "bandwidth probe", "test_matmul_probe": "matmul probe"}.get(name, name)


def split_group(group: str):
    """'optimizer step: adam float32 one 2^25 tensor [cpu]' -> ('optimizer step', case, 'cpu');
    'limits [cpu]' -> ('limits', '', 'cpu')."""
    question, _, case = group.partition(": ")
    device = re.search(r"\[([^\]]+)\]$", group)
    if not case:
        question = re.sub(r"\s*\[[^\]]+\]$", "", question)
    return question, case, device.group(1) if device else "cpu"


def limits(benchmarks: list) -> dict:
    """device -> {'bandwidth': bytes/s, 'flops': flop/s}: each probe's best round, the most the
    device delivered during the run."""
    out = {}
    for b in benchmarks:
        kind = (b.get("extra_info") or {}).get("limit")
        if kind == "streams":  # the probe of one access pattern: {(written, read): bytes/s}
            _, _, device = split_group(b["group"])
            info = b["extra_info"]
            out.setdefault(device, {}).setdefault("streams", {})[(info["written"], info["read"])] = (
                info["bytes"] / b["stats"]["min"])
        elif kind:
            _, _, device = split_group(b["group"])
            amount = b["extra_info"]["bytes" if kind == "bandwidth" else "flops"]
            out.setdefault(device, {})[kind] = amount / b["stats"]["min"]
            if "threads" in b["extra_info"]:
                out[device]["threads"] = b["extra_info"]["threads"]
    return out


def fmt_time(seconds: float) -> str:
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds:.3g} s"


def probe_floor(bench: dict, device_limits: dict):
    """(seconds, which probe) the probes say the step needs at least: the probe of the same access
    pattern when the step records its streams and the device has that probe (each launch's bytes
    at that probe's bandwidth, summed), else the a += s*b probe, else the matmul probe."""
    info = bench.get("extra_info") or {}
    patterns = device_limits.get("streams", {})
    streams = info.get("streams")
    if streams and all((w, r) in patterns for w, r, _ in streams):
        return sum(moved / patterns[(w, r)] for w, r, moved in streams), "same streams"
    if "bytes" in info and "bandwidth" in device_limits:
        return info["bytes"] / device_limits["bandwidth"], "bandwidth"
    if "flops" in info and "flops" in device_limits:
        return info["flops"] / device_limits["flops"], "matmul"
    return None, None


def limit_share(median: float, floor, kind, measured: dict):
    """(% of the limit, how the limit was set) for a median time: the limit is the fastest of the
    probes' floor and every measured implementation's best time (`measured`: name -> seconds, accel
    included), so the share is <= 100% by construction; when a measured implementation beat the
    probes, the limit is its time and the note names it."""
    if floor is None:
        return None, None
    fastest = min(measured.items(), key=lambda item: item[1], default=(None, float("inf")))
    if fastest[1] < floor:
        return 100 * fastest[1] / median, f"limit: {fastest[0]}, faster than the {kind} probe"
    return 100 * floor / median, kind


def percent_of_limit(bench: dict, device_limits: dict, peers: dict = ()):
    """accel's % of its row's limit (`limit_share`): `peers` maps each peer's name to its
    benchmark in the same row."""
    floor, kind = probe_floor(bench, device_limits)
    measured = {"accel's best round": bench["stats"]["min"]}
    measured.update({f"{name}'s best round": b["stats"]["min"] for name, b in dict(peers).items()})
    return limit_share(bench["stats"]["median"], floor, kind, measured)


NOISY = 0.5  # IQR / median above which a time is too dispersed to rest a ratio on


def noisy(median: float, iqr) -> bool:
    return iqr is not None and median > 0 and iqr / median > NOISY


def flag(text: str, *spreads) -> str:
    """`text` with † when any (median, IQR) pair is too dispersed (see NOISY)."""
    return text + " †" if any(noisy(m, i) for m, i in spreads) else text


DISPERSION_NOTE = (f"† an interquartile range over {NOISY:.0%} of the median on one side: too dispersed to trust "
                   "this ratio; re-measure (the tables that alternate each library in its own process are steadier).")


def interleaved_table(question: str, cases: dict, chart: dict) -> list:
    """accel beside torch, run in strict alternation: median (IQR) of each, and the ratio; the
    per-op table has a forward and a forward+backward pair per case."""
    lines = [f"### {question}", ""]
    kinds = ["forward", "forward+backward"] if question.startswith("per-op") else [None]
    head, rule = "| case |", "|---|"
    for kind in kinds:
        suffix = f" {kind}" if kind else ""
        head += f" accel{suffix} | torch{suffix} | accel ÷ torch{suffix} |"
        rule += "---|---|---|"
    lines += [head, rule]
    floors = []
    for case in sorted(cases):
        info = cases[case]["accel"]["extra_info"]
        cells = [case]
        for kind in kinds:
            ours, theirs = ("accel", "torch") if kind is None else (f"accel {kind}", f"torch {kind}")
            ratio = info["median_s"][ours] / info["median_s"][theirs]
            cells += [median_iqr(info, ours), median_iqr(info, theirs), flagged_ratio(info, ratio, ours, theirs)]
            chart.setdefault(question if kind is None else f"{question} {kind}", []).append((case, "torch", ratio))
        lines.append("| " + " | ".join(cells) + " |")
        if "accel floor" in info["median_s"]:
            update = " + the fused Adam update" if "Adam" in case else ""
            floors.append(f"{case}: the floor (NumPy's BLAS for the step's eight matmuls{update}, nothing else) "
                          f"is {median_iqr(info, 'accel floor')}, "
                          f"{info['median_s']['accel floor'] / info['median_s']['torch']:.2f}x PyTorch's.")
    return lines + [""] + floors + ([""] if floors else [])


def function_table(question: str, cases: dict, chart: dict) -> list:
    """accel.function beside eager accel, PyTorch eager and torch.compile (bench/test_function.py)."""
    names = ["accel function", "accel eager", "torch eager", "torch.compile"]
    lines = [f"### {question}", "",
             "Each implementation in a process of its own, taking turns block after block; median (IQR). Every "
             "step was checked against a NumPy reference before timing. Targets (the targets table says met or "
             "missed): the chain >= 5x faster through accel.function than eager; the MLP training step <= 0.7x "
             "PyTorch eager.", "",
             "| case | " + " | ".join(names)
             + " | eager ÷ function | function ÷ torch eager | function ÷ torch.compile |",
             "|---" * 8 + "|"]
    floors = []
    for case in sorted(cases):
        info = cases[case]["accel"]["extra_info"]
        medians = info["median_s"]
        cells = [median_iqr(info, n) if n in medians else f"— ({info.get('torch_compile', 'not run')})"
                 for n in names]
        compiled = (flagged_ratio(info, medians["accel function"] / medians["torch.compile"], "accel function",
                                  "torch.compile") if "torch.compile" in medians else "—")
        lines.append("| " + " | ".join([
            case, *cells, flagged_ratio(info, info["eager_over_function"], "accel eager", "accel function"),
            flagged_ratio(info, info["function_over_torch"], "accel function", "torch eager"), compiled]) + " |")
        if "accel floor" in medians:
            floors.append(f"{case}: the floor (NumPy's BLAS for the step's matmuls + the fused Adam update, "
                          f"nothing else) is {median_iqr(info, 'accel floor')}, "
                          f"{medians['accel floor'] / medians['torch eager']:.2f}x PyTorch eager's step.")
        chart.setdefault(question, []).append((case, "torch eager", info["function_over_torch"]))
        chart[question].append((case, "accel eager", 1 / info["eager_over_function"]))
        if "torch.compile" in medians:
            chart[question].append((case, "torch.compile", medians["accel function"] / medians["torch.compile"]))
    return lines + [""] + floors + ([""] if floors else [])


def flagged_ratio(info: dict, ratio: float, *keys, digits: int = 2) -> str:
    """A ratio of the implementations `keys` of an extra_info, † when one of them is too dispersed."""
    return flag(f"{ratio:.{digits}f}", *((info["median_s"][k], info.get("iqr_s", {}).get(k)) for k in keys))


def median_iqr(info: dict, key: str) -> str:
    """'1.2 ms (IQR 30 µs)' of one implementation in an extra_info holding median_s and iqr_s."""
    return f"{fmt_time(info['median_s'][key])} (IQR {fmt_time(info['iqr_s'][key])})"


def ratio_table(question: str, cases: dict, chart: dict, intro: str, columns: tuple, ratio: tuple, peer: str,
                extra=None, chart_ratio=None) -> list:
    """Two implementations timed in one benchmark: `columns` = ((extra_info key, header), ...) in
    display order, each as median (IQR); `ratio` = (extra_info key, header); `peer`: the chart's
    name for the second of the ratio; `extra` = (column header, cell function); `chart_ratio`:
    the chart's accel ÷ peer from extra_info, where the table's ratio is the other way round."""
    head = "| case | " + " | ".join(label for _, label in columns) + f" | {ratio[1]} |"
    if extra:
        head += f" {extra[0]} |"
    lines = [f"### {question}", "", intro, "", head, "|---" * (head.count("|") - 1) + "|"]
    for case in sorted(cases):
        info = cases[case]["accel"]["extra_info"]
        keys = [key for key, _ in columns]
        row = "| " + " | ".join([case, *(median_iqr(info, key) for key in keys),
                                 flagged_ratio(info, info[ratio[0]], *keys, digits=3)]) + " |"
        lines.append(row + (f" {extra[1](info)} |" if extra else ""))
        chart.setdefault(question, []).append((case, peer, chart_ratio(info) if chart_ratio else info[ratio[0]]))
    return lines + [""]


# The questions timed as two implementations in one benchmark (ratio_table), by the start of
# their group: the intro, the columns (extra_info key, header), the ratio, the chart's peer name,
# an extra column, and the chart's accel ÷ peer where the table's ratio runs the other way.
RATIO_QUESTIONS = [
    ("fit overhead", dict(
        intro="fit and a hand-written loop doing the same work (tape, fused Adam, running loss and accuracy on "
              "the device), in strict alternation in one process; per step, median (IQR). Target: fit / loop "
              "<= 1.05.",
        columns=(("fit", "fit"), ("loop", "hand-written loop")), ratio=("fit_over_loop", "fit ÷ loop"),
        peer="hand-written loop")),
    ("loss scaling", dict(
        intro="The same Adam step with and without a LossScaleOptimizer (scale 1: the same arithmetic), in "
              "strict alternation in one process; launches counted in one step of each. Target: scaled / plain "
              "<= 1.05 with the same update launches.",
        columns=(("plain", "plain"), ("scaled", "scaled")), ratio=("scaled_over_plain", "scaled ÷ plain"),
        peer="plain Adam",
        extra=("update launches (plain, scaled) | norm passes", lambda info: "{}, {} | {}, {}".format(
            info["launches"]["plain"]["launch"], info["launches"]["scaled"]["launch"],
            info["launches"]["plain"]["global_norm_sq"], info["launches"]["scaled"]["global_norm_sq"])))),
    ("data parallel all-reduce", dict(
        intro="A gradient set (float32) averaged across 2 processes in 25 MB buckets and as one collective per "
              "tensor (the same machinery with a bucket per tensor), alternating round by round; median (IQR). "
              "Target: bucketed >= 3x faster than per-tensor for the 193 transformer tensors.",
        columns=(("bucketed", "bucketed"), ("per_tensor", "one collective per tensor")),
        ratio=("per_tensor_over_bucketed", "per-tensor ÷ bucketed"), peer="per-tensor",
        extra=("tensors, buckets, MB",
               lambda info: f"{info['tensors']}, {info['buckets']}, {info['bytes'] / 1e6:.1f}"),
        chart_ratio=lambda info: 1 / info["per_tensor_over_bucketed"])),
    ("data parallel overlap", dict(
        intro="accel's training step on 2 processes with each bucket's all-reduce started during the backward "
              "walk (DistributedGradientTape) and with the same buckets reduced after it, alternating step by "
              "step; median (IQR).",
        columns=(("overlap", "during the walk"), ("after", "after the walk")),
        ratio=("overlap_over_after", "during ÷ after"), peer="reduced after the walk")),
    ("parameter server update", dict(
        intro="What a parameter server does per push: its shard's fused Adam update (one launch) and a per-tensor "
              "update (one apply_gradients, so one launch, per variable), strictly alternated in one process; "
              "median (IQR).",
        columns=(("fused", "fused"), ("per_tensor", "per tensor")),
        ratio=("per_tensor_over_fused", "per-tensor ÷ fused"), peer="per-tensor",
        extra=("updates/s (fused, per tensor)", lambda info: "{:,.0f}, {:,.0f}".format(
            info["updates_per_s"]["fused"], info["updates_per_s"]["per_tensor"])),
        chart_ratio=lambda info: 1 / info["per_tensor_over_fused"])),
    ("parameter servers, time to", dict(
        intro="Wall time from the workers' start until the servers' weights first reach 0.95 test accuracy "
              "(sampled every 20 ms), asynchronous against synchronous rounds of the same 2 workers on a local "
              "Ray cluster (num_cpus=2), taking turns; median (IQR) over the runs.",
        columns=(("async", "asynchronous"), ("sync", "synchronous")), ratio=("async_over_sync", "async ÷ sync"),
        peer="synchronous")),
]


def scaling_table(question: str, cases: dict, chart: dict) -> list:
    """Data-parallel scaling from 1 to 2 processes beside torch DDP (bench/test_distributed.py)."""
    lines = [f"### {question}", "",
             "Training-step time with 128 rows per process (so 2 processes do twice the work), accel "
             "(DistributedGradientTape, fused Adam) and torch (DistributedDataParallel over gloo, fused Adam), the "
             "four configurations in fresh processes taking turns block after block; median (IQR). Efficiency = "
             "samples/s on 2 / (2 x samples/s on 1). Target: accel's efficiency >= torch DDP's.", "",
             "| case | accel 1 | accel 2 | torch 1 | torch DDP 2 | samples/s accel (1, 2) | samples/s torch (1, 2) "
             "| efficiency accel | efficiency torch | accel ÷ torch efficiency |", "|---" * 10 + "|"]
    for case in sorted(cases):
        info = cases[case]["accel"]["extra_info"]
        rate, eff = info["samples_per_s"], info["efficiency"]
        lines.append("| " + " | ".join([
            case, *(median_iqr(info, key) for key in ("accel 1", "accel 2", "torch 1", "torch 2")),
            f"{rate['accel 1']:,.0f}, {rate['accel 2']:,.0f}", f"{rate['torch 1']:,.0f}, {rate['torch 2']:,.0f}",
            f"{eff['accel']:.2f}", f"{eff['torch']:.2f}",
            flagged_ratio(info, info["accel_over_torch_efficiency"], "accel 1", "accel 2", "torch 1",
                          "torch 2")]) + " |")
        # the chart's accel ÷ peer: time per sample relative to one process, torch DDP's as the peer
        chart.setdefault(question, []).append((case, "torch DDP (1 / efficiency)",
                                               1 / info["accel_over_torch_efficiency"]))
    return lines + [""]


def _interleaved(key_a, key_b):
    """value(row): median of a ÷ median of b in an extra_info, with both (median, IQR) pairs."""
    def value(row):
        info = row["accel"]["extra_info"]
        pairs = [(info["median_s"][k], info.get("iqr_s", {}).get(k)) for k in (key_a, key_b)]
        return pairs[0][0] / pairs[1][0], pairs
    return value


def _recorded(ratio_key, *keys):
    """value(row): a ratio the benchmark recorded, with the (median, IQR) pairs it came from."""
    def value(row):
        info = row["accel"]["extra_info"]
        return info[ratio_key], [(info["median_s"][k], info.get("iqr_s", {}).get(k)) for k in keys]
    return value


def _peer(name):
    """value(row): accel's median ÷ a peer's median in a table of separate benchmarks."""
    def value(row):
        ours, theirs = row["accel"]["stats"], row[name]["stats"]
        return ours["median"] / theirs["median"], [(ours["median"], ours.get("iqr")),
                                                   (theirs["median"], theirs.get("iqr"))]
    return value


def _same_launches(row):
    launches = row["accel"]["extra_info"]["launches"]
    return launches["plain"]["launch"] == launches["scaled"]["launch"]


# Every target the project states (bench/ docstrings and the issues that set them): the question
# (start of its group), the cases (a substring of the case), what is measured, the bound.
TARGETS = [
    ("autodiff interleaved", "20-op chain", "accel ÷ PyTorch eager, forward+backward", _interleaved("accel", "torch"),
     "<=", 0.6),
    ("autodiff interleaved", "MLP forward+backward", "accel ÷ PyTorch eager", _interleaved("accel", "torch"),
     "<=", 0.9),
    ("autodiff interleaved", "MLP training step", "accel ÷ PyTorch eager (Adam)", _interleaved("accel", "torch"),
     "<=", 0.8),
    # the op-table issue restates the MLP lines against the floor (NumPy's matmuls of the step, plus
    # the fused Adam update): the lines above sit below that floor on 2 cores
    ("autodiff interleaved", "20-op chain", "accel ÷ PyTorch eager (the op-table issue's line)",
     _interleaved("accel", "torch"), "<=", 0.45),
    ("autodiff interleaved", "MLP forward+backward", "accel ÷ its NumPy floor", _interleaved("accel", "accel floor"),
     "<=", 1.25),
    ("autodiff interleaved", "MLP training step", "accel ÷ its NumPy floor (Adam)",
     _interleaved("accel", "accel floor"), "<=", 1.3),
    ("training step", "", "accel ÷ PyTorch (fused Adam)", _peer("torch"), "<=", 1.0),
    ("accel.function interleaved", "20-op chain", "eager ÷ accel.function",
     _recorded("eager_over_function", "accel eager", "accel function"), ">=", 5.0),
    ("accel.function interleaved", "MLP training step", "accel.function ÷ PyTorch eager",
     _recorded("function_over_torch", "accel function", "torch eager"), "<=", 0.7),
    ("accel.function interleaved", "MLP training step", "accel.function ÷ its NumPy floor",
     _interleaved("accel function", "accel floor"), "<=", 1.1),
    ("fit overhead", "", "fit ÷ hand-written loop", _recorded("fit_over_loop", "fit", "loop"), "<=", 1.05),
    ("loss scaling", "", "scaled ÷ plain, the same update launches",
     _recorded("scaled_over_plain", "plain", "scaled"), "<=", 1.05),
    ("data parallel all-reduce", "193 transformer", "per-tensor ÷ bucketed",
     _recorded("per_tensor_over_bucketed", "bucketed", "per_tensor"), ">=", 3.0),
    ("data parallel scaling", "", "accel ÷ torch DDP scaling efficiency",
     _recorded("accel_over_torch_efficiency", "accel 1", "accel 2", "torch 1", "torch 2"), ">=", 1.0),
]


def targets_table(questions: dict) -> list:
    """One row per stated target and matching case: the measured ratio, met or missed (†: too
    dispersed to decide), or 'not measured' when this run did not time it."""
    lines = ["", "### targets", "",
             "Every target the project states, against this run. A missed target stays missed here until a "
             "run meets it; README and docs quote these numbers.", "",
             "| question | case | measured | target | status |", "|---|---|---|---|---|"]
    for prefix, case_part, what, value, op, bound in TARGETS:
        matches = [(question, case, row) for question, cases in sorted(questions.items()) if question.startswith(prefix)
                   for case, row in sorted(cases.items()) if case_part in case and "accel" in row]
        if not matches:
            lines.append(f"| {prefix} | {case_part or 'every case'} | — | {what} {op} {bound:g} | not measured in "
                         "this run |")
            continue
        for question, case, row in matches:
            try:
                measured, pairs = value(row)
            except KeyError:
                lines.append(f"| {question} | {case} | — | {what} {op} {bound:g} | not measured in this run |")
                continue
            met = measured <= bound if op == "<=" else measured >= bound
            if prefix == "loss scaling":
                met = met and _same_launches(row)
            status = "met" if met else "**missed**"
            if any(noisy(m, i) for m, i in pairs):
                status += " †"
            lines.append(f"| {question} | {case} | {measured:.3g} | {what} {op} {bound:g} | {status} |")
    return lines + [""]


def tables(data: dict) -> tuple[str, dict]:
    """The markdown tables, and per question the (case, peer, ratio) triples for the chart."""
    benchmarks = [b for b in data["benchmarks"] if b.get("group")]
    device_limits = limits(benchmarks)
    questions: dict = {}
    for b in benchmarks:
        question, case, device = split_group(b["group"])
        if question == "limits":
            continue
        questions.setdefault(question, {}).setdefault(case, {})[label(b)] = b
    lines, chart = targets_table(questions), {}
    for question in sorted(questions):
        cases = questions[question]
        peers = [p for p in PEER_ORDER if any(p in row for row in cases.values())]
        if question.startswith("adam float32, each library in its own process"):
            lines += [f"### {question}", "",
                      "The probe (3w1r, the same bytes) runs in its own process among them; the limit is the "
                      "fastest of the three medians, so accel's share is at most 100%.", "",
                      "| case | accel (IQR) | torch fused (IQR) | accel ÷ torch fused | % of limit |",
                      "|---|---|---|---|---|"]
            for case, row in cases.items():
                info = row["accel"]["extra_info"]
                medians, iqr = info["median_s"], info.get("iqr_s", {})
                spread = {k: f" ({fmt_time(iqr[k])})" if k in iqr else "" for k in medians}
                pct, how = limit_share(medians["accel"], medians["probe"], "3w1r",
                                       {"accel": medians["accel"], "torch fused": medians["torch_fused"]})
                lines.append(f"| {case} | {fmt_time(medians['accel'])}{spread['accel']} "
                             f"| {fmt_time(medians['torch_fused'])}{spread['torch_fused']} "
                             f"| {flagged_ratio(info, info['accel_over_torch_fused'], 'accel', 'torch_fused')} "
                             f"| {pct:.0f}% ({how}) |")
                chart.setdefault(question, []).append((case, "torch fused", info["accel_over_torch_fused"]))
            lines.append("")
            continue
        if question.startswith("placement sweep"):
            import placement

            data = next(iter(cases.values()))["accel"]["extra_info"]["placement"]
            lines += [f"### {question}", "", placement.table(data)]
            cells = chart.setdefault("placement: accel's own allocation", [])
            for summary in placement.summarise(data):
                case = f"{summary['optimizer']}, {summary['threads']} thread(s)"
                cells.append((case, "best placement", summary["own_over_best"]))
                if "own_over_torch_own" in summary:
                    cells.append((case, "torch fused", summary["own_over_torch_own"]))
            continue
        spec = next((spec for prefix, spec in RATIO_QUESTIONS if question.startswith(prefix)), None)
        if spec is not None:
            lines += ratio_table(question, cases, chart, **spec)
            continue
        if question.startswith("data parallel scaling"):
            lines += scaling_table(question, cases, chart)
            continue
        if question.startswith("accel.function interleaved"):
            lines += function_table(question, cases, chart)
            continue
        if question.startswith(("autodiff interleaved", "per-op overhead interleaved", "mixed_float16 training")):
            lines += interleaved_table(question, cases, chart)
            continue
        lines += [f"### {question}", "",
                  "| case | accel (median, IQR) | % of limit | " + " | ".join(f"{p} (accel ÷ {p})" for p in peers)
                  + " |", "|---|---|---|" + "---|" * len(peers)]
        for case in sorted(cases):
            row = cases[case]
            ours = row.get("accel")
            if ours is None:
                continue
            median = ours["stats"]["median"]
            _, _, device = split_group(ours["group"])
            pct, kind = percent_of_limit(ours, device_limits.get(device, {}), {p: row[p] for p in peers if p in row})
            spread = ours["stats"].get("iqr")
            cells = [case, fmt_time(median) + (f" ({fmt_time(spread)})" if spread is not None else ""),
                     f"{pct:.0f}% ({kind})" if pct is not None else "—"]
            for peer in peers:
                if peer in row:
                    theirs = row[peer]["stats"]
                    ratio = median / theirs["median"]
                    cells.append(flag(f"{fmt_time(theirs['median'])} ({ratio:.2f})", (median, spread),
                                      (theirs["median"], theirs.get("iqr"))))
                    chart.setdefault(question, []).append((case, peer, ratio))
                else:
                    cells.append("—")
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    if device_limits:
        patterns = sorted({p for lim in device_limits.values() for p in lim.get("streams", {})})
        lines += ["### limits (probes)", "",
                  "Bytes count every element read plus every element written once (a step over W written "
                  "and R read-only float32 streams: 4 x (2W + R) per element). A column such as 3w1r is the probe "
                  "`writes[w] += s * sum(reads)` over 3 written and 1 read-only streams, the limit of the steps "
                  "with that pattern (\"same streams\" above; Adam's is 3w1r); a += s*b is 1w1r.", "",
                  "| device | memory bandwidth (a += s*b) | " + " | ".join(f"{w}w{r}r" for w, r in patterns)
                  + " | matmul float32 |", "|---|---|" + "---|" * len(patterns) + "---|"]
        for device, lim in sorted(device_limits.items()):
            bw = f"{lim['bandwidth'] / 1e9:.1f} GB/s" if "bandwidth" in lim else "—"
            if "threads" in lim:
                bw += f" ({lim['threads']} threads, as the kernels above)"
            by_pattern = [f"{lim['streams'][p] / 1e9:.1f} GB/s" if p in lim.get("streams", {}) else "—"
                          for p in patterns]
            fl = f"{lim['flops'] / 1e9:.1f} GFLOP/s" if "flops" in lim else "—"
            lines.append(f"| {device} | {bw} | " + " | ".join(by_pattern) + f" | {fl} |")
        lines.append("")
    lines += [DISPERSION_NOTE, ""]
    return "\n".join(lines), chart


def blas_line(pools: list) -> str:
    """The BLAS and OpenMP thread pools of the run, one phrase each (a repeated one counted),
    naming the library that loaded them where the run recorded it: "NumPy: OpenBLAS 0.3.31
    (SkylakeX kernel), 2 threads"."""
    names = {"openblas": "OpenBLAS", "mkl": "MKL", "blis": "BLIS", "openmp": "OpenMP"}
    counts: dict = {}
    for pool in pools:
        api = names.get(pool.get("internal_api"), pool.get("internal_api") or "?")
        version = f" {pool['version']}" if pool.get("version") else ""
        kernel = f" ({pool['architecture']} kernel)" if pool.get("architecture") else ""
        owner = f"{pool['owner']}: " if pool.get("owner") else ""
        phrase = f"{owner}{api}{version}{kernel}, {pool.get('num_threads')} threads"
        counts[phrase] = counts.get(phrase, 0) + 1
    return "; ".join(p + (f" (x{n})" if n > 1 else "") for p, n in counts.items())


def header(data: dict, command) -> str:
    info = data.get("machine_info", {})
    blas = blas_line(info.get("blas") or [])
    gpu = info.get("gpu") or "unknown"
    lines = [
        "# accel benchmark report", "",
        f"- run: {data.get('datetime', datetime.datetime.now().isoformat())}, size `{info.get('bench_size', '?')}`",
        f"- command: `{' '.join(command) if isinstance(command, list) else command}`",
        f"- CPU: {info.get('cpu_model', platform.processor())}, {info.get('cpu_count')} cores; "
        f"accel kernels: {(info.get('cpu_extension') or {}).get('isa', '?')}, "
        f"{(info.get('cpu_extension') or {}).get('threads', '?')} threads",
        f"- GPU: {gpu}" + (" — the GPU rows are absent from this report" if str(gpu).startswith("none") else ""),
        f"- accel {info.get('accel')}, NumPy {info.get('numpy')}, PyTorch {info.get('torch')} "
        f"({info.get('torch_threads')} threads), BLAS: {blas or 'unknown'}",
        f"- OpenBLAS variables during the run: {info.get('openblas_env') or 'none'}",
        *(f"- merged from a later run ({m.get('datetime')}): {m.get('benchmarks')}, `{m.get('command')}`"
          for m in data.get("merged_runs", [])),
        *(f"- rendered again from this run's results.json on {when} (`--from-json`): the same measurements, "
          "this report's tables" for when in data.get("rendered", [])),
        "",
        "Ratios are accel ÷ peer (median times; accel's interquartile range beside its median): below 1",
        "means accel is faster. % of limit: the row's limit over accel's median, where the limit is the",
        "fastest of (a) the time the probe of the same access pattern (written and read-only streams;",
        "else a += s*b, or the matmul probe) needs for the step's bytes or FLOPs, at the probe's best",
        "round, and (b) the best round of every implementation measured in the row, accel's included.",
        "So nothing measured exceeds 100%; where an implementation beat the probes, the row names it as",
        "its limit. A ratio marked † rests on a time whose interquartile range exceeds half its median.",
        "On a shared machine memory bandwidth drifts by 2x over seconds; the tables that run each",
        "library in its own process, taking turns block by block (the Adam, autodiff and placement",
        "tables), give the ratios to trust there.", "",
    ]
    return "\n".join(lines)


def chart_png(chart: dict, out: pathlib.Path) -> None:
    """One heatmap per question: a row per case, a column per peer (named under the panel), each
    cell the ratio accel ÷ peer (printed in it, white on dark cells), coloured on a log scale
    centred at 1: green where accel is faster, red where it is slower, blank where that peer did
    not run. Matplotlib's constrained layout keeps titles, labels and panels apart."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy
    from matplotlib.colors import LogNorm

    questions = sorted(chart)
    layouts = []
    for question in questions:
        rows = chart[question]
        cases = sorted({case for case, _, _ in rows})
        peers = [p for p in PEER_ORDER if any(peer == p for _, peer, _ in rows)]
        peers += sorted({peer for _, peer, _ in rows} - set(peers))
        grid = numpy.full((len(cases), len(peers)), numpy.nan)
        for case, peer, ratio in rows:
            grid[cases.index(case), peers.index(peer)] = ratio
        layouts.append((question, cases, peers, grid))
    heights = [0.3 * len(cases) + 0.9 for _, cases, _, _ in layouts]
    fig, axes = plt.subplots(len(layouts), 1, figsize=(12, sum(heights) + 1.2), layout="constrained",
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    fig.suptitle("accel time ÷ peer time, per benchmark (below 1: accel is faster)", fontsize=13)
    norm = LogNorm(vmin=1 / 8, vmax=8)
    cmap = plt.get_cmap("RdYlGn_r")
    for ax, (question, cases, peers, grid) in zip(axes[:, 0], layouts):
        clipped = numpy.clip(grid, 1 / 8, 8)
        image = ax.imshow(clipped, cmap=cmap, norm=norm, aspect="auto")
        for (r, c), ratio in numpy.ndenumerate(grid):
            if numpy.isfinite(ratio):
                red, green, blue, _ = cmap(norm(clipped[r, c]))
                dark = 0.299 * red + 0.587 * green + 0.114 * blue < 0.5
                ax.text(c, r, f"{ratio:.2f}", ha="center", va="center", fontsize=8,
                        color="white" if dark else "black")
        ax.set_xticks(range(len(peers)), peers, fontsize=8)
        if len(cases) > 12:  # a tall panel names its peers above it as well
            ax.tick_params(top=True, labeltop=True)
        ax.set_yticks(range(len(cases)), cases, fontsize=8)
        ax.set_title(question, fontsize=10, loc="left")
    bar = fig.colorbar(image, ax=axes[-1, 0], orientation="horizontal", location="bottom", aspect=60,
                       label="accel ÷ peer (log scale; green: accel faster, red: slower)")
    ticks = [1 / 8, 1 / 4, 1 / 2, 1, 2, 4, 8]
    bar.set_ticks(ticks, labels=["1/8", "1/4", "1/2", "1", "2", "4", "8"])
    bar.minorticks_off()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def excluded_section(excluded: list) -> str:
    """The peers left out of the ratios: before it is timed, each peer's first step is checked
    against accel's (bench/test_optimizers.py); one that changed nothing or stepped elsewhere
    did not do the same work."""
    if not excluded:
        return ""
    lines = ["### peers left out", "",
             "Each peer's first step is compared with accel's before it is timed; these did not do the "
             "same work, so they have no ratio above.", "", "| benchmark | why |", "|---|---|"]
    lines += [f"| {e['test']} | {e['reason']} |" for e in excluded]
    return "\n".join(lines) + "\n"


def publish(lines, out=None) -> None:
    """A comparison script's table (its lines) printed, and written to `out` when given (--out)."""
    text = "\n".join(lines) + "\n"
    print(text)
    if out:
        pathlib.Path(out).write_text(text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_const", const="quick", dest="size",
                      help="short runs of every benchmark (about 8 minutes on 2 cores)")
    size.add_argument("--size", choices=["full", "quick", "tiny"], dest="size")
    parser.add_argument("--out", default=None,
                        help="output folder (default bench/results/local/<machine>-<size>, ignored by git; the "
                             "committed report is bench/results/<machine>: pass it to update that)")
    parser.add_argument("--from-json", default=None, help="report an existing pytest-benchmark JSON")
    args = parser.parse_args(argv)
    size = args.size or "full"
    machine = f"{platform.system().lower()}-{platform.machine()}-{os.cpu_count()}cpu"
    out = pathlib.Path(args.out) if args.out else HERE / "results" / "local" / f"{machine}-{size}"
    out.mkdir(parents=True, exist_ok=True)
    if args.from_json:
        data = json.loads(pathlib.Path(args.from_json).read_text())
        command = data.get("accel_command", "(from an earlier run)")
        now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        data.setdefault("rendered", []).append(now)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            json_path = os.path.join(tmp, "results.json")
            command = run_suite(size, json_path)
            data = json.loads(pathlib.Path(json_path).read_text())
            excluded = pathlib.Path(json_path + ".excluded")
            data["excluded_peers"] = json.loads(excluded.read_text()) if excluded.exists() else []
        command = ["python", "bench/report.py"] + (["--size", size] if size != "full" else [])
        data["accel_command"] = " ".join(command)
    body, chart = tables(data)
    text = header(data, command) + body + excluded_section(data.get("excluded_peers", []))
    (out / "report.md").write_text(text)
    for bench in data.get("benchmarks", []):  # the statistics stay; every round's raw time would
        bench.get("stats", {}).pop("data", None)  # make the file megabytes
    (out / "results.json").write_text(json.dumps(data, indent=1))
    if chart:
        chart_png(chart, out / "report.png")
    print(text)
    print(f"\nsaved {out / 'report.md'}, {out / 'report.png'} and {out / 'results.json'}")
    return out


if __name__ == "__main__":
    main()
