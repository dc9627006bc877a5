// The sparse softmax cross-entropy on the CPU, one pass over each row of logits (TensorFlow's
// SparseSoftmaxCrossEntropyWithLogits kernel does the same), the math of accel/ops/classification.py:
//
//   shift = max(row), or 0 when that is not finite (a row of -inf, or holding inf or NaN)
//   lse   = log(sum(exp(row - shift)))
//   loss  = -((row[label] - shift) - lse)
//   grad  = g * (exp((row - shift) - lse) - one_hot(label))     (the VJP; g one per row)
//
// Elementwise steps round in the logits' type as NumPy's do; the row's sum of exponentials
// accumulates in double (NumPy sums float32 pairwise in float32: the results agree to the last
// bit or two). NumPy spends a dozen calls per row batch on the same; a step's loss is one call here.
//
// softmax / log_softmax over the last axis and their VJPs, one pass per row likewise (attention's
// scale and causal mask folded into the forward: dot_product_attention's scores need no separate
// multiply and select). The loops are nn_loops.cpp's for the ISA in use (exp there is a
// vectorised float32 form within 2 ulp), rows split over the thread pool.
#include <nanobind/nanobind.h>

#include "cpu/nn_loops.h"
#include "cpu/pool.h"
#include "cpu/view.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <string>

namespace nb = nanobind;

