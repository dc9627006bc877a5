"""One worker of the data-parallel tests, run as `mpiexec -n N python mpi_worker.py CASE [ARGS]`
(or alone: a world of one). Exits non-zero, with the reason on stderr, when a check fails.

Cases:
    train MODE     digits MLP in float64, the global batch split across the workers, 20 steps,
                   global-norm clipping; MODE "tape" (DistributedGradientTape), "optimizer"
                   (DistributedOptimizer.minimize), "fit" (compile with a DistributedOptimizer,
                   fit on shard()ed data). Rank 0 also trains one model on the whole batches;
                   parameters must agree to 1e-10, and all workers bit for bit.
    collectives    all_reduce, broadcast, broadcast_variables (model + optimizer), the sampler
    mismatch       rank 1 builds a wider model: every rank must raise ValueError naming it
    crash          rank 1 raises while rank 0 waits in an all_reduce: the job must end, not hang
    slices         an embedding's IndexedSlices gradients: gathered from every rank (values averaged),
                   densified with sparse_as_dense, and lazy Adagrad through DistributedOptimizer
                   equal to one process applying every rank's rows
"""

import os
import sys

import numpy

import accel as ac

dist = ac.distributed
STEPS, GLOBAL_BATCH, CLIP = 20, 64, 0.5


def fail(message):
    sys.stderr.write(f"rank {dist.rank()}: {message}\n")
    dist.world.world().abort(1)  # the other workers may be waiting in a collective: end them too


def data():
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.data / 16.0).astype(numpy.float64)[:STEPS * GLOBAL_BATCH]
    return x, digits.target[:STEPS * GLOBAL_BATCH].astype(numpy.int64)


def model(seed, hidden=32):
    return ac.nn.Sequential([
        ac.nn.Dense(hidden, activation="relu", input_dim=64, seed=seed, dtype="float64",
                    kernel_regularizer=ac.nn.regularizers.L2(1e-3)),
        ac.nn.Dense(10, input_dim=hidden, seed=seed + 1, dtype="float64"),
    ])


def loss_of(net, x, y):
    logits = net(ac.tensor(x))
    loss = ac.mean(ac.sparse_softmax_cross_entropy_with_logits(ac.tensor(y), logits))
    for penalty in net.losses:
        loss = loss + penalty
    return loss


def adam():
    return ac.optimizers.Adam(learning_rate=0.01, global_clipnorm=CLIP)


def train(mode):
    x, y = data()
    rank, size = dist.rank(), dist.size()
    net = model(seed=rank)  # different starting points: broadcast_variables must fix them
    dist.broadcast_variables(net, root=0)
    local = GLOBAL_BATCH // size
    if mode == "fit":
        opt = dist.DistributedOptimizer(adam())
        net.compile(optimizer=opt, loss=ac.nn.losses.SparseCategoricalCrossentropy(from_logits=True))
        xs, ys = dist.shard((x, y))
        net.fit(xs, ys, batch_size=local, epochs=1, shuffle=False, verbose=0)
    else:
        opt = dist.DistributedOptimizer(adam()) if mode == "optimizer" else adam()
        for step in range(STEPS):
            rows = slice(step * GLOBAL_BATCH + rank, (step + 1) * GLOBAL_BATCH, size)
            if mode == "optimizer":
                opt.minimize(lambda rows=rows: loss_of(net, x[rows], y[rows]), net.trainable_variables)
            else:
                with ac.GradientTape() as tape:
                    loss = loss_of(net, x[rows], y[rows])
                tape = dist.DistributedGradientTape(tape, bucket_cap_mb=0.01)  # several buckets
                grads = tape.gradient(loss, net.trainable_variables)
                opt.apply_gradients(zip(grads, net.trainable_variables))
    mine = [v.numpy() for v in net.variables]
    everyone = dist.world.world().gather(mine)
    for other in everyone[1:]:
        for a, b in zip(everyone[0], other):
            if a.tobytes() != b.tobytes():
                fail(f"{mode}: the workers' parameters differ (max {numpy.max(numpy.abs(a - b)):.3g})")
    if rank == 0:
        alone, opt = model(seed=0), adam()
        for step in range(STEPS):
            rows = slice(step * GLOBAL_BATCH, (step + 1) * GLOBAL_BATCH)
            opt.minimize(lambda rows=rows: loss_of(alone, x[rows], y[rows]), alone.trainable_variables)
        worst = max(float(numpy.max(numpy.abs(a.numpy() - b))) for a, b in zip(alone.variables, mine))
        moved = max(float(numpy.max(numpy.abs(a.numpy() - b.numpy())))
                    for a, b in zip(alone.variables, model(seed=0).variables))
        if not worst <= 1e-10 or not moved > 1e-2:
            fail(f"{mode}: max |distributed - one process| = {worst:.3g} (moved {moved:.3g})")
        print(f"{mode}: {size} workers, max |distributed - one process| = {worst:.3g}", flush=True)


