"""The fused kernels (accel.kernels, accel._cpu, csrc/cuda) against a float64 NumPy reference
written here from docs/semantics.md section 4."""

import math
import re
import shutil
import subprocess
import sys
import textwrap
import zlib

import numpy
import pytest

import accel as ac
import accel._cpu
from accel import kernels

# ---- the reference: semantics.md section 4, per element, in float64 ------------------------------


def reference_step(rule, variant, p, slots, g, s, decay_flags, seg_of):
    """One step of `rule` on float64 copies; `s` are the kernel scalars; mutates p and slots."""
    if rule == "sgd":
        lr, momentum = s
        if variant == 0:
            p -= lr * g
        else:
            m = slots[0]
            m[:] = momentum * m - lr * g
            p += momentum * m - lr * g if variant == 3 else m
    elif rule == "adagrad":
        lr, eps, rate, floor = s
        acc = slots[0]
        decaying = decay_flags[seg_of]
        acc[decaying] = numpy.maximum(acc[decaying] * rate, floor)
        acc += g * g
        p -= lr * g / numpy.sqrt(acc + eps)
    elif rule == "rmsprop":
        lr, rho, momentum, eps = s
        centered, has_momentum = bool(variant & 1), bool(variant & 2)
        rms = slots[0]
        rms[:] = rho * rms + (1 - rho) * g * g
        if centered:
            mg = slots[-1]
            mg[:] = rho * mg + (1 - rho) * g
            d = rms - mg * mg + eps
        else:
            d = rms + eps
        inc = lr * g / numpy.sqrt(d)
        if has_momentum:
            mom = slots[1]
            mom[:] = momentum * mom + inc
            p -= mom
        else:
            p -= inc
    elif rule == "adam":
        alpha, b1, b2, eps = s
        m, v = slots[0], slots[1]
        m += (g - m) * (1 - b1)
        v += (g * g - v) * (1 - b2)
        if variant == 1:
            slots[2][:] = numpy.maximum(slots[2], v)
            v = slots[2]
        p -= alpha * m / (numpy.sqrt(v) + eps)


SCALARS = {
    "sgd": [0.1, 0.9], "adagrad": [0.1, 1e-7, 0.9, 0.1], "rmsprop": [0.01, 0.9, 0.5, 1e-7],
    "adam": [0.01, 0.9, 0.999, 1e-7],
}
# The reference below is written per family with variant bits (sgd 1 momentum, 2 nesterov;
# rmsprop 1 centered, 2 momentum; adam 1 amsgrad); the kernels are named by the registry.
_FLAG_BITS = {"sgd": ("momentum", "nesterov"), "rmsprop": ("centered", "momentum"), "adam": ("amsgrad",),
              "adagrad": ()}


def kernel_of(rule, variant):
    """The registry's kernel id of (family, variant bits)."""
    return kernels.kernel_id(rule, *[f for i, f in enumerate(_FLAG_BITS[rule]) if variant >> i & 1])


def _bits(spec):
    return sum(1 << i for i, f in enumerate(_FLAG_BITS[spec.family]) if f in spec.flags)


CASES = [(spec.family, _bits(spec)) for spec in kernels.RULES.values() if spec.family in _FLAG_BITS]
TOLERANCE = {"float64": (1e-12, 1e-12), "float32": (2e-5, 2e-6), "float16": (2e-2, 2e-2)}
# Odd lengths, a zero-length segment, gaps that misalign starts, one segment over a chunk boundary.
LAYOUTS = {
    "mixed": ([7, 0, 33, 1, 100, 5], [3, 11, 11, 45, 47, 160]),
    "many_small": ([3] * 40, [4 * i + 1 for i in range(40)]),
    "large": ([70_001, 17], [0, 70_003]),
}
STEPS = {"mixed": 3, "many_small": 5, "large": 2}


def _group(rule, variant, dtype, lengths, offsets, rng):
    n = max(o + length for o, length in zip(offsets, lengths)) + 2
    params = rng.standard_normal(n).astype(dtype)
    slot_names = kernels.RULES[kernel_of(rule, variant)].slots
    # mg starts at 0 as in the optimizer: then mg^2 <= rms at every step, so centered RMSprop's
    # denominator stays positive.
    slots = [numpy.abs(rng.standard_normal(n)).astype(dtype) * 0.1 if name != "mg" else
             numpy.zeros(n, dtype) for name in slot_names]
    if rule == "adagrad":
        slots[0][:] = numpy.maximum(slots[0], 0.1)
    return params, slots


