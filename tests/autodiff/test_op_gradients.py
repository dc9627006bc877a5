"""Every differentiable op passes check_gradients in float64: first order for all, second order
for the smooth ones, on random inputs, including broadcasting cases."""

import numpy
import pytest

import accel as ac
from accel.ops import (activations, classification, convolution_core, elementwise, noise, normalization, padding, reduce, sorting,
                       windows)
from accel.testing import check_gradients, differentiable_ops

R = numpy.random.default_rng(42)


def _fresh_dropout(x, rate, seed=12345):
    """dropout with its seed's stream restarted: every evaluation draws the same mask, so finite
    differences see one function."""
    noise._SEEDED.pop(seed, None)
    return ac.dropout(x, rate, seed=seed)


def _weighted_sum(outputs):
    """Several outputs as one (each weighted differently, so a swapped pair would show)."""
    return sum(out * (i + 1.5) for i, out in enumerate(outputs))


AWAY_FROM_0 = numpy.array([-2.5, -0.7, -0.2, 0.3, 1.1, 2.4])


def any_(*shape):
    return R.uniform(-2.0, 2.0, shape)


def pos(*shape):
    return R.uniform(0.5, 2.0, shape)


def away_from_zero(*shape):
    return R.choice([-1.0, 1.0], shape) * R.uniform(0.3, 2.0, shape)


def distinct(*shape):
    """Values with no ties (extremum gradients are not smooth at ties)."""
    return R.permutation(numpy.arange(int(numpy.prod(shape)), dtype=float)).reshape(shape) * 0.37 + 0.1


_WINDOWS = windows.plan("t", (4, 5), (2, 3), (2, 1), (1, 2), "SAME")  # strided, dilated, padded


def spd(n, *batch):
    """Symmetric positive-definite matrices with well-separated eigenvalues."""
    a = R.normal(size=batch + (n, n))
    return a @ numpy.swapaxes(a, -1, -2) + n * numpy.eye(n) + numpy.diag(numpy.arange(n) * 1.5)


