"""Parameter sets the optimizer benchmarks share (sizes as in the fused-kernels issue)."""

import numpy


def transformer_shapes(layers: int = 12, width: int = 256, vocab: int = 4800) -> list:
    """193 tensors shaped like a 12-layer width-256 transformer (about 10.7M parameters)."""
    shapes = [(vocab, width)]  # token embedding
    for _ in range(layers):
        shapes += [(width, width), (width,)] * 4          # q, k, v, out projections
        shapes += [(width,), (width,)] * 2                # two layer norms
        shapes += [(width, 4 * width), (4 * width,), (4 * width, width), (width,)]  # MLP
    return shapes


WORKLOADS = {
    "one 2^25 tensor": [(1 << 25,)],
    "193 transformer tensors": transformer_shapes(),
    "50 tensors of 100": [(100,)] * 50,
}


def arrays(shapes, dtype="float32", seed=0):
    rng = numpy.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def elements(shapes) -> int:
    return int(sum(numpy.prod(s) for s in shapes))
