"""Ops with CUDA kernels of their own (accel/ops/cuda_math.py) on the emulated devices: the same
source NVRTC compiles (tests/test_kernels_nvrtc.py), run by g++, against the CPU's values."""

import math

import numpy
import pytest

import accel as ac
from accel.ops import normalization


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_erf_runs_its_kernel_on_the_device(emulated_cuda, dtype):
    x = numpy.linspace(-3.5, 3.5, 301).astype(dtype)
    on_gpu = ac.erf(ac.tensor(x, device="cuda:1"))
    assert on_gpu.device.name == "cuda:1" and on_gpu.dtype == numpy.dtype(dtype)
    assert any("accel_erf_" in str(launch[0]) for launch in emulated_cuda.launches)
    want = numpy.array([math.erf(v) for v in x.astype(numpy.float64)])
    numpy.testing.assert_allclose(on_gpu.numpy().astype(numpy.float64), want,
                                  rtol={"float16": 1e-3, "float32": 1e-6, "float64": 1e-15}[dtype], atol=1e-7)
    numpy.testing.assert_array_equal(on_gpu.numpy(), ac.erf(ac.tensor(x)).numpy())


def test_erf_gradient_on_the_device(emulated_cuda):
    x = ac.tensor([-1.0, 0.25, 2.0], dtype="float64", device="cuda:0")
    with ac.GradientTape() as tape:
        tape.watch(x)
        y = ac.sum(ac.erf(x))
    (g,) = tape.gradient(y, [x])
    numpy.testing.assert_allclose(g.numpy(), 2 / math.sqrt(math.pi) * numpy.exp(-numpy.array([1.0, 0.0625, 4.0])),
                                  rtol=1e-15)


def test_gelu_dense_layer_on_the_device(emulated_cuda):
    x = numpy.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    cpu = ac.nn.Dense(2, activation="gelu", seed=0)(ac.tensor(x))
    gpu = ac.nn.Dense(2, activation="gelu", seed=0, device="cuda:0")(ac.tensor(x, device="cuda:0"))
    numpy.testing.assert_allclose(gpu.numpy(), cpu.numpy(), rtol=1e-5, atol=1e-6)


def _values_and_gradients(op, values):
    """(op(x), d sum(op(x)^2) / dx) on the CPU and on the emulated cuda:1, each on its device."""
    results = []
    for device in ("cpu", "cuda:1"):
        x = ac.tensor(values, device=device)
        with ac.GradientTape() as tape:
            tape.watch(x)
            y = op(x)
            loss = ac.sum(y * y)
        g = tape.gradient(loss, x)
        assert y.device.name == device and g.device.name == device
        results.append((y.numpy(), g.numpy()))
    return results


