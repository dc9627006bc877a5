"""The README's promises: its quickstart runs as printed, and .ci/run uses its set-up commands."""

import importlib.util
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _run_quickstart(env=None):
    section = README.split("## Quickstart", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=None if env is None else {**os.environ, **env})
    assert result.returncode == 0, result.stderr
    words = result.stdout.split()
    assert words[0] == "loss" and float(words[1]) < 1e-3 and words[3] == "300"
    return words[-1]


def _run_section(heading: str) -> list:
    """The words the first Python block under `heading` prints, run on the CPU."""
    section = README.split(heading, 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "ACCEL_DEVICE": "cpu"})
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_fit_quickstart_runs_as_printed():
    words = _run_section("### Training with compile / fit")
    assert words[0] == "accuracy" and float(words[1]) > 0.9 and int(words[3]) >= 6
    assert os.path.getsize("curves.png") > 1000


def test_traced_step_runs_as_printed():
    words = _run_section("### A traced training step with accel.function")
    assert words[0] == "loss" and float(words[1]) < 0.01 and words[2:] == ["traces", "1"]


def test_quickstart_runs_as_printed():
    assert _run_quickstart({"ACCEL_DEVICE": "cpu"}) == "cpu"


@pytest.mark.gpu
def test_quickstart_runs_as_printed_on_a_gpu():
    """Every tensor of the quickstart goes to the default device: on a GPU machine, cuda:0."""
    import accel as ac

    if not any(d.kind == "cuda" for d in ac.devices()):
        pytest.skip("no usable CUDA device")
    assert _run_quickstart({"ACCEL_DEVICE": "cuda:0"}) == "cuda:0"


def test_setup_block_has_install_and_test_commands():
    block = re.search(r"<!-- setup -->\n```bash\n(.*?)```\n<!-- /setup -->", README, re.S).group(1)
    install, test = block.strip().splitlines()
    assert install.startswith("pip install -e") and "[test]" in install
    assert test.split()[0] == "pytest"


def test_docs_code_blocks_run():
    for doc in sorted((ROOT / "docs").glob("*.md")):
        for code in re.findall(r"```python\n(.*?)```", doc.read_text(), re.S):
            if "distributed import ps" in code and importlib.util.find_spec("ray") is None:
                continue  # parameter servers need Ray (the test extra has it on Linux)
            result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
            assert result.returncode == 0, f"{doc.name}:\n{code}\n{result.stderr}"


# Paragraphs of the team's reference that docs/semantics.md corrects (checked against Keras's
# sources), by their first words, with the reason; every other paragraph must be copied unchanged.
CORRECTED = {
    "LearningRateScheduler(schedule, verbose=0):": "one-argument schedules; the mode 'auto' rule added before it",
    "Callbacks run in the order given, with History first.": "Keras's CallbackList appends History after them",
}


def test_semantics_copy_follows_the_team_reference():
    reference = ROOT.parent / "shared" / "reference" / "semantics.md"
    if not reference.exists():
        pytest.skip("the team's shared/ folder is not beside this checkout")
    ours = (ROOT / "docs" / "semantics.md").read_text()
    paragraphs = [p.strip() for p in reference.read_text().split("\n\n") if p.strip()]
    missing = [p[:80] for p in paragraphs if p not in ours and not any(p.startswith(k) for k in CORRECTED)]
    assert not missing, missing
    for start in CORRECTED:
        assert any(p.startswith(start) for p in paragraphs), f"the reference no longer has {start!r}"
