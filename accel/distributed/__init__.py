"""accel.distributed: training across processes: synchronous data parallel on MPI (CPU arrays)
and NCCL (GPU arrays) in Horovod's shape, and parameter servers on Ray (`accel.distributed.ps`).

    mpiexec -n 2 python train.py         # or run it alone: a world of one

    import accel as ac
    dist = ac.distributed
    dist.init()
    model = ...; opt = dist.DistributedOptimizer(ac.optimizers.Adam(1e-3))
    dist.broadcast_variables(model, root=0)
    x, y = dist.shard((x, y))
    model.compile(optimizer=opt, loss=...); model.fit(x, y, ...)

See docs/distributed.md.
"""

from .callbacks import MetricAverageCallback
from .collectives import all_reduce, broadcast, broadcast_variables
from .data import DistributedSampler, shard
from .optimizer import DistributedOptimizer
from .tape import DistributedGradientTape
from .world import barrier, init, is_initialized, local_rank, rank, size
from . import ps  # parameter servers on Ray (Ray itself is imported when a trainer starts)

__all__ = ["init", "is_initialized", "rank", "size", "local_rank", "barrier", "all_reduce", "broadcast",
           "broadcast_variables", "DistributedGradientTape", "DistributedOptimizer", "shard", "DistributedSampler",
           "MetricAverageCallback", "ps"]