@pytest.mark.parametrize("name", ["gelu", "gelu_tanh", "leaky_relu", "elu", "selu", "silu", "softsign", "log_sigmoid"])
def test_activations_and_their_gradients_on_the_device_equal_the_cpus(emulated_cuda, name):
    op = {"gelu_tanh": lambda x: ac.gelu(x, approximate=True)}.get(name) or getattr(ac, name)
    values = numpy.linspace(-4, 4, 21)
    (y_cpu, g_cpu), (y_gpu, g_gpu) = _values_and_gradients(op, values)
    numpy.testing.assert_allclose(y_gpu, y_cpu, rtol=1e-14, atol=1e-15)
    numpy.testing.assert_allclose(g_gpu, g_cpu, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("name", ["pad", "pad_reflect", "pad_symmetric", "cumsum", "moments", "batch_normalization",
                                  "embedding_lookup", "top_k", "dot_product_attention", "softmax", "layer_norm"])
def test_nn_ops_and_their_gradients_on_the_device_equal_the_cpus(emulated_cuda, name):
    ops = {
        "pad": lambda x: ac.pad(x, [[1, 2], [0, 1]], constant_values=0.5),
        "pad_reflect": lambda x: ac.pad(x, [[2, 1], [1, 2]], "REFLECT"),
        "pad_symmetric": lambda x: ac.pad(x, [[3, 0], [2, 3]], "SYMMETRIC"),
        "cumsum": lambda x: ac.cumsum(x, axis=1, exclusive=True, reverse=True),
        "moments": lambda x: ac.moments(x, [0])[1] * 3 + ac.moments(x, [0])[0],
        "batch_normalization": lambda x: ac.batch_normalization(x, *ac.moments(x, [0]), None, None, 1e-3),
        "embedding_lookup": lambda x: ac.embedding_lookup(x, [[0, 3], [3, 1]], max_norm=2.0),
        "top_k": lambda x: ac.top_k(x, 2)[0] * ac.cast(ac.top_k(x, 2)[1], x.dtype),
        "dot_product_attention": lambda x: ac.reshape(ac.dot_product_attention(
            ac.reshape(x, (1, 4, 1, 3)), ac.reshape(x * 0.5, (1, 4, 1, 3)), ac.reshape(x, (1, 4, 1, 3)),
            is_causal=True), (4, 3)),
        # the CPU's row kernels against the device's array-module forms
        "softmax": lambda x: ac.softmax(x) * x + ac.log_softmax(x) * 0.5,
        "layer_norm": lambda x: normalization.layer_norm(x, 1e-3) * x,
    }
    values = numpy.random.default_rng(0).standard_normal((4, 3))
    (y_cpu, g_cpu), (y_gpu, g_gpu) = _values_and_gradients(ops[name], values)
    numpy.testing.assert_allclose(y_gpu, y_cpu, rtol=1e-13, atol=1e-14)
    numpy.testing.assert_allclose(g_gpu, g_cpu, rtol=1e-12, atol=1e-13)


def test_categorical_draws_on_the_device(emulated_cuda):
    logits = ac.tensor(numpy.log(numpy.array([[0.2, 0.8], [1.0, 1e-300]])), device="cuda:1")
    samples = ac.random.categorical(logits, 4000, seed=3)
    assert samples.device.name == "cuda:1" and samples.dtype == "int64"
    freq = numpy.array([numpy.bincount(row, minlength=2) / 4000 for row in samples.numpy()])
    numpy.testing.assert_allclose(freq, [[0.2, 0.8], [1.0, 0.0]], atol=0.03)


_WINDOW_OPS = {  # the input is (2, 5, 6, 4) float64
    "conv2d": lambda x: ac.conv2d(x, ac.reshape(ac.cast(ac.arange(72, device=x.device), x.dtype) * 0.01 - 0.3,
                                                (3, 2, 2, 6)), [2, 1], "SAME", dilations=[1, 2]),
    "conv2d_nchw": lambda x: ac.conv2d(x, ac.ones((2, 2, 5, 3), dtype=x.dtype, device=x.device) * 0.1, 1, "VALID",
                                       data_format="NCHW"),
    "conv1d": lambda x: ac.conv1d(ac.reshape(x, (2, 30, 4)), ac.ones((3, 4, 2), dtype=x.dtype, device=x.device),
                                  2, "SAME"),
    "depthwise_conv2d": lambda x: ac.depthwise_conv2d(
        x, ac.reshape(ac.cast(ac.arange(72, device=x.device), x.dtype) * 0.02, (3, 3, 4, 2)), [1, 1, 1, 1], "SAME"),
    "conv2d_transpose": lambda x: ac.conv2d_transpose(
        x, ac.reshape(ac.cast(ac.arange(108, device=x.device), x.dtype) * 0.01, (3, 3, 3, 4)), (2, 10, 11, 3), 2,
        "SAME"),
    "max_pool2d": lambda x: ac.max_pool2d(x, 3, 2, "SAME"),
    "einsum": lambda x: ac.einsum("nhwc,hd->nwdc", x, ac.reshape(ac.cast(ac.arange(15, device=x.device), x.dtype),
                                                                  (5, 3))) + ac.einsum("nhhc->c", x[:, :5, :5]),
    "avg_pool2d": lambda x: ac.avg_pool2d(x, [2, 3], [1, 2], "SAME"),
}


@pytest.mark.parametrize("name", sorted(_WINDOW_OPS))
def test_window_ops_and_their_gradients_on_the_device_equal_the_cpus(emulated_cuda, name):
    """Convolution and pooling run their im2col / col2im kernels (accel/ops/cuda_windows.py) on
    the device, forward and backward."""
    values = numpy.random.default_rng(1).permutation(240).reshape(2, 5, 6, 4) * 0.013 - 1.5  # distinct (max pool)
    (y_cpu, g_cpu), (y_gpu, g_gpu) = _values_and_gradients(_WINDOW_OPS[name], values)
    launched = {str(launch[0]) for launch in emulated_cuda.launches}
    assert name == "einsum" or any("accel_fold_windows_float64" in n for n in launched)
    if name not in ("conv2d_transpose", "einsum"):
        assert any("accel_extract_windows_float64" in n for n in launched)
    numpy.testing.assert_allclose(y_gpu, y_cpu, rtol=1e-13, atol=1e-13)
    numpy.testing.assert_allclose(g_gpu, g_cpu, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", ["float16", "float32"])
def test_window_kernels_keep_the_dtype_on_the_device(emulated_cuda, dtype):
    x = numpy.random.default_rng(2).normal(size=(2, 6, 6, 3)).astype(dtype)
    f = numpy.random.default_rng(3).normal(size=(3, 3, 3, 4)).astype(dtype)
    for op in (lambda a, b: ac.conv2d(a, b, 1, "SAME"), lambda a, b: ac.max_pool2d(a, 2, 2, "VALID") * 1.0,
               lambda a, b: ac.avg_pool2d(a, 3, 1, "SAME")):
        gpu = op(ac.tensor(x, device="cuda:1"), ac.tensor(f, device="cuda:1"))
        cpu = op(ac.tensor(x), ac.tensor(f))
        assert gpu.dtype == cpu.dtype == numpy.dtype(dtype)
        numpy.testing.assert_allclose(gpu.numpy().astype(float), cpu.numpy().astype(float),
                                      rtol=1e-2 if dtype == "float16" else 1e-6, atol=1e-2 if dtype == "float16" else 1e-6)


_SPD = numpy.array([[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]])


def _hermitian(x):
    """A complex Hermitian positive-definite matrix made from the real SPD x (its gradient comes
    back to x as the real part)."""
    turned = ac.roll(x, 1, axis=1)
    return ac.astype(x, ac.complex128) + 0.1j * ac.astype(turned - ac.matrix_transpose(turned), ac.complex128)


def _phase_free(u):
    return ac.abs(u) ** 2  # what a complex decomposition's vectors give whatever phases they have
# The Array API's functions through CuPy's array module (the emulated device): linalg through
# xp.linalg, the manipulation composites through the ops they are made of.
ARRAY_API_OPS = {
    "inv": lambda x: ac.linalg.inv(x), "det": lambda x: ac.linalg.det(x) * x,
    "solve": lambda x: ac.linalg.solve(x, x[:, :2]), "cholesky": lambda x: ac.linalg.cholesky(x),
    "eigh": lambda x: ac.linalg.eigh(x).eigenvectors * ac.linalg.eigh(x).eigenvalues,
    "qr": lambda x: ac.linalg.qr(x).R, "svdvals": lambda x: ac.linalg.svdvals(x),
    "matrix_norm": lambda x: ac.linalg.matrix_norm(x, ord="nuc") * x,
    "flip": lambda x: ac.flip(x, axis=0), "roll": lambda x: ac.roll(x, 1, axis=1), "tril": lambda x: ac.tril(x),
    "tile": lambda x: ac.tile(x, (2, 1)), "sort": lambda x: ac.sort(x, axis=1, descending=True),
    "var": lambda x: ac.var(x, axis=0, correction=1), "asinh": lambda x: ac.asinh(x),
    "logaddexp": lambda x: ac.logaddexp(x, x * 0.5), "take_along_axis": lambda x: ac.take_along_axis(
        x, ac.tensor([[2, 0, 1]] * 3, device=x.device), 1),
    # accel.fft through xp.fft (cuFFT on a GPU), complex gradients included
    "fft": lambda x: ac.abs(ac.fft.fft(x * (1 + 0.5j), n=4)), "ifftn": lambda x: ac.imag(ac.fft.ifftn(x * 1j + x)),
    "rfft, irfft": lambda x: ac.fft.irfft(ac.fft.rfft(x, norm="ortho") * (2 - 1j), n=5),
    "rfftn, irfftn": lambda x: ac.fft.irfftn(ac.fft.rfftn(x) * x[:, :2], s=(3, 3)),
    "hfft, ihfft": lambda x: ac.fft.hfft(ac.fft.ihfft(x) * 1j), "fftshift": lambda x: ac.fft.fftshift(x) * x,
    # the decompositions' complex gradients
    "complex cholesky, det": lambda x: ac.abs(ac.linalg.cholesky(_hermitian(x))) + ac.real(ac.linalg.det(_hermitian(x))),
    "complex eigh": lambda x: _phase_free(ac.linalg.eigh(_hermitian(x)).eigenvectors) * ac.linalg.eigvalsh(_hermitian(x)),
    "complex qr, svd": lambda x: _phase_free(ac.linalg.qr(_hermitian(x)).Q) + _phase_free(
        ac.linalg.svd(_hermitian(x), full_matrices=False).U) * ac.linalg.svdvals(_hermitian(x)),
}


@pytest.mark.parametrize("name", sorted(ARRAY_API_OPS))
def test_array_api_functions_and_their_gradients_on_the_device_equal_the_cpus(emulated_cuda, name):
    (y_cpu, g_cpu), (y_gpu, g_gpu) = _values_and_gradients(ARRAY_API_OPS[name], _SPD)
    numpy.testing.assert_allclose(y_gpu, y_cpu, rtol=1e-12, atol=1e-12)
    numpy.testing.assert_allclose(g_gpu, g_cpu, rtol=1e-10, atol=1e-10)


def test_the_complete_qr_on_the_device(emulated_cuda):
    a = numpy.random.default_rng(5).normal(size=(2, 4, 3))
    q, r = ac.linalg.qr(ac.tensor(a, device="cuda:1"), mode="complete")
    assert q.device.name == "cuda:1" and q.shape == (2, 4, 4) and r.shape == (2, 4, 3)
    numpy.testing.assert_allclose((q @ r).numpy(), a, atol=1e-12)
    numpy.testing.assert_allclose((ac.matrix_transpose(q) @ q).numpy(), numpy.broadcast_to(numpy.eye(4), (2, 4, 4)),
                                  atol=1e-12)


def test_reshape_copy_false_on_the_device(emulated_cuda):
    x = ac.tensor(numpy.arange(6.0).reshape(2, 3), device="cuda:1")
    assert ac.reshape(x, (6,), copy=False).numpy().tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    with pytest.raises(ValueError, match="without a copy"):
        ac.reshape(ac.matrix_transpose(x), (6,), copy=False)