# (id, function, inputs, second order?)
CASES = [
    ("add_broadcast", ac.add, [any_(2, 3), any_(3)], True),
    ("subtract_broadcast", ac.subtract, [any_(2, 1), any_(1, 4)], True),
    ("multiply_broadcast", ac.multiply, [any_(4, 1, 3), any_(2, 1)], True),
    ("multiply_scalar", lambda x: x * 3.5, [any_(3)], True),
    ("divide", ac.divide, [any_(2, 3), pos(3)], True),
    ("rdivide_scalar", lambda x: 2.0 / x, [pos(3)], True),
    ("mod", ac.mod, [pos(4) + 3.1, pos(4) * 0.9 + 1.0], False),
    ("remainder", ac.remainder, [pos(4) + 3.1, pos(4) * 0.9 + 1.0], False),
    ("negative", ac.negative, [any_(3)], True),
    ("power", ac.power, [pos(2, 3), any_(3)], True),
    ("pow", ac.pow, [pos(3), any_(3)], True),
    ("power_scalar", lambda x: x ** 3, [any_(4)], True),
    ("exp", ac.exp, [any_(3, 2)], True),
    ("log", ac.log, [pos(3)], True),
    ("log1p", ac.log1p, [pos(3)], True),
    ("expm1", ac.expm1, [any_(3)], True),
    ("sqrt", ac.sqrt, [pos(3)], True),
    ("rsqrt", ac.rsqrt, [pos(3)], True),
    ("square", ac.square, [any_(3)], True),
    ("abs", ac.abs, [away_from_zero(5)], True),
    ("sign_times_x", lambda x: ac.sign(x) * x, [away_from_zero(4)], False),
    ("sin", ac.sin, [any_(3)], True),
    ("cos", ac.cos, [any_(3)], True),
    ("sin_grad", elementwise.sin_grad, [any_(3), any_(3)], True),
    ("cos_grad", elementwise.cos_grad, [any_(2, 3), any_(3)], True),
    ("tanh", ac.tanh, [any_(3)], True),
    ("tanh_grad", elementwise.tanh_grad, [any_(3), any_(3) * 0.5], True),
    ("sigmoid_grad", elementwise.sigmoid_grad, [any_(3), R.uniform(0.1, 0.9, 3)], True),
    ("sigmoid", ac.sigmoid, [any_(5) * 3], True),
    ("relu", ac.relu, [away_from_zero(6)], True),
    ("relu_grad", elementwise.relu_grad, [any_(2, 3), away_from_zero(3)], True),
    ("select_grad", lambda g: elementwise.select_grad(ac.tensor([[True], [False]]), g), [any_(2, 3)], True),
    ("deselect_grad", lambda g: elementwise.deselect_grad(ac.tensor([True, False, True]), g), [any_(2, 3)], True),
    ("softplus", ac.softplus, [any_(4) * 3], True),
    ("maximum", ac.maximum, [any_(3, 4), any_(4) + 0.05], True),
    ("minimum", ac.minimum, [any_(3, 1), any_(1, 4) + 0.05], True),
    ("where", lambda x, y: ac.where(ac.tensor([True, False, True]), x, y), [any_(2, 3), any_(3)], True),
    ("clip", lambda x: ac.clip(x, -0.5, 0.7), [away_from_zero(8) + 0.013], True),
    ("clip_tensor_bounds", lambda x, lo, hi: ac.clip(x, lo, hi), [any_(6) * 2, any_(6) - 3, any_(6) + 3], True),
    ("sum", lambda x: ac.sum(x, axis=1), [any_(2, 3, 4)], True),
    ("sum_keepdims", lambda x: ac.sum(x, axis=(0, 2), keepdims=True), [any_(2, 3, 4)], True),
    ("mean", lambda x: ac.mean(x, axis=-1), [any_(3, 4)], True),
    ("max", lambda x: ac.max(x, axis=0), [distinct(3, 4)], True),
    ("min_all", ac.min, [distinct(2, 3)], True),
    ("prod", lambda x: ac.prod(x, axis=1), [any_(3, 4)], True),
    ("prod_with_zero", lambda x: ac.prod(x * ac.tensor([1.0, 0.0, 1.0], dtype="float64"), axis=0), [any_(3)], True),
    ("logsumexp", lambda x: ac.logsumexp(x, axis=1, keepdims=True), [any_(3, 4)], True),
    ("matmul", ac.matmul, [any_(2, 3), any_(3, 4)], True),
    ("matmul_batched_broadcast", ac.matmul, [any_(5, 2, 3), any_(3, 4)], True),
    ("matmul_vector_left", ac.matmul, [any_(3), any_(2, 3, 4)], True),
    ("matmul_vector_right", ac.matmul, [any_(2, 3), any_(3)], True),
    ("matmul_vectors", ac.matmul, [any_(3), any_(3)], True),
    ("reshape", lambda x: ac.reshape(x, (3, -1)) * ac.tensor([1.0, 2.0], dtype="float64"), [any_(2, 3)], True),
    ("transpose", lambda x: ac.transpose(x, (2, 0, 1)), [any_(2, 3, 4)], True),
    ("matrix_transpose", lambda x: ac.matrix_transpose(x) * ac.tensor([1.0, 2.0], dtype="float64"), [any_(3, 2, 4)],
     True),
    ("expand_dims+squeeze", lambda x: ac.squeeze(ac.expand_dims(x, 1)) * ac.expand_dims(x, 0), [any_(3)], True),
    ("broadcast_to", lambda x: ac.broadcast_to(x, (2, 3, 4)), [any_(3, 1)], True),
    ("sum_to", lambda x: ac.sum_to(x, (1, 4)), [any_(3, 4)], True),
    ("concat", lambda x, y: ac.concat([x, y, x], axis=1), [any_(2, 3), any_(2, 1)], True),
    ("stack", lambda x, y: ac.stack([x, y], axis=-1), [any_(2, 3), any_(2, 3)], True),
    ("split", lambda x: ac.split(x, [1, 3], axis=1)[1] * 2, [any_(2, 4)], True),
    ("unstack", lambda x: ac.unstack(x, axis=0)[1], [any_(3, 2)], True),
    ("getitem_basic", lambda x: x[1:, None, ::-1], [any_(3, 4)], True),
    ("getitem_repeated_ints", lambda x: x[[0, 2, 0, 0]], [any_(3, 2)], True),
    ("getitem_mask", lambda x: x[numpy.array([True, False, True])], [any_(3, 2)], True),
    ("gather", lambda x: ac.gather(x, [[1, 1], [0, 2]], axis=1), [any_(2, 3)], True),
    ("gather_nd", lambda x: ac.gather_nd(x, [[1, 2], [0, 0], [1, 2]]), [any_(2, 3)], True),
    ("tensor_scatter_nd_update", lambda x, u: ac.tensor_scatter_nd_update(x, [[1], [0]], u) * 1.5,
     [any_(3, 2), any_(2, 2)], True),
    ("tensor_scatter_nd_add", lambda x, u: ac.tensor_scatter_nd_add(x, [[1, 0], [1, 0], [2, 1]], u) ** 2,
     [any_(3, 2), any_(3)], True),
    ("scatter_nd", lambda u: ac.scatter_nd([[1], [0], [1]], u, (3, 2)) ** 2, [any_(3, 2)], True),
    ("identity", ac.identity, [any_(3)], True),
    ("flatten", lambda x: ac.flatten(x) * ac.tensor([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], dtype="float64"), [any_(2, 3)],
     True),
    ("to_device", lambda x: ac.to_device(x, "cpu") * 2.0, [any_(3)], True),
    ("scatter_add", lambda u: ac.scatter_add(u, numpy.array([0, 2, 0]), (3,)) * ac.tensor([1.0, 2.0, 3.0],
                                                                                            dtype="float64"),
     [any_(3)], True),
    ("softmax", lambda x: ac.softmax(x, axis=0), [any_(3, 2)], True),
    ("sparsemax", lambda x: ac.sparsemax(x) * ac.tensor([1.0, 2.0, 3.0, 4.0], dtype="float64"),
     [numpy.array([[0.1, 1.2, -0.3, 1.0], [0.5, 0.45, 0.1, -2.0]])], True),
    ("erf", ac.erf, [any_(5)], True),
    ("log_softmax", ac.log_softmax, [any_(2, 5)], True),
    ("softmax_cross_entropy_with_logits", lambda lab, lg: ac.softmax_cross_entropy_with_logits(lab, lg),
     [R.dirichlet(numpy.ones(4), 3), any_(3, 4)], True),
    ("sparse_softmax_cross_entropy_with_logits", lambda lg: ac.sparse_softmax_cross_entropy_with_logits(ac.tensor([2, 0, 3]), lg),
     [any_(3, 4)], True),
    ("sparse_ce_grad", lambda g, lg: classification.sparse_ce_grad(g, lg, ac.tensor([[2, 0, 3], [1, 1, 0]])),
     [any_(2, 3), any_(2, 3, 4)], True),
    ("log_softmax_grad", lambda g, x: classification.log_softmax_grad(g, ac.log_softmax(x, axis=0), 0), [any_(3, 2), any_(3, 2)],
     True),
    # the last axis: accel._cpu's row loops (the cases above take NumPy's path)
    ("softmax_last_axis", lambda x: ac.softmax(x, axis=-1), [any_(3, 4)], True),
    ("log_softmax_grad_last_axis", lambda g, x: classification.log_softmax_grad(g, ac.log_softmax(x), 1),
     [any_(3, 4), any_(3, 4)], True),
    ("softmax_grad", lambda g, x: classification.softmax_grad(g, ac.softmax(x), -1, 0.5), [any_(2, 5), any_(2, 5)], True),
    ("softmax_grad_axis0", lambda g, x: classification.softmax_grad(g, ac.softmax(x, axis=0), 0), [any_(3, 2), any_(3, 2)],
     True),
    ("scaled_softmax_causal", lambda x: classification.scaled_softmax(x, 0.7, 3), [any_(2, 3, 4)], True),
    ("scaled_softmax", lambda x: classification.scaled_softmax(x, 1.3, 0), [any_(3, 4)], True),
    ("layer_norm", lambda x: normalization.layer_norm(x, 1e-3), [any_(2, 3, 5)], True),
    ("layer_norm_grad", lambda g, x: normalization.layer_norm_grad(g, x, 0.01), [any_(3, 4), any_(3, 4)], True),
    ("_spread", lambda g: reduce._spread(g, (2, 1), (2, 3)) * ac.tensor([1.0, 2.0, 3.0], dtype="float64"), [any_(2)], True),
    ("tan", ac.tan, [R.uniform(-1.2, 1.2, 4)], True),
    # the Array API's manipulation, statistics and linear algebra functions (composites)
    ("flip", lambda x: ac.flip(x, axis=1) * ac.tensor([1.0, 2.0, 3.0], dtype="float64"), [any_(2, 3)], True),
    ("roll", lambda x: ac.roll(x, (1, -2), axis=(0, 1)) * ac.tensor([1.0, 2.0, 3.0], dtype="float64"), [any_(2, 3)], True),
    ("moveaxis", lambda x: ac.moveaxis(x, 0, -1) * ac.tensor([1.0, 2.0], dtype="float64"), [any_(2, 3)], True),
    ("permute_dims", lambda x: ac.permute_dims(x, (1, 0)) * ac.tensor([1.0, 2.0], dtype="float64"), [any_(2, 3)], True),
    ("tile", lambda x: ac.tile(x, (2, 1, 2)), [any_(2, 3)], True),
    ("repeat", lambda x: ac.repeat(x, [2, 0, 1], axis=1), [any_(2, 3)], True),
    ("repeat_each", lambda x: ac.repeat(x, 3, axis=1) * ac.reshape(ac.repeat(x, 3), (2, 9)), [any_(2, 3)], True),
    ("broadcast_arrays", lambda x, y: _weighted_sum(ac.broadcast_arrays(x, y)), [any_(2, 1), any_(3)], True),
    ("meshgrid", lambda x, y: _weighted_sum(ac.meshgrid(x, y)), [any_(2), any_(3)], True),
    ("tril", lambda x: ac.tril(x, -1), [any_(2, 3, 3)], True),
    ("triu", lambda x: ac.triu(x, 1), [any_(3, 4)], True),
    ("diff", lambda x: ac.diff(x, axis=0, n=2, prepend=ac.tensor([0.5], dtype="float64")), [any_(4)], True),
    ("take_along_axis", lambda x: ac.take_along_axis(x, ac.tensor([[2, 0, 2], [1, 1, 0]]), 1), [any_(2, 3)], True),
    ("var", lambda x: ac.var(x, axis=1, correction=1), [any_(2, 4)], True),
    ("std", lambda x: ac.std(x, axis=0), [any_(3, 2)], True),
    ("tensordot", lambda x, y: ac.tensordot(x, y, axes=([1, 0], [0, 2])), [any_(2, 3), any_(3, 4, 2)], True),
    ("vecdot", ac.vecdot, [any_(2, 3), any_(3)], True),
    ("astype", lambda x: ac.astype(x, "float64") * 2.0, [any_(3)], True),
    ("take", lambda x: ac.take(x, ac.tensor([2, 0, 2]), axis=1), [any_(2, 3)], True),
    # accel.linalg: the packed records (several outputs) through their public functions too
    ("inv", ac.linalg.inv, [spd(3)], True),
    ("det", ac.linalg.det, [any_(2, 3, 3)], True),
    ("slogdet", lambda x: ac.linalg.slogdet(x).logabsdet, [spd(3)], True),
    ("slogdet_packed", lambda x: ac.ops.decompositions.slogdet_packed(x) * ac.tensor([0.0, 1.5], dtype="float64"),
     [spd(3)], True),
    ("solve", ac.linalg.solve, [spd(3, 2), any_(2, 3, 2)], True),
    ("solve_vector", ac.linalg.solve, [spd(3), any_(3)], True),
    ("solve_matrices", ac.ops.decompositions.solve_matrices, [spd(3), any_(3, 2)], True),
    ("cholesky", lambda x: ac.linalg.cholesky(x, upper=True), [spd(3)], True),
    ("cholesky_lower", ac.ops.decompositions.cholesky_lower, [spd(3, 2)], True),
    ("eigh", lambda x: _weighted_sum([ac.linalg.eigh(x).eigenvalues, ac.abs(ac.linalg.eigh(x).eigenvectors)]),
     [spd(3)], True),
    ("eigvalsh", ac.linalg.eigvalsh, [spd(3, 2)], True),
    ("eigh_packed", lambda x: ac.abs(ac.ops.decompositions.eigh_packed(x)), [spd(3)], True),
    ("qr", lambda x: _weighted_sum([ac.sum(t) for t in ac.linalg.qr(x)]), [any_(4, 3)], True),
    ("qr_wide", lambda x: _weighted_sum([ac.sum(t) for t in ac.linalg.qr(x)]), [any_(2, 3)], True),
    ("qr_packed", ac.ops.decompositions.qr_packed, [any_(3, 3)], True),
    ("svd", lambda x: _weighted_sum([ac.sum(ac.abs(t)) for t in ac.linalg.svd(x, full_matrices=False)]), [any_(4, 3)],
     True),
    ("svd_wide", lambda x: _weighted_sum([ac.sum(ac.abs(t)) for t in ac.linalg.svd(x, full_matrices=False)]),
     [any_(2, 3)], True),
    ("svd_packed", lambda x: ac.abs(ac.ops.svd.svd_packed(x)), [any_(3, 3)], True),
    ("svdvals", ac.linalg.svdvals, [any_(2, 3, 4)], True),
    ("pinv", ac.linalg.pinv, [any_(4, 3)], True),
    ("vector_norm", lambda x: ac.linalg.vector_norm(x, axis=1, ord=3), [away_from_zero(2, 3)], True),
    ("matrix_norm", lambda x: ac.linalg.matrix_norm(x, ord="nuc") + ac.linalg.matrix_norm(x, ord=2), [any_(3, 4)],
     True),
    ("diagonal", lambda x: ac.linalg.diagonal(x, -1), [any_(2, 3, 3)], True),
    ("trace", lambda x: ac.linalg.trace(x, 1), [any_(3, 4)], True),
    ("outer", ac.linalg.outer, [any_(3), any_(2)], True),
    ("cross", ac.linalg.cross, [any_(2, 3), any_(3)], True),
    ("matrix_power", lambda x: ac.linalg.matrix_power(x, -3), [spd(2)], True),
    ("cumulative_sum", lambda x: ac.cumulative_sum(x, axis=1, include_initial=True), [any_(2, 3)], True),
    ("cumprod", lambda x: ac.cumprod(x, axis=1), [away_from_zero(2, 4)], True),
    ("cumulative_prod", lambda x: ac.cumulative_prod(x, axis=0, include_initial=True), [away_from_zero(3, 2)], True),
    ("sort", lambda x: ac.sort(x, axis=0, descending=True) * ac.tensor([1.0, 2.0], dtype="float64"), [distinct(3, 2)],
     True),
    ("asin", ac.asin, [R.uniform(-0.9, 0.9, 4)], True),
    ("acos", ac.acos, [R.uniform(-0.9, 0.9, 4)], True),
    ("atan", ac.atan, [any_(4)], True),
    ("asinh", ac.asinh, [any_(4)], True),
    ("acosh", ac.acosh, [R.uniform(1.2, 3.0, 4)], True),
    ("atanh", ac.atanh, [R.uniform(-0.9, 0.9, 4)], True),
    ("sinh", ac.sinh, [any_(4)], True),
    ("cosh", ac.cosh, [any_(4)], True),
    ("log2", ac.log2, [pos(4)], True),
    ("log10", ac.log10, [pos(4)], True),
    ("reciprocal", ac.reciprocal, [away_from_zero(4)], True),
    ("positive", ac.positive, [any_(4)], True),
    ("real", ac.real, [any_(4)], True),
    ("imag", ac.imag, [any_(4)], True),
    # accel.fft: real inputs through complex values (the complex gradients themselves:
    # tests/ops/test_fft.py and tests/autodiff/test_complex_gradients.py)
    ("fft", lambda x: ac.real(ac.fft.fft(x, n=5) * (1 - 2j)), [any_(2, 4)], True),
    ("ifft", lambda x: ac.imag(ac.fft.ifft(x * (0.5 + 1j), axis=0, norm="ortho")), [any_(3, 2)], True),
    ("fftn", lambda x: ac.real(ac.fft.fftn(x, s=(3, 3), axes=(0, 1)) * (1 + 1j)), [any_(2, 4)], True),
    ("ifftn", lambda x: ac.imag(ac.fft.ifftn(x * 1j + x, norm="forward")), [any_(2, 3)], True),
    ("rfft", lambda x: ac.imag(ac.fft.rfft(x, n=5) * (2 - 1j)), [any_(2, 4)], True),
    ("irfft", lambda x: ac.fft.irfft(x * (1 + 1j), n=5), [any_(2, 3)], True),
    ("rfftn", lambda x: ac.real(ac.fft.rfftn(x) * (1 - 1j)), [any_(3, 4)], True),
    ("irfftn", lambda x: ac.fft.irfftn(x * (1 - 0.5j), s=(2, 5), axes=(0, 1)), [any_(3, 3)], True),
    ("hfft", lambda x: ac.fft.hfft(x * (1 + 0.5j)), [any_(2, 3)], True),
    ("ihfft", lambda x: ac.real(ac.fft.ihfft(x) * (1 + 2j)), [any_(2, 4)], True),
    ("fftshift", lambda x: ac.fft.fftshift(x, axes=0), [any_(3, 2)], True),
    ("ifftshift", lambda x: ac.fft.ifftshift(x), [any_(3, 2)], True),
    ("conj", ac.conj, [any_(4)], True),
    ("conjugate", ac.conjugate, [any_(4)], True),
    ("atan2_broadcast", ac.atan2, [any_(2, 3), away_from_zero(3)], True),
    ("logaddexp_broadcast", ac.logaddexp, [any_(2, 3), any_(3)], True),
    ("hypot_broadcast", ac.hypot, [away_from_zero(2, 3), away_from_zero(3)], True),
    ("copysign", lambda x, y: ac.copysign(x, y), [away_from_zero(2, 3), away_from_zero(3)], True),
    # activations: kinked ones are drawn away from 0, where each side is smooth
    ("elu", ac.elu, [AWAY_FROM_0], True),
    ("selu", ac.selu, [AWAY_FROM_0], True),
    ("leaky_relu", lambda x: ac.leaky_relu(x, 0.3), [AWAY_FROM_0], True),
    ("silu", ac.silu, [any_(5) * 3], True),
    ("softsign", ac.softsign, [AWAY_FROM_0], True),
    ("log_sigmoid", ac.log_sigmoid, [any_(5) * 4], True),
    ("gelu", ac.gelu, [any_(5) * 2], True),
    ("gelu_approximate", lambda x: ac.gelu(x, approximate=True), [any_(5) * 2], True),
    ("embedding_lookup", lambda p: ac.embedding_lookup(p, [[0, 3], [3, 1]]), [any_(4, 3)], True),
    ("embedding_lookup_max_norm", lambda p: ac.embedding_lookup(p, [0, 2, 2], max_norm=1.5),
     [numpy.array([[0.3, -0.4], [2.0, 1.0], [1.5, -2.5]])], True),
    ("embedding_lookup_shards", lambda a, b: ac.embedding_lookup([a, b], [4, 0, 2]), [any_(3, 2), any_(2, 2)], True),
    ("cumsum", lambda x: ac.cumsum(x, axis=1), [any_(2, 4)], True),
    ("dot_product_attention", lambda q, k, v, b: ac.dot_product_attention(q, k, v, bias=b, is_causal=True),
     [any_(1, 3, 2, 2), any_(1, 3, 2, 2), any_(1, 3, 2, 3), any_(1, 2, 3, 3)], True),
    ("dot_product_attention_mask", lambda q, k, v: ac.dot_product_attention(
        q, k, v, mask=ac.tensor([[True, False, True, True]]), scale=0.7), [any_(2, 3, 1, 2), any_(2, 4, 1, 2), any_(2, 4, 1, 2)],
     True),
    ("dropout", lambda x: _fresh_dropout(x, 0.4), [any_(3, 4)], True),
    ("top_k", lambda x: ac.top_k(x, 2)[0], [numpy.array([[0.3, -1.2, 2.0, 0.7], [1.5, 0.2, -0.4, 0.9]])], True),
    ("take_along_last", lambda x: sorting.take_along_last(x, ac.tensor([[2, 0], [1, 3]], dtype="int32")),
     [any_(2, 4)], True),
    ("put_along_last", lambda g: sorting.put_along_last(g, ac.tensor([[2, 0], [1, 3]], dtype="int32"), 5),
     [any_(2, 2)], True),
    ("pad", lambda x: ac.pad(x, [[1, 2], [0, 3]], constant_values=2.5), [any_(3, 4)], True),
    ("pad_reflect", lambda x: ac.pad(x, [[2, 1], [3, 3]], "REFLECT"), [any_(3, 4)], True),
    ("pad_symmetric", lambda x: ac.pad(x, [[3, 2], [1, 0]], "SYMMETRIC"), [any_(3, 4)], True),
    ("_pad_grad", lambda g: padding._pad_grad(g, ((1, 2), (2, 1)), "REFLECT"), [any_(6, 7)], True),
    ("conv2d", lambda x, f: ac.conv2d(x, f, 2, "SAME"), [any_(2, 5, 4, 3), any_(3, 2, 3, 4)], True),
    ("conv2d_grouped_dilated", lambda x, f: ac.conv2d(x, f, [1, 2], [[0, 0], [1, 0], [2, 1], [0, 0]], dilations=2),
     [any_(1, 5, 6, 4), any_(2, 2, 2, 4)], True),
    ("conv2d_nchw", lambda x, f: ac.conv2d(x, f, 1, "VALID", data_format="NCHW"), [any_(2, 3, 4, 4), any_(2, 3, 3, 2)],
     True),
    ("conv1d", lambda x, f: ac.conv1d(x, f, 2, "SAME"), [any_(2, 7, 3), any_(3, 3, 2)], True),
    ("conv2d_transpose", lambda x, f: ac.conv2d_transpose(x, f, (2, 5, 6, 2), 2, "SAME"),
     [any_(2, 3, 3, 3), any_(3, 2, 2, 3)], True),
    ("depthwise_conv2d", lambda x, f: ac.depthwise_conv2d(x, f, [1, 2, 1, 1], "SAME", dilations=[1, 2]),
     [any_(2, 5, 5, 3), any_(2, 3, 3, 2)], True),
    ("conv", lambda x, f: convolution_core.conv(x, f, _WINDOWS, 2), [any_(2, 4, 5, 4), any_(2, 3, 2, 4)], True),
    ("conv_input_grad", lambda g, f: convolution_core.conv_input_grad(g, f, _WINDOWS, 2, (2, 4, 5, 4)),
     [any_(2, 2, 5, 4), any_(2, 3, 2, 4)], True),
    ("conv_filter_grad", lambda x, g: convolution_core.conv_filter_grad(x, g, _WINDOWS, 2, (2, 3, 2, 4)),
     [any_(2, 4, 5, 4), any_(2, 2, 5, 4)], True),
    ("einsum", lambda a, b: ac.einsum("bij,bjk->bik", a, b), [any_(2, 2, 3), any_(2, 3, 4)], True),
    ("einsum_diagonal_broadcast", lambda a, b: ac.einsum("iij,...j->...i", a, b), [any_(3, 3, 2), any_(2, 1, 2)], True),
    ("einsum_three_operands", lambda a, b, c: ac.einsum("ab,bc,cd", a, b, c), [any_(2, 3), any_(3, 4), any_(4, 2)], True),
    ("einsum_summed_alone", lambda a, b: ac.einsum("ijk,k->i", a, b), [any_(2, 3, 4), any_(1)], True),
    ("gelu_grad", activations.gelu_grad, [any_(2, 3), any_(2, 3) * 2], True),
    ("extract_windows", lambda x: windows.extract_windows(
        x, windows.plan("t", (4, 5), (2, 3), (2, 1), (1, 2), "SAME"), 2, 0.5), [any_(2, 4, 5, 4)], True),
    ("fold_windows", lambda c: windows.fold_windows(
        c, windows.plan("t", (4, 5), (2, 3), (2, 1), (1, 2), "SAME"), (2, 4, 5, 4), 2), [any_(2, 20, 12)], True),
    ("max_pool2d", lambda x: ac.max_pool2d(x, 3, 2, "SAME"), [distinct(2, 5, 4, 3)], True),
    ("max_pool1d", lambda x: ac.max_pool1d(x, 2, 2, "VALID", data_format="NCW"), [distinct(2, 3, 6)], True),
    ("avg_pool2d", lambda x: ac.avg_pool2d(x, [2, 3], 2, "SAME", data_format="NCHW"), [any_(2, 3, 5, 5)], True),
    ("avg_pool1d", lambda x: ac.avg_pool1d(x, 3, 1, "SAME"), [any_(2, 5, 3)], True),
    ("variance", lambda x: reduce.variance(x, (0, 2), False), [any_(3, 2, 4)], True),
    ("moments", lambda x: _weighted_sum(ac.moments(x, [0, 2])), [any_(3, 2, 4)], True),
    ("moments_keepdims", lambda x: _weighted_sum(ac.moments(x, -1, keepdims=True)), [any_(2, 5)], True),
    ("batch_normalization", lambda x, m, v, o, s: ac.batch_normalization(x, m, v, o, s, 1e-3),
     [any_(4, 3), any_(3), pos(3), any_(3), any_(3)], True),
    ("batch_normalization_no_offset_scale", lambda x, m, v: ac.batch_normalization(x, m, v, None, None, 0.5),
     [any_(2, 3), any_(3), pos(3)], True),
    ("cumsum_exclusive_reverse", lambda x: ac.cumsum(x, axis=0, exclusive=True, reverse=True), [any_(4, 2)], True),
    ("matmul_transpose_a", lambda a, b: ac.matmul(a, b, transpose_a=True), [any_(3, 2), any_(3, 4)], True),
    ("matmul_transpose_b", lambda a, b: ac.matmul(a, b, transpose_b=True), [any_(2, 3), any_(4, 3)], True),
    ("matmul_transpose_both", lambda a, b: ac.matmul(a, b, transpose_a=True, transpose_b=True),
     [any_(3, 2), any_(4, 3)], True),
    ("matmul_rows", lambda a, b: ac.matmul(a, b), [any_(2, 3, 4), any_(4, 2)], True),
    ("matmul_rows_transpose_b", lambda a, b: ac.matmul(ac.transpose(a, (1, 0, 2)), b, transpose_b=True),
     [any_(3, 2, 4), any_(5, 4)], True),
    ("matmul_transpose_batched", lambda a, b: ac.matmul(a, b, transpose_a=True, transpose_b=True),
     [any_(2, 3, 2), any_(4, 3)], True),
]


