"""scikit-learn's array API dispatch on accel tensors: every estimator whose tags declare array API
support fits, predicts / transforms and returns accel tensors, by scikit-learn's own estimator
check (sklearn.utils.estimator_checks.check_array_api_input with accel's namespace), in float64
and float32. The emulated CUDA device: tests/cuda_emu/test_emulated_sklearn.py."""

import os
import warnings

import numpy
import pytest

import accel as ac

sklearn = pytest.importorskip("sklearn")
from sklearn import config_context  # noqa: E402
from sklearn.utils import all_estimators  # noqa: E402
from sklearn.utils._tags import get_tags  # noqa: E402
from sklearn.utils.estimator_checks import check_array_api_input  # noqa: E402


def array_api_estimators():
    """(name, class) of every estimator whose default instance declares array API support."""
    found = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, cls in all_estimators():
            try:
                supported = get_tags(cls()).array_api_support
            except Exception:  # noqa: BLE001  (estimators with required arguments)
                continue
            if supported:
                found.append((name, cls))
    return found


ESTIMATORS = array_api_estimators()
# LabelEncoder transforms targets (fit(y)): the check's fit(X, y) does not apply; its own test below
X_ESTIMATORS = [(n, c) for n, c in ESTIMATORS if n != "LabelEncoder"]


def test_the_dispatch_is_on_and_finds_accel():
    import array_api_compat

    assert os.environ.get("SCIPY_ARRAY_API") == "1"  # tests/conftest.py sets it before SciPy loads
    assert array_api_compat.array_namespace(ac.tensor([1.0])) is ac
    assert {"PCA", "Ridge", "LinearDiscriminantAnalysis", "StandardScaler"} <= {n for n, _ in ESTIMATORS}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name, cls", X_ESTIMATORS, ids=[n for n, _ in X_ESTIMATORS])
def test_scikit_learns_array_api_check(name, cls, dtype):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scikit-learn's own 0/0 on constant features
        check_array_api_input(name, cls(), array_namespace="accel", dtype_name=dtype)


def test_fitted_models_return_accel_tensors_with_numpys_values():
    from sklearn.datasets import make_classification
    from sklearn.decomposition import PCA
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.linear_model import Ridge
    from sklearn.preprocessing import LabelEncoder, StandardScaler

    X, y = make_classification(n_samples=80, n_features=6, random_state=0)
    for make, method in [(lambda: PCA(n_components=3), "transform"), (LinearDiscriminantAnalysis, "predict_proba"),
                         (lambda: Ridge(alpha=0.5), "predict"), (StandardScaler, "transform")]:
        expected = getattr(make().fit(X, y), method)(X)
        with config_context(array_api_dispatch=True):
            got = getattr(make().fit(ac.tensor(X), ac.tensor(y)), method)(ac.tensor(X))
        assert isinstance(got, ac.Tensor) and got.dtype == ac.float64
        numpy.testing.assert_allclose(numpy.abs(got.numpy()), numpy.abs(expected), rtol=1e-9, atol=1e-9)
    with config_context(array_api_dispatch=True):
        codes = LabelEncoder().fit_transform(ac.tensor([3, 1, 3, 7]))
    assert isinstance(codes, ac.Tensor) and codes.numpy().tolist() == [1, 0, 1, 2]