def launch_flat(rule, variant, params, slots, grads, offsets, device=None, **args):
    """kernels.launch over variables laid out in flat buffers: each variable is the view of
    `params` (and of each slot buffer) at its offset, as long as its gradient."""
    views = [(int(o), int(o) + g.size) for g, o in zip(grads, offsets)]
    table = kernels.table(kernel_of(rule, variant), [params[a:b] for a, b in views],
                          [[s[a:b] for a, b in views] for s in slots], device=device)
    kernels.launch(table, grads, **args)


def _grads(lengths, dtype, rng):
    # Each gradient a view at offset 1 of a larger array: C-contiguous but not 16-byte aligned.
    return [rng.standard_normal(length + 1).astype(dtype)[1:] for length in lengths]


def _segment_index(n, lengths, offsets):
    """For every element of the flat buffer, the segment it belongs to (-1: none)."""
    seg_of = numpy.full(n, -1)
    for s, (length, o) in enumerate(zip(lengths, offsets)):
        seg_of[o:o + length] = s
    return seg_of


def _run_case(rule, variant, dtype, layout, steps, rng, clip_value=None, decay=0.0, global_scale=1.0,
              scales=None):
    lengths, offsets = LAYOUTS[layout]
    params, slots = _group(rule, variant, dtype, lengths, offsets, rng)
    ref_p, ref_slots = params.astype(numpy.float64), [s.astype(numpy.float64) for s in slots]
    seg_of = _segment_index(params.size, lengths, offsets)
    inside = seg_of >= 0
    flags = (numpy.arange(len(lengths)) % 2).astype(numpy.uint8) if rule == "adagrad" else None
    for _ in range(steps):
        grads = _grads(lengths, dtype, rng)
        launch_flat(rule, variant, params, slots, grads, numpy.array(offsets), scalars=SCALARS[rule],
                       segment_scales=scales, segment_flags=flags, clip_value=clip_value, decay=decay,
                       global_scale=global_scale)
        # reference on the elements that belong to a segment
        g = numpy.zeros(params.size)
        for s, (length, o) in enumerate(zip(lengths, offsets)):
            g[o:o + length] = grads[s].astype(numpy.float64) * (1.0 if scales is None else scales[s]) * global_scale
        if clip_value is not None:
            g = numpy.clip(g, -clip_value, clip_value)
        p_in = ref_p[inside]
        if decay:
            p_in -= p_in * decay
        slots_in = [s[inside] for s in ref_slots]
        decay_flags = flags.astype(bool) if flags is not None else numpy.zeros(len(lengths), bool)
        reference_step(rule, variant, p_in, slots_in, g[inside], SCALARS[rule], decay_flags, seg_of[inside])
        ref_p[inside] = p_in
        for s, s_in in zip(ref_slots, slots_in):
            s[inside] = s_in
    return params, slots, ref_p, ref_slots, inside


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@pytest.mark.parametrize("rule,variant", CASES, ids=[f"{r}-{v}" for r, v in CASES])
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_rules_match_reference(rule, variant, dtype, layout):
    rng = numpy.random.default_rng(zlib.crc32(f"{rule}-{variant}-{dtype}-{layout}".encode()))  # not hash(): salted
    steps = STEPS[layout]  # several steps: a slot's second update reads what the first wrote
    params, slots, ref_p, ref_slots, inside = _run_case(rule, variant, dtype, layout, steps, rng)
    rtol, atol = TOLERANCE[dtype]
    numpy.testing.assert_allclose(params[inside].astype(numpy.float64), ref_p[inside], rtol=rtol, atol=atol)
    for got, want in zip(slots, ref_slots):
        numpy.testing.assert_allclose(got[inside].astype(numpy.float64), want[inside], rtol=rtol, atol=atol)


@pytest.mark.parametrize("rule,variant", CASES, ids=[f"{r}-{v}" for r, v in CASES])
def test_five_steps_float64(rule, variant):
    rng = numpy.random.default_rng(5)
    params, slots, ref_p, ref_slots, inside = _run_case(rule, variant, "float64", "mixed", 5, rng)
    numpy.testing.assert_allclose(params[inside], ref_p[inside], rtol=1e-12, atol=1e-12)


def test_elements_outside_segments_are_untouched():
    rng = numpy.random.default_rng(0)
    lengths, offsets = LAYOUTS["mixed"]
    params, slots = _group("adam", 0, "float32", lengths, offsets, rng)
    before = params.copy(), [s.copy() for s in slots]
    launch_flat("adam", 0, params, slots, _grads(lengths, "float32", rng), numpy.array(offsets),
                scalars=SCALARS["adam"])
    outside = _segment_index(params.size, lengths, offsets) < 0
    numpy.testing.assert_array_equal(params[outside], before[0][outside])
    for s, b in zip(slots, before[1]):
        numpy.testing.assert_array_equal(s[outside], b[outside])


