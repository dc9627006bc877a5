"""im2col / col2im (accel/ops/windows.py): the compiled loops (csrc/cpu/windows.cpp) equal the
NumPy form for every geometry, and fold is extract's adjoint."""

import numpy
import pytest

from accel.ops import windows

R = numpy.random.default_rng(5)

GEOMETRIES = [((5, 7), (3, 2), (1, 1), (1, 1), "SAME"), ((6, 6), (3, 3), (2, 2), (1, 1), "SAME"),
              ((7, 5), (2, 3), (3, 1), (2, 2), "VALID"), ((4, 4), (3, 3), (1, 2), (1, 1), ((2, 1), (0, 3))),
              ((1, 9), (1, 4), (1, 3), (1, 2), "SAME")]


@pytest.mark.parametrize("size,kernel,strides,dilations,padding", GEOMETRIES)
@pytest.mark.parametrize("groups", [1, 2, 4])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_compiled_loops_equal_the_numpy_form(monkeypatch, size, kernel, strides, dilations, padding, groups, dtype):
    w = windows.plan("t", size, kernel, strides, dilations, padding)
    x = R.normal(size=(3,) + size + (4,)).astype(dtype)
    cols = windows._extract_array(numpy, x, w, groups, -2.5)
    assert cols.shape == (groups, 3 * w.oh * w.ow, w.kh * w.kw * 4 // groups)
    g = R.normal(size=cols.shape).astype(dtype)
    folded = windows._fold_array(numpy, g, w, x.shape, groups)
    monkeypatch.setattr(windows, "_COMPILED", ())
    numpy.testing.assert_array_equal(cols, windows._extract_array(numpy, x, w, groups, -2.5))
    numpy.testing.assert_allclose(folded, windows._fold_array(numpy, g, w, x.shape, groups),
                                  rtol=1e-6 if dtype == "float32" else 1e-14,
                                  atol=1e-6 if dtype == "float32" else 1e-15)  # sums in another order


@pytest.mark.parametrize("size,kernel,strides,dilations,padding", GEOMETRIES)
def test_fold_is_the_adjoint_of_extract(size, kernel, strides, dilations, padding):
    w = windows.plan("t", size, kernel, strides, dilations, padding)
    x = R.normal(size=(2,) + size + (3,))
    cols = windows._extract_array(numpy, x, w, 3, 0.0)
    g = R.normal(size=cols.shape)
    numpy.testing.assert_allclose(numpy.sum(cols * g), numpy.sum(x * windows._fold_array(numpy, g, w, x.shape, 3)),
                                  rtol=1e-12)


def test_float16_takes_the_numpy_form():
    w = windows.plan("t", (4, 4), (2, 2), (1, 1), (1, 1), "SAME")
    x = R.normal(size=(1, 4, 4, 2))
    cols = windows._extract_array(numpy, x.astype("float16"), w)
    assert cols.dtype == numpy.float16
    numpy.testing.assert_array_equal(cols, windows._extract_array(numpy, x, w).astype("float16"))
