"""accel.malloc: glibc keeps the memory a step freed for the next step (no page fault per 4 KiB
when buffers of the same sizes come back), and the opt-outs leave glibc alone."""

import os
import subprocess
import sys

import pytest

PROBE = r"""
import resource, numpy, accel
def faults_of_a_step():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    buffers = [numpy.ones(n) for n in (300_000, 700_000, 1_200_000, 500_000, 900_000)]  # 2.4 to 9.6 MB, touched
    del buffers
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(accel.malloc.state["tuned"], [faults_of_a_step() for _ in range(4)][-1])
"""


def _probe(**env):
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("ACCEL_MALLOC", "MALLOC_TOP_PAD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")}
    environment.update(env)
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=environment, timeout=120)
    assert out.returncode == 0, out.stderr
    tuned, faults = out.stdout.split()
    return tuned == "True", int(faults)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_a_step_after_the_first_takes_no_page_faults():
    tuned, faults = _probe()
    assert tuned and faults < 100  # the step's 28 MB fresh from the OS: thousands of faults
    tuned, faults = _probe(ACCEL_MALLOC="system")
    assert not tuned and faults > 1000  # glibc's default: trimmed and faulted back every step
    assert _probe(MALLOC_TRIM_THRESHOLD_="131072")[0] is False  # the user's own setting wins
