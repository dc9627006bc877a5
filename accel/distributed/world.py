"""The world: this process's rank among `size` processes started by an MPI launcher
(`mpiexec -n 2 python train.py`), or a world of one when no launcher started it, so the same
script runs alone unchanged (and needs no MPI then).

MPI (mpi4py over the MPICH or Open MPI wheels) carries every collective on CPU arrays and the
small control messages of all of them (signature checks, NCCL's unique id); arrays on a GPU go
through NCCL (communicators.py). A worker that dies of an uncaught exception aborts the whole
job (MPI_Abort) after printing its traceback, so the others fail at once instead of waiting
forever in a collective.
"""

from __future__ import annotations

import os
import sys
import threading

__all__ = ["World", "init", "world", "rank", "size", "local_rank", "barrier", "is_initialized"]

# Set in every process a launcher starts: MPICH / Intel MPI (Hydra), Open MPI, PMIx, MVAPICH, Slurm.
_LAUNCHER_VARIABLES = ("PMI_RANK", "PMI_SIZE", "PMIX_RANK", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")

_INSTALL_HINT = "pip install 'accel-tensors[dist]' (mpi4py and the MPICH wheel)"


class World:
    """Who this process is: `rank` in [0, size), `local_rank` among the processes on its host
    (which GPU to use), and `comm`, the mpi4py communicator (None in a world of one)."""

    def __init__(self, comm=None):
        self.comm = comm
        if comm is None:
            self.rank, self.size, self.local_rank = 0, 1, 0
        else:
            from mpi4py import MPI

            self.rank, self.size = comm.Get_rank(), comm.Get_size()
            host = comm.Split_type(MPI.COMM_TYPE_SHARED, key=self.rank)
            self.local_rank = host.Get_rank()
            host.Free()
        self._communicators = {}
        self._lock = threading.Lock()

    def communicator(self, device):
        """The communicator for arrays on `device` (made on first use: NCCL's is a collective)."""
        key = (device.collectives, device.index)
        found = self._communicators.get(key)
        if found is None:
            from .communicators import make_communicator

            with self._lock:
                found = self._communicators.get(key)
                if found is None:
                    found = self._communicators[key] = make_communicator(self, device)
        return found

    def gather(self, value) -> list:
        """Every rank's `value` (a picklable object), in rank order, on every rank."""
        return [value] if self.comm is None else self.comm.allgather(value)

    def share(self, value, root: int = 0):
        """`root`'s `value` (a picklable object), on every rank."""
        return value if self.comm is None else self.comm.bcast(value, root=root)

    def barrier(self) -> None:
        if self.comm is not None:
            self.comm.Barrier()

    def abort(self, code: int = 1) -> None:
        """Ends every process of the job (a world of one: this one)."""
        sys.stdout.flush()
        sys.stderr.flush()
        if self.comm is None:
            os._exit(code)
        self.comm.Abort(code)

    def __repr__(self) -> str:
        return f"World(rank={self.rank}, size={self.size}, local_rank={self.local_rank})"


_world: World | None = None
_init_lock = threading.Lock()


def launched() -> bool:
    """Whether an MPI launcher started this process."""
    return any(name in os.environ for name in _LAUNCHER_VARIABLES)


def init() -> World:
    """Joins the world the launcher started (idempotent). Without a launcher: a world of one, and
    MPI is not loaded. Collectives call it themselves; call it first to know rank() early."""
    global _world
    with _init_lock:
        if _world is not None:
            return _world
        if not launched():
            _world = World()
            return _world
        try:
            from mpi4py import MPI
        except ImportError as error:
            raise ImportError(f"accel.distributed: this process was started by an MPI launcher but mpi4py is "
                              f"missing: {_INSTALL_HINT}") from error
        _world = World(MPI.COMM_WORLD.Dup())  # our own context: a user's MPI messages never mix with ours
        if _world.size > 1:
            _abort_on_uncaught_exceptions(_world)
        return _world


def world() -> World:
    return _world if _world is not None else init()


def is_initialized() -> bool:
    return _world is not None


def rank() -> int:
    """This process's rank, 0 .. size() - 1."""
    return world().rank


def size() -> int:
    """How many processes train together."""
    return world().size


def local_rank() -> int:
    """This process's rank among those on its host (the GPU to use: f"cuda:{local_rank()}")."""
    return world().local_rank


def barrier() -> None:
    """Returns when every process has called it."""
    world().barrier()


def _abort_on_uncaught_exceptions(the_world: World) -> None:
    """A rank that dies of an exception would leave the others waiting in their next collective
    for ever: print the traceback (naming the rank), then abort the job."""
    previous = sys.excepthook

    def hook(kind, value, traceback):
        sys.stderr.write(f"accel.distributed: rank {the_world.rank} of {the_world.size} failed; aborting "
                         f"every rank\n")
        previous(kind, value, traceback)
        the_world.abort(1)

    sys.excepthook = hook