def collectives():
    rank, size = dist.rank(), dist.size()
    total = dist.all_reduce(ac.tensor([rank + 1.0, 2.0 * rank]), op="sum")
    expected = [size * (size + 1) / 2, size * (size - 1)]
    if not numpy.array_equal(total.numpy(), numpy.float32(expected)):
        fail(f"all_reduce sum gave {total.numpy()}")
    mean = dist.all_reduce(ac.tensor(numpy.full(3, rank, numpy.float16)))
    if mean.dtype != ac.float16 or not numpy.allclose(mean.numpy(), (size - 1) / 2):
        fail(f"all_reduce average gave {mean}")
    top = dist.all_reduce(ac.tensor([rank], dtype="int64"), op="max")
    if int(top.numpy()[0]) != size - 1:
        fail(f"all_reduce max gave {top}")
    shared = dist.broadcast(ac.tensor(numpy.arange(4) * (rank + 1)), root=size - 1)
    if not numpy.array_equal(shared.numpy(), numpy.arange(4) * size):
        fail(f"broadcast gave {shared}")
    net, opt = model(seed=rank), dist.DistributedOptimizer(adam())
    x, y = data()
    opt.minimize(lambda: loss_of(net, x[:8], y[:8]), net.trainable_variables)
    if rank == 0:  # rank 0 moves on alone: its weights, slots and step count must reach the others
        net.variables[0].assign_add(1.0)
        opt.variables[0].assign_add(1.0)
        opt.iterations = 7
    dist.broadcast_variables([net, opt], root=0)
    if opt.iterations != 7:
        fail(f"broadcast_variables: iterations {opt.iterations}, expected rank 0's 7")
    states = dist.world.world().gather(([v.numpy() for v in net.variables], [s.numpy() for s in opt.variables],
                                        opt.iterations))
    for weights, slots, steps in states[1:]:
        if steps != states[0][2] or any(a.tobytes() != b.tobytes() for a, b in zip(weights + slots,
                                                                                  states[0][0] + states[0][1])):
            fail("broadcast_variables left the workers' models or optimizer states different")
    sampler = dist.DistributedSampler(103, seed=5)
    sampler.set_epoch(3)
    parts = dist.world.world().gather(sampler.indices())
    joined = numpy.concatenate(parts)
    if len({len(p) for p in parts}) != 1 or set(joined.tolist()) != set(range(103)):
        fail(f"the sampler's shards do not cover the data evenly: {[len(p) for p in parts]}")
    if rank == 0:
        print(f"collectives: {size} workers agree", flush=True)


def mismatch():
    net = model(seed=0, hidden=32 + dist.rank())
    try:
        dist.broadcast_variables(net)
    except ValueError as error:
        message = str(error)
    else:
        fail("broadcast_variables accepted different models")
    messages = dist.world.world().gather(message)  # rank 0 prints for all: the lines cannot interleave
    if dist.rank() == 0:
        for rank, text in enumerate(messages):
            print(f"rank {rank} raised: {text}", flush=True)


def _rank_ids(rank):
    return [[0, 3, 3], [5, 0]][rank % 2]


def _embedding_grad(table, ids, tape_class, **kwargs):
    with ac.GradientTape() as tape:
        loss = ac.sum(ac.gather(table, ids) * ac.tensor([1.0, -2.0], dtype="float64"))
    return (tape_class(tape, **kwargs) if tape_class else tape).gradient(loss, table)


def slices():
    rank, size = dist.rank(), dist.size()
    init = numpy.arange(12, dtype=numpy.float64).reshape(6, 2)
    table = ac.Variable(init.copy(), name="table")
    g = _embedding_grad(table, _rank_ids(rank), dist.DistributedGradientTape)
    every = [i for r in range(size) for i in _rank_ids(r)]
    if not isinstance(g, ac.IndexedSlices) or g.indices.numpy().tolist() != every:
        fail(f"gathered gradient: {g!r}, expected rows {every}")
    numpy.testing.assert_array_equal(g.values.numpy(), numpy.tile([[1.0, -2.0]], (len(every), 1)) / size)
    dense = _embedding_grad(table, _rank_ids(rank), dist.DistributedGradientTape, sparse_as_dense=True)
    numpy.testing.assert_array_equal(dense.numpy(), ac.convert_to_tensor(g).numpy())

    opt = dist.DistributedOptimizer(ac.optimizers.Adagrad(0.5, lazy_sparse=True))
    alone, alone_opt = ac.Variable(init.copy()), ac.optimizers.Adagrad(0.5, lazy_sparse=True)
    for _ in range(3):
        opt.apply_gradients([(_embedding_grad(table, _rank_ids(rank), None), table)])
        alone_opt.apply_gradients([(_embedding_grad(alone, every, None) / size, alone)])
    numpy.testing.assert_allclose(table.numpy(), alone.numpy(), rtol=1e-15)
    untouched = sorted(set(range(6)) - set(every))
    numpy.testing.assert_array_equal(table.numpy()[untouched], init[untouched])
    tables = dist.world.world().gather(table.numpy())
    if rank == 0:
        if any(not numpy.array_equal(t, tables[0]) for t in tables):
            fail("the workers' tables differ")
        print(f"slices: {size} workers gathered rows {every}", flush=True)


def crash():
    if dist.rank() == 1:
        raise RuntimeError("worker 1 fails on purpose")
    dist.all_reduce(ac.tensor([1.0]))  # waits for rank 1, which is gone
    fail("the all_reduce returned without rank 1")


if __name__ == "__main__":
    dist.init()
    if os.environ.get("WORKER_DEVICE") == "cuda":  # one GPU per worker: NCCL carries the gradients
        ac.set_default_device(f"cuda:{dist.local_rank()}")
    case = sys.argv[1]
    if case == "train":
        train(sys.argv[2])
    else:
        {"collectives": collectives, "mismatch": mismatch, "crash": crash, "slices": slices}[case]()
