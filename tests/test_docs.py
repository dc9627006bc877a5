"""The repository's documents and comments name files that exist (a note that cites a missing
file misleads the next reader)."""

import pathlib
import re
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
# A path in the repository: a top-level folder, then a path (placeholders like <family> skipped).
PATH = re.compile(r"(?<![\w./-])((?:accel|csrc|tests|bench|docs|examples|docker|\.ci|\.github)/[\w./<>*{}-]*[\w/])")
# where the wheel installs the kernel sources; where bench/report.py writes by default (ignored by git)
NOT_IN_THE_TREE = {"accel/_csrc", "bench/results/local"}


def _tracked_text_files():
    try:
        out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    for name in out.split():
        path = ROOT / name
        if path.suffix in (".py", ".md", ".h", ".cpp", ".cu", ".toml", ".yml") or path.name == "CMakeLists.txt":
            yield path


def test_every_file_named_in_the_repository_exists():
    missing = []
    for path in _tracked_text_files():
        text = path.read_text()
        for match in PATH.finditer(text):
            ref = match.group(1).rstrip(".")
            if text[match.end():match.end() + 1] == "\\":  # a regular expression, not a path
                continue
            if any(c in ref for c in "<>*{}") or ref.rstrip("/") in NOT_IN_THE_TREE:
                continue
            if not (ROOT / ref).exists():
                missing.append(f"{path.relative_to(ROOT)} names {ref}")
    assert missing == []


def test_nothing_cites_the_teams_shared_folder():
    """Users have the repository, not the team's shared/ folder: docs/semantics.md is its copy."""
    hits = [f"{p.relative_to(ROOT)}" for p in _tracked_text_files()
            if p.name != "test_docs.py" and re.search(r"shared/reference|shared ARCHITECTURE", p.read_text())]
    assert hits == []
