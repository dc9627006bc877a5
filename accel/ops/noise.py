"""Random noise ops. dropout (tf.nn.dropout): each element kept with probability 1 - rate and scaled by
1 / (1 - rate), dropped (0) otherwise; always drops (the Keras layer decides when to call it).

A composite of a random draw and elementwise ops: the draw is a stateful op, so accel.function
draws a new mask on every call (never a frozen one), and the gradient is the kept elements'
(g / (1 - rate) where kept, 0 elsewhere). With `seed`, the masks come from a generator of that
seed kept for the process: calls draw new masks, the same sequence in every run.
"""

from __future__ import annotations

import numbers

import numpy

from ..dtypes import is_floating
from ._core import defop, tensor_arg

_SEEDED = {}  # seed -> accel.random.Generator: one stream per seed, as TensorFlow's op seeds


def _generator(seed):
    from .. import random

    if seed is None:
        return random.default_generator
    if isinstance(seed, random.Generator):  # a layer's own stream (keras.random.SeedGenerator)
        return seed
    if isinstance(seed, (bool, numpy.bool_)) or not isinstance(seed, (int, numpy.integer)) or seed < 0:
        raise ValueError(f"dropout: seed must be a non-negative int, an accel.random.Generator or None, got "
                         f"{seed!r}")
    generator = _SEEDED.get(int(seed))
    if generator is None:
        generator = _SEEDED[int(seed)] = random.Generator(int(seed))
    return generator


@defop("nn", kind="composite")
def dropout(x, rate, noise_shape=None, seed=None):
    """x / (1 - rate) where a uniform draw is >= rate, else 0 (tf.nn.dropout). noise_shape: the
    mask's shape, broadcast against x (None: x's shape). rate in [0, 1). seed: an int (one stream
    per seed for the process), an accel.random.Generator (its own stream), or None."""
    from .creation import zeros_like
    from .elementwise import greater_equal, where

    x = tensor_arg(x)
    if not is_floating(x.dtype):
        raise TypeError(f"dropout: x must be floating point, got {x.dtype.name}")
    if isinstance(rate, (bool, numpy.bool_)) or not isinstance(rate, numbers.Real) or not 0 <= rate < 1:
        raise ValueError(f"dropout: rate must be a number in [0, 1), got {rate!r}")
    shape = tuple(x.shape) if noise_shape is None else tuple(int(n) for n in noise_shape)
    try:
        fits = numpy.broadcast_shapes(shape, tuple(x.shape)) == tuple(x.shape)
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"dropout: noise_shape {shape} does not broadcast to x's shape {tuple(x.shape)}")
    generator = _generator(seed)
    draw = generator.uniform(shape, dtype=x.dtype, device=x.device)
    keep = greater_equal(draw, float(rate))
    return where(keep, x * (1.0 / (1.0 - float(rate))), zeros_like(x))
