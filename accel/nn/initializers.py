"""Initializers (keras.initializers): callables (shape, dtype, device) -> Tensor, seedable, with
Keras 3's names and defaults.

Fans (Keras's `compute_fans`): a 1-D shape has fan_in = fan_out = its size; a 2-D shape (in, out);
a convolution kernel (..., in, out) multiplies both by the receptive field (the product of the
leading axes). VarianceScaling(scale, mode, distribution) draws with variance scale / n, n =
fan_in, fan_out or their mean (mode "fan_in" / "fan_out" / "fan_avg"):
- "uniform": U(-limit, limit), limit = sqrt(3 * scale / n);
- "truncated_normal": N(0, stddev^2) cut at two standard deviations (redrawn), stddev =
  sqrt(scale / n) / 0.87962566103423978 (the cut's own shrinkage undone, so the variance is
  scale / n);
- "untruncated_normal": N(0, scale / n).
glorot_uniform / glorot_normal = (1, fan_avg), he_uniform / he_normal = (2, fan_in), lecun_uniform
/ lecun_normal = (1, fan_in), the normal ones truncated (Keras). RandomUniform(-0.05, 0.05),
RandomNormal(0, 0.05), TruncatedNormal(0, 0.05) (cut at 2 stddev), Orthogonal(gain=1), Zeros, Ones,
Constant(value), Identity(gain=1) (2-D).

GlorotUniform draws on the target device; the others draw on the host (NumPy's PCG64, the same
numbers for one seed on every device) and are copied there.
"""

from __future__ import annotations

import math

import numpy

from .. import ops
from ..dtypes import as_dtype
from ..random import Generator
from ..tensor import convert

__all__ = ["VarianceScaling", "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform",
           "LecunNormal", "RandomUniform", "RandomNormal", "TruncatedNormal", "Orthogonal", "Zeros", "Ones",
           "Constant", "Identity", "get", "NAMES"]

_TRUNCATION = 0.87962566103423978  # the stddev of N(0, 1) cut at +-2


def _fans(shape):
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2]) if len(shape) > 2 else 1
    return shape[-2] * receptive, shape[-1] * receptive


def _generator(seed):
    return seed if isinstance(seed, Generator) else Generator(seed)


def _host_stream(generator):
    from ..device import CPU
    return generator._stream(CPU)


def _on_device(values, dtype, device):
    return convert(numpy.asarray(values).astype(as_dtype(dtype, default="float32")), device=device)


def _truncated(stream, shape, stddev, mean=0.0):
    """N(mean, stddev^2) cut at mean +- 2 stddev, every sample outside redrawn."""
    out = stream.standard_normal(size=shape)
    bad = numpy.abs(out) > 2.0
    while bad.any():
        out[bad] = stream.standard_normal(size=int(bad.sum()))
        bad = numpy.abs(out) > 2.0
    return mean + stddev * out


class VarianceScaling:
    """Samples with variance scale / n (see the module docstring)."""

    MODES = ("fan_in", "fan_out", "fan_avg")
    DISTRIBUTIONS = ("uniform", "truncated_normal", "untruncated_normal")

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        if not isinstance(scale, (int, float)) or not scale > 0:
            raise ValueError(f"VarianceScaling: scale must be a positive number, got {scale!r}")
        if mode not in self.MODES:
            raise ValueError(f"VarianceScaling: mode must be one of {self.MODES}, got {mode!r}")
        distribution = "truncated_normal" if distribution == "normal" else distribution
        if distribution not in self.DISTRIBUTIONS:
            raise ValueError(f"VarianceScaling: distribution must be one of {self.DISTRIBUTIONS}, got {distribution!r}")
        self.scale, self.mode, self.distribution = float(scale), mode, distribution
        self.generator = _generator(seed)

    def __call__(self, shape, dtype=None, device=None):
        shape = tuple(shape)
        fan_in, fan_out = _fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, n)
        stream = _host_stream(self.generator)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            values = stream.uniform(-limit, limit, size=shape)
        elif self.distribution == "truncated_normal":
            values = _truncated(stream, shape, math.sqrt(variance) / _TRUNCATION)
        else:
            values = stream.standard_normal(size=shape) * math.sqrt(variance)
        return _on_device(numpy.asarray(values), dtype, device)


class GlorotUniform:
    """Uniform in [-limit, limit], limit = sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio)."""

    def __init__(self, seed=None):
        self.generator = _generator(seed)

    def __call__(self, shape, dtype=None, device=None):
        fan_in, fan_out = _fans(tuple(shape))
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        return self.generator.uniform(shape, -limit, limit, dtype=dtype, device=device)


def _scaling(name, scale, mode, distribution, doc):
    def __init__(self, seed=None):
        VarianceScaling.__init__(self, scale, mode, distribution, seed)

    return type(name, (VarianceScaling,), {"__init__": __init__, "__doc__": doc})


