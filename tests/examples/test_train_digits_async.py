"""examples/train_digits_async.py: asynchronous and synchronous parameter-server training both
reach the accuracy bar, and the PNG is written."""

import pathlib
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow
pytest.importorskip("ray")
pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")
pytest.importorskip("tqdm")

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "examples" / "train_digits_async.py"


def test_async_and_sync_reach_the_bar(tmp_path):
    result = subprocess.run([sys.executable, str(SCRIPT), "--num-cpus", "2", "--steps", "200", "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ("asynchronous", "synchronous"):
        found = re.search(rf"{name}: test accuracy ([0-9.]+) after (\d+) updates", result.stdout)
        assert found and float(found.group(1)) >= 0.95, result.stdout
    assert re.search(r"synchronous: .* after 200 updates", result.stdout)
    assert (tmp_path / "async_vs_sync.png").read_bytes()[:4] == b"\x89PNG"
