"""CheckpointManager (tf.train.CheckpointManager): numbered checkpoints of one Checkpoint in a
directory, the newest `max_to_keep` kept.

    manager = accel.CheckpointManager(accel.Checkpoint(model=model, optimizer=opt), "run", max_to_keep=3)
    manager.save()                      # run/ckpt-1.npz, run/ckpt-2.npz, ...
    checkpoint.restore(manager.latest_checkpoint)

Each save is Checkpoint.save's (a temporary file fsynced and renamed into place), so a crash
leaves either the previous set or the new one. Old files are deleted only after the new one is in
place. The files in the directory are the state: a new manager over the same directory continues
the numbering and knows the existing checkpoints (TensorFlow keeps a "checkpoint" index file for
that; here the names say it). `latest_checkpoint(directory)` finds the newest without a manager.
"""

from __future__ import annotations

import os
import re

from .checkpoint import Checkpoint

__all__ = ["CheckpointManager", "latest_checkpoint"]


def _numbered(directory: str, prefix: str) -> list:
    """(number, path) of every `prefix`-N.npz in directory, oldest first."""
    pattern = re.compile(re.escape(prefix) + r"-(\d+)\.npz$")
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    found = [(int(m.group(1)), os.path.join(directory, name)) for name in names if (m := pattern.match(name))]
    return sorted(found)


def latest_checkpoint(directory, checkpoint_name: str = "ckpt"):
    """The path of the newest `checkpoint_name`-N.npz in directory, or None."""
    found = _numbered(os.fspath(directory), checkpoint_name)
    return found[-1][1] if found else None


class CheckpointManager:
    """Numbered saves of `checkpoint` in `directory`, keeping the newest `max_to_keep` (None:
    all)."""

    def __init__(self, checkpoint, directory, max_to_keep=5, checkpoint_name: str = "ckpt"):
        if not isinstance(checkpoint, Checkpoint):
            raise TypeError(f"CheckpointManager: checkpoint must be an accel.Checkpoint, got "
                            f"{type(checkpoint).__name__}")
        if max_to_keep is not None and (isinstance(max_to_keep, bool) or not isinstance(max_to_keep, int)
                                        or max_to_keep < 1):
            raise ValueError(f"CheckpointManager: max_to_keep must be a positive int or None, got {max_to_keep!r}")
        if not isinstance(checkpoint_name, str) or not checkpoint_name or os.sep in checkpoint_name:
            raise ValueError(f"CheckpointManager: checkpoint_name must be a file name prefix, got {checkpoint_name!r}")
        self.checkpoint = checkpoint
        self.directory = os.fspath(directory)
        self.max_to_keep = max_to_keep
        self.checkpoint_name = checkpoint_name

    @property
    def checkpoints(self) -> list:
        """The paths of the kept checkpoints, oldest first."""
        return [path for _, path in _numbered(self.directory, self.checkpoint_name)]

    @property
    def latest_checkpoint(self):
        """The newest checkpoint's path, or None before the first save."""
        return latest_checkpoint(self.directory, self.checkpoint_name)

    def save(self, checkpoint_number=None) -> str:
        """Saves as `checkpoint_name`-N.npz (N: checkpoint_number, or one more than the newest),
        then deletes the oldest beyond max_to_keep; returns the new path."""
        found = _numbered(self.directory, self.checkpoint_name)
        if checkpoint_number is None:
            number = found[-1][0] + 1 if found else 1
        elif isinstance(checkpoint_number, bool) or not isinstance(checkpoint_number, int) or checkpoint_number < 0:
            raise ValueError(f"CheckpointManager.save: checkpoint_number must be an int >= 0, got "
                             f"{checkpoint_number!r}")
        else:
            number = checkpoint_number
        path = self.checkpoint.save(os.path.join(self.directory, f"{self.checkpoint_name}-{number}.npz"))
        if self.max_to_keep is not None:
            kept = [entry for entry in _numbered(self.directory, self.checkpoint_name) if entry[1] != path]
            for _, old in kept[:max(0, len(kept) + 1 - self.max_to_keep)]:
                os.unlink(old)
        return path
