"""Where the fused kernels' sources are (CuPy compiles csrc/cuda from them at run time)."""

from __future__ import annotations

import pathlib


def sources_dir() -> pathlib.Path:
    """Where the kernel sources are: inside the installed package (wheels) or the source tree
    (editable installs)."""
    here = pathlib.Path(__file__).resolve().parent
    for candidate in (here / "_csrc", here.parent / "csrc"):
        if (candidate / "rules" / "apply.h").is_file():
            return candidate
    raise FileNotFoundError(f"accel's kernel sources are missing (looked in {here / '_csrc'} and "
                            f"{here.parent / 'csrc'}); reinstall accel")
