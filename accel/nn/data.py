"""Batches for fit / evaluate / predict, with Keras 3's rules.

Arrays (NumPy arrays, accel tensors, anything `accel.tensor` takes): moved once to the model's
device (floating-point inputs cast to the model's float dtype, as Keras casts to its compute
dtype; integer labels keep theirs), then cut into batches of `batch_size` rows: in order with
the last partial batch kept, or in a fresh permutation each epoch when shuffling (drawn from
`accel.random`'s default generator, so `accel.random.set_seed` makes runs repeat).
`validation_split` takes the last rows, before any shuffling.

Iterables (a list of batches, a generator, any iterable): each item is `x`, `(x,)`, `(x, y)` or
`(x, y, sample_weight)`. A re-iterable (a list) starts over each epoch; a one-shot iterator
(a generator) is consumed across epochs, `steps_per_epoch` batches at a time.
"""

from __future__ import annotations

import numbers
import warnings

import numpy

from .. import ops, random
from ..device import get_device
from ..ops._core import make
from ..tensor import Tensor, tensor
from ..dtypes import is_floating

__all__ = ["ArrayBatches", "IterableBatches", "batches_for", "split_validation", "unpack"]


def unpack(data):
    """(x, y, sample_weight) from x, (x,), (x, y) or (x, y, sample_weight)."""
    if isinstance(data, tuple):
        if len(data) == 1:
            return data[0], None, None
        if len(data) == 2:
            return data[0], data[1], None
        if len(data) == 3:
            return data
        raise ValueError(f"a batch must be x, (x,), (x, y) or (x, y, sample_weight); got a tuple of {len(data)}")
    return data, None, None


def _is_array(value) -> bool:
    return isinstance(value, (Tensor, numpy.ndarray, list, numbers.Number)) or hasattr(value, "__array__") or \
        hasattr(value, "__dlpack__")


def _to_device(value, name: str, device, float_dtype):
    if value is None:
        return None
    if isinstance(value, Tensor):
        out = value if value.device == device else value.to(device)
    else:
        array = numpy.asarray(value)
        if array.dtype == object:
            raise TypeError(f"{name}: expected numeric arrays, got an object array")
        out = tensor(array, device=device)
    if out.ndim == 0:
        raise ValueError(f"{name}: expected an array with a batch axis, got a scalar")
    if float_dtype is not None and is_floating(out.dtype) and out.dtype != float_dtype:
        out = ops.cast(out, float_dtype)
    return out


