"""The container images agree with pyproject.toml: one CUDA major for the image and the CuPy
wheel, the nvcc package of the image's CUDA version, the extras the images install."""

import pathlib
import re

import pytest

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11; the images run 3.11+

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_cuda_image_matches_the_cupy_pin():
    dockerfile = (ROOT / "docker" / "Dockerfile.cuda").read_text()
    cuda = re.search(r"^ARG CUDA_VERSION=(\d+)\.(\d+)\.(\d+)$", dockerfile, re.M)
    assert cuda, "Dockerfile.cuda must pin CUDA_VERSION=X.Y.Z"
    major, minor = cuda.group(1), cuda.group(2)
    assert re.search(r"^FROM nvidia/cuda:\$\{CUDA_VERSION\}-runtime-ubuntu\d+\.\d+$", dockerfile, re.M)
    apt = re.search(r"^ARG CUDA_APT=(\d+)-(\d+)$", dockerfile, re.M)
    assert apt and apt.groups() == (major, minor), "the nvcc package must be the image's CUDA version"
    (cupy,) = [r for r in _pyproject()["project"]["optional-dependencies"]["gpu"] if r.startswith("cupy")]
    assert re.fullmatch(rf"cupy-cuda{major}x\[ctk\]==\d+\.\d+\.\d+", cupy), (cupy, major)


def test_images_install_the_extras_from_pyproject():
    extras = _pyproject()["project"]["optional-dependencies"]
    for name, wanted in (("Dockerfile.cuda", ["gpu", "test"]), ("Dockerfile.cpu", ["test"])):
        dockerfile = (ROOT / "docker" / name).read_text()
        line = re.search(r"python docker/dependencies\.py ([\w ]+) >", dockerfile)
        assert line and line.group(1).split() == wanted, name
        assert all(extra in extras for extra in wanted)
        assert re.search(r"^USER \d+$", dockerfile, re.M), f"{name} must run as a numeric non-root user"
        assert "HEALTHCHECK" not in dockerfile


def test_dependency_listing_reads_pyproject(tmp_path):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, str(ROOT / "docker" / "dependencies.py"), "gpu", "test"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split()
    assert "numpy>=1.26" in lines and any(line.startswith("cupy-cuda") for line in lines)
    assert any(line.startswith("torch==") for line in lines)


def test_readme_has_a_gpu_section():
    readme = (ROOT / "README.md").read_text()
    assert "## Running on a GPU" in readme and "--gpus all" in readme and "pytest -m gpu" in readme
