"""dtype=None means the documented default everywhere (ones((2,), dtype=None) is float32, as
ones((2,)) is); a bad OMP_NUM_THREADS does not stop `import accel`."""

import inspect
import os
import subprocess
import sys

import numpy
import pytest

import accel as ac
from accel import ops
from accel.nn import initializers


def _callables_with_a_dtype_parameter():
    """Every public function of accel.ops, accel.random and the initializers that takes `dtype`."""
    found = {}
    for name in ops.__all__:
        found[f"ops.{name}"] = getattr(ops, name)
    for name in ("normal", "uniform", "randint"):
        found[f"random.{name}"] = getattr(ac.random, name)
    for name, cls in vars(initializers).items():
        if inspect.isclass(cls) and callable(cls) and cls.__module__ == initializers.__name__:
            found[f"initializers.{name}"] = cls
    found["TensorSpec"] = ac.TensorSpec
    out = {}
    for name, fn in found.items():
        target = fn.__call__ if inspect.isclass(fn) and name.startswith("initializers.") else fn
        try:
            parameters = inspect.signature(getattr(target, "__wrapped__", target)).parameters
        except (TypeError, ValueError):
            continue
        if "dtype" in parameters:
            out[name] = parameters["dtype"].default
    return out


def test_every_dtype_parameter_defaults_to_none_or_is_required():
    defaults = _callables_with_a_dtype_parameter()
    assert len(defaults) >= 15, defaults
    wrong = {name: d for name, d in defaults.items() if d is not None and d is not inspect.Parameter.empty}
    assert wrong == {}


CALLS = {
    "zeros": (lambda **k: ac.zeros((2,), **k), "float32"), "ones": (lambda **k: ac.ones((2,), **k), "float32"),
    "full_float": (lambda **k: ac.full((2,), 1.5, **k), "float32"), "full_int": (lambda **k: ac.full((2,), 1, **k), "int64"),
    "zeros_like": (lambda **k: ac.zeros_like(ac.tensor([1], dtype="int8"), **k), "int8"),
    "ones_like": (lambda **k: ac.ones_like(ac.tensor([1.0], dtype="float64"), **k), "float64"),
    "full_like": (lambda **k: ac.full_like(ac.tensor([1], dtype="int16"), 3, **k), "int16"),
    "arange": (lambda **k: ac.arange(3, **k), "int64"), "linspace": (lambda **k: ac.linspace(0, 1, 3, **k), "float32"),
    "eye": (lambda **k: ac.eye(2, **k), "float32"), "one_hot": (lambda **k: ac.one_hot(ac.tensor([1]), 3, **k), "float32"),
    "normal": (lambda **k: ac.random.normal((2,), seed=0, **k), "float32"),
    "uniform": (lambda **k: ac.random.uniform((2,), seed=0, **k), "float32"),
    "randint": (lambda **k: ac.random.randint((2,), 0, 5, seed=0, **k), "int64"),
    "glorot": (lambda **k: initializers.GlorotUniform(seed=0)((2, 2), **k), "float32"),
    "he": (lambda **k: initializers.HeNormal(seed=0)((2, 2), **k), "float32"),
    "zeros_init": (lambda **k: initializers.Zeros()((2,), **k), "float32"),
    "spec": (lambda **k: ac.TensorSpec([2], **k), "float32"),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_dtype_none_is_the_default(name):
    call, expected = CALLS[name]
    assert call().dtype == call(dtype=None).dtype == numpy.dtype(expected)


def test_cast_still_requires_a_dtype():
    with pytest.raises(TypeError, match="a dtype is required, got None"):
        ac.cast(ac.tensor([1.0]), None)


@pytest.mark.parametrize("value", ["abc", "0", "-2", "2.5"])
def test_import_survives_a_bad_omp_num_threads_and_says_so_once(value):
    code = ("import sys, accel as ac; assert 'numexpr' not in sys.modules; "
            "f = ac.function(lambda x: ac.tanh(ac.sin(x) * 2.0 + 1.0), jit_compile=True); "
            "print([round(v, 4) for v in f(ac.tensor([1.0, 2.0])).tolist()])")
    env = dict(os.environ, OMP_NUM_THREADS=value, PYTHONWARNINGS="default")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[0.9907, 0.9929]"
    assert result.stderr.count("is not a positive integer: accel ignores it") == 1, result.stderr


def test_import_does_not_load_numexpr():
    result = subprocess.run([sys.executable, "-c", "import sys, accel; print('numexpr' in sys.modules)"],
                            capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr
