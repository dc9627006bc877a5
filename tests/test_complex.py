"""complex64 and complex128 (the Array API's complex dtypes): values through ops, promotion,
checkpoints, DLPack and accel.function. Their gradients: tests/autodiff/test_complex_gradients.py;
optimizers refuse complex Variables."""

import numpy
import pytest

import accel as ac

Z = numpy.array([1 + 2j, -0.5 + 0.25j, 3 - 1j])


@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_ops_give_numpys_values(dtype):
    z = ac.tensor(Z, dtype=dtype)
    want = Z.astype(dtype)
    for got, expected in [(z * z, want * want), (z + 1, want + 1), (ac.exp(z), numpy.exp(want)),
                          (ac.sqrt(z), numpy.sqrt(want)), (ac.sum(z), want.sum()), (ac.abs(z), numpy.abs(want)),
                          (ac.real(z), want.real), (ac.imag(z), want.imag), (ac.conj(z), want.conj()),
                          (z @ z, want @ want), (ac.matmul(ac.reshape(z, (3, 1)), ac.reshape(z, (1, 3))),
                                                 numpy.outer(want, want)),
                          # the variance of complex values is mean(|z - mean|^2), real (NumPy's)
                          (ac.var(z), numpy.var(want)), (ac.std(z, correction=1), numpy.std(want, ddof=1)),
                          # sigmoid takes complex numbers, as TensorFlow's (its real form splits on the sign)
                          (ac.sigmoid(z), 1 / (1 + numpy.exp(-want)))]:
        assert got.dtype == expected.dtype
        numpy.testing.assert_allclose(got.numpy(), expected, rtol=1e-6)


def test_ops_that_need_an_order_refuse_complex_values():
    with pytest.raises(TypeError, match="logsumexp: x must be real"):  # it shifts by the largest element
        ac.logsumexp(ac.tensor(Z))
    for op in (ac.relu, ac.elu, ac.selu, ac.log_sigmoid):  # max(z, 0), selections on z < 0
        with pytest.raises(TypeError, match=f"{op.__name__}: x must be real"):
            op(ac.tensor(Z))
    # silu and softsign are defined for complex numbers (x * sigmoid(x), x / (|x| + 1))
    numpy.testing.assert_allclose(ac.silu(ac.tensor(Z)).numpy(), Z / (1 + numpy.exp(-Z)), rtol=1e-6)
    numpy.testing.assert_allclose(ac.softsign(ac.tensor(Z)).numpy(), Z / (1 + numpy.abs(Z)), rtol=1e-6)


def test_python_complex_numbers_are_complex64_and_promote_as_the_standard_says():
    assert ac.tensor([1j]).dtype == ac.complex64 and ac.tensor(1j, dtype="complex128").dtype == ac.complex128
    assert ac.result_type(ac.complex64, ac.float64) == ac.complex128
    assert ac.result_type(ac.float32, ac.complex64) == ac.complex64
    assert ac.result_type(ac.complex64, 2.5) == ac.complex64 and ac.result_type(ac.complex128, 1j) == ac.complex128
    with pytest.raises(TypeError, match="Python complex does not combine with float32"):
        ac.result_type(ac.float32, 1j)
    with pytest.raises(TypeError, match="no promotion"):
        ac.result_type(ac.complex64, ac.int32)
    assert ac.finfo(ac.complex128).dtype == ac.float64 and ac.isdtype(ac.complex64, "complex floating")
    assert ac.__array_namespace_info__().default_dtypes()["complex floating"] == ac.complex64


def test_checkpoints_dlpack_and_function(tmp_path):
    v = ac.Variable(Z, name="z", trainable=False)
    path = ac.Checkpoint(v=v).save(tmp_path / "z.npz")
    w = ac.Variable(numpy.zeros(3, complex), name="z", trainable=False)
    ac.Checkpoint(v=w).restore(path)
    numpy.testing.assert_array_equal(w.numpy(), Z)
    numpy.testing.assert_array_equal(ac.from_dlpack(numpy.from_dlpack(ac.tensor(Z, dtype="complex128"))).numpy(), Z)

    @ac.function
    def rotate(z):
        return z * 1j + ac.conj(z)

    for values in (Z, Z[::-1].copy()):
        numpy.testing.assert_allclose(rotate(ac.tensor(values, dtype="complex128")).numpy(),
                                      values * 1j + values.conj())
    assert rotate.experimental_get_tracing_count() == 1


def test_optimizers_refuse_complex_variables():
    with pytest.raises(TypeError, match="complex64"):
        ac.optimizers.SGD(0.1).apply_gradients([(ac.tensor([1j]), ac.Variable([1j]))])
