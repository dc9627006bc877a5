"""Data parallel across real processes: `mpiexec -n 2` on this machine (mpi4py and the MPICH
wheel come with the test extra). Each case is one worker script run (mpi_worker.py)."""

import os
import re
import pathlib
import shutil
import subprocess
import sys

import pytest

WORKER = pathlib.Path(__file__).with_name("mpi_worker.py")


def _mpiexec():
    beside = pathlib.Path(sys.executable).with_name("mpiexec")  # the MPICH wheel's, in this environment
    return str(beside) if beside.exists() else shutil.which("mpiexec")


def _skip_reason():
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return "mpi4py is not installed (pip install 'accel-tensors[dist]')"
    if _mpiexec() is None:
        return "no mpiexec (pip install mpich)"
    return None


pytestmark = pytest.mark.skipif(_skip_reason() is not None, reason=str(_skip_reason()))


def run_workers(*args, processes=2, timeout=180, env=None):
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", **(env or {}))
    return subprocess.run([_mpiexec(), "-n", str(processes), sys.executable, str(WORKER), *args],
                          capture_output=True, text=True, timeout=timeout, env=env)


@pytest.mark.parametrize("mode", ["tape", "optimizer", "fit"])
def test_two_workers_train_as_one_process_on_the_whole_batch(mode):
    """The digits MLP (float64, L2, global-norm clipping) for 20 steps with the global batch split
    in two equals one process on whole batches to 1e-10; the two workers agree bit for bit."""
    result = run_workers("train", mode)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"{mode}: 2 workers, max |distributed - one process|" in result.stdout


def test_collectives_and_broadcast_of_model_and_optimizer_state():
    result = run_workers("collectives")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "collectives: 2 workers agree" in result.stdout


def test_embedding_slices_are_gathered_from_every_worker():
    result = run_workers("slices")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "slices: 2 workers gathered rows [0, 3, 3, 5, 0]" in result.stdout


def test_different_models_raise_on_every_rank_naming_the_difference():
    result = run_workers("mismatch")
    assert result.returncode == 0, result.stderr[-3000:]
    for rank in (0, 1):
        line = next(line for line in result.stdout.splitlines() if line.startswith(f"rank {rank} raised"))
        assert "'dense/kernel' shape (64, 32) float64, rank 1 has 'dense/kernel' shape (64, 33)" in line


def test_a_crashing_worker_ends_the_job_instead_of_hanging():
    result = run_workers("crash", timeout=60)  # a hang would raise TimeoutExpired
    assert result.returncode != 0
    assert "worker 1 fails on purpose" in result.stderr
    assert "rank 1 of 2 failed; aborting every rank" in result.stderr


def test_the_same_script_runs_alone_as_a_world_of_one():
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PMI_", "PMIX_", "OMPI_"))}
    result = subprocess.run([sys.executable, str(WORKER), "train", "tape"], capture_output=True, text=True,
                            timeout=120, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "tape: 1 workers, max |distributed - one process| = 0" in result.stdout


@pytest.mark.slow
def test_the_digits_example_trains_on_two_workers(tmp_path):
    pytest.importorskip("sklearn")
    script = pathlib.Path(__file__).resolve().parents[2] / "examples" / "train_digits.py"
    result = subprocess.run([_mpiexec(), "-n", "2", sys.executable, str(script), "--distributed", "--verbose", "2",
                             "--out", str(tmp_path), "--plot", ""], capture_output=True, text=True, timeout=300,
                            cwd=tmp_path, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert result.returncode == 0, result.stderr[-3000:]
    accuracy = float(re.search(r"test accuracy: ([0-9.]+) \(.*2 workers", result.stdout).group(1))
    assert accuracy >= 0.96
    assert result.stdout.count("test accuracy") == 1  # rank 0 alone reports
    assert (tmp_path / "digits_best.npz").exists()


def test_the_char_gpt_example_trains_on_two_workers(tmp_path):
    script = pathlib.Path(__file__).resolve().parents[2] / "examples" / "train_char_gpt.py"
    result = subprocess.run([_mpiexec(), "-n", "2", sys.executable, str(script), "--distributed", "--verbose", "2",
                             "--out", str(tmp_path), "--plot", "", "--corpus-chars", "40000", "--epochs", "2",
                             "--blocks", "1", "--width", "32", "--heads", "2", "--context", "32",
                             "--sample-chars", "20"], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                            env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert result.returncode == 0, result.stderr[-3000:]
    losses = [float(v) for v in re.findall(r" - loss: ([0-9.]+)", result.stdout)]
    assert len(losses) == 2 and losses[1] < losses[0]  # rank 0 alone reports
    assert result.stdout.count("sample:") == 1


def test_the_recommender_example_trains_on_two_workers(tmp_path):
    script = pathlib.Path(__file__).resolve().parents[2] / "examples" / "train_recommender.py"
    result = subprocess.run([_mpiexec(), "-n", "2", sys.executable, str(script), "--distributed", "--verbose", "2",
                             "--out", str(tmp_path), "--plot", "", "--users", "50000", "--items", "10000",
                             "--samples", "60000", "--epochs", "2"], capture_output=True, text=True, timeout=300,
                            cwd=tmp_path, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert result.returncode == 0, result.stderr[-3000:]
    losses = [float(v) for v in re.findall(r" - loss: ([0-9.]+)", result.stdout)]
    assert len(losses) == 2 and losses[1] < losses[0]  # rank 0 alone reports
