"""Parameter sets for the optimizer benchmarks, at three sizes (--bench-size full|quick|tiny)."""

import numpy


def transformer_shapes(layers: int = 12, width: int = 256, vocab: int = 4800) -> list:
    """16 tensors per layer plus an embedding, shaped like a transformer (12 layers of width 256:
    193 tensors, about 10.7M parameters)."""
    shapes = [(vocab, width)]
    for _ in range(layers):
        shapes += [(width, width), (width,)] * 4          # q, k, v, out projections
        shapes += [(width,), (width,)] * 2                # two layer norms
        shapes += [(width, 4 * width), (4 * width,), (4 * width, width), (width,)]  # MLP
    return shapes


WORKLOADS = {
    "full": {"one 2^25 tensor": [(1 << 25,)], "193 transformer tensors": transformer_shapes(),
             "50 tensors of 100": [(100,)] * 50},
    "quick": {"one 2^22 tensor": [(1 << 22,)], "49 transformer tensors": transformer_shapes(3, 128, 1200),
              "50 tensors of 100": [(100,)] * 50},
    "tiny": {"one 2^12 tensor": [(1 << 12,)], "50 tensors of 100": [(100,)] * 50},
}

def slot_count(optimizer) -> int:
    """Slots per parameter of an accel optimizer's fused kernel (kernels/rules/registry.h)."""
    from accel import kernels

    return len(kernels.RULES[optimizer._kernel()].slots)


def bytes_per_param(slots: int, itemsize: int) -> int:
    """Bytes one step must move per parameter: read parameter, gradient and each slot; write
    parameter and each slot: itemsize * (3 + 2 * slots)."""
    return itemsize * (3 + 2 * slots)


def arrays(shapes, dtype="float32", seed=0):
    rng = numpy.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def elements(shapes) -> int:
    return int(sum(numpy.prod(s) for s in shapes))
