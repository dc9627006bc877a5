"""EMULATION: accel.function on CPU-emulated CUDA devices: elementwise chains become one
generated kernel (fusion_cuda.py, compiled for the emulator from the same source NVRTC compiles),
replays and gradients equal eager ones on the device."""

import numpy
import pytest

import accel as ac
from accel.function.fusion_cuda import CudaFused


def chain(x):
    return ac.tanh(ac.sin(x) * 1.5 + 0.5) * ac.exp(x * -0.25) + ac.relu(x)


def fused(f):
    (graph,) = f._graphs.values()
    return [p for p in graph.plan if isinstance(p, CudaFused)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_chain_is_one_generated_kernel(emulated_cuda, dtype):
    rng = numpy.random.default_rng(0)
    f = ac.function(chain)
    for size in (1000, 1000):  # the second call replays
        data = rng.uniform(-2, 2, size)
        x = ac.tensor(data, dtype=dtype, device="cuda:0")
        del emulated_cuda.launches[:]
        got = f(x)
        assert str(got.device) == "cuda:0" and got.dtype == numpy.dtype(dtype)
        assert [name for name, _, _ in emulated_cuda.launches] == ["accel_fused"]
        want = chain(ac.tensor(data, dtype=dtype)).numpy()
        numpy.testing.assert_allclose(got.numpy(), want, rtol=4 * numpy.finfo(dtype).eps, atol=1e-6)
    assert len(fused(f)) == 1 and f.experimental_get_tracing_count() == 1


def test_gradients_inside_and_through_a_function_on_the_device(emulated_cuda):
    def grads(x):
        with ac.GradientTape() as tape:
            tape.watch(x)
            y = ac.sum(chain(x))
        return tape.gradient(y, x)

    data = numpy.linspace(-2, 2, 257)
    f = ac.function(grads)
    x = ac.tensor(data, dtype="float64", device="cuda:0")
    numpy.testing.assert_allclose(f(x).numpy(), grads(ac.tensor(data, dtype="float64")).numpy(), rtol=1e-13)
    g = ac.function(chain)
    with ac.GradientTape() as tape:
        tape.watch(x)
        y = ac.sum(g(x))
    with ac.GradientTape() as eager_tape:
        cpu = ac.tensor(data, dtype="float64")
        eager_tape.watch(cpu)
        z = ac.sum(chain(cpu))
    numpy.testing.assert_allclose(tape.gradient(y, x).numpy(), eager_tape.gradient(z, cpu).numpy(), rtol=1e-13)


def test_broadcasting_operands_run_unfused_on_the_device(emulated_cuda):
    f = ac.function(lambda x, b: ac.exp(x + b) * 2.0)
    x = ac.tensor(numpy.ones((4, 3)), dtype="float32", device="cuda:0")
    b = ac.tensor(numpy.arange(3.0), dtype="float32", device="cuda:0")
    numpy.testing.assert_allclose(f(x, b).numpy(), numpy.exp(1 + numpy.arange(3.0))[None].repeat(4, 0) * 2,
                                  rtol=1e-6)
    # b broadcasts against x, and the kernel only indexes: the add runs alone, exp * 2 fuses
    (kernel,) = fused(f)
    assert "+" not in kernel.expression and "exp(" in kernel.expression


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_math_form_as_cuda_c_is_the_eager_op(emulated_cuda, dtype):
    """The op table's math forms as the CUDA C a fused chain runs (fusion_cuda.source, the kernel
    accel.function generates), all forms in one source and one compiler run, each launched on the
    emulated device against the eager CPU op: within fusion's 4-ulp contract."""
    import emulator

    from accel.function import fusion_cuda

    records = [r for r in ac.ops.registry.values() if r.fusable]
    dt = numpy.dtype(dtype)
    code, names = fusion_cuda.PRELUDE, []
    for i, record in enumerate(records):
        leaves = [f"v{k}" for k in range(record.arity)]
        names.append(f"form_{i}")
        code += fusion_cuda.source(record.math.format(*leaves), dt, leaves, [], set(), kernel_name=names[-1],
                                   prelude=False)
    options = ("-std=c++17",)
    emulator.compile_kernels(code, options, names)
    module = emulated_cuda.RawModule(code=code, options=options, name_expressions=names)
    rng = numpy.random.default_rng(5)
    for record, name in zip(records, names):
        low, high, _ = ac.ops.table.DOMAINS[record.domain]
        args = [rng.uniform(low, high, 1000).astype(dt) for _ in range(record.arity)]
        out = emulated_cuda.empty((1000,), dt)
        module.get_function(name)((4,), (256,), (*[emulated_cuda.asarray(a) for a in args], out, numpy.int64(1000)))
        want = record.fn(*[ac.tensor(a) for a in args]).numpy()
        got = emulated_cuda.asnumpy(out)
        spacing = numpy.spacing(numpy.abs(want).astype(dt))
        worst = float(numpy.max(numpy.abs(got.astype(float) - want.astype(float)) / numpy.maximum(spacing, 1e-300)))
        assert worst <= 4, f"{record.name}: {worst} ulps"
