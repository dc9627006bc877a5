"""Communicators: the one place that differs between CPUs and GPUs. Each reduces and broadcasts
flat, contiguous raw arrays in place; everything above (buckets, averaging, checks) is shared.

    Solo  a world of one: nothing to exchange
    MPI   NumPy arrays, non-blocking MPI_Iallreduce (mpi4py)
    NCCL  CuPy arrays, ncclAllReduce on a communication stream of its own; "waiting" makes the
          compute stream wait for it (no host synchronisation), so reductions overlap the rest
          of the backward pass on the GPU

start_all_reduce(buffer, op) returns a request; request.wait() makes the result usable;
progress() lets MPI advance outstanding requests (MPICH advances non-blocking collectives only
inside MPI calls).
"""

from __future__ import annotations

import numpy

__all__ = ["make_communicator", "OPS"]

OPS = ("sum", "average", "max", "min")
_FLOAT16 = numpy.dtype("float16")


class _Done:
    """A request that is already complete."""

    def wait(self) -> None:
        pass


DONE = _Done()


class SoloCommunicator:
    """A world of one: every reduction is the identity."""

    size = 1

    def buffer_dtype(self, dtype):
        return dtype

    def start_all_reduce(self, buffer, op: str = "sum"):
        return DONE

    def progress(self) -> None:
        pass

    def broadcast(self, buffer, root: int) -> None:
        pass


class MPICommunicator:
    """CPU arrays over MPI (shared memory on one host, the network across hosts)."""

    def __init__(self, world):
        from mpi4py import MPI

        self._mpi = MPI
        self._comm = world.comm
        self.size = world.size
        self._ops = {"sum": MPI.SUM, "average": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN}
        self._outstanding = []

    def buffer_dtype(self, dtype):
        """MPI has no portable half-precision sum: float16 is reduced in float32 (and more exactly)."""
        return numpy.dtype("float32") if dtype == _FLOAT16 else dtype

    def start_all_reduce(self, buffer, op: str = "sum"):
        request = self._comm.Iallreduce(self._mpi.IN_PLACE, buffer, op=self._ops[op])
        self._outstanding.append(request)
        return _MPIRequest(request, self._outstanding)

    def progress(self) -> None:
        """Testing one request runs MPICH's progress engine for all of them."""
        if self._outstanding:
            self._outstanding[0].Test()

    def broadcast(self, buffer, root: int) -> None:
        self._comm.Bcast(buffer, root=root)


class _MPIRequest:
    __slots__ = ("_request", "_outstanding")

    def __init__(self, request, outstanding):
        self._request, self._outstanding = request, outstanding

    def wait(self) -> None:
        self._request.Wait()
        try:
            self._outstanding.remove(self._request)
        except ValueError:
            pass


class NCCLCommunicator:
    """CuPy arrays on one GPU per process over NCCL (cupy.cuda.nccl); the unique id travels by MPI."""

    def __init__(self, world, device):
        import cupy
        from cupy.cuda import nccl

        self._cupy, self._nccl, self._device = cupy, nccl, device
        self.size = world.size
        uid = world.share(nccl.get_unique_id() if world.rank == 0 else None)
        with device.activate():
            self._comm = nccl.NcclCommunicator(world.size, uid, world.rank)
            self._stream = cupy.cuda.Stream(non_blocking=True)
        self._ops = {"sum": nccl.NCCL_SUM, "average": nccl.NCCL_SUM, "max": nccl.NCCL_MAX, "min": nccl.NCCL_MIN}
        self._types = {numpy.dtype("float16"): nccl.NCCL_FLOAT16, numpy.dtype("float32"): nccl.NCCL_FLOAT32,
                       numpy.dtype("float64"): nccl.NCCL_FLOAT64, numpy.dtype("int32"): nccl.NCCL_INT32,
                       numpy.dtype("int64"): nccl.NCCL_INT64, numpy.dtype("uint8"): nccl.NCCL_UINT8,
                       numpy.dtype("int8"): nccl.NCCL_INT8}

    def buffer_dtype(self, dtype):
        return dtype

    def _type(self, buffer):
        found = self._types.get(buffer.dtype)
        if found is None:
            raise TypeError(f"accel.distributed: NCCL cannot reduce {buffer.dtype} arrays")
        return found

    def _after_compute(self) -> None:
        """The communication stream waits for what the compute stream has queued so far."""
        ready = self._cupy.cuda.Event(disable_timing=True)
        ready.record(self._cupy.cuda.get_current_stream())
        self._stream.wait_event(ready)

    def start_all_reduce(self, buffer, op: str = "sum"):
        with self._device.activate():
            self._after_compute()
            self._comm.allReduce(buffer.data.ptr, buffer.data.ptr, buffer.size, self._type(buffer), self._ops[op],
                                 self._stream.ptr)
            done = self._cupy.cuda.Event(disable_timing=True)
            done.record(self._stream)
        return _StreamRequest(done, buffer, self._device)

    def progress(self) -> None:
        pass

    def broadcast(self, buffer, root: int) -> None:
        with self._device.activate():
            self._after_compute()
            self._comm.bcast(buffer.data.ptr, buffer.size, self._type(buffer), root, self._stream.ptr)
            done = self._cupy.cuda.Event(disable_timing=True)
            done.record(self._stream)
        _StreamRequest(done, buffer, self._device).wait()


class _StreamRequest:
    """Completion of work queued on the communication stream; it holds the buffer until then."""

    __slots__ = ("_event", "_buffer", "_device")

    def __init__(self, event, buffer, device):
        self._event, self._buffer, self._device = event, buffer, device

    def wait(self) -> None:
        import cupy

        with self._device.activate():
            cupy.cuda.get_current_stream().wait_event(self._event)
        self._buffer = None


def make_communicator(world, device):
    """The communicator for `device`'s arrays in `world` (its `collectives` names which)."""
    if world.size == 1:
        return SoloCommunicator()
    if device.collectives == "mpi":
        return MPICommunicator(world)
    if device.collectives == "nccl":
        from cupy.cuda import nccl

        if not nccl.available:
            raise ImportError("accel.distributed: NCCL is missing for GPU collectives: pip install "
                              "'accel-tensors[gpu]' (it brings nvidia-nccl-cu12)")
        return NCCLCommunicator(world, device)
    raise ValueError(f"accel.distributed: no communicator for arrays on {device}")