GlorotNormal = _scaling("GlorotNormal", 1.0, "fan_avg", "truncated_normal",
                        "Truncated normal with variance 2 / (fan_in + fan_out).")
HeUniform = _scaling("HeUniform", 2.0, "fan_in", "uniform", "Uniform with limit sqrt(6 / fan_in).")
HeNormal = _scaling("HeNormal", 2.0, "fan_in", "truncated_normal",
                    "Truncated normal with variance 2 / fan_in (He et al.; Keras truncates it).")
LecunUniform = _scaling("LecunUniform", 1.0, "fan_in", "uniform", "Uniform with limit sqrt(3 / fan_in).")
LecunNormal = _scaling("LecunNormal", 1.0, "fan_in", "truncated_normal", "Truncated normal with variance 1 / fan_in.")


class RandomUniform:
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        if not maxval > minval:
            raise ValueError(f"RandomUniform: maxval ({maxval}) must be greater than minval ({minval})")
        self.minval, self.maxval = minval, maxval
        self.generator = _generator(seed)

    def __call__(self, shape, dtype=None, device=None):
        return _on_device(_host_stream(self.generator).uniform(self.minval, self.maxval, size=tuple(shape)), dtype,
                          device)


class RandomNormal:
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev = mean, stddev
        self.generator = _generator(seed)

    def __call__(self, shape, dtype=None, device=None):
        return self.generator.normal(shape, self.mean, self.stddev, dtype=dtype, device=device)


class TruncatedNormal:
    """N(mean, stddev^2) with every sample beyond two standard deviations redrawn."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev = mean, stddev
        self.generator = _generator(seed)

    def __call__(self, shape, dtype=None, device=None):
        values = _truncated(_host_stream(self.generator), tuple(shape), self.stddev, self.mean)
        return _on_device(numpy.asarray(values), dtype, device)


class Orthogonal:
    """A (semi-)orthogonal matrix times gain, of the shape flattened to (prod(shape[:-1]),
    shape[-1]): Q of the QR of a normal matrix, its columns' signs fixed by R's diagonal."""

    def __init__(self, gain=1.0, seed=None):
        self.gain = gain
        self.generator = _generator(seed)

    def __call__(self, shape, dtype=None, device=None):
        shape = tuple(shape)
        if len(shape) < 2:
            raise ValueError(f"Orthogonal: the shape must have 2 or more axes, got {shape}")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = _host_stream(self.generator).standard_normal(size=(max(rows, cols), min(rows, cols)))
        q, r = numpy.linalg.qr(a)
        q = q * numpy.sign(numpy.diag(r))
        if rows < cols:
            q = q.T
        return _on_device(self.gain * q.reshape(shape), dtype, device)


class Zeros:
    def __call__(self, shape, dtype=None, device=None):
        return ops.zeros(shape, dtype=dtype, device=device)


class Ones:
    def __call__(self, shape, dtype=None, device=None):
        return ops.ones(shape, dtype=dtype, device=device)


class Constant:
    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype=None, device=None):
        return _on_device(numpy.full(tuple(shape), self.value, dtype=numpy.float64), dtype, device)


class Identity:
    """gain times the identity matrix (2-D shapes)."""

    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype=None, device=None):
        shape = tuple(shape)
        if len(shape) != 2:
            raise ValueError(f"Identity: the shape must be 2-D, got {shape}")
        return _on_device(self.gain * numpy.eye(*shape), dtype, device)


_BY_NAME = {"glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal, "he_uniform": HeUniform,
            "he_normal": HeNormal, "lecun_uniform": LecunUniform, "lecun_normal": LecunNormal,
            "random_uniform": RandomUniform, "random_normal": RandomNormal, "truncated_normal": TruncatedNormal,
            "uniform": RandomUniform, "normal": RandomNormal, "orthogonal": Orthogonal,
            "variance_scaling": VarianceScaling, "zeros": Zeros, "ones": Ones,
            "constant": Constant, "identity": Identity}
NAMES = tuple(sorted(_BY_NAME))
_SEEDED = (GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal, RandomUniform, RandomNormal,
           TruncatedNormal, Orthogonal, VarianceScaling)


def get(identifier, seed=None):
    """An initializer from a Keras name ("glorot_uniform", "he_normal", "orthogonal", "zeros",
    ...: NAMES, any case, CamelCase too) or a callable."""
    if callable(identifier):
        return identifier
    key = identifier
    if isinstance(identifier, str):
        key = identifier if identifier in _BY_NAME else "".join(
            "_" + ch.lower() if ch.isupper() and i else ch.lower() for i, ch in enumerate(identifier))
    cls = _BY_NAME.get(key) if isinstance(key, str) else None
    if cls is None:
        raise ValueError(f"unknown initializer {identifier!r}; expected one of {list(NAMES)} or a callable")
    return cls(seed=seed) if cls in _SEEDED else cls()
