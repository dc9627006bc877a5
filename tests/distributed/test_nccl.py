"""The NCCL communicator on real GPUs (marked gpu: they skip without one). One GPU: a
communicator of one rank runs every call the buckets make (pointers, dtypes, the communication
stream and its events); two or more GPUs: the training case of test_mpi.py with one GPU per
worker."""

import numpy
import pytest

import accel as ac
from accel.distributed import buckets
from accel.distributed.world import World

pytestmark = pytest.mark.gpu


def _cuda_devices():
    return [d for d in ac.devices() if d.kind == "cuda"]


def _nccl_reason():
    if not _cuda_devices():
        return "no CUDA device"
    from cupy.cuda import nccl

    return None if nccl.available else "NCCL is not installed (nvidia-nccl-cu12)"


skip_without_nccl = pytest.mark.skipif(_nccl_reason() is not None, reason=str(_nccl_reason()))


class _OneRank(World):
    """A world of one whose GPU arrays still go through NCCL (not the Solo shortcut)."""

    def __init__(self):
        super().__init__()

    def communicator(self, device):
        from accel.distributed.communicators import NCCLCommunicator

        found = self._communicators.get(device)
        if found is None:
            found = self._communicators[device] = NCCLCommunicator(self, device)
        return found


@skip_without_nccl
def test_nccl_reduces_and_broadcasts_in_place_on_its_stream():
    import cupy

    device = _cuda_devices()[0]
    communicator = _OneRank().communicator(device)
    with device.activate():
        for dtype in ("float16", "float32", "float64", "int64"):
            buffer = cupy.arange(1000, dtype=dtype)
            communicator.start_all_reduce(buffer, "sum").wait()
            communicator.broadcast(buffer, root=0)
            assert cupy.asnumpy(buffer).tolist() == numpy.arange(1000, dtype=dtype).tolist()


@skip_without_nccl
def test_bucketed_reduction_through_nccl():
    device = _cuda_devices()[0]
    world = _OneRank()
    sources = [ac.Variable(numpy.zeros(s, "float32"), device=device, name=f"v{i}") for i, s in enumerate([(5,), (3, 2)])]
    layout = buckets.layout_for(sources, bucket_bytes=16, the_world=world)
    reduction = buckets.Reduction(layout, "average", 1)
    grads = [ac.tensor(numpy.full(s.shape, i + 1.0, "float32"), device=device) for i, s in enumerate(sources)]
    reduction.ready(1, grads[1])
    reduction.ready(0, grads[0])
    out = reduction.finish(sources)
    for g, r in zip(grads, out):
        assert r.device == device
        numpy.testing.assert_array_equal(r.numpy(), g.numpy())


@pytest.mark.skipif(len(_cuda_devices()) < 2, reason="needs two GPUs (one per worker)")
@skip_without_nccl
def test_two_gpu_workers_train_as_one_process():
    from test_mpi import _skip_reason, run_workers

    if _skip_reason() is not None:
        pytest.skip(_skip_reason())
    result = run_workers("train", "tape", env={"WORKER_DEVICE": "cuda"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "tape: 2 workers, max |distributed - one process|" in result.stdout