@pytest.mark.parametrize("rule,variant", [("adam", 1), ("sgd", 3), ("rmsprop", 3), ("adagrad", 0)])
def test_gradient_preparation(rule, variant):
    """clipvalue, per-segment scales (clipnorm), a global scale and decoupled weight decay."""
    rng = numpy.random.default_rng(3)
    scales = numpy.linspace(0.5, 1.5, len(LAYOUTS["mixed"][0]))
    params, slots, ref_p, ref_slots, inside = _run_case(
        rule, variant, "float64", "mixed", 3, rng, clip_value=0.7, decay=0.01, global_scale=0.8, scales=scales)
    numpy.testing.assert_allclose(params[inside], ref_p[inside], rtol=1e-12, atol=1e-12)


def _run_everything(rng_seed=0):
    rng = numpy.random.default_rng(rng_seed)
    out = []
    for rule, variant in CASES:
        for dtype in ("float32", "float16", "float64"):
            params, slots, *_ = _run_case(rule, variant, dtype, "large", 2, rng, clip_value=1.5, decay=0.001)
            out.append([params, *slots])
    return out


def test_every_instruction_set_gives_identical_results():
    isas = accel._cpu.build_info()["supported_isas"]
    chosen = accel._cpu.build_info()["isa"]
    results = {}
    try:
        for isa in isas:
            accel._cpu.set_isa(isa)
            results[isa] = _run_everything()
    finally:
        accel._cpu.set_isa(chosen)
    first = results[isas[0]]
    for isa in isas[1:]:
        for a, b in zip(first, results[isa]):
            for x, y in zip(a, b):
                numpy.testing.assert_array_equal(x, y, err_msg=f"{isa} differs from {isas[0]}")


def test_thread_count_does_not_change_results():
    before = kernels.get_num_threads()
    try:
        kernels.set_num_threads(1)
        one = _run_everything()
        kernels.set_num_threads(2)
        two = _run_everything()
    finally:
        kernels.set_num_threads(0)
    assert kernels.get_num_threads() == before
    for a, b in zip(one, two):
        for x, y in zip(a, b):
            numpy.testing.assert_array_equal(x, y)


def test_set_isa_rejects_unknown():
    with pytest.raises(ValueError, match="set_isa: 'sse9' is not supported on this CPU"):
        accel._cpu.set_isa("sse9")


# ---- validation: clear errors, nothing written --------------------------------------------------


def _valid_launch():
    rng = numpy.random.default_rng(0)
    params = [rng.standard_normal(5).astype(numpy.float32), rng.standard_normal(7).astype(numpy.float32)]
    slots = [[numpy.zeros(5, numpy.float32), numpy.zeros(7, numpy.float32)] for _ in range(2)]
    grads = [numpy.ones(5, numpy.float32), numpy.ones(7, numpy.float32)]
    return params, slots, grads


@pytest.mark.parametrize("mutate,error,message", [
    (lambda a: a.update(grads=[a["grads"][0], numpy.ones(7, numpy.float64)]), TypeError,
     r"grads\[1\]: dtype must match params \(float32\)"),
    (lambda a: a.update(grads=[a["grads"][0], numpy.ones(12, numpy.float32)]), ValueError,
     r"grads\[1\]: has 12 elements, params\[1\] has 7"),
    (lambda a: a.update(grads=a["grads"][:1]), ValueError, "grads: has 1 arrays for 2 parameters"),
    (lambda a: a.update(grads=[a["grads"][0], numpy.ones((7, 2), numpy.float32)[:, 0]]), TypeError,
     r"grads\[1\]: expected a C-contiguous array"),
    (lambda a: a.update(scalars=[1.0, 2.0]), ValueError, "scalars: has 2 entries, expected 4"),
    (lambda a: a.update(segment_scales=numpy.ones(3)), ValueError, "segment_scales: has 3 entries, expected 2"),
])
def test_launch_errors_leave_everything_untouched(mutate, error, message):
    params, slots, grads = _valid_launch()
    table = kernels.table("adam", params, slots)
    args = dict(grads=grads, scalars=SCALARS["adam"])
    mutate(args)
    before = [p.copy() for p in params], [[a.copy() for a in kind] for kind in slots]
    with pytest.raises(error, match=message):
        kernels.launch(table, args.pop("grads"), **args)
    for p, b in zip(params, before[0]):
        numpy.testing.assert_array_equal(p, b)
    for kind, b in zip(slots, before[1]):
        for a, c in zip(kind, b):
            numpy.testing.assert_array_equal(a, c)