class ArrayBatches:
    """Batches of arrays already on the device."""

    def __init__(self, x, y=None, sample_weight=None, batch_size=32, shuffle=False, steps_per_epoch=None):
        self.x, self.y, self.sample_weight = x, y, sample_weight
        self.rows = x.shape[0]
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.steps_per_epoch = steps_per_epoch
        self._pending = iter(())  # batches left over from a pass cut short by steps_per_epoch

    @property
    def num_batches(self) -> int:
        full = -(-self.rows // self.batch_size)
        return self.steps_per_epoch if self.steps_per_epoch is not None else full

    def _pass(self):
        """One pass over the rows."""
        if self.shuffle and self.rows > 1:
            keys = random.default_generator.uniform((self.rows,), dtype="float64", device="cpu").numpy()
            device = self.x.device
            # the permutation goes to the device once an epoch; rows are taken with the raw array
            # module: these indices are valid by construction, so nothing checks them (a check
            # would read the device), and data needs no gradient
            order = device.send(numpy.argsort(keys, kind="stable"))
            arrays = [None if a is None else a._data for a in (self.x, self.y, self.sample_weight)]
            for start in range(0, self.rows, self.batch_size):
                index = order[start:start + self.batch_size]
                with device.activate():
                    batch = tuple(None if a is None else make(device.xp.take(a, index, axis=0), device)
                                  for a in arrays)
                yield batch
        else:
            for start in range(0, self.rows, self.batch_size):
                stop = min(start + self.batch_size, self.rows)
                yield tuple(None if a is None else a[start:stop] for a in (self.x, self.y, self.sample_weight))

    def epoch(self):
        """The batches of one epoch: a whole pass, or the next `steps_per_epoch` batches (passes
        over the arrays follow one another)."""
        if self.steps_per_epoch is None:
            yield from self._pass()
            return
        for _ in range(self.steps_per_epoch):
            batch = next(self._pending, None)
            if batch is None:
                self._pending = self._pass()
                batch = next(self._pending)
            yield batch


class IterableBatches:
    """Batches from an iterable of (x, y[, sample_weight]) items, moved to the device as they come."""

    def __init__(self, source, device, float_dtype, steps_per_epoch=None):
        self.source = source
        self.device = device
        self.float_dtype = float_dtype
        self.steps_per_epoch = steps_per_epoch
        self.one_shot = iter(source) is source  # a generator or iterator: consumed once
        self._iterator = iter(source) if self.one_shot else None
        self.exhausted = False

    @property
    def num_batches(self):
        if self.steps_per_epoch is not None:
            return self.steps_per_epoch
        try:
            return len(self.source)
        except TypeError:
            return None

    def _convert(self, item):
        x, y, w = unpack(item)
        return (_to_device(x, "x", self.device, self.float_dtype), _to_device(y, "y", self.device, None),
                _to_device(w, "sample_weight", self.device, None))

    def epoch(self):
        iterator = self._iterator if self.one_shot else iter(self.source)
        taken = 0
        while self.steps_per_epoch is None or taken < self.steps_per_epoch:
            try:
                item = next(iterator)
            except StopIteration:
                if self.steps_per_epoch is not None:
                    self.exhausted = True
                    warnings.warn(f"the input ran out of data after {taken} of steps_per_epoch="
                                  f"{self.steps_per_epoch} batches; training stops here", stacklevel=4)
                return
            taken += 1
            yield self._convert(item)


def split_validation(x, y, sample_weight, validation_split: float):
    """(train, validation) triples: the first floor(n * (1 - split)) rows train, the rest validate."""
    rows = x.shape[0]
    cut = int(rows * (1.0 - validation_split))
    if cut == 0 or cut == rows:
        raise ValueError(f"validation_split={validation_split} leaves no rows for "
                         f"{'training' if cut == 0 else 'validation'} out of {rows}")
    head = tuple(None if a is None else a[:cut] for a in (x, y, sample_weight))
    tail = tuple(None if a is None else a[cut:] for a in (x, y, sample_weight))
    return head, tail


def arrays_on_device(x, y, sample_weight, device, float_dtype):
    """x, y, sample_weight as tensors on `device`, checked to have the same number of rows."""
    x = _to_device(x, "x", device, float_dtype)
    y = _to_device(y, "y", device, None)
    sample_weight = _to_device(sample_weight, "sample_weight", device, None)
    for name, value in (("y", y), ("sample_weight", sample_weight)):
        if value is not None and value.shape[0] != x.shape[0]:
            raise ValueError(f"x and {name} have different numbers of rows: {x.shape[0]} and {value.shape[0]}")
    if sample_weight is not None and not is_floating(sample_weight.dtype):
        sample_weight = ops.cast(sample_weight, "float64")
    return x, y, sample_weight


def batches_for(x, y, sample_weight, *, batch_size, shuffle, steps, device, float_dtype, who: str):
    """ArrayBatches for arrays, IterableBatches for an iterable of batches."""
    device = get_device(device)
    if x is None:
        raise ValueError(f"{who}: x is required")
    if _is_array(x) and not _is_generator_like(x):
        x, y, sample_weight = arrays_on_device(x, y, sample_weight, device, float_dtype)
        return ArrayBatches(x, y, sample_weight, batch_size=batch_size, shuffle=shuffle, steps_per_epoch=steps)
    if y is not None or sample_weight is not None:
        raise ValueError(f"{who}: when x is an iterable of batches, y and sample_weight come from its items; "
                         "do not pass them separately")
    if not hasattr(x, "__iter__"):
        raise TypeError(f"{who}: x must be an array, a tensor or an iterable of batches, got {type(x).__name__}")
    return IterableBatches(x, device, float_dtype, steps_per_epoch=steps)


def _is_generator_like(x) -> bool:
    """A list of tuples is a list of batches, not an array."""
    return isinstance(x, list) and bool(x) and isinstance(x[0], tuple)
