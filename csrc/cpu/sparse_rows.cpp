// The rows of an IndexedSlices gradient, deduplicated (TF1's _deduplicate_indexed_slices): the
// distinct row ids in increasing order and, for each, the sum of its value rows in the order they
// come (a stable sort, then one add per row: numpy.add.at's sums, bit for bit; accel's dense
// gradient of a gather sums its rows with this too, so the two agree). NumPy's reduceat over the
// rows of a 4096 x 64 gradient took 0.9 ms (and sums a long run pairwise); this is one sort and
// one pass, threaded over the distinct rows.
#include <nanobind/nanobind.h>

#include "cpu/pool.h"
#include "cpu/view.h"
#include "rules/common.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace nb = nanobind;

namespace accel_cpu {
namespace {

int (*g_threads)() = nullptr;

template <class T> struct Add {
    static void run(T* out, const T* row, long long n) {
        for (long long j = 0; j < n; ++j) out[j] += row[j];
    }
};
template <> struct Add<uint16_t> {  // float16: each sum rounded to half, as NumPy's float16 add
    static void run(uint16_t* out, const uint16_t* row, long long n) {
        for (long long j = 0; j < n; ++j)
            out[j] = accel::float_to_half(accel::half_to_float(out[j]) + accel::half_to_float(row[j]));
    }
};

template <class T>
void sum_segments(const T* values, long long width, const std::vector<std::pair<long long, long long>>& order,
                  const std::vector<long long>& starts, T* sums, long long distinct) {
    for_ranges(distinct, (long long)order.size() * width, g_threads(), [&](long long b, long long e) {
        for (long long u = b; u < e; ++u) {
            T* out = sums + u * width;
            const long long first = starts[u], last = starts[u + 1];
            std::memcpy(out, values + order[first].second * width, sizeof(T) * width);
            for (long long k = first + 1; k < last; ++k) Add<T>::run(out, values + order[k].second * width, width);
        }
    });
}

// ids: (n,) int64; values: (n, width) float16/32/64; unique: (n,) int64 and sums: (n, width) of the
// values' dtype, written in their first `distinct` rows. Returns distinct.
long long rows_sum(nb::handle ids, nb::handle values, nb::handle unique, nb::handle sums) {
    View iv, vv, uv, sv;
    iv.acquire(ids, false, "rows_sum: ids");
    vv.acquire(values, false, "rows_sum: values");
    uv.acquire(unique, true, "rows_sum: unique");
    sv.acquire(sums, true, "rows_sum: sums");
    const char id_format = iv.format();
    if (!((id_format == 'l' || id_format == 'q') && iv.view.itemsize == 8) || uv.format() != id_format ||
        uv.view.itemsize != 8)
        throw nb::type_error("rows_sum: ids and unique must be int64 arrays");
    const char kind = vv.format();
    const bool half = kind == 'e' && vv.view.itemsize == 2;
    if (!(half || vv.float_kind()) || sv.format() != kind || sv.view.itemsize != vv.view.itemsize)
        throw nb::type_error("rows_sum: values and sums must be float16, float32 or float64 arrays of one dtype");
    const long long n = iv.size();
    if (vv.view.ndim != 2 || vv.view.shape[0] != n || uv.size() < n || sv.size() < vv.size())
        throw nb::value_error("rows_sum: values must be (n, width) for n ids, unique and sums at least as large");
    const long long width = vv.view.shape[1];
    const long long* id = static_cast<const long long*>(iv.view.buf);
    long long* out_ids = static_cast<long long*>(uv.view.buf);
    nb::gil_scoped_release release;
    std::vector<std::pair<long long, long long>> order(n);  // (id, position): sorted, ties by position
    for (long long k = 0; k < n; ++k) order[k] = {id[k], k};
    std::sort(order.begin(), order.end());
    std::vector<long long> starts;
    starts.reserve(n + 1);
    for (long long k = 0; k < n; ++k)
        if (k == 0 || order[k].first != order[k - 1].first) {
            out_ids[starts.size()] = order[k].first;
            starts.push_back(k);
        }
    const long long distinct = (long long)starts.size();
    starts.push_back(n);
    if (half)
        sum_segments(static_cast<const uint16_t*>(vv.view.buf), width, order, starts,
                     static_cast<uint16_t*>(sv.view.buf), distinct);
    else if (kind == 'f')
        sum_segments(static_cast<const float*>(vv.view.buf), width, order, starts, static_cast<float*>(sv.view.buf),
                     distinct);
    else
        sum_segments(static_cast<const double*>(vv.view.buf), width, order, starts, static_cast<double*>(sv.view.buf),
                     distinct);
    return distinct;
}

}  // namespace

void bind_sparse_rows(nb::module_& m, int (*threads)()) {
    g_threads = threads;
    m.def("rows_sum", &rows_sum, nb::arg("ids"), nb::arg("values"), nb::arg("unique"), nb::arg("sums"),
          "The distinct ids in increasing order into `unique` and, for each, the sum of its rows of `values` (in "
          "their order, one add per row: numpy.add.at's sums) into `sums`; returns how many.");
}

}  // namespace accel_cpu
