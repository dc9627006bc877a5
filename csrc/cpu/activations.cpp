// relu and its VJP on the CPU as one pass each, the forms of accel/ops/elementwise.py exactly:
//
//   relu(x)         = where(x > 0, x, where(x <= 0, 0, x))   (NaN stays NaN; -0 becomes +0)
//   relu_grad(g, x) = where(x > 0, g, g * 0)                 (g * 0 keeps NaN, inf -> NaN, signs)
//
// NumPy spends three to four times a copy on them (its maximum loop, and a bool multiply that
// casts through a buffer); a training step runs two of each per hidden layer. The ops' compiled
// front calls these on CPU arrays (the record's `host`); anything but C-contiguous float32 or
// float64 ndarrays of one shape goes to the NumPy expression, which gives the same values.
//
// erf, the exact GELU and its VJP (accel/ops/activations.py states their forms) are the loops of
// nn_loops.cpp for the ISA in use, split over the thread pool: NumPy has no erf, and its exp and
// the half-dozen passes of the NumPy form took 1-2 ms per GELU of a small GPT's MLP.
#include <nanobind/nanobind.h>

#include "cpu/nn_loops.h"
#include "cpu/pool.h"
#include "cpu/view.h"

#include <cstring>
#include <initializer_list>
#include <string>

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

// The elementwise loops of nn_loops.cpp (the ISA in use), over ranges of the pool.
NnRuntime g_runtime{};

template <class T> T* data(View& v) { return static_cast<T*>(v.view.buf); }

// `arrays` float32 or float64 alike, each of `out`'s size; returns the kind ('f' or 'd').
char same_floats(const char* op, std::initializer_list<const View*> arrays, const View& out) {
    const char kind = out.float_kind();
    bool ok = kind != 0;
    for (const View* v : arrays) ok = ok && v->float_kind() == kind && v->size() == out.size();
    if (!ok)
        throw nb::type_error((std::string(op) + ": the arrays must be float32 or float64, of one dtype and size").c_str());
    return kind;
}

void erf_into(nb::handle x, nb::handle out) {
    View xv, ov;
    xv.acquire(x, false, "erf: x");
    ov.acquire(out, true, "erf: out");
    const char kind = same_floats("erf", {&xv}, ov);
    const NnLoops* loops = g_runtime.loops();
    const long long n = xv.size();
    nb::gil_scoped_release release;
    for_ranges(n, n, g_runtime.threads(), [&](long long b, long long e) {
        if (kind == 'f') loops->erf_f(data<float>(xv) + b, data<float>(ov) + b, e - b);
        else loops->erf_d(data<double>(xv) + b, data<double>(ov) + b, e - b);
    });
}

void gelu_into(nb::handle x, nb::handle out) {
    View xv, ov;
    xv.acquire(x, false, "gelu: x");
    ov.acquire(out, true, "gelu: out");
    const char kind = same_floats("gelu", {&xv}, ov);
    const NnLoops* loops = g_runtime.loops();
    const long long n = xv.size();
    nb::gil_scoped_release release;
    for_ranges(n, n, g_runtime.threads(), [&](long long b, long long e) {
        if (kind == 'f') loops->gelu_f(data<float>(xv) + b, data<float>(ov) + b, e - b);
        else loops->gelu_d(data<double>(xv) + b, data<double>(ov) + b, e - b);
    });
}

void gelu_grad_into(nb::handle g, nb::handle x, nb::handle out) {
    View gv, xv, ov;
    gv.acquire(g, false, "gelu_grad: g");
    xv.acquire(x, false, "gelu_grad: x");
    ov.acquire(out, true, "gelu_grad: out");
    const char kind = same_floats("gelu_grad", {&gv, &xv}, ov);
    const NnLoops* loops = g_runtime.loops();
    const long long n = xv.size();
    nb::gil_scoped_release release;
    for_ranges(n, n, g_runtime.threads(), [&](long long b, long long e) {
        if (kind == 'f') loops->gelu_grad_f(data<float>(gv) + b, data<float>(xv) + b, data<float>(ov) + b, e - b);
        else loops->gelu_grad_d(data<double>(gv) + b, data<double>(xv) + b, data<double>(ov) + b, e - b);
    });
}

}  // namespace

void bind_activations(nb::module_& m, NnRuntime runtime) {
    g_runtime = runtime;
    nb::module_ numpy = nb::module_::import_("numpy");
    g_ndarray = nb::object(numpy.attr("ndarray")).release().ptr();
    g_empty_like = nb::object(numpy.attr("empty_like")).release().ptr();
    m.def("gelu", &gelu_into, nb::arg("x"), nb::arg("out"),
          "out = x * (erf(x / sqrt(2)) + 1) / 2 in one pass (C-contiguous float32/float64).");
    m.def("gelu_grad", &gelu_grad_into, nb::arg("g"), nb::arg("x"), nb::arg("out"),
          "out = g * ((erf(x / sqrt(2)) + 1) / 2 + x exp(-x^2 / 2) / sqrt(2 pi)) in one pass.");
    m.def("erf", &erf_into, nb::arg("x"), nb::arg("out"), "out = erf(x), elementwise (float32 or float64).");
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
