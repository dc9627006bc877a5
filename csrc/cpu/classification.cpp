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
#include <nanobind/nanobind.h>

#include "cpu/view.h"

#include <cmath>
#include <cstdint>
#include <string>

namespace nb = nanobind;

namespace accel_cpu {
namespace {

long long label_at(const void* labels, char format, long long r) {
    switch (format) {
        case 'i': return static_cast<const int32_t*>(labels)[r];
        case 'l':
        case 'q': return static_cast<const int64_t*>(labels)[r];
        default: return -1;
    }
}

// Returns the first row whose label is outside [0, classes), or -1.
template <class T>
long long rows_loop(const T* logits, const void* labels, char label_format, long long rows, long long classes,
                    const T* g, T* loss, T* grad) {
    for (long long r = 0; r < rows; ++r) {
        const T* x = logits + r * classes;
        const long long label = label_at(labels, label_format, r);
        if (label < 0 || label >= classes) return r;
        T shift = x[0];  // the row's maximum; a NaN anywhere makes it NaN, as NumPy's max
        for (long long j = 1; j < classes && shift == shift; ++j)
            if (x[j] > shift || x[j] != x[j]) shift = x[j];
        if (!std::isfinite(shift)) shift = T(0);
        double sum = 0.0;
        for (long long j = 0; j < classes; ++j) sum += double(std::exp(T(x[j] - shift)));
        const T lse = T(std::log(T(sum)));
        if (loss) loss[r] = -(T(x[label] - shift) - lse);
        if (grad) {
            T* out = grad + r * classes;
            const T scale = g[r];
            for (long long j = 0; j < classes; ++j) {
                T p = std::exp(T(T(x[j] - shift) - lse));
                if (j == label) p -= T(1);
                out[j] = scale * p;
            }
        }
    }
    return -1;
}

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
    nb::gil_scoped_release release;
    if (type == 'f')
        return rows_loop(static_cast<const float*>(lv.view.buf), bv.view.buf, label_format, rows, classes,
                         static_cast<const float*>(g_buf), static_cast<float*>(loss_buf), static_cast<float*>(grad_buf));
    return rows_loop(static_cast<const double*>(lv.view.buf), bv.view.buf, label_format, rows, classes,
                     static_cast<const double*>(g_buf), static_cast<double*>(loss_buf), static_cast<double*>(grad_buf));
}

}  // namespace

void bind_classification(nb::module_& m) {
    m.def("sparse_xent", &sparse_xent, nb::arg("logits"), nb::arg("labels"), nb::arg("loss").none(),
          nb::arg("g").none(), nb::arg("grad").none(),
          "The sparse softmax cross-entropy of each row into `loss`, and g * (softmax - one_hot) into `grad` "
          "(either may be None). Returns -1, or the first row whose label is not in [0, classes) (nothing is "
          "meaningful then).");
}

}  // namespace accel_cpu
