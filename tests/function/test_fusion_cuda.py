"""Every fused form compiles as a CUDA kernel with NVRTC (no GPU needed: NVRTC and the CUDA
headers come from pip), in float32 and float64, as fusion_cuda.py generates it."""

import numpy
import pytest

from accel.function import fusion_cuda
from accel.ops.elementwise import FUSED

cupy = pytest.importorskip("cupy", reason="CuPy is not installed (the test extra installs it)")


def compile_with_nvrtc(code: str):
    from cupy._core import core
    from cupy.cuda import compiler

    try:
        compiler._get_nvrtc_version()
    except Exception as exc:  # no libnvrtc
        pytest.skip(f"NVRTC is not available ({exc})")
    options = core.assemble_cupy_compiler_options(("-std=c++17",)) + ("-arch=sm_80",)
    program = compiler._NVRTCProgram(code, "fused.cu", name_expressions=[fusion_cuda.KERNEL_NAME], method="ptx")
    return program.compile(options)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_form_compiles(dtype):
    dtype = numpy.dtype(dtype)
    for op, form in FUSED.items():
        arity = form.count("{1}") and 2 or 1
        names = [f"v{i}" for i in range(arity)]
        expression = "(" + form.format(*names) + ") * c0"
        code = fusion_cuda.source(expression, dtype, names, ["c0"], {"v1"} if arity == 2 else set())
        ptx, _ = compile_with_nvrtc(code)
        assert fusion_cuda.KERNEL_NAME in (ptx.decode() if isinstance(ptx, bytes) else ptx), op.__name__


def test_translation():
    out = fusion_cuda.translate("where(v1 > 0, v2 * tanh(v1), abs(v3))", numpy.dtype("float32"), {"v3"})
    assert out == "accel_where(v1[i] > 0, v2[i] * tanhf(v1[i]), fabsf(v3[0]))"
    assert fusion_cuda.translate("exp(v0)", numpy.dtype("float64"), set()) == "exp(v0[i])"