@pytest.mark.parametrize("name,fn,inputs,smooth", CASES, ids=[c[0] for c in CASES])
def test_first_order(name, fn, inputs, smooth):
    check_gradients(fn, inputs, atol=1e-7, rtol=1e-6)


@pytest.mark.parametrize("name,fn,inputs,smooth", [c for c in CASES if c[3]], ids=[c[0] for c in CASES if c[3]])
def test_second_order(name, fn, inputs, smooth):
    check_gradients(fn, inputs, atol=1e-6, rtol=1e-5, order=2)


def _ops_under_test():
    """Every differentiable op (cast has a test of its own: a float32 round trip needs a larger step)."""
    return set(differentiable_ops()) - {"cast"}


def _covered(case_id, names):
    """The ops a case checks: each "+"-separated part names its op, exactly or followed by
    "_variant" (the longest op name that fits, so "log1p" is not "log")."""
    out = set()
    for part in case_id.split("+"):
        fits = [n for n in names if part == n or part.startswith(n + "_")]
        if fits:
            out.add(max(fits, key=len))
    return out


def test_cases_cover_every_differentiable_op():
    names = _ops_under_test()
    covered = set().union(*(_covered(case_id, names) for case_id, *_ in CASES))
    assert sorted(names - covered) == []
    assert _covered("log1p", {"log", "log1p"}) == {"log1p"} and _covered("logsumexp", {"log"}) == set()


