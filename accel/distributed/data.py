"""Each worker's share of the data.

shard(data): this rank's rows of arrays, tensors or sequences (every size()-th row, starting at
rank(); an (x, y) tuple is sharded alike). DistributedSampler: the indices of this rank's rows for
an epoch, from a permutation every worker draws alike from (seed, epoch), as PyTorch's
DistributedSampler; with drop_remainder=False the permutation is padded by wrapping around so
that every rank gets the same number of rows (equal step counts: a rank with one step more
would wait for ever in its extra all-reduce).
"""

from __future__ import annotations

import math

import numpy

from ..tensor import Tensor
from .world import world as current_world

__all__ = ["shard", "DistributedSampler"]


def _rank_and_size(rank, size):
    the_world = current_world()
    rank = the_world.rank if rank is None else rank
    size = the_world.size if size is None else size
    for name, value in (("rank", rank), ("size", size)):
        if isinstance(value, bool) or not isinstance(value, (int, numpy.integer)):
            raise TypeError(f"shard: {name} must be an int, got {value!r}")
    if size < 1 or not 0 <= rank < size:
        raise ValueError(f"shard: rank must be in [0, size) and size >= 1, got rank {rank}, size {size}")
    return int(rank), int(size)


def shard(data, rank: int | None = None, size: int | None = None, drop_remainder: bool = True):
    """Rows rank, rank + size, rank + 2 * size, ... of `data` (an array, a tensor, a sequence, or a
    tuple / list / dict of them with equal lengths, sharded alike). drop_remainder (default): every
    rank gets len(data) // size rows, so all take the same number of steps."""
    rank, size = _rank_and_size(rank, size)
    if isinstance(data, dict):
        lengths = {len(v) for v in data.values()}
        _check_equal(lengths)
        return {key: _rows(value, rank, size, drop_remainder) for key, value in data.items()}
    if isinstance(data, tuple) or (isinstance(data, list) and data and all(_is_array(d) for d in data)):
        _check_equal({len(d) for d in data})
        return type(data)(_rows(d, rank, size, drop_remainder) for d in data)
    return _rows(data, rank, size, drop_remainder)


def _is_array(value) -> bool:
    return isinstance(value, (numpy.ndarray, Tensor)) or hasattr(value, "__array__")


def _check_equal(lengths) -> None:
    if len(lengths) > 1:
        raise ValueError(f"shard: the parts of the data have different lengths {sorted(lengths)}")


def _rows(data, rank: int, size: int, drop_remainder: bool):
    n = len(data)
    stop = (n // size) * size if drop_remainder else n
    if isinstance(data, (numpy.ndarray, Tensor)) or hasattr(data, "__array__") and hasattr(data, "shape"):
        return data[rank:stop:size]
    return [data[i] for i in range(rank, stop, size)]


class DistributedSampler:
    """This rank's row indices for each epoch: a permutation of range(length) (shuffle=True) that
    every rank draws alike from (seed, epoch), split by rank; call set_epoch(e) before each epoch
    for a new permutation. Iterating gives NumPy int64 indices; `len()` their count."""

    def __init__(self, length: int, shuffle: bool = True, seed: int = 0, drop_remainder: bool = False,
                 rank: int | None = None, size: int | None = None):
        if isinstance(length, bool) or not isinstance(length, (int, numpy.integer)) or length < 0:
            raise ValueError(f"DistributedSampler: length must be an int >= 0, got {length!r}")
        self.rank, self.size = _rank_and_size(rank, size)
        self.length, self.shuffle, self.seed = int(length), bool(shuffle), int(seed)
        self.drop_remainder = bool(drop_remainder)
        self.epoch = 0
        if drop_remainder:
            self.per_rank = self.length // self.size
        else:
            self.per_rank = math.ceil(self.length / self.size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def indices(self) -> numpy.ndarray:
        order = (numpy.random.default_rng([self.seed, self.epoch]).permutation(self.length) if self.shuffle
                 else numpy.arange(self.length))
        total = self.per_rank * self.size
        if total > self.length:  # pad by wrapping around (some rows twice), as PyTorch does
            order = numpy.resize(order, total) if self.length else order
        return order[self.rank:total:self.size]

    def __iter__(self):
        return iter(self.indices())

    def __len__(self) -> int:
        return self.per_rank
