"""scikit-learn's array API dispatch on the emulated CUDA device: its own estimator check for every
estimator that declares array API support, with accel tensors on cuda:1 (fitted attributes and
results on that device)."""

import warnings

import numpy
import pytest

import accel as ac

pytest.importorskip("sklearn")
from sklearn import config_context  # noqa: E402
from sklearn.utils.estimator_checks import check_array_api_input  # noqa: E402

from test_sklearn import X_ESTIMATORS  # noqa: E402  (tests/ is on the path: the rootdir conftest)


@pytest.mark.parametrize("name, cls", X_ESTIMATORS, ids=[n for n, _ in X_ESTIMATORS])
def test_scikit_learns_array_api_check_on_the_device(emulated_cuda, name, cls):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        check_array_api_input(name, cls(), array_namespace="accel", device_name="cuda:1", dtype_name="float64")


def test_a_model_fitted_on_the_device_keeps_its_results_there(emulated_cuda):
    from sklearn.datasets import make_classification
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    X, y = make_classification(n_samples=60, n_features=5, random_state=1)
    expected = LinearDiscriminantAnalysis().fit(X, y).predict_proba(X)
    with config_context(array_api_dispatch=True):
        model = LinearDiscriminantAnalysis().fit(ac.tensor(X, device="cuda:1"), ac.tensor(y, device="cuda:1"))
        proba = model.predict_proba(ac.tensor(X, device="cuda:1"))
    assert proba.device.name == "cuda:1" and model.coef_.device.name == "cuda:1"
    numpy.testing.assert_allclose(proba.numpy(), expected, rtol=1e-9, atol=1e-12)


def test_dlpack_to_the_cpu_copies_a_device_tensor_when_asked(emulated_cuda):
    """numpy.from_dlpack(t, device="cpu") (how scikit-learn moves results to NumPy) asks the
    exporter for the CPU: a device tensor answers with a host copy, or BufferError for copy=False."""
    t = ac.tensor([1.0, 2.0], device="cuda:1")
    assert t.__dlpack_device__() == (2, 1)
    host = numpy.from_dlpack(t, device="cpu")
    numpy.testing.assert_array_equal(host, [1.0, 2.0])
    with pytest.raises(BufferError, match="only as a copy"):
        numpy.from_dlpack(t, device="cpu", copy=False)
    cpu = ac.tensor([3.0])
    assert cpu.__dlpack_device__() == (1, 0)
    numpy.testing.assert_array_equal(numpy.from_dlpack(cpu, device="cpu"), [3.0])
