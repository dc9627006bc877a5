"""EMULATION: the unmodified CUDA kernels (csrc/cuda/fused.cu), compiled by g++ against a CUDA
shim and launched through the real bridge (accel.kernels -> accel._cuda) on CPU-emulated devices,
against accel._cpu bit for bit. This checks the kernels' logic and the bridge, not warps, FTZ or
FMA (both builds compile without contraction)."""

import math
import pathlib
import shutil

import numpy
import pytest

import emulator
from accel import _cuda, kernels

RULE_SCALARS = {
    "sgd": [0.1, 0.9], "adagrad": [0.1, 1e-7, 0.9, 0.1], "rmsprop": [0.01, 0.9, 0.5, 1e-7],
    "adam": [0.01, 0.9, 0.999, 1e-7], "adadelta": [0.5, 0.9, 1e-6], "adamax": [0.01, 0.9, 0.999, 1e-7],
    "nadam": [0.01, 0.02, 1e-7, 0.9, 0.999], "ftrl": [0.3, -0.6, 0.01, 0.05, 0.02], "lion": [0.01, 0.9, 0.99],
    "lamb": [1.1, 1.01, 0.9, 0.999, 1e-7],
}
CASES = list(kernels.RULES)
DTYPES = ["float16", "float32", "float64"]
# Odd lengths, a zero-length segment, starts that are not 16-byte aligned, and a segment that
# crosses the 65,536-element chunk boundary of the CUDA kernel.
LENGTHS = [7, 0, 33, 1, 70_001, 5]
OFFSETS = [3, 11, 11, 45, 47, 70_049]


def _inputs(rule, dtype, rng, lengths=LENGTHS, offsets=OFFSETS, grad_shift=1):
    n = max(o + length for o, length in zip(offsets, lengths)) + 3
    params = rng.standard_normal(n).astype(dtype)
    slots = [numpy.abs(rng.standard_normal(n)).astype(dtype) * 0.1 for _ in kernels.RULES[rule].slots]
    # Each gradient is a view starting `grad_shift` elements into its own buffer: misaligned by
    # default, so the kernel takes its scalar path.
    grads = []
    for length in lengths:
        backing = rng.standard_normal(length + grad_shift).astype(dtype)
        grads.append(backing[grad_shift:])
    return params, slots, grads


def _to_device(cupy, arrays):
    return [cupy.asarray(a) for a in arrays]


def launch_flat(rule, params, slots, grads, offsets, device=None, **args):
    """kernels.launch over variables laid out in flat buffers (each variable the view at its
    offset, as long as its gradient): one table, one launch."""
    views = [(int(o), int(o) + g.size) for g, o in zip(grads, offsets)]
    table = kernels.table(rule, [params[a:b] for a, b in views],
                          [[s[a:b] for a, b in views] for s in slots], device=device)
    kernels.launch(table, grads, **args)


def _run_both(cupy, device, rule, params, slots, grads, offsets, **args):
    host = [params.copy(), [s.copy() for s in slots]]
    launch_flat(rule, host[0], host[1], grads, offsets, **args)
    d_params, d_slots = cupy.asarray(params), _to_device(cupy, slots)
    d_grads = []
    for g in grads:  # keep each gradient's misalignment on the device side too
        backing = cupy.asarray(numpy.concatenate([numpy.zeros(1, g.dtype), g]))
        d_grads.append(backing[1:])
    launch_flat(rule, d_params, d_slots, d_grads, offsets, device=device, **args)
    return host, (d_params.get(), [s.get() for s in d_slots])


def _assert_same_bits(host, emulated):
    (hp, hs), (dp, ds) = host, emulated
    assert hp.tobytes() == dp.tobytes(), numpy.flatnonzero(hp.view(numpy.uint8) != dp.view(numpy.uint8))[:10]
    for a, b in zip(hs, ds):
        assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rule", CASES)
def test_emulated_update_matches_cpu_bit_for_bit(emulated_cuda, rule, dtype):
    import accel as ac

    device = ac.get_device("cuda:0")
    rng = numpy.random.default_rng(5)
    flags = (numpy.arange(len(LENGTHS)) % 2).astype(numpy.uint8)  # rules without an On form ignore them
    scales = numpy.linspace(0.25, 1.0, len(LENGTHS))
    for clip_value, decay, segment_scales in ((None, 0.0, None), (0.5, 0.0, scales), (None, 0.01, None),
                                              (0.5, 0.01, scales)):
        params, slots, grads = _inputs(rule, dtype, rng)
        with numpy.errstate(over="ignore", invalid="ignore"):
            host, emulated = _run_both(emulated_cuda, device, rule, params, slots, grads, OFFSETS,
                                       scalars=RULE_SCALARS[kernels.RULES[rule].family], segment_flags=flags, clip_value=clip_value,
                                       decay=decay, segment_scales=segment_scales, global_scale=0.75)
        _assert_same_bits(host, emulated)


