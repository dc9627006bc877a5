// relu and its VJP on the CPU as one pass each, the forms of accel/ops/elementwise.py exactly:
//
//   relu(x)         = where(x > 0, x, where(x <= 0, 0, x))   (NaN stays NaN; -0 becomes +0)
//   relu_grad(g, x) = where(x > 0, g, g * 0)                 (g * 0 keeps NaN, inf -> NaN, signs)
//
// NumPy spends three to four times a copy on them (its maximum loop, and a bool multiply that
// casts through a buffer); a training step runs two of each per hidden layer. The ops' compiled
// front calls these on CPU arrays (the record's `host`); anything but C-contiguous float32 or
// float64 ndarrays of one shape goes to the NumPy expression, which gives the same values.
#include <nanobind/nanobind.h>

#include "cpu/view.h"
#include "rules/erf32.h"

#include <cmath>
#include <cstring>

namespace nb = nanobind;

namespace accel_cpu {
namespace {

// Branch-free selects (the vectoriser turns them into compare + blend); no aliasing: `out` is new.
template <class T> void relu_loop(const T* __restrict__ x, T* __restrict__ out, long long n) {
    for (long long i = 0; i < n; ++i) {
        const T v = x[i];
        out[i] = v > T(0) ? v : (v <= T(0) ? T(0) : v);
    }
}

template <class T>
void relu_grad_loop(const T* __restrict__ g, const T* __restrict__ x, T* __restrict__ out, long long n) {
    for (long long i = 0; i < n; ++i) {
        const T keep = g[i], zero = g[i] * T(0);
        out[i] = x[i] > T(0) ? keep : zero;
    }
}

// Held for the life of the process (never released: the module outlives no interpreter).
PyObject *g_ndarray = nullptr, *g_empty_like = nullptr, *g_relu_numpy = nullptr, *g_relu_grad_numpy = nullptr;

bool is_ndarray(nb::handle h) { return Py_TYPE(h.ptr()) == (PyTypeObject*)g_ndarray; }

nb::object call(PyObject* fn, nb::handle a) {
    if (!fn) throw nb::type_error("relu: the NumPy fallbacks are not set (accel.ops.elementwise sets them)");
    return nb::steal(PyObject_CallOneArg(fn, a.ptr()));
}

nb::object relu(nb::handle x) {
    View xv;
    char kind = 0;
    if (is_ndarray(x) && xv.try_acquire(x.ptr(), false)) kind = xv.float_kind();
    if (kind == 0 || xv.view.ndim == 0) {
        nb::object r = call(g_relu_numpy, x);
        if (!r.is_valid()) throw nb::python_error();
        return r;
    }
    nb::object out = call(g_empty_like, x);
    if (!out.is_valid()) throw nb::python_error();
    View ov;
    if (!ov.try_acquire(out.ptr(), true)) throw nb::python_error();
    const long long n = xv.size();
    nb::gil_scoped_release release;
    if (kind == 'f')
        relu_loop(static_cast<const float*>(xv.view.buf), static_cast<float*>(ov.view.buf), n);
    else
        relu_loop(static_cast<const double*>(xv.view.buf), static_cast<double*>(ov.view.buf), n);
    return out;
}

nb::object relu_grad(nb::handle g, nb::handle x) {
    View gv, xv;
    char kind = 0;
    if (is_ndarray(g) && is_ndarray(x) && gv.try_acquire(g.ptr(), false) && xv.try_acquire(x.ptr(), false) &&
        gv.float_kind() == xv.float_kind() && gv.same_shape(xv))
        kind = gv.float_kind();
    if (kind == 0 || gv.view.ndim == 0) {
        if (!g_relu_grad_numpy) throw nb::type_error("relu_grad: the NumPy fallback is not set");
        nb::object r = nb::steal(PyObject_CallFunctionObjArgs(g_relu_grad_numpy, g.ptr(), x.ptr(), nullptr));
        if (!r.is_valid()) throw nb::python_error();
        return r;
    }
    nb::object out = call(g_empty_like, g);
    if (!out.is_valid()) throw nb::python_error();
    View ov;
    if (!ov.try_acquire(out.ptr(), true)) throw nb::python_error();
    const long long n = gv.size();
    nb::gil_scoped_release release;
    if (kind == 'f')
        relu_grad_loop(static_cast<const float*>(gv.view.buf), static_cast<const float*>(xv.view.buf),
                       static_cast<float*>(ov.view.buf), n);
    else
        relu_grad_loop(static_cast<const double*>(gv.view.buf), static_cast<const double*>(xv.view.buf),
                       static_cast<double*>(ov.view.buf), n);
    return out;
}

}  // namespace

// float32 erf over n elements (module.cpp's erf_into calls it per chunk): -O3 vectorises the
// rational form of rules/erf32.h, which std::erf's scalar calls never are.
void erf32_loop(const float* __restrict__ x, float* __restrict__ out, long long n) {
    for (long long i = 0; i < n; ++i) out[i] = accel_erf32(x[i]);
}

// The exact GELU and its derivative in one pass each (accel/ops/activations.py states the same
// forms in NumPy; erf as _cpu.erf computes it: rules/erf32.h for float32, std::erf for float64):
//   gelu(x)         = x * (erf(x * sqrt(1/2)) + 1) * 0.5
//   gelu_grad(g, x) = g * ((erf(x * sqrt(1/2)) + 1) * 0.5 + x * e / sqrt(2 pi)),  e = exp(-x^2 / 2)
// e comes in computed (NumPy's exp is vectorised, std::exp is not).
inline float erf_of(float v) { return accel_erf32(v); }
inline double erf_of(double v) { return std::erf(v); }

template <class T> void gelu_loop(const T* __restrict__ x, T* __restrict__ out, long long n) {
    const T half_sqrt = T(0.7071067811865476);
    for (long long i = 0; i < n; ++i) out[i] = x[i] * (erf_of(x[i] * half_sqrt) + T(1)) * T(0.5);
}

template <class T>
void gelu_grad_loop(const T* __restrict__ g, const T* __restrict__ x, const T* __restrict__ e, T* __restrict__ out,
                    long long n) {
    const T half_sqrt = T(0.7071067811865476), inv_sqrt_2pi = T(0.3989422804014327);
    for (long long i = 0; i < n; ++i)
        out[i] = g[i] * ((erf_of(x[i] * half_sqrt) + T(1)) * T(0.5) + x[i] * e[i] * inv_sqrt_2pi);
}

void gelu_into(nb::handle x, nb::handle out) {
    View xv, ov;
    xv.acquire(x, false, "gelu: x");
    ov.acquire(out, true, "gelu: out");
    const char kind = xv.float_kind();
    if (kind == 0 || kind != ov.float_kind() || xv.size() != ov.size())
        throw nb::type_error("gelu: x and out must be float32 or float64 arrays of one dtype and size");
    const long long n = xv.size();
    nb::gil_scoped_release release;
    if (kind == 'f') gelu_loop(static_cast<const float*>(xv.view.buf), static_cast<float*>(ov.view.buf), n);
    else gelu_loop(static_cast<const double*>(xv.view.buf), static_cast<double*>(ov.view.buf), n);
}

void gelu_grad_into(nb::handle g, nb::handle x, nb::handle e, nb::handle out) {
    View gv, xv, ev, ov;
    gv.acquire(g, false, "gelu_grad: g");
    xv.acquire(x, false, "gelu_grad: x");
    ev.acquire(e, false, "gelu_grad: e");
    ov.acquire(out, true, "gelu_grad: out");
    const char kind = xv.float_kind();
    if (kind == 0 || gv.float_kind() != kind || ev.float_kind() != kind || ov.float_kind() != kind ||
        gv.size() != xv.size() || ev.size() != xv.size() || ov.size() != xv.size())
        throw nb::type_error("gelu_grad: g, x, e and out must be float32 or float64 arrays of one dtype and size");
    const long long n = xv.size();
    nb::gil_scoped_release release;
    if (kind == 'f')
        gelu_grad_loop(static_cast<const float*>(gv.view.buf), static_cast<const float*>(xv.view.buf),
                       static_cast<const float*>(ev.view.buf), static_cast<float*>(ov.view.buf), n);
    else
        gelu_grad_loop(static_cast<const double*>(gv.view.buf), static_cast<const double*>(xv.view.buf),
                       static_cast<const double*>(ev.view.buf), static_cast<double*>(ov.view.buf), n);
}

void bind_activations(nb::module_& m) {
    nb::module_ numpy = nb::module_::import_("numpy");
    g_ndarray = nb::object(numpy.attr("ndarray")).release().ptr();
    g_empty_like = nb::object(numpy.attr("empty_like")).release().ptr();
    m.def("gelu", &gelu_into, nb::arg("x"), nb::arg("out"),
          "out = x * (erf(x / sqrt(2)) + 1) / 2 in one pass (C-contiguous float32/float64).");
    m.def("gelu_grad", &gelu_grad_into, nb::arg("g"), nb::arg("x"), nb::arg("e"), nb::arg("out"),
          "out = g * ((erf(x / sqrt(2)) + 1) / 2 + x * e / sqrt(2 pi)), e = exp(-x^2 / 2), in one pass.");
    m.def("relu", &relu, nb::arg("x"),
          "where(x > 0, x, where(x <= 0, 0, x)) in one pass for C-contiguous float32/float64 arrays "
          "(else with NumPy: `set_relu_fallbacks`).");
    m.def("relu_grad", &relu_grad, nb::arg("g"), nb::arg("x"),
          "where(x > 0, g, g * 0) in one pass for C-contiguous float32/float64 arrays of one shape "
          "(else with NumPy: `set_relu_fallbacks`).");
    m.def("set_relu_fallbacks", [](nb::object relu_numpy, nb::object relu_grad_numpy) {
        Py_XDECREF(g_relu_numpy);
        Py_XDECREF(g_relu_grad_numpy);
        g_relu_numpy = relu_numpy.release().ptr();
        g_relu_grad_numpy = relu_grad_numpy.release().ptr();
    }, nb::arg("relu"), nb::arg("relu_grad"), "The NumPy functions relu / relu_grad use for other arrays.");
}

}  // namespace accel_cpu
