"""One process of the data-parallel benchmarks (bench/test_distributed.py starts them with
`mpiexec -n N python distributed_worker.py CASE ...`). Rank 0 prints one JSON line of results.
Every process runs one thread (OMP / OpenBLAS / the fused kernels / torch), so N processes use N
cores.

    allreduce SHAPES ROUNDS   the gradients of a parameter set ("transformer": 193 tensors, 10.7M
                              parameters; "quick": 49 tensors; "small": 50 tensors of 100), reduced
                              bucketed (25 MB) and one collective per tensor, alternating round by
                              round: {"bucketed": [s], "per_tensor": [s]}
    overlap STEPS BATCH       accel's MLP step, the reduction overlapped with the backward pass
                              (DistributedGradientTape) and after it, alternating: {"overlap": [s], "after": [s]}
    step LIBRARY STEPS BATCH  the MLP training step (forward, backward, averaged gradients, Adam)
                              of accel or torch (DistributedDataParallel, gloo) with BATCH rows per
                              process: {"step": [s]}
"""

import json
import os
import sys
import time

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")  # before NumPy loads its BLAS

import numpy  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

SIZES = [(784, 256), (256, 256), (256, 10)]


def _data(rank, batch):
    rng = numpy.random.default_rng(100 + rank)
    return rng.standard_normal((batch, 784)).astype(numpy.float32), rng.integers(0, 10, batch)


def _accel_setup():
    import accel as ac

    ac.kernels.set_num_threads(1)
    return ac, ac.distributed.init()


def _report(world_rank, payload):
    if world_rank == 0:
        print(json.dumps(payload), flush=True)


def allreduce(shapes_key, rounds):
    from workloads import WORKLOADS, arrays, transformer_shapes

    ac, world = _accel_setup()
    from accel.distributed.buckets import GradientReducer

    shapes = {"transformer": transformer_shapes(), "quick": WORKLOADS["quick"]["49 transformer tensors"],
              "small": WORKLOADS["full"]["50 tensors of 100"]}[shapes_key]
    variables = [ac.Variable(a, name=f"p{i}") for i, a in enumerate(arrays(shapes, seed=1))]
    grads = [ac.tensor(a) for a in arrays(shapes, seed=2 + world.rank)]
    reducers = {"bucketed": GradientReducer(bucket_cap_mb=25), "per_tensor": GradientReducer(bucket_cap_mb=1e-9)}
    results = {name: [o.numpy() for o in reducer.reduce(grads, variables)] for name, reducer in reducers.items()}
    assert all(numpy.array_equal(a, b) for a, b in zip(*results.values()))  # both do the work: the same average
    assert results["bucketed"][0].any()
    buckets = {name: len(reducer.begin(variables).layout.buckets) for name, reducer in reducers.items()}
    assert buckets["per_tensor"] == len(shapes)
    times = {name: [] for name in reducers}
    for _ in range(rounds):
        for name, reducer in reducers.items():
            world.barrier()
            start = time.perf_counter()
            reducer.reduce(grads, variables)
            times[name].append(time.perf_counter() - start)
    _report(world.rank, {**times, "tensors": len(shapes), "buckets": buckets["bucketed"],
                         "bytes": int(sum(numpy.prod(s) for s in shapes)) * 4})


def _accel_mlp(ac, rank, batch):
    model = ac.nn.Sequential([ac.nn.Dense(256, activation="relu", input_dim=784, seed=0),
                              ac.nn.Dense(256, activation="relu", input_dim=256, seed=1),
                              ac.nn.Dense(10, input_dim=256, seed=2)])
    x, y = _data(rank, batch)
    return model, ac.tensor(x), ac.tensor(y)


def overlap(steps, batch):
    ac, world = _accel_setup()
    from accel.distributed.buckets import GradientReducer

    model, x, y = _accel_mlp(ac, world.rank, batch)
    variables = model.trainable_variables
    opt = ac.optimizers.Adam(1e-3)
    reducer = GradientReducer(bucket_cap_mb=0.25)  # about 4 buckets: something to overlap

    def loss_tape():
        with ac.GradientTape() as tape:
            loss = ac.mean(ac.sparse_softmax_cross_entropy_with_logits(y, model(x)))
        return loss, tape

    def with_overlap():
        loss, tape = loss_tape()
        grads = ac.distributed.DistributedGradientTape(tape, bucket_cap_mb=0.25).gradient(loss, variables)
        opt.apply_gradients(zip(grads, variables))

    def after():
        loss, tape = loss_tape()
        grads = reducer.reduce(tape.gradient(loss, variables), variables)
        opt.apply_gradients(zip(grads, variables))

    steps_of = {"overlap": with_overlap, "after": after}
    times = {name: [] for name in steps_of}
    for step in steps_of.values():
        step()
    for _ in range(steps):
        for name, step in steps_of.items():
            world.barrier()
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
    _report(world.rank, times)


def step_accel(steps, batch):
    ac, world = _accel_setup()
    model, x, y = _accel_mlp(ac, world.rank, batch)
    variables = model.trainable_variables
    opt = ac.optimizers.Adam(1e-3)
    first = [v.numpy().copy() for v in variables]

    def step():
        with ac.GradientTape() as tape:
            loss = ac.mean(ac.sparse_softmax_cross_entropy_with_logits(y, model(x)))
        grads = ac.distributed.DistributedGradientTape(tape).gradient(loss, variables)
        opt.apply_gradients(zip(grads, variables))

    step()
    assert all(not numpy.array_equal(a, v.numpy()) for a, v in zip(first, variables))  # it trains
    return world.rank, _timed(step, steps, world.barrier)


def step_torch(steps, batch):
    import torch

    torch.set_num_threads(1)
    rank, size = int(os.environ.get("PMI_RANK", 0)), int(os.environ.get("PMI_SIZE", 1))
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
                                torch.nn.ReLU(), torch.nn.Linear(256, 10))
    barrier = lambda: None  # noqa: E731
    if size > 1:
        import torch.distributed as torch_dist

        torch_dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{os.environ['BENCH_PORT']}", rank=rank,
                                      world_size=size)
        model = torch.nn.parallel.DistributedDataParallel(model)
        barrier = torch_dist.barrier
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    x, y = (torch.tensor(a) for a in _data(rank, batch))
    loss_fn = torch.nn.CrossEntropyLoss()
    first = [p.detach().clone() for p in model.parameters()]

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()

    step()
    assert all(not torch.equal(a, p) for a, p in zip(first, model.parameters()))  # it trains
    times = _timed(step, steps, barrier)
    if size > 1:
        torch_dist.destroy_process_group()
    return rank, times


def _timed(step, steps, barrier):
    times = []
    for _ in range(steps):
        barrier()  # every worker starts together: a step's time includes waiting for the slowest
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return times


if __name__ == "__main__":
    case = sys.argv[1]
    if case == "allreduce":
        allreduce(sys.argv[2], int(sys.argv[3]))
    elif case == "overlap":
        overlap(int(sys.argv[2]), int(sys.argv[3]))
    else:
        library, steps, batch = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        rank, times = (step_accel if library == "accel" else step_torch)(steps, batch)
        _report(rank, {"step": times})
        if library == "torch":
            # The interpreter's exit after DDP over gloo aborts now and then ("terminate called
            # without an active exception", about 1 run in 10 here, even after
            # destroy_process_group): the results are out, so leave without that teardown.
            sys.stdout.flush()
            os._exit(0)
