"""Initializers: callables (shape, dtype, device) -> Tensor. Seedable for reproducible models."""

from __future__ import annotations

import math

from .. import ops
from ..random import Generator

__all__ = ["GlorotUniform", "HeNormal", "Zeros", "Ones", "RandomNormal", "get"]


def _fans(shape):
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2]) if len(shape) > 2 else 1
    return shape[-2] * receptive, shape[-1] * receptive


class GlorotUniform:
    """Uniform in [-limit, limit], limit = sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio)."""

    def __init__(self, seed=None):
        self.generator = seed if isinstance(seed, Generator) else Generator(seed)

    def __call__(self, shape, dtype=None, device=None):
        fan_in, fan_out = _fans(tuple(shape))
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        return self.generator.uniform(shape, -limit, limit, dtype=dtype, device=device)


class HeNormal:
    """Normal with stddev sqrt(2 / fan_in) (He et al.), for ReLU networks."""

    def __init__(self, seed=None):
        self.generator = seed if isinstance(seed, Generator) else Generator(seed)

    def __call__(self, shape, dtype=None, device=None):
        fan_in, _ = _fans(tuple(shape))
        return self.generator.normal(shape, 0.0, math.sqrt(2.0 / fan_in), dtype=dtype, device=device)


class RandomNormal:
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev = mean, stddev
        self.generator = seed if isinstance(seed, Generator) else Generator(seed)

    def __call__(self, shape, dtype=None, device=None):
        return self.generator.normal(shape, self.mean, self.stddev, dtype=dtype, device=device)


class Zeros:
    def __call__(self, shape, dtype=None, device=None):
        return ops.zeros(shape, dtype=dtype, device=device)


class Ones:
    def __call__(self, shape, dtype=None, device=None):
        return ops.ones(shape, dtype=dtype, device=device)


_BY_NAME = {"glorot_uniform": GlorotUniform, "he_normal": HeNormal, "random_normal": RandomNormal,
            "zeros": Zeros, "ones": Ones}


def get(identifier, seed=None):
    """An initializer from a name ("glorot_uniform", "he_normal", "zeros", ...) or a callable."""
    if callable(identifier):
        return identifier
    try:
        cls = _BY_NAME[identifier]
    except KeyError:
        raise ValueError(f"unknown initializer {identifier!r}; expected one of {sorted(_BY_NAME)} "
                         "or a callable") from None
    return cls(seed=seed) if cls in (GlorotUniform, HeNormal, RandomNormal) else cls()