@pytest.mark.parametrize("dtype", DTYPES)
def test_emulated_aligned_buffers_take_the_vector_path(emulated_cuda, dtype):
    import accel as ac

    device = ac.get_device("cuda:0")
    rng = numpy.random.default_rng(6)
    width = 16 // numpy.dtype(dtype).itemsize
    lengths = [3 * width + 3, 70_000, width]  # whole vectors, then a scalar tail
    offsets = [0, 4 * width, 4 * width + 70_016]
    params, slots, grads = _inputs("adam_amsgrad", dtype, rng, lengths, offsets, grad_shift=0)
    before = emulator.vector_copies()
    host = [params.copy(), [s.copy() for s in slots]]
    launch_flat("adam_amsgrad", host[0], host[1], grads, offsets, scalars=RULE_SCALARS["adam"])
    d_params, d_slots = emulated_cuda.asarray(params), _to_device(emulated_cuda, slots)
    launch_flat("adam_amsgrad", d_params, d_slots, _to_device(emulated_cuda, grads), offsets,
                scalars=RULE_SCALARS["adam"], device=device)
    vectors = sum(n // width for n in lengths)
    assert emulator.vector_copies() - before == vectors * 9  # loads of p, g, m, v, vhat; stores of p, m, v, vhat
    _assert_same_bits(host, (d_params.get(), [s.get() for s in d_slots]))
    # Misaligned gradients: the same update through the scalar path, no vector copy at all.
    params, slots, grads = _inputs("adam_amsgrad", dtype, rng, lengths, offsets, grad_shift=1)
    before = emulator.vector_copies()
    host, emulated = _run_both(emulated_cuda, device, "adam_amsgrad", params, slots, grads, offsets,
                               scalars=RULE_SCALARS["adam"])
    assert emulator.vector_copies() == before
    _assert_same_bits(host, emulated)


@pytest.mark.parametrize("dtype", DTYPES)
def test_emulated_norms_match_float64_sums(emulated_cuda, dtype):
    import accel as ac

    device = ac.get_device("cuda:0")
    rng = numpy.random.default_rng(7)
    arrays = [rng.standard_normal(n).astype(dtype) for n in (0, 1, 5, 70_001, 131_072, 3)]
    want = [float(numpy.sum(a.astype(numpy.float64) ** 2)) for a in arrays]
    on_device = _to_device(emulated_cuda, arrays)
    total = kernels.global_norm_sq(on_device, device)
    assert isinstance(total, emulated_cuda.ndarray) and total.shape == ()
    assert float(total.get()) == pytest.approx(sum(want), rel=1e-12)
    per_array = kernels.norms_sq(on_device, device)
    numpy.testing.assert_allclose(per_array, want, rtol=1e-12)
    # Mixed dtypes in one call, and an empty list.
    mixed = on_device + [emulated_cuda.asarray(rng.standard_normal(9))]
    assert float(kernels.global_norm_sq(mixed, device).get()) == pytest.approx(
        sum(want) + float(numpy.sum(mixed[-1].get() ** 2)), rel=1e-12)
    assert float(kernels.global_norm_sq([], device).get()) == 0.0


def test_emulated_norms_of_strided_arrays(emulated_cuda):
    """Defect: norm_sq indexed from data.ptr as if contiguous (g[::2] gave 385 instead of 1330)."""
    import accel as ac

    device = ac.get_device("cuda:0")
    g = emulated_cuda.asarray(numpy.arange(20, dtype=numpy.float32))
    m = emulated_cuda.asarray(numpy.arange(12, dtype=numpy.float64).reshape(3, 4))
    views = [g[::2], g[::-1], m.T, m[:, 1]]
    want = [float(numpy.sum(v.get().astype(numpy.float64) ** 2)) for v in views]
    numpy.testing.assert_allclose(kernels.norms_sq(views, device), want, rtol=1e-12)
    assert float(kernels.global_norm_sq(views, device).get()) == pytest.approx(sum(want), rel=1e-12)


def test_emulated_device_side_global_clip_joins_global_scale(emulated_cuda):
    """Defect: with norm_sq given, CUDA dropped global_scale (the CPU multiplies them)."""
    import accel as ac

    device = ac.get_device("cuda:0")
    rng = numpy.random.default_rng(8)
    grads = [rng.standard_normal(n).astype(numpy.float64) for n in (5, 70_000, 3)]
    offsets = numpy.array([0, 5, 70_005])
    norm_sq = kernels.global_norm_sq(_to_device(emulated_cuda, grads), device)
    host_norm_sq = sum(float(numpy.sum(g * g)) for g in grads)
    params = numpy.zeros(70_008)
    d_params = emulated_cuda.asarray(params)
    launch_flat("sgd", d_params, [], _to_device(emulated_cuda, grads), offsets, scalars=[1.0, 0.0],
                norm_sq=norm_sq, clip_norm=1.0, global_scale=0.5, device=device)
    launch_flat("sgd", params, [], grads, offsets, scalars=[1.0, 0.0], norm_sq=host_norm_sq, clip_norm=1.0,
                global_scale=0.5)
    numpy.testing.assert_allclose(d_params.get(), params, rtol=1e-12)
    assert numpy.abs(params).max() > 0
    # A host float for norm_sq works on CUDA too (its factor is folded in on the host).
    d_params = emulated_cuda.asarray(numpy.zeros(70_008))
    launch_flat("sgd", d_params, [], _to_device(emulated_cuda, grads), offsets, scalars=[1.0, 0.0],
                norm_sq=host_norm_sq, clip_norm=1.0, global_scale=0.5, device=device)
    numpy.testing.assert_allclose(d_params.get(), params, rtol=1e-15)


def test_emulated_launch_checks_everything_before_writing(emulated_cuda):
    """Defect: the CUDA launch did not check slot buffers, norm_sq or probe arguments: a short
    buffer on a GPU is written out of bounds."""
    import accel as ac

    device = ac.get_device("cuda:0")
    cupy = emulated_cuda
    params = [cupy.asarray(numpy.ones(8, numpy.float32))]
    good = [[cupy.zeros(8, numpy.float32)], [cupy.zeros(8, numpy.float32)]]
    table_cases = [
        (dict(slots=[[cupy.zeros(7, numpy.float32)], good[1]]), ValueError, "slots[0][0]: has 7 elements"),
        (dict(slots=[good[0], [cupy.zeros(8, numpy.float64)]]), TypeError, "slots[1][0]: dtype must be float32"),
        (dict(slots=good[:1]), ValueError, "needs 2 slot lists"),
        (dict(params=[numpy.ones(8, numpy.float32)]), TypeError, "params[0]: expected an array of cuda:0"),
        (dict(rule="adam_nesterov"), ValueError, "rule: unknown rule"),
    ]
    for change, error, message in table_cases:
        args = dict(rule="adam", params=params, slots=good)
        args.update(change)
        with pytest.raises(error, match=message.replace("[", r"\[").replace("]", r"\]")):
            kernels.table(args["rule"], args["params"], args["slots"], device=device)
    table = kernels.table("adam", params, good, device=device)
    grads = [cupy.asarray(numpy.ones(8, numpy.float32))]
    launch_cases = [
        (dict(norm_sq=cupy.zeros((), numpy.float32)), TypeError, "norm_sq: dtype must be float64"),
        (dict(norm_sq="3"), TypeError, "norm_sq: expected an array"),
        (dict(grads=[cupy.asarray(numpy.ones(9, numpy.float32))]), ValueError, "grads[0]: has 9 elements"),
        (dict(grads=[cupy.asarray(numpy.ones(8, numpy.float64))]), TypeError, "grads[0]: dtype must be float32"),
        (dict(grads=[cupy.asarray(numpy.ones(16, numpy.float32))[::2]]), TypeError, "C-contiguous"),
        (dict(grads=[numpy.ones(8, numpy.float32)]), TypeError, "expected an array of cuda:0"),
        (dict(grads=[]), ValueError, "grads: has 0 arrays for 1 parameters"),
        (dict(scalars=[0.1]), ValueError, "scalars: has 1 entries"),
    ]
    for change, error, message in launch_cases:
        args = dict(grads=grads, scalars=RULE_SCALARS["adam"])
        args.update(change)
        with pytest.raises(error, match=message.replace("[", r"\[").replace("]", r"\]")):
            kernels.launch(table, args.pop("grads"), **args)
        assert (params[0].get() == 1).all() and all((s[0].get() == 0).all() for s in good)
    with pytest.raises(ValueError, match="b: has 7 elements"):
        kernels.axpy(cupy.zeros(8, numpy.float32), cupy.zeros(7, numpy.float32), 1.0, device=device)
    with pytest.raises(TypeError, match="a: dtype must be float32"):
        kernels.axpy(cupy.zeros(8, numpy.float64), cupy.zeros(8, numpy.float64), 1.0, device=device)
    a = cupy.zeros(300_000, numpy.float32)
    kernels.axpy(a, cupy.ones(300_000, numpy.float32), 0.5, device=device)
    assert (a.get() == 0.5).all()
    with pytest.raises(ValueError, match=r"reads\[0\]: has 7 elements"):
        kernels.stream_probe([cupy.zeros(8, numpy.float32)], [cupy.zeros(7, numpy.float32)], 1.0, device=device)
    writes = [cupy.full(70_001, float(w), numpy.float32) for w in range(3)]
    reads = [cupy.full(70_001, 2.0, numpy.float32), cupy.ones(70_001, numpy.float32)]
    kernels.stream_probe(writes, reads, 0.5, device=device)
    for w, array in enumerate(writes):
        assert (array.get() == w + 1.5).all()


def test_emulated_extras_are_checked_before_writing(emulated_cuda):
    """Gradient accumulation and EMA on the device: the tables' extra arrays and the launch's
    modes are checked as on the CPU."""
    import accel as ac

    device = ac.get_device("cuda:0")
    cupy = emulated_cuda
    params = [cupy.asarray(numpy.ones(8, numpy.float32))]
    slots = [[cupy.zeros(8, numpy.float32)], [cupy.zeros(8, numpy.float32)]]
    with pytest.raises(ValueError, match=r"accumulators\[0\]: has 7 elements"):
        kernels.table("adam", params, slots, device=device, accumulators=[cupy.zeros(7, numpy.float32)])
    with pytest.raises(ValueError, match="averages: expected a list of 1 arrays"):
        kernels.table("adam", params, slots, device=device, averages=[])
    plain = kernels.table("adam", params, slots, device=device)
    grads = [cupy.asarray(numpy.ones(8, numpy.float32))]
    with pytest.raises(ValueError, match="accumulation: this table has no accumulators"):
        kernels.launch(plain, grads, accumulation="add")
    with pytest.raises(ValueError, match="ema_momentum: this table has no averages"):
        kernels.launch(plain, grads, scalars=RULE_SCALARS["adam"], ema_momentum=0.5)
    full = kernels.table("adam", params, slots, device=device, accumulators=[cupy.zeros(8, numpy.float32)],
                         averages=[cupy.zeros(8, numpy.float32)])
    with pytest.raises(ValueError, match=r"ema_momentum: must be in \[0, 1\]"):
        kernels.launch(full, grads, scalars=RULE_SCALARS["adam"], ema_momentum=-0.5)
    with pytest.raises(ValueError, match="accumulation_steps: must be >= 1"):
        kernels.launch(full, grads, scalars=RULE_SCALARS["adam"], accumulation="mean", accumulation_steps=0.5)
    assert (params[0].get() == 1).all() and (full.accumulators[0].get() == 0).all()
    kernels.launch(full, grads, accumulation="add", grad_scale=2.0, ema_momentum=0.0)
    assert (full.accumulators[0].get() == 2).all() and (full.averages[0].get() == 1).all()


def test_emulated_tables_are_uploaded_once_per_set_of_variables(emulated_cuda):
    """Defect: the chunk and segment tables were uploaded on every step. Now the pointer and chunk
    tables are uploaded when the table is made, and a step's table only when it changes."""
    import accel as ac

    device = ac.get_device("cuda:0")
    cupy = emulated_cuda
    params = [cupy.zeros(64, numpy.float32), cupy.zeros(100, numpy.float32)]
    grads = [cupy.asarray(numpy.ones(n, numpy.float32)) for n in (64, 100)]
    table = kernels.table("sgd", params, [], device=device)
    pointers, chunks = table.segments, table.chunks
    compiled = kernels.cuda_kernels(device)
    compiled._tables.clear()
    for _ in range(5):
        kernels.launch(table, grads, scalars=[0.1, 0.0])
    assert len(compiled._tables) == 1 and table.segments is pointers and table.chunks is chunks
    step_table = next(iter(compiled._tables.values()))
    kernels.launch(table, grads, scalars=[0.1, 0.0])
    assert next(iter(compiled._tables.values())) is step_table
    for p in params:
        numpy.testing.assert_allclose(p.get(), -0.6, rtol=1e-6)


def test_emulated_per_tensor_norms_take_one_launch(emulated_cuda):
    """Defect: clipnorm synchronised once per tensor; now two launches and one copy for all."""
    import accel as ac

    device = ac.get_device("cuda:0")
    arrays = [emulated_cuda.asarray(numpy.full(n, 2.0, numpy.float32)) for n in range(1, 21)]
    del emulated_cuda.launches[:]
    norms = kernels.norms_sq(arrays, device)
    numpy.testing.assert_array_equal(norms, [4.0 * n for n in range(1, 21)])
    assert [name for name, _, _ in emulated_cuda.launches] == [
        "accel::chunk_sum_squares<float>", "accel::sum_partials_by_segment"]


def test_compiled_source_changes_with_any_header(tmp_path):
    """Defect: CuPy's kernel cache keys on the source text and options, not on the headers that
    -I pulls in: an edited rule ran the old binary on the GPU."""
    copy = tmp_path / "csrc"
    shutil.copytree(kernels.sources_dir(), copy)
    original = _cuda.source_with_header_hash(kernels.sources_dir())
    assert _cuda.source_with_header_hash(copy) == original
    assert original.endswith((kernels.sources_dir() / "cuda" / "fused.cu").read_text())
    rule = copy / "rules" / "adam.h"
    edited = rule.read_text().replace("m += (g - m) * one_minus_beta1;", "m += (g - m) * one_minus_beta1 * 1;")
    assert edited != rule.read_text()
    rule.write_text(edited)
    assert _cuda.source_with_header_hash(copy) != original


def test_emulator_catches_an_array_of_another_device(emulated_cuda):
    """The emulator's strictness, which the device tests rely on."""
    import accel as ac

    device = ac.get_device("cuda:0")
    with emulated_cuda.cuda.Device(1):
        params = emulated_cuda.zeros(8, numpy.float32)
    with pytest.raises(ValueError, match=r"params\[0\]: the array is on cuda:1"):
        kernels.table("sgd", [params], [], device=device)
    with pytest.raises(emulator.EmulationError, match="device 1 used while device 0 is current"):
        params + 1
    with pytest.raises(TypeError, match="Implicit conversion"):
        numpy.asarray(params)


def test_emulator_reads_arguments_as_the_kernel_parameter_types(emulated_cuda):
    """As cuLaunchKernel: a Python float where the kernel takes a float is 8 bytes read as 4."""
    import accel as ac

    device = ac.get_device("cuda:0")
    fn = kernels.cuda_kernels(device).function("accel::axpy")
    a, b = emulated_cuda.zeros(4, numpy.float32), emulated_cuda.ones(4, numpy.float32)
    fn((1,), (4,), (a, b, numpy.float32(2.0), numpy.int64(4)))
    assert (a.get() == 2.0).all()
    fn((1,), (4,), (a, b, 2.0, 4))  # float64 bytes read as a float32: not 2.0
    assert not math.isclose(float(a.get()[0]), 4.0)


def test_emulator_kernel_sources_are_the_shipped_ones():
    assert pathlib.Path(emulator.INCLUDE / "cuda_emu.h").is_file()
    assert "fused_update" in (kernels.sources_dir() / "cuda" / "fused.cu").read_text()


def test_emulated_cuda_device_class(emulated_cuda):
    """A CUDADevice owns what differs from the CPU: activation, transfers, random streams, its
    kernels and memory information."""
    import accel as ac
    from accel.device import CUDADevice, array_device

    dev = ac.get_device("cuda:1")
    assert isinstance(dev, CUDADevice) and dev.contextual and not dev.host_readable
    array = dev.send(numpy.arange(3.0))
    assert array_device(array) is dev and array.device.id == 1
    assert dev.random_stream(5).random((2,)).shape == (2,)
    assert dev.kernels is kernels.cuda_kernels(dev)
    free, total = dev.memory_info()
    assert 0 < free <= total
