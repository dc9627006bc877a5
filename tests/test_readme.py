"""The README's promises: its quickstart runs as printed, and .ci/run uses its set-up commands."""

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
            result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
            assert result.returncode == 0, f"{doc.name}:\n{code}\n{result.stderr}"


def test_semantics_copy_matches_the_team_reference():
    reference = ROOT.parent / "shared" / "reference" / "semantics.md"
    if not reference.exists():
        pytest.skip("the team's shared/ folder is not beside this checkout")
    assert (ROOT / "docs" / "semantics.md").read_text() == reference.read_text()
