"""What the example tests share: running an example script as a user would, and loading one as a
module (for the PyTorch twins, which call its functions)."""

import importlib.util
import pathlib
import re
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def run_example(tmp_path):
    """run_example(name, *args) -> stdout: examples/<name>.py with --verbose 2 and --out tmp_path,
    in tmp_path; a failure shows the script's stderr."""
    def run(name, *args):
        result = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py"), "--verbose", "2", "--out",
                                 str(tmp_path), *args], capture_output=True, text=True, timeout=600, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        return result.stdout

    return run


@pytest.fixture
def example_module():
    """example_module(name): examples/<name>.py imported as a module."""
    def load(name):
        spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture
def accuracy_of():
    """accuracy_of(stdout): the test accuracy an example printed."""
    return lambda stdout: float(re.search(r"test accuracy: ([0-9.]+)", stdout).group(1))
