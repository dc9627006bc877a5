"""MetricAverageCallback: fit's epoch logs averaged over the workers (Horovod's), so that every
worker's History, progress line and deciding callbacks (EarlyStopping, ReduceLROnPlateau) see
the same numbers: each worker's training loss and metrics cover only its shard."""

from __future__ import annotations

import numpy

from ..callbacks.callback import Callback
from .world import world as current_world

__all__ = ["MetricAverageCallback"]


class MetricAverageCallback(Callback):
    """Replaces each number in the epoch's logs by its average over the workers (one small
    host message per epoch). Put it first in `callbacks`: those after it see the averages."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        the_world = current_world()
        if the_world.size == 1:
            return
        keys = sorted(k for k, v in logs.items() if isinstance(v, (int, float, numpy.number)))
        everyone = the_world.gather((keys, [float(logs[k]) for k in keys]))
        if any(theirs != keys for theirs, _ in everyone):
            raise ValueError("MetricAverageCallback: the workers logged different metrics: "
                             + "; ".join(f"rank {r}: {theirs}" for r, (theirs, _) in enumerate(everyone)))
        mean = numpy.mean([values for _, values in everyone], axis=0)
        for key, value in zip(keys, mean):
            logs[key] = float(value)
