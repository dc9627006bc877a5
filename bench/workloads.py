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
    """Slots per parameter of an accel optimizer's fused kernel (csrc/rules/registry.h)."""
    from accel import kernels

    return len(kernels.RULES[optimizer.kernel].slots)


def bytes_per_param(slots: int, itemsize: int) -> int:
    """Bytes one step must move per parameter: read parameter, gradient and each slot; write
    parameter and each slot: itemsize * (3 + 2 * slots)."""
    return itemsize * (3 + 2 * slots)


def arrays(shapes, dtype="float32", seed=0):
    rng = numpy.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def elements(shapes) -> int:
    return int(sum(numpy.prod(s) for s in shapes))


def interleaved(functions: dict, rounds: int, spread: bool = False) -> dict:
    """Median time of each function when they run in alternation, round after round, so that
    drift in the machine (memory bandwidth on shared hosts, another library's idle threads) hits
    all of them alike. With `spread`: {name: (median, interquartile range)}."""
    import time

    times = {name: [] for name in functions}
    for _ in range(rounds):
        for name, fn in functions.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    if not spread:
        return {name: float(numpy.median(t)) for name, t in times.items()}
    return {name: (float(numpy.median(t)), float(numpy.subtract(*numpy.percentile(t, [75, 25]))))
            for name, t in times.items()}


# Pause after one library's block before the next library's: PyTorch's OpenMP threads keep spinning
# after its work, and on 2 cores they slowed the 20-op chain that ran 20 ms later 1.6x (207 µs with
# an IQR of 98 µs, against 131 µs with an IQR of 11 µs after 0.3 s).
SETTLE_S = 0.3


def _worker(connection, factory):
    """A benchmark process: build the step, then time `n` calls whenever asked."""
    import time

    step = factory()
    step()  # warm up
    while True:
        n = connection.recv()
        if n is None:
            return
        times = []
        for _ in range(n):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
        connection.send(times)


def alternated_processes(factories: dict, blocks: int, steps: int) -> dict:
    """{name: (median, interquartile range)} of each step, every library in a process of its own
    (no library's idle threads spin beside another's work), the processes taking turns block after
    block (so drift in the machine hits all alike). `factories`: name -> a picklable zero-argument
    callable returning the step (e.g. functools.partial of a module-level function)."""
    import multiprocessing
    import time

    context = multiprocessing.get_context("spawn")
    workers = {}
    for name, factory in factories.items():
        ours, theirs = context.Pipe()
        process = context.Process(target=_worker, args=(theirs, factory), daemon=True)
        process.start()
        workers[name] = (process, ours)
    times = {name: [] for name in factories}
    try:
        for _ in range(blocks):
            for name, (_, connection) in workers.items():
                connection.send(steps)
                times[name] += connection.recv()[1:]  # the first call of a block wakes the threads
                time.sleep(SETTLE_S)  # let its threads park before the other library runs
    finally:
        for process, connection in workers.values():
            connection.send(None)
            process.join(timeout=10)
    return {name: (float(numpy.median(t)), float(numpy.subtract(*numpy.percentile(t, [75, 25]))))
            for name, t in times.items()}


def adam_step(kind: str, shapes):
    """A zero-argument Adam step (float32, CPU, lr 1e-3) over `shapes`, for a process of its own:
    kind "accel" (apply_gradients), "torch_fused" (torch.optim.Adam(fused=True)), or "probe" (the
    probe of Adam's access pattern, 3 written streams and 1 read, over as many elements)."""
    import os

    if kind == "accel":
        import accel as ac

        variables = [ac.Variable(a, device="cpu") for a in arrays(shapes, seed=1)]
        pairs = list(zip([ac.tensor(a, device="cpu") for a in arrays(shapes)], variables))
        opt = ac.optimizers.Adam(1e-3)
        return lambda: opt.apply_gradients(pairs)
    if kind == "torch_fused":
        import torch

        torch.set_num_threads(os.cpu_count() or 1)
        params = [torch.tensor(a).requires_grad_() for a in arrays(shapes, seed=1)]
        for p, g in zip(params, arrays(shapes)):
            p.grad = torch.tensor(g)
        return torch.optim.Adam(params, lr=1e-3, fused=True).step
    return pattern_probe(elements(shapes), written=3)


def pattern_probe(n: int, written: int, read: int = 1):
    """A zero-argument probe of a step's access pattern: writes[w] += s * sum(reads) over
    `written` and `read` float32 streams of n elements (kernels.stream_probe)."""
    from accel import kernels

    writes = [numpy.zeros(n, numpy.float32) for _ in range(written)]
    reads = [numpy.ones(n, numpy.float32) for _ in range(read)]
    return lambda: kernels.stream_probe(writes, reads, 1e-3)
