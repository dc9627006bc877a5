"""Every CUDA kernel the bridge can request compiles with NVRTC through CuPy's own compile
options (no GPU needed: NVRTC and the CUDA headers come from pip), without spills and within 64
registers per thread, so the update kernel's 512-thread blocks fit on every SM."""

import re

import pytest

from accel import _cuda, kernels

cupy = pytest.importorskip("cupy", reason="CuPy is not installed (the test extra installs it)")


def _compile(source: str, names, arch: str, include=()):
    """(name -> mangled name, ptxas's report) of `source` compiled as RawModule compiles it."""
    from cupy._core import core
    from cupy.cuda import compiler

    try:
        compiler._get_nvrtc_version()
    except Exception as exc:  # no libnvrtc
        pytest.skip(f"NVRTC is not available ({exc})")
    # What RawModule passes to NVRTC: the bridge's options, then CuPy's (cupy/_core/_compile_with_cache
    # and cupy/cuda/compiler.py), and ptxas's report.
    options = core.assemble_cupy_compiler_options(("-std=c++17", *include))
    options += ("-ftz=true", f"-arch={arch}", "--device-as-default-execution-space", "-Xptxas=-v")
    program = compiler._NVRTCProgram(source, "fused.cu", name_expressions=list(names), method="cubin")

    class Log:
        text = ""

        def write(self, s):
            Log.text += s

    _, mapping = program.compile(options, log_stream=Log())
    return mapping, Log.text


def _compiles_without_spills(source: str, name: str) -> None:
    """`source` compiles with NVRTC for sm_80 as a RawModule would, exporting `name`, no spills."""
    mapping, report = _compile(source, [name], "sm_80")
    assert name in mapping, name
    spills = [int(n) for n in re.findall(r"(\d+) bytes spill (?:stores|loads)", report)]
    assert spills and set(spills) == {0}, f"{name}: {report}"


def _nvrtc_compile(arch: str):
    source = _cuda.source_with_header_hash(kernels.sources_dir())
    names = _cuda.all_names()
    mapping, report = _compile(source, names, arch, (f"-I{kernels.sources_dir()}",))
    return names, mapping, report


@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
def test_every_kernel_name_compiles_with_nvrtc(arch):
    names, mapping, report = _nvrtc_compile(arch)
    assert len(names) >= 125 and set(mapping) == set(names)
    entries = re.split(r"ptxas info\s+: Compiling entry function ", report)[1:]
    found = {}
    for entry in entries:
        mangled = re.match(r"'(\w+)'", entry).group(1)
        registers = int(re.search(r"Used (\d+) registers", entry).group(1))
        spills = [int(n) for n in re.findall(r"(\d+) bytes spill (?:stores|loads)", entry)]
        stack = int(re.search(r"(\d+) bytes stack frame", entry).group(1))
        found[mangled] = (registers, spills, stack)
    missing = [name for name in names if mapping[name] not in found]
    assert not missing, missing
    for name in names:
        registers, spills, stack = found[mapping[name]]
        assert set(spills) == {0} and stack == 0, f"{name} spills on {arch}"
        # Two 512-thread blocks per SM for 16/32-bit storage; float64 may use up to 128 (one block).
        budget = 128 if "double" in name else 64
        assert registers <= budget, f"{name} uses {registers} registers on {arch} (budget {budget})"


def test_every_registry_line_is_requested_in_every_form():
    names = _cuda.all_names()
    for off, on in _cuda.RULE_TYPES.values():
        assert sum(n.startswith(f"accel::fused_update<{off}, {on}, ") for n in names) == 3 * 4  # dtypes x clip x decay


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_fused_chain_form_compiles_with_nvrtc(dtype):
    """accel.function's CUDA fusion (accel/function/fusion_cuda.py): each elementwise form, as the
    kernel it generates, with an array operand, a 0-d operand and a constant."""
    import numpy

    from accel.function import fusion_cuda
    from accel.function.fusion import forms

    for op, form in forms().items():
        names = ["v0", "v1"] if "{1}" in form else ["v0"]
        expression = "(" + form.format(*names) + ") * c0"
        code = fusion_cuda.source(expression, numpy.dtype(dtype), names, ["c0"], set(names[1:]))
        mapping, report = _compile(code, [fusion_cuda.KERNEL_NAME], "sm_80")
        assert fusion_cuda.KERNEL_NAME in mapping, op.__name__
        spills = [int(n) for n in re.findall(r"(\d+) bytes spill (?:stores|loads)", report)]
        assert spills and set(spills) == {0}, f"{op.__name__}: {report}"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_elementwise_math_kernel_compiles_with_nvrtc(dtype):
    """The kernels of accel/ops/cuda_math.py (erf): as apply() compiles them, without spills."""
    from accel.ops import cuda_math

    for function in cuda_math.FUNCTIONS:
        _compiles_without_spills(cuda_math.source(function, dtype), cuda_math.kernel_name(function, dtype))


def test_fused_chain_translation():
    import numpy

    from accel.function import fusion_cuda

    out = fusion_cuda.translate("where(v1 > 0, v2 * tanh(v1), abs(v3))", numpy.dtype("float32"), {"v3"})
    assert out == "accel_where(v1[i] > 0, v2[i] * tanhf(v1[i]), fabsf(v3[0]))"
    assert fusion_cuda.translate("exp(v0)", numpy.dtype("float64"), set()) == "exp(v0[i])"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_window_kernel_compiles_with_nvrtc(dtype):
    """The im2col / col2im kernels of convolution and pooling (accel/ops/cuda_windows.py), as they
    are compiled on a device, without spills."""
    from accel.ops import cuda_windows

    for kernel in cuda_windows.KERNELS:
        _compiles_without_spills(cuda_windows.source(kernel, dtype), cuda_windows.kernel_name(kernel, dtype))