@pytest.mark.parametrize("mutate,error,message", [
    (lambda a: a.update(slots=a["slots"][:1]), ValueError, "slots: rule 'adam' needs 2 slot lists, got 1"),
    (lambda a: a.update(slots=[a["slots"][0], [numpy.zeros(5, numpy.float32), numpy.zeros(6, numpy.float32)]]),
     ValueError, r"slots\[1\]\[1\]: must be float32 with 7 elements like params\[1\]"),
    (lambda a: a.update(slots=[a["slots"][0], a["slots"][0]]), ValueError, r"slots\[1\]\[0\]: the same memory"),
    (lambda a: a.update(slots=[a["slots"][0], a["slots"][1][:1]]), ValueError, r"slots\[1\]: has 1 arrays for 2"),
    (lambda a: a.update(params=[a["params"][0], a["params"][1].astype(numpy.float64)]), TypeError,
     r"params\[1\]: dtype must match params\[0\] \(float32\)"),
    (lambda a: a.update(rule="nonesuch"), ValueError, "rule: unknown rule 'nonesuch'"),
])
def test_table_errors(mutate, error, message):
    params, slots, _ = _valid_launch()
    args = dict(rule="adam", params=params, slots=slots)
    mutate(args)
    with pytest.raises(error, match=message):
        kernels.table(args["rule"], args["params"], args["slots"])


def test_kernel_ids_come_from_the_registry():
    assert kernels.kernel_id("sgd", "nesterov", "momentum") == "sgd_nesterov"
    assert kernels.kernel_id("adam") == "adam" and kernels.kernel_id("adam", "amsgrad") == "adam_amsgrad"
    assert kernels.RULES["rmsprop_centered"].slots == ("rms", "mg")
    with pytest.raises(ValueError, match="no fused kernel for adam \\+ nesterov"):
        kernels.kernel_id("adam", "nesterov")
    registry = (kernels.sources_dir() / "rules" / "registry.h").read_text()
    assert all(f"X({rule}," in registry for rule in kernels.RULES)


def test_params_must_be_writable():
    params, slots, _ = _valid_launch()
    params[1].flags.writeable = False
    with pytest.raises(TypeError, match=r"params\[1\]: expected a C-contiguous writable array"):
        kernels.table("adam", params, slots)


# ---- reductions and scalars -------------------------------------------------------------------


def test_global_norm_sq_matches_numpy():
    rng = numpy.random.default_rng(1)
    arrays = [rng.standard_normal(s).astype(d) for s, d in
              [((3, 4), numpy.float32), ((70_000,), numpy.float64), ((0,), numpy.float32), ((5,), numpy.float16)]]
    want = sum(float(numpy.sum(a.astype(numpy.float64) ** 2)) for a in arrays)
    assert kernels.global_norm_sq(arrays) == pytest.approx(want, rel=1e-12)
    assert kernels.global_norm_sq([]) == 0.0


def test_global_clip_scale():
    assert kernels.global_clip_scale(25.0, 4.0) == 0.8  # the semantics example: norm 5, clip 4
    assert kernels.global_clip_scale(25.0, 6.0) == 1.0
    assert kernels.global_clip_scale(0.0, 1.0) == 1.0
    assert math.isnan(kernels.global_clip_scale(math.inf, 1.0))
    assert math.isnan(kernels.global_clip_scale(math.nan, 1.0))


def test_axpy_probe():
    a, b = numpy.ones(100_000, numpy.float32), numpy.full(100_000, 2.0, numpy.float32)
    kernels.axpy(a, b, 0.5)
    numpy.testing.assert_array_equal(a, numpy.full(100_000, 2.0, numpy.float32))


def test_stream_probe_reads_and_writes_its_streams():
    rng = numpy.random.default_rng(3)
    writes = [rng.standard_normal(70_001).astype(numpy.float32) for _ in range(3)]
    reads = [rng.standard_normal(70_001).astype(numpy.float32) for _ in range(2)]
    expected = [w + numpy.float32(0.25) * (reads[0] + reads[1]) for w in writes]
    kernels.stream_probe(writes, reads, 0.25)
    for got, want in zip(writes, expected):
        numpy.testing.assert_allclose(got, want, rtol=1e-6)
    only = numpy.ones(10, numpy.float32)
    kernels.stream_probe([only], [], 3.0)  # no read-only stream: the writes are unchanged
    numpy.testing.assert_array_equal(only, numpy.ones(10, numpy.float32))


@pytest.mark.parametrize("writes, reads, error, message", [
    (0, 1, ValueError, "1 to 8 writes and at most 4 reads, got 0 and 1"),
    (9, 1, ValueError, "1 to 8 writes"),
    (1, 5, ValueError, "at most 4 reads, got 1 and 5"),
])
def test_stream_probe_stream_counts_are_checked(writes, reads, error, message):
    with pytest.raises(error, match=message):
        kernels.stream_probe([numpy.zeros(4, numpy.float32)] * writes, [numpy.zeros(4, numpy.float32)] * reads, 1.0)


