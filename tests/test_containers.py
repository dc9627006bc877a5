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
    for name, wanted in (("Dockerfile.cuda", ["gpu", "test", "crosscheck"]), ("Dockerfile.cpu", ["test", "crosscheck"])):
        dockerfile = (ROOT / "docker" / name).read_text()
        line = re.search(r"python docker/dependencies\.py ([\w ]+) >", dockerfile)
        assert line and line.group(1).split() == wanted, name
        assert all(extra in extras for extra in wanted)
        assert re.search(r"^USER \d+$", dockerfile, re.M), f"{name} must run as a numeric non-root user"
        assert "HEALTHCHECK" not in dockerfile


def test_dependency_listing_reads_pyproject(tmp_path):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, str(ROOT / "docker" / "dependencies.py"), "gpu", "test", "crosscheck"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split()
    assert "numpy>=1.26" in lines and any(line.startswith("cupy-cuda") for line in lines)
    assert any(line.startswith("torch") for line in lines)


def test_readme_has_a_gpu_section():
    readme = (ROOT / "README.md").read_text()
    assert "## Running on a GPU" in readme and "--gpus all" in readme and "pytest -m gpu" in readme


# ---- the images' file steps, replayed (no Docker engine here) -----------------------------------
def _instructions(dockerfile: str):
    """(INSTRUCTION, arguments) of each line, continuations joined, comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile)
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            yield word.upper(), rest.strip()


@pytest.mark.parametrize("name", ["Dockerfile.cpu", "Dockerfile.cuda"])
def test_dockerfile_file_steps_work_from_a_fresh_clone(name, tmp_path):
    """COPY, WORKDIR and the RUN commands that touch the copied files, replayed in a scratch
    image root from the files git tracks: a COPY of a file that is not there, or a RUN that
    names a path the COPY did not bring, fails here as it would in `docker build`. Package
    managers (apt, pip) and user administration are not replayed; the files they read are
    checked."""
    import shutil
    import subprocess
    import sys

    try:
        tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    clone = tmp_path / "clone"
    for path in tracked.stdout.split():
        if (ROOT / path).is_file():
            (clone / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / path, clone / path)
    image = tmp_path / "image"
    workdir = image
    for instruction, args in _instructions((ROOT / "docker" / name).read_text()):
        if instruction == "WORKDIR":
            workdir = image / args.lstrip("/")
            workdir.mkdir(parents=True, exist_ok=True)
        elif instruction == "COPY":
            parts = [a for a in args.split() if not a.startswith("--")]
            sources, destination = parts[:-1], parts[-1]
            for source in sources:
                src = clone / source
                assert src.exists(), f"{name}: COPY {source}: not in the repository"
                target = workdir / destination
                if src.is_dir():
                    shutil.copytree(src, target, dirs_exist_ok=True)
                else:
                    (target if destination.endswith("/") or destination in (".", "./") else target.parent).mkdir(
                        parents=True, exist_ok=True)
                    shutil.copy2(src, target / src.name if target.is_dir() else target)
        elif instruction == "RUN":
            for command in re.split(r"\s*&&\s*", args):
                words = command.split()
                if words[:1] == ["python"] and len(words) > 1:  # runs a copied script: it must be there
                    script = workdir / words[1]
                    assert script.is_file(), f"{name}: RUN {command}: {words[1]} was not copied"
                    arguments = words[2:words.index(">")] if ">" in words else words[2:]
                    result = subprocess.run([sys.executable, str(script), *arguments], cwd=workdir,
                                            capture_output=True, text=True)
                    assert result.returncode == 0, f"{name}: RUN {command}: {result.stderr}"
                elif words[:2] == ["pip", "install"] and ("." in words or "-e" in words):
                    assert (workdir / "pyproject.toml").is_file(), f"{name}: RUN {command}: no project here"
                    assert (workdir / "csrc").is_dir() and (workdir / "accel").is_dir(), f"{name}: sources missing"
