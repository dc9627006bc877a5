// Layer normalisation over the last axis on the CPU, one pass per row for the forward and one for
// the VJP (the loops of nn_loops.cpp for the ISA in use, rows split over the thread pool), the
// math of accel/ops/normalization.py's layer_norm and layer_norm_grad:
//
//   xhat = (x - mean) * r,   r = 1 / sqrt(var + eps),   var = mean((x - mean)^2)
//   dx   = r * (g - mean(g) - xhat * mean(g * xhat))
//
// The composite form (moments, subtract, rsqrt, multiply; and their VJPs) took about ten passes
// over the activations forward and backward.
#include <nanobind/nanobind.h>

#include "cpu/nn_loops.h"
#include "cpu/pool.h"
#include "cpu/view.h"

#include <string>

namespace nb = nanobind;

namespace accel_cpu {
namespace {

NnRuntime g_runtime{};

char check_rows(const char* op, View& x, View& out, View* g) {
    const char kind = x.float_kind();
    bool ok = kind != 0 && out.float_kind() == kind && x.view.ndim == 2 && x.same_shape(out);
    if (g) ok = ok && g->float_kind() == kind && g->same_shape(x);
    if (!ok)
        throw nb::type_error((std::string(op) + ": the arrays must be 2-D float32 or float64 of one dtype and shape")
                                 .c_str());
    if (x.view.shape[1] == 0) throw nb::value_error((std::string(op) + ": rows must not be empty").c_str());
    return kind;
}

void layer_norm(nb::handle x, nb::handle out, double eps) {
    View xv, ov;
    xv.acquire(x, false, "layer_norm: x");
    ov.acquire(out, true, "layer_norm: out");
    const char kind = check_rows("layer_norm", xv, ov, nullptr);
    const long long rows = xv.view.shape[0], cols = xv.view.shape[1];
    const NnLoops* loops = g_runtime.loops();
    nb::gil_scoped_release release;
    for_ranges(rows, rows * cols * 3, g_runtime.threads(), [&](long long b, long long e) {
        if (kind == 'f')
            loops->layer_norm_f(static_cast<const float*>(xv.view.buf) + b * cols,
                                static_cast<float*>(ov.view.buf) + b * cols, e - b, cols, eps);
        else
            loops->layer_norm_d(static_cast<const double*>(xv.view.buf) + b * cols,
                                static_cast<double*>(ov.view.buf) + b * cols, e - b, cols, eps);
    });
}

void layer_norm_grad(nb::handle g, nb::handle x, nb::handle out, double eps) {
    View gv, xv, ov;
    gv.acquire(g, false, "layer_norm_grad: g");
    xv.acquire(x, false, "layer_norm_grad: x");
    ov.acquire(out, true, "layer_norm_grad: out");
    const char kind = check_rows("layer_norm_grad", xv, ov, &gv);
    const long long rows = xv.view.shape[0], cols = xv.view.shape[1];
    const NnLoops* loops = g_runtime.loops();
    nb::gil_scoped_release release;
    for_ranges(rows, rows * cols * 5, g_runtime.threads(), [&](long long b, long long e) {
        if (kind == 'f')
            loops->layer_norm_grad_f(static_cast<const float*>(gv.view.buf) + b * cols,
                                     static_cast<const float*>(xv.view.buf) + b * cols,
                                     static_cast<float*>(ov.view.buf) + b * cols, e - b, cols, eps);
        else
            loops->layer_norm_grad_d(static_cast<const double*>(gv.view.buf) + b * cols,
                                     static_cast<const double*>(xv.view.buf) + b * cols,
                                     static_cast<double*>(ov.view.buf) + b * cols, e - b, cols, eps);
    });
}

}  // namespace

void bind_normalization(nb::module_& m, NnRuntime runtime) {
    g_runtime = runtime;
    m.def("layer_norm", &layer_norm, nb::arg("x"), nb::arg("out"), nb::arg("eps"),
          "Each row of 2-D x normalised into out: (x - mean) / sqrt(var + eps).");
    m.def("layer_norm_grad", &layer_norm_grad, nb::arg("g"), nb::arg("x"), nb::arg("out"), nb::arg("eps"),
          "The VJP of those rows: r * (g - mean(g) - xhat * mean(g * xhat)), r = 1 / sqrt(var + eps).");
}

}  // namespace accel_cpu
