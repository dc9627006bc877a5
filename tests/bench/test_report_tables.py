"""The report's rules, on recorded and made-up results (fast; nothing is timed): no "% of limit"
above 100%, every stated target a row marked met or missed, dispersed ratios flagged, the BLAS
line readable, and a run without --out never writes into the committed results."""

import json
import pathlib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import report

ROOT = pathlib.Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "bench" / "results" / "linux-x86_64-2cpu" / "results.json"

pytest.importorskip("matplotlib")


@settings(max_examples=200, deadline=None)
@given(floor=st.floats(1e-6, 1.0), times=st.lists(st.floats(1e-6, 1.0), min_size=1, max_size=4),
       spread=st.floats(1.0, 3.0))
def test_no_share_of_the_limit_exceeds_100_percent(floor, times, spread):
    best = min(times)
    median = best * spread  # a median is never below its own best round
    measured = {f"impl {i}": t for i, t in enumerate(times)}
    pct, how = report.limit_share(median, floor, "3w1r", measured)
    assert 0 < pct <= 100 + 1e-9
    if best < floor:
        assert how.startswith("limit: impl") and how.endswith("faster than the 3w1r probe")
    else:
        assert how == "3w1r"


def test_the_committed_results_render_with_every_share_at_most_100_percent(tmp_path):
    report.main(["--from-json", str(COMMITTED), "--out", str(tmp_path)])
    text = (tmp_path / "report.md").read_text()
    shares = [int(m) for m in re.findall(r"\| (\d+)% \(", text)]
    assert shares and max(shares) <= 100
    assert "limit: torch fused's best round, faster than the same streams probe" in text
    assert "rendered again from this run's results.json" in text
    assert (tmp_path / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_stated_target_is_a_row_met_or_missed(tmp_path):
    report.main(["--from-json", str(COMMITTED), "--out", str(tmp_path)])
    text = (tmp_path / "report.md").read_text()
    section = text.split("### targets", 1)[1].split("###", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| question")]
    assert len(rows) >= len(report.TARGETS)
    for prefix, *_ in report.TARGETS:
        assert any(row.startswith(f"| {prefix}") for row in rows), prefix
    assert all(re.search(r"\| (met|\*\*missed\*\*)( †)? \|$", row) for row in rows), rows
    chain = next(row for row in rows if row.startswith("| accel.function interleaved | 20-op chain"))
    assert "| 4.03 |" in chain and "**missed** †" in chain  # 4.0x against the 5x target, a dispersed time


def _row(accel, torch, accel_iqr, torch_iqr):
    return {"accel": {"extra_info": {"median_s": {"accel": accel, "torch": torch},
                                     "iqr_s": {"accel": accel_iqr, "torch": torch_iqr}}}}


def test_targets_table_states_met_missed_flagged_and_unmeasured():
    questions = {"autodiff interleaved": {
        "20-op chain, 16 elements [cpu]": _row(1.0, 2.0, 0.1, 0.1),  # 0.5 <= 0.6
        "MLP forward+backward [cpu]": _row(1.0, 1.0, 0.9, 0.1),  # 1.0 > 0.9, accel's IQR 90% of its median
    }}
    lines = "\n".join(report.targets_table(questions))
    assert "| 20-op chain, 16 elements [cpu] | 0.5 | accel ÷ PyTorch eager, forward+backward <= 0.6 | met |" in lines
    assert "| MLP forward+backward [cpu] | 1 | accel ÷ PyTorch eager <= 0.9 | **missed** † |" in lines
    assert "| fit overhead | every case | — | fit ÷ hand-written loop <= 1.05 | not measured in this run |" in lines


def test_dispersed_ratios_are_flagged():
    assert report.flag("0.50", (1.0, 0.6)) == "0.50 †"
    assert report.flag("0.50", (1.0, 0.4), (2.0, 0.2)) == "0.50"
    assert report.flag("0.50", (1.0, None)) == "0.50"


def test_blas_line_names_each_pool_once():
    pools = [{"internal_api": "openblas", "architecture": "SkylakeX", "num_threads": 2, "version": "0.3.31",
              "owner": "NumPy"},
             {"internal_api": "openmp", "architecture": None, "num_threads": 2, "version": None, "owner": "PyTorch"},
             {"internal_api": "openmp", "architecture": None, "num_threads": 2, "version": None, "owner": "PyTorch"}]
    assert report.blas_line(pools) == ("NumPy: OpenBLAS 0.3.31 (SkylakeX kernel), 2 threads; "
                                       "PyTorch: OpenMP, 2 threads (x2)")


def test_a_run_without_out_leaves_the_committed_results_alone(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "HERE", tmp_path)
    out = report.main(["--from-json", str(COMMITTED), "--size", "quick"])
    assert out.parent == tmp_path / "results" / "local" and out.name.endswith("-quick")
    assert (out / "report.md").exists()
    assert "bench/results/local/" in (ROOT / ".gitignore").read_text()
    assert json.loads((out / "results.json").read_text())["benchmarks"]