def test_cast_gradient():
    # A float32 round trip keeps ~7 digits, so the finite difference needs a larger step.
    check_gradients(lambda x: ac.cast(ac.cast(x, "float32"), "float64") ** 2, [any_(3)],
                    eps=1e-3, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_selection_vjps_select_exactly_as_tensorflow(dtype):
    """where / maximum / minimum / clip VJPs are TensorFlow's select: a gradient that is not
    selected gives 0 even when it is inf or NaN (bit masks on the CPU, no branches)."""
    g = ac.tensor([numpy.inf, numpy.nan, -2.5, -0.0, 1.0], dtype=dtype)
    mask = ac.tensor([False, False, True, True, False])
    picked = elementwise.select_grad(mask, g).numpy()
    dropped = elementwise.deselect_grad(mask, g).numpy()
    assert picked.dtype == dropped.dtype == numpy.dtype(dtype)
    assert picked.tolist() == [0.0, 0.0, -2.5, 0.0, 0.0] and numpy.signbit(picked[3])
    assert dropped[0] == numpy.inf and numpy.isnan(dropped[1]) and dropped[2:].tolist() == [0.0, 0.0, 1.0]
    x = ac.tensor([1.0, 2.0, 3.0], dtype=dtype)
    with ac.GradientTape() as tape:
        tape.watch(x)
        y = ac.maximum(x, 2.0)
    (gx,) = tape.gradient(y, [x], output_gradients=ac.tensor([numpy.inf, numpy.nan, 1.0], dtype=dtype))
    assert gx.numpy().tolist()[0] == 0.0 and numpy.isnan(gx.numpy()[1]) and gx.numpy()[2] == 1.0


def test_relu_gradient_is_tensorflows_relu_grad():
    """ReluGrad multiplies by (x > 0): an inf upstream gradient at x <= 0 gives NaN in TensorFlow
    too; finite gradients are exact."""
    x = ac.tensor([-1.0, 0.0, 2.0], dtype="float64")
    with ac.GradientTape() as tape:
        tape.watch(x)
        y = ac.relu(x)
    (gx,) = tape.gradient(y, [x], output_gradients=ac.tensor([3.0, 4.0, 5.0], dtype="float64"))
    assert gx.numpy().tolist() == [0.0, 0.0, 5.0]