namespace accel_cpu {
namespace {

NnRuntime g_runtime{};

// logits: (rows, classes) float32/float64; labels: (rows,) int32/int64; loss: (rows,) or None;
// g and grad: (rows,) and (rows, classes), or None. Returns -1, or the first row with a bad label.
long long sparse_xent(nb::handle logits, nb::handle labels, nb::handle loss, nb::handle g, nb::handle grad) {
    View lv, bv, ov, gv, dv;
    lv.acquire(logits, false, "logits");
    bv.acquire(labels, false, "labels");
    const char type = lv.format();
    if (!((type == 'f' && lv.view.itemsize == 4) || (type == 'd' && lv.view.itemsize == 8)) || lv.view.ndim != 2)
        throw nb::type_error("logits: expected a 2-D float32 or float64 array");
    const char label_format = bv.format();
    if (!((label_format == 'i' && bv.view.itemsize == 4) || ((label_format == 'l' || label_format == 'q') &&
                                                             bv.view.itemsize == 8)))
        throw nb::type_error("labels: expected an int32 or int64 array");
    const long long rows = lv.view.shape[0], classes = lv.view.shape[1];
    if (bv.size() != rows) throw nb::value_error("labels: expected one label per row of logits");
    if (classes == 0) throw nb::value_error("logits: expected at least one class");
    auto checked = [&](View& v, nb::handle obj, const char* argument, long long size, bool writable) -> void* {
        if (obj.is_none()) return nullptr;
        v.acquire(obj, writable, argument);
        if (v.format() != type || v.view.itemsize != lv.view.itemsize || v.size() != size)
            throw nb::value_error((std::string(argument) + ": expected an array of the logits' dtype, " +
                                   std::to_string(size) + " elements").c_str());
        return v.view.buf;
    };
    void* loss_buf = checked(ov, loss, "loss", rows, true);
    void* g_buf = checked(gv, g, "g", rows, false);
    void* grad_buf = checked(dv, grad, "grad", rows * classes, true);
    if ((g_buf == nullptr) != (grad_buf == nullptr)) throw nb::value_error("g and grad: give both or neither");
    const NnLoops* loops = g_runtime.loops();
    const int label_bytes = int(bv.view.itemsize);
    const char* label_base = static_cast<const char*>(bv.view.buf);
    std::atomic<long long> first_bad{rows};  // the smallest bad row any range found
    nb::gil_scoped_release release;
    for_ranges(rows, rows * classes * (grad_buf ? 2 : 1), g_runtime.threads(), [&](long long b, long long e) {
        const void* lab = label_base + b * label_bytes;
        long long bad;
        if (type == 'f')
            bad = loops->xent_f(static_cast<const float*>(lv.view.buf) + b * classes, lab, label_bytes, e - b, classes,
                                g_buf ? static_cast<const float*>(g_buf) + b : nullptr,
                                loss_buf ? static_cast<float*>(loss_buf) + b : nullptr,
                                grad_buf ? static_cast<float*>(grad_buf) + b * classes : nullptr);
        else
            bad = loops->xent_d(static_cast<const double*>(lv.view.buf) + b * classes, lab, label_bytes, e - b,
                                classes, g_buf ? static_cast<const double*>(g_buf) + b : nullptr,
                                loss_buf ? static_cast<double*>(loss_buf) + b : nullptr,
                                grad_buf ? static_cast<double*>(grad_buf) + b * classes : nullptr);
        if (bad >= 0) {
            long long seen = first_bad.load();
            while (b + bad < seen && !first_bad.compare_exchange_weak(seen, b + bad)) {
            }
        }
    });
    const long long bad = first_bad.load();
    return bad < rows ? bad : -1;
}

// x and out: (rows, cols) float32/float64 of one dtype and shape.
char rows_of(View& x, View& out, const char* op, const char* x_name) {
    const char kind = x.float_kind();
    if (kind == 0 || out.float_kind() != kind || x.view.ndim != 2 || !x.same_shape(out))
        throw nb::type_error((std::string(op) + ": " + x_name + " and out must be 2-D float32 or float64 arrays of "
                              "one dtype and shape").c_str());
    return kind;
}

void softmax(nb::handle x, nb::handle out, double scale, long long causal, bool log) {
    View xv, ov;
    xv.acquire(x, false, "softmax: x");
    ov.acquire(out, true, "softmax: out");
    const char kind = rows_of(xv, ov, "softmax", "x");
    if (causal < 0) throw nb::value_error("softmax: causal must be >= 0");
    const long long rows = xv.view.shape[0], cols = xv.view.shape[1];
    const NnLoops* loops = g_runtime.loops();
    nb::gil_scoped_release release;
    for_ranges(rows, rows * cols * 4, g_runtime.threads(), [&](long long b, long long e) {
        if (kind == 'f')
            loops->softmax_f(static_cast<const float*>(xv.view.buf) + b * cols,
                             static_cast<float*>(ov.view.buf) + b * cols, e - b, cols, scale, causal, b, log);
        else
            loops->softmax_d(static_cast<const double*>(xv.view.buf) + b * cols,
                             static_cast<double*>(ov.view.buf) + b * cols, e - b, cols, scale, causal, b, log);
    });
}

void softmax_grad(nb::handle g, nb::handle y, nb::handle out, double scale, bool log) {
    View gv, yv, ov;
    gv.acquire(g, false, "softmax_grad: g");
    yv.acquire(y, false, "softmax_grad: y");
    ov.acquire(out, true, "softmax_grad: out");
    const char kind = rows_of(yv, ov, "softmax_grad", "y");
    if (gv.float_kind() != kind || !gv.same_shape(yv))
        throw nb::type_error("softmax_grad: g must have y's dtype and shape");
    const long long rows = yv.view.shape[0], cols = yv.view.shape[1];
    const NnLoops* loops = g_runtime.loops();
    nb::gil_scoped_release release;
    for_ranges(rows, rows * cols * 3, g_runtime.threads(), [&](long long b, long long e) {
        if (kind == 'f')
            loops->softmax_grad_f(static_cast<const float*>(gv.view.buf) + b * cols,
                                  static_cast<const float*>(yv.view.buf) + b * cols,
                                  static_cast<float*>(ov.view.buf) + b * cols, e - b, cols, scale, log);
        else
            loops->softmax_grad_d(static_cast<const double*>(gv.view.buf) + b * cols,
                                  static_cast<const double*>(yv.view.buf) + b * cols,
                                  static_cast<double*>(ov.view.buf) + b * cols, e - b, cols, scale, log);
    });
}

}  // namespace

void bind_classification(nb::module_& m, NnRuntime runtime) {
    g_runtime = runtime;
    m.def("sparse_xent", &sparse_xent, nb::arg("logits"), nb::arg("labels"), nb::arg("loss").none(),
          nb::arg("g").none(), nb::arg("grad").none(),
          "The sparse softmax cross-entropy of each row into `loss`, and g * (softmax - one_hot) into `grad` "
          "(either may be None). Returns -1, or the first row whose label is not in [0, classes) (nothing is "
          "meaningful then).");
    m.def("softmax", &softmax, nb::arg("x"), nb::arg("out"), nb::arg("scale") = 1.0, nb::arg("causal") = 0,
          nb::arg("log") = false,
          "Row-wise softmax (log=True: log_softmax) of z = x * scale over the last axis of 2-D x into out; "
          "causal=T > 0: row r keeps columns j <= r % T (the others are masked: 0, or -inf for log).");
    m.def("softmax_grad", &softmax_grad, nb::arg("g"), nb::arg("y"), nb::arg("out"), nb::arg("scale") = 1.0,
          nb::arg("log") = false,
          "The VJP of those rows given y: scale * y * (g - sum(g * y)), or (log) scale * (g - exp(y) * sum(g)).");
}

}  // namespace accel_cpu
