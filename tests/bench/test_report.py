"""The benchmark report command runs (quick mode, tiny sizes) and produces its table and PNG.
Nothing here is timed: this checks the report machinery, not the numbers."""

import pathlib
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # CI runs them; a developer can skip them with -m 'not slow'

ROOT = pathlib.Path(__file__).resolve().parents[2]

pytest.importorskip("pytest_benchmark")
pytest.importorskip("matplotlib")
pytest.importorskip("torch")


def test_report_runs_and_writes_table_and_png(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "report.py"), "--size", "tiny", "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = (tmp_path / "report.md").read_text()
    for section in ("# accel benchmark report", "### optimizer step", "### autodiff", "### training step",
                    "### autodiff interleaved", "### per-op overhead interleaved",
                    "| case | accel forward | torch forward | accel ÷ torch forward | accel forward+backward |",
                    "### limits (probes)", "### placement sweep", "| layout | accel | % of the probe | torch fused |",
                    "### fit overhead", "| case | fit | hand-written loop | fit ÷ loop |",
                    "### loss scaling", "| case | plain | scaled | scaled ÷ plain |",
                    "### mixed_float16 training step",
                    "### data parallel all-reduce, 2 processes", "### data parallel overlap, 2 processes",
                    "| efficiency accel | efficiency torch | accel ÷ torch efficiency |",
                    "### parameter server update, Adam float32", "| case | asynchronous | synchronous | async ÷ sync |",
                    "### accel.function interleaved", "| eager ÷ function | function ÷ torch eager |",
                    "own ÷ best", "| case | accel (median, IQR) | % of limit |"):
        assert section in report, section
    assert "torch fused" in report and "(same streams)" in report and "| 3w1r |" in report
    # torch's fused float16 SGD changes no parameter on the CPU: it is listed, not timed
    assert "### peers left out" in report and "changed none of" in report
    assert "GPU: " in report
    assert (tmp_path / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "results.json").exists()
    assert "# accel benchmark report" in result.stdout  # printed to the terminal too
