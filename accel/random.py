"""Random tensors from a seedable Generator.

On the CPU a Generator draws from NumPy's PCG64, so one seed gives the same numbers on every
machine; on a CUDA device it draws from CuPy's generator with the same seed (reproducible per
device kind, not identical to the CPU stream).
"""

from __future__ import annotations

import math

import numpy

from . import dtypes
from .device import get_device
from .ops._core import defop, make
from .ops._core import shape_arg

__all__ = ["Generator", "set_seed", "normal", "uniform", "randint", "categorical", "default_generator"]


class Generator:
    """An independent random stream: ``Generator(seed)``; the same seed, the same numbers."""

    def __init__(self, seed: int | None = None):
        if seed is not None and (not isinstance(seed, (int, numpy.integer)) or seed < 0):
            raise ValueError(f"Generator: seed must be a non-negative int or None, got {seed!r}")
        self.seed = seed
        self._streams = {}

    def _stream(self, device):
        stream = self._streams.get(device)
        if stream is None:
            stream = device.random_stream(self.seed)
            self._streams[device] = stream
        return stream

    def _draw(self, shape, dtype, device, sample, default="float32"):
        shape = shape_arg(shape, "random")
        dt = dtypes.as_dtype(dtype, default=default)
        dev = get_device(device)
        with dev.activate():  # CuPy draws, converts and allocates on the current device
            out = dev.xp.asarray(sample(self._stream(dev), shape, dt)).astype(dt, copy=False)
        return make(out, dev)

    @defop("random", kind="stateful", namespace="random", differentiable=False, dtype="given")  # a replay draws anew
    def normal(self, shape, mean=0.0, stddev=1.0, dtype=None, device=None):
        """Samples of N(mean, stddev**2)."""
        if not (isinstance(stddev, (int, float)) and stddev >= 0 and math.isfinite(stddev)):
            raise ValueError(f"normal: stddev must be a finite number >= 0, got {stddev!r}")
        if not (isinstance(mean, (int, float)) and math.isfinite(mean)):
            raise ValueError(f"normal: mean must be a finite number, got {mean!r}")
        # mean + stddev * z from standard_normal: NumPy's normal computes exactly this, and CuPy's
        # Generator has no normal() at all.
        return self._draw(shape, dtype, device,
                          lambda s, shape, dt: mean + stddev * s.standard_normal(size=shape))

    @defop("random", kind="stateful", namespace="random", differentiable=False, dtype="given")  # a replay draws anew
    def uniform(self, shape, minval=0.0, maxval=1.0, dtype=None, device=None):
        """Samples uniform in [minval, maxval)."""
        if not maxval > minval:
            raise ValueError(f"uniform: maxval ({maxval}) must be greater than minval ({minval})")
        return self._draw(shape, dtype, device,
                          lambda s, shape, dt: s.uniform(minval, maxval, size=shape))

    @defop("random", kind="stateful", namespace="random", differentiable=False, dtype="given")  # a replay draws anew
    def randint(self, shape, low, high, dtype=None, device=None):
        """Integers uniform in [low, high)."""
        if not high > low:
            raise ValueError(f"randint: high ({high}) must be greater than low ({low})")
        return self._draw(shape, dtype, device,
                          lambda s, shape, dt: s.integers(low, high, size=shape), default="int64")

    @defop("random", kind="stateful", namespace="random", differentiable=False, dtype="given")  # a replay draws anew
    def categorical(self, logits, num_samples, dtype=None):
        """num_samples class indices per row of logits (batch, classes), each drawn with probability
        softmax(logits) (tf.random.categorical): the Gumbel-max draw argmax(logits + G), G =
        -log(-log(U)). A -inf logit is never drawn. int64 unless dtype says int32."""
        from .ops._core import tensor_arg

        logits = tensor_arg(logits, "logits")
        if logits.ndim != 2 or not dtypes.is_floating(logits.dtype):
            raise ValueError(f"categorical: logits must be a 2-D float tensor (batch, classes), got "
                             f"{logits.dtype.name} of shape {tuple(logits.shape)}")
        if logits.shape[1] == 0:
            raise ValueError("categorical: logits must have at least one class")
        if isinstance(num_samples, bool) or not isinstance(num_samples, (int, numpy.integer)) or num_samples < 0:
            raise ValueError(f"categorical: num_samples must be an int >= 0, got {num_samples!r}")
        dt = dtypes.as_dtype(dtype, default="int64")
        if dt not in (numpy.dtype(numpy.int32), numpy.dtype(numpy.int64)):
            raise TypeError(f"categorical: dtype must be int32 or int64, got {dt.name}")
        dev = logits._device
        batch, classes = logits.shape
        with dev.activate():
            xp = dev.xp
            u = self._stream(dev).uniform(0.0, 1.0, size=(batch, int(num_samples), classes))
            with numpy.errstate(divide="ignore"):  # u = 0: a -inf score, never the argmax
                scores = logits._data.astype(numpy.float64)[:, None, :] - xp.log(-xp.log(u))
            out = xp.argmax(scores, axis=-1).astype(dt)
        return make(out, dev)


default_generator = Generator()


def set_seed(seed: int) -> None:
    """Reseed the default generator used by accel.random.normal/uniform/randint."""
    global default_generator
    default_generator = Generator(seed)


def normal(shape, mean=0.0, stddev=1.0, dtype=None, device=None, seed=None):
    gen = default_generator if seed is None else Generator(seed)
    return gen.normal(shape, mean, stddev, dtype, device)


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, device=None, seed=None):
    gen = default_generator if seed is None else Generator(seed)
    return gen.uniform(shape, minval, maxval, dtype, device)


def randint(shape, low, high, dtype=None, device=None, seed=None):
    gen = default_generator if seed is None else Generator(seed)
    return gen.randint(shape, low, high, dtype, device)


def categorical(logits, num_samples, dtype=None, seed=None):
    gen = default_generator if seed is None else Generator(seed)
    return gen.categorical(logits, num_samples, dtype)
