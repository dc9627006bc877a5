"""accel.distributed.ps: asynchronous training with parameter servers on Ray (TensorFlow's
ParameterServerStrategy, in spirit): servers own shards of the variables and update them with
accel's fused optimizers; workers pull, compute gradients on their own data, push, without
waiting for each other. Needs Ray (the `ps` extra). See docs/distributed.md."""

from .gate import Gate
from .trainer import ParameterServerTrainer, shard_by_size

__all__ = ["ParameterServerTrainer", "Gate", "shard_by_size"]