def test_stream_probe_arrays_are_checked_before_writing():
    a = numpy.zeros(8, numpy.float32)
    with pytest.raises(ValueError, match=r"reads\[0\]: the probe's arrays are float32 of one size"):
        kernels.stream_probe([a], [numpy.ones(7, numpy.float32)], 1.0)
    with pytest.raises(ValueError, match=r"writes\[1\]: the probe's arrays are float32 of one size"):
        kernels.stream_probe([a, numpy.zeros(8, numpy.float64)], [], 1.0)
    with pytest.raises(TypeError, match=r"writes\[0\]: expected a C-contiguous writable array"):
        kernels.stream_probe([numpy.zeros(16, numpy.float32)[::2]], [], 1.0)
    assert (a == 0).all()


def test_kernel_sources_are_found():
    root = kernels.sources_dir()
    assert (root / "rules" / "adam.h").is_file() and (root / "cuda" / "fused.cu").is_file()


# ---- CUDA: compiled offline with nvcc; run on a device when there is one ----------------------

NVCC = shutil.which("nvcc")


@pytest.mark.skipif(NVCC is None, reason="nvcc is not installed")
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
def test_cuda_kernels_compile_without_spills(arch, tmp_path):
    source = kernels.sources_dir() / "cuda" / "fused.cu"
    result = subprocess.run(
        [NVCC, "-std=c++17", f"-arch={arch}", "-cubin", "-Xptxas", "-v", "-DACCEL_EXPLICIT_INSTANTIATION",
         f"-I{kernels.sources_dir()}", str(source), "-o", str(tmp_path / "fused.cubin")],
        capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    # One block per entry function (a called function, e.g. pow's, may add its own properties).
    entries = re.split(r"ptxas info\s+: Compiling entry function ", result.stderr)[1:]
    assert len(entries) >= 30
    for entry in entries:
        name = re.match(r"'(\w+)'", entry).group(1)
        assert set(int(n) for n in re.findall(r"(\d+) bytes spill (?:stores|loads)", entry)) == {0}, name
        budget = 128 if "dLb" in name else 64  # float64 storage ("d" before the bool flags): one block per SM
        assert int(re.search(r"Used (\d+) registers", entry).group(1)) <= budget, name


def _cuda_device():
    found = [d for d in ac.devices() if d.kind == "cuda"]
    if not found:
        pytest.skip("no CUDA device")
    return found[0]


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@pytest.mark.parametrize("rule,variant", CASES, ids=[f"{r}-{v}" for r, v in CASES])
def test_cuda_matches_cpu(rule, variant, dtype):
    device = _cuda_device()
    cupy = device.xp
    rng = numpy.random.default_rng(11)
    lengths, offsets = LAYOUTS["mixed"]
    params, slots = _group(rule, variant, dtype, lengths, offsets, rng)
    grads = _grads(lengths, dtype, rng)
    flags = (numpy.arange(len(lengths)) % 2).astype(numpy.uint8) if rule == "adagrad" else None
    gpu_params, gpu_slots = cupy.asarray(params), [cupy.asarray(s) for s in slots]
    gpu_grads = [cupy.asarray(g) for g in grads]
    for target_params, target_slots, target_grads, dev in ((params, slots, grads, None),
                                                           (gpu_params, gpu_slots, gpu_grads, device)):
        launch_flat(rule, variant, target_params, target_slots, target_grads, numpy.array(offsets),
                    scalars=SCALARS[rule], segment_flags=flags, clip_value=2.0, decay=0.001, device=dev)
    rtol, atol = TOLERANCE[dtype]
    numpy.testing.assert_allclose(cupy.asnumpy(gpu_params).astype(float), params.astype(float), rtol=rtol, atol=atol)
    for a, b in zip(gpu_slots, slots):
        numpy.testing.assert_allclose(cupy.asnumpy(a).astype(float), b.astype(float), rtol=rtol, atol=atol)


@pytest.mark.gpu
def test_cuda_global_norm_and_device_side_clipping():
    device = _cuda_device()
    cupy = device.xp
    rng = numpy.random.default_rng(2)
    grads = [rng.standard_normal(n).astype(numpy.float32) for n in (5, 70_000, 3)]
    norm_sq = kernels.global_norm_sq([cupy.asarray(g) for g in grads], device)
    want = sum(float(numpy.sum(g.astype(numpy.float64) ** 2)) for g in grads)
    assert float(norm_sq) == pytest.approx(want, rel=1e-9)
    params = numpy.zeros(70_008, numpy.float32)
    offsets = numpy.array([0, 5, 70_005])
    gpu_params = cupy.asarray(params)
    launch_flat("sgd", 0, gpu_params, [], [cupy.asarray(g) for g in grads], offsets, scalars=[1.0, 0.0],
                norm_sq=norm_sq, clip_norm=1.0, device=device)
    launch_flat("sgd", 0, params, [], grads, offsets, scalars=[1.0, 0.0],
                global_scale=kernels.global_clip_scale(want, 1.0))
    numpy.testing.assert_allclose(cupy.asnumpy(gpu_params), params, rtol=1e-5, atol=1e-7)


# ---- float16 storage: conversions exact and rounded as NumPy rounds -----------------------------


def _every_isa(fn):
    chosen = accel._cpu.build_info()["isa"]
    try:
        for isa in accel._cpu.build_info()["supported_isas"]:
            accel._cpu.set_isa(isa)
            fn(isa)
    finally:
        accel._cpu.set_isa(chosen)


def test_float16_round_trips_every_bit_pattern():
    """SGD with lr = 0 and zero gradients loads each half into float32 and stores it back."""
    patterns = numpy.arange(1 << 16, dtype=numpy.uint32).astype(numpy.uint16)

    def check(isa):
        params = patterns.view(numpy.float16).copy()
        grads = [numpy.zeros(params.size, numpy.float16)]
        launch_flat("sgd", 0, params, [], grads, numpy.array([0]), scalars=[0.0, 0.0])
        nan = numpy.isnan(patterns.view(numpy.float16))
        numpy.testing.assert_array_equal(params.view(numpy.uint16)[~nan], patterns[~nan], err_msg=isa)
        assert numpy.isnan(params[nan]).all(), isa

    _every_isa(check)


def test_float16_stores_round_like_numpy():
    """p - lr*g computed in float32 and stored as half must equal NumPy's float32 -> float16
    (round to nearest even), across normal, subnormal, overflowing and tie cases."""
    rng = numpy.random.default_rng(0)
    p = numpy.concatenate([rng.standard_normal(20000) * 10.0 ** rng.integers(-8, 5, 20000),
                           [65504, -65504, 6.1e-5, 6e-8, 0.0, -0.0]]).astype(numpy.float16)
    g = numpy.concatenate([rng.standard_normal(20000) * 10.0 ** rng.integers(-8, 5, 20000),
                           [-32, 40, 1e-8, 3e-8, 1.0, -1.0]]).astype(numpy.float16)
    lr = 0.37
    want = (p.astype(numpy.float32) - numpy.float32(lr) * g.astype(numpy.float32)).astype(numpy.float16)

    def check(isa):
        params = p.copy()
        launch_flat("sgd", 0, params, [], [g], numpy.array([0]), scalars=[lr, 0.0])
        numpy.testing.assert_array_equal(params.view(numpy.uint16), want.view(numpy.uint16), err_msg=isa)

    with numpy.errstate(over="ignore"):
        _every_isa(check)


def test_extreme_sizes_and_lengths_are_errors_not_crashes():
    """Hardening: the C++ checks run in a child process, so a crash fails this test, not the run.
    (The old interface took offsets; 2**63 - 1 overflowed its bounds check. Tables take one array
    per variable, so every length is an array's own; these are the remaining edges.)"""
    code = textwrap.dedent("""
        import numpy, accel._cpu as c
        from accel import kernels
        p = [numpy.zeros(16, numpy.float32)]
        t = kernels.table("sgd", p, [])
        cases = [
            lambda: kernels.launch(t, [numpy.ones(1, numpy.float32)], scalars=[.1, 0]),
            lambda: kernels.launch(t, [numpy.ones(2 ** 20, numpy.float32)], scalars=[.1, 0]),
            lambda: kernels.launch(t, [numpy.ones(16, numpy.float32)] * 2, scalars=[.1, 0]),
            lambda: kernels.launch(t, [numpy.ones(16, numpy.float32)], scalars=[.1] * 9),
            lambda: kernels.launch(t, [numpy.ones(16, numpy.float32)], scalars=[.1, 0], segment_scales=numpy.ones(2 ** 20)),
            lambda: kernels.launch(t, [numpy.ones(16, numpy.float32)], scalars=[.1, 0], segment_flags=numpy.ones(3, numpy.uint8)),
            lambda: kernels.table("adam", p, [[numpy.zeros(2 ** 20, numpy.float32)], [numpy.zeros(16, numpy.float32)]]),
            lambda: kernels.table("adam", p * 3, [[numpy.zeros(16, numpy.float32)]] * 2),
            lambda: c.Table("sgd", [numpy.zeros(0, numpy.float32)] * 1000, []),
            lambda: kernels.table("sgd", p * 2, []),
        ]
        for case in cases:
            try:
                case()
                print("ok")
            except (ValueError, TypeError) as exc:
                print(type(exc).__name__)
        assert (p[0] == 0).all()
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ValueError"] * 8 + ["ok", "ValueError"], result.stdout


# ---- gradient accumulation and EMA in the launch (csrc/rules/apply.h) --------------------------
def _extras_launch(dtype="float32", n=3000):
    rng = numpy.random.default_rng(5)
    params = [rng.standard_normal(n).astype(dtype), rng.standard_normal(7).astype(dtype)]
    slots = [[numpy.zeros_like(p) for p in params] for _ in range(2)]
    accumulators = [rng.standard_normal(p.size).astype(dtype) for p in params]
    averages = [p.copy() for p in params]
    grads = [rng.standard_normal(p.size).astype(dtype) for p in params]
    table = kernels.table("adam", params, slots, accumulators=accumulators, averages=averages)
    return table, params, slots, accumulators, averages, grads


def test_accumulation_modes_and_ema_follow_their_formulas():
    table, params, slots, accs, avgs, grads = _extras_launch("float64")
    p0, acc0, avg0 = [p.copy() for p in params], [a.copy() for a in accs], [a.copy() for a in avgs]
    kernels.launch(table, grads, accumulation="add", grad_scale=0.5, ema_momentum=0.75)
    for p, q, a, a0, g, m, m0 in zip(params, p0, accs, acc0, grads, avgs, avg0):
        numpy.testing.assert_array_equal(p, q)  # no update
        numpy.testing.assert_array_equal(a, a0 + g * 0.5)
        numpy.testing.assert_array_equal(m, 0.75 * m0 + (1 - 0.75) * p)
    # "mean" on the next call = "accumulated" after adding that call's gradient first
    other = _extras_launch("float64")
    kernels.launch(other[0], other[5], accumulation="add", grad_scale=0.5, ema_momentum=0.75)
    kernels.launch(table, grads, scalars=SCALARS["adam"], accumulation="mean", grad_scale=0.5, accumulation_steps=3,
                   ema_momentum=0.5, ema_overwrite=True)
    kernels.launch(other[0], other[5], accumulation="add", grad_scale=0.5)
    kernels.launch(other[0], other[3], scalars=SCALARS["adam"], accumulation="accumulated", accumulation_steps=3,
                   ema_momentum=0.5, ema_overwrite=True)
    for mine, theirs in zip([params, accs, avgs, *slots], [other[1], other[3], other[4], *other[2]]):
        for a, b in zip(mine, theirs):
            numpy.testing.assert_array_equal(a, b)
    for a, m, p in zip(accs, avgs, params):
        assert not a.any()  # restarted
        numpy.testing.assert_array_equal(p, m)  # overwritten by the average


def test_extras_give_identical_results_on_every_instruction_set_and_thread_count():
    def run():
        out = []
        for dtype in ("float16", "float32", "float64"):
            table, params, slots, accs, avgs, grads = _extras_launch(dtype, n=70_001)
            kernels.launch(table, grads, accumulation="add", ema_momentum=0.0)
            kernels.launch(table, grads, scalars=SCALARS["adam"], accumulation="mean", accumulation_steps=2,
                           ema_momentum=0.9, clip_value=0.5, decay=0.01)
            out += params + accs + avgs + [s for kind in slots for s in kind]
        return out

    chosen = accel._cpu.build_info()["isa"]
    results = []
    try:
        for isa in accel._cpu.build_info()["supported_isas"]:
            accel._cpu.set_isa(isa)
            for threads in (1, 2):
                kernels.set_num_threads(threads)
                results.append(run())
    finally:
        accel._cpu.set_isa(chosen)
        kernels.set_num_threads(0)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("args,error,message", [
    ({"accumulation": "sum"}, ValueError, "accumulation: expected None, 'add', 'mean' or 'accumulated'"),
    ({"accumulation": "mean", "accumulation_steps": 0}, ValueError, "accumulation_steps: must be >= 1"),
    ({"ema_momentum": 1.5}, ValueError, r"ema_momentum: must be in \[0, 1\]"),
    ({"scalars": None}, TypeError, "launch: scalars are required"),
])
def test_extras_launch_errors_leave_everything_untouched(args, error, message):
    table, params, slots, accs, avgs, grads = _extras_launch()
    before = [a.copy() for a in params + accs + avgs]
    with pytest.raises(error, match=message):
        kernels.launch(table, grads, **{"scalars": SCALARS["adam"], **args})
    for a, b in zip(params + accs + avgs, before):
        numpy.testing.assert_array_equal(a, b)


def test_a_table_without_accumulators_or_averages_refuses_those_launches():
    params, slots, grads = _valid_launch()
    table = kernels.table("adam", params, slots)
    with pytest.raises(ValueError, match="accumulation: this table has no accumulators"):
        kernels.launch(table, grads, accumulation="add")
    with pytest.raises(ValueError, match="ema_momentum: this table has no averages"):
        kernels.launch(table, grads, scalars=SCALARS["adam"], ema_momentum=0.5)


@pytest.mark.parametrize("extras,error,message", [
    (lambda p: {"accumulators": [numpy.zeros_like(p[0])]}, ValueError,
     "accumulators: expected a list of 2 arrays, one per parameter"),
    (lambda p: {"averages": [numpy.zeros_like(p[0]), numpy.zeros(6, numpy.float32)]}, ValueError,
     r"averages\[1\]: must be float32 with 7 elements"),
    (lambda p: {"averages": [p[0], numpy.zeros_like(p[1])]}, ValueError,
     r"averages\[0\]: the same memory as the parameter or another slot"),
    (lambda p: {"accumulators": [numpy.zeros_like(p[0])] * 2, "averages": None}, ValueError,
     r"accumulators\[1\]: must be float32 with 7 elements"),
])
def test_table_extras_errors(extras, error, message):
    params, slots, _ = _valid_launch()
    with pytest.raises(error, match=message):
        kernels.table("adam", params, slots, **extras(params))


# ---- the launch description (csrc/rules/launch_args.h <-> accel/_launch_args.py) -------------------

def test_launch_args_layout_is_the_c_struct_field_for_field():
    from accel import _launch_args
    layout = _launch_args.LAYOUT
    header = (kernels.sources_dir() / "rules" / "launch_args.h").read_text()
    listed = re.findall(r"(?:FIELD|ARRAY)\([^,]+, (\w+), \"<", header.split("#define ACCEL_LAUNCH_FIELD(")[0])
    assert [name for name, *_ in layout] == listed
    offsets = [offset for _, _, offset, _ in layout]
    assert offsets == sorted(offsets) and offsets[0] == 0
    assert _launch_args.DTYPE.itemsize == 22 * 8 == offsets[-1] + 8
    assert _launch_args.LaunchArgs.__slots__ == tuple(listed)


def test_launch_args_pack_puts_every_field_at_its_offset():
    from accel._launch_args import DTYPE, LaunchArgs
    args = LaunchArgs([0.5, 2.0, 3.0], global_scale=0.25, clip_value=1.5, decay=0.125, clip_norm=4.0, grad_scale=0.75,
                      accumulation_steps=3.0, ema_momentum=0.9, accumulation=2, ema=1, ema_overwrite=1)
    record = numpy.frombuffer(args.pack(), DTYPE)[0]
    assert record["scalars"].tolist() == [0.5, 2.0, 3.0, 0, 0, 0, 0, 0]
    for name in ("global_scale", "clip_value", "decay", "clip_norm", "grad_scale", "accumulation_steps",
                 "ema_momentum", "accumulation", "ema", "ema_overwrite", "skip_nonfinite"):
        assert record[name] == getattr(args, name), name
    assert record["norm_sq"] == record["device_scalars"] == record["loss_scale"] == 0
    pointed = LaunchArgs([1.0], norm_sq="n", loss_scale="s")
    record = pointed.record({"n": 4096, "s": 8192}.__getitem__)
    assert record.shape == (1,) and record["norm_sq"][0] == 4096 and record["loss_scale"][0] == 8192
    with pytest.raises(ValueError, match="norm_sq: a device pointer"):
        pointed.pack()


def test_the_cpu_binding_refuses_a_launch_description_it_cannot_run():
    from accel._launch_args import DTYPE, LaunchArgs
    p, m = numpy.ones(4, numpy.float32), numpy.zeros(4, numpy.float32)
    t = kernels.table(kernels.kernel_id("sgd", "momentum"), [p], [[m]])
    g = [numpy.ones(4, numpy.float32)]
    with pytest.raises(ValueError, match=r"args: has 168 bytes, a LaunchArgs has 176"):
        accel._cpu.launch(t, g, None, None, None, LaunchArgs([0.1, 0.9]).pack()[:-8])
    device_step = numpy.frombuffer(LaunchArgs([0.1, 0.9]).pack(), DTYPE).copy()
    device_step["skip_nonfinite"] = 1
    with pytest.raises(ValueError, match="args: norm_sq, device_scalars, loss_scale and skip_nonfinite"):
        accel._cpu.launch(t, g, None, None, None, device_step)
    assert (p == 1).all() and (m == 0).all()
    accel._cpu.launch(t, g, None, None, None, LaunchArgs([0.1, 0.9]).pack())
    numpy.testing.assert_allclose(p, 0.9)
