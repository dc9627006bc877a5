"""The README's promises: its quickstart runs as printed, and .ci/run uses its set-up commands."""

import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_quickstart_runs_as_printed():
    section = README.split("## Quickstart", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    loss, shape, device = result.stdout.split(maxsplit=2)
    assert float(loss) > 0 and shape == "(2,"


def test_setup_block_has_install_and_test_commands():
    block = re.search(r"<!-- setup -->\n```bash\n(.*?)```\n<!-- /setup -->", README, re.S).group(1)
    install, test = block.strip().splitlines()
    assert install.startswith("pip install -e") and "[test]" in install
    assert test.split()[0] == "pytest"
