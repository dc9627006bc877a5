// The sliding-window copies of convolution and pooling on the CPU (accel/ops/windows.py holds the
// layout and the NumPy form these must equal; accel/ops/cuda_windows.py the CUDA kernels):
//
//   extract (im2col): cols[g, (n, oy, ox), (ky, kx, cg)] = x[n, oy*SH - PT + ky*DH, ox*SW - PL + kx*DW, g*Cg + cg]
//                     (pad_value outside x)
//   fold (col2im):    x[n, y, xx, g*Cg + cg] = sum of the cols entries that copied that element
//
// NumPy does fold as one strided add per tap (KH*KW passes over a canvas, each reading cols with a
// stride of KH*KW*Cg elements): 11 ms for a 3x3 conv's input gradient at batch 32, 32x32, 16
// channels, more than its three GEMMs together. Here each window's taps are added where they
// belong in one sequential read of cols, batch images in parallel (each writes only its own
// image, so the sums are the same whatever thread ran them). float32 / float64 C-contiguous
// arrays; the caller allocates `out` (fold: zeroed).
#include <nanobind/nanobind.h>

#include "cpu/pool.h"
#include "cpu/view.h"

#include <cstring>
#include <functional>
#include <string>

namespace nb = nanobind;

namespace accel_cpu {
namespace {

struct Geometry {
    long long n, h, w, c, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl, groups;
};

Geometry geometry_of(nb::tuple g) {
    if (g.size() != 15) throw nb::value_error("windows: geometry must be 15 ints");
    long long v[15];
    for (size_t i = 0; i < 15; ++i) v[i] = nb::cast<long long>(g[i]);
    return {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13], v[14]};
}

template <class T> void extract_image(const T* x, T* cols, const Geometry& q, long long b, long long g, T pad) {
    const long long cg = q.c / q.groups, positions = q.n * q.oh * q.ow, row = q.kh * q.kw * cg;
    T* out = cols + (g * positions + b * q.oh * q.ow) * row;
    for (long long oy = 0; oy < q.oh; ++oy)
        for (long long ox = 0; ox < q.ow; ++ox)
            for (long long ky = 0; ky < q.kh; ++ky) {
                const long long y = oy * q.sh - q.pt + ky * q.dh;
                for (long long kx = 0; kx < q.kw; ++kx, out += cg) {
                    const long long xx = ox * q.sw - q.pl + kx * q.dw;
                    if (y < 0 || y >= q.h || xx < 0 || xx >= q.w) {
                        for (long long i = 0; i < cg; ++i) out[i] = pad;
                        continue;
                    }
                    const T* src = x + ((b * q.h + y) * q.w + xx) * q.c + g * cg;
                    if (cg == 1) *out = *src;
                    else std::memcpy(out, src, sizeof(T) * cg);
                }
            }
}

template <class T> void fold_image(const T* cols, T* x, const Geometry& q, long long b) {
    const long long cg = q.c / q.groups, positions = q.n * q.oh * q.ow, row = q.kh * q.kw * cg;
    for (long long g = 0; g < q.groups; ++g) {
        const T* in = cols + (g * positions + b * q.oh * q.ow) * row;
        for (long long oy = 0; oy < q.oh; ++oy)
            for (long long ox = 0; ox < q.ow; ++ox)
                for (long long ky = 0; ky < q.kh; ++ky) {
                    const long long y = oy * q.sh - q.pt + ky * q.dh;
                    for (long long kx = 0; kx < q.kw; ++kx, in += cg) {
                        const long long xx = ox * q.sw - q.pl + kx * q.dw;
                        if (y < 0 || y >= q.h || xx < 0 || xx >= q.w) continue;
                        T* dst = x + ((b * q.h + y) * q.w + xx) * q.c + g * cg;
                        for (long long i = 0; i < cg; ++i) dst[i] += in[i];
                    }
                }
    }
}

int (*g_threads)() = nullptr;

// The arrays of one call: float32 or float64 alike, and the sizes the geometry implies.
void check(const View& image, const View& cols, const Geometry& q, const char* op) {
    if (image.float_kind() == 0 || image.float_kind() != cols.float_kind())
        throw nb::type_error((std::string(op) + ": expected two float32 or two float64 arrays").c_str());
    if (image.size() != q.n * q.h * q.w * q.c || cols.size() != q.n * q.oh * q.ow * q.kh * q.kw * q.c)
        throw nb::value_error((std::string(op) + ": array sizes do not match the geometry").c_str());
}

void extract(nb::handle x, nb::handle cols, nb::tuple geometry, double pad) {
    const Geometry q = geometry_of(geometry);
    View xv, cv;
    xv.acquire(x, false, "extract_windows: x");
    cv.acquire(cols, true, "extract_windows: cols");
    check(xv, cv, q, "extract_windows");
    const char kind = xv.float_kind();
    const void* xp = xv.view.buf;
    void* cp = cv.view.buf;
    const std::function<void(long long)> task = [&](long long t) {
        const long long g = t / q.n, b = t % q.n;
        if (kind == 'f') extract_image(static_cast<const float*>(xp), static_cast<float*>(cp), q, b, g, float(pad));
        else extract_image(static_cast<const double*>(xp), static_cast<double*>(cp), q, b, g, pad);
    };
    nb::gil_scoped_release release;
    pool().run(q.groups * q.n, cv.size() < (1 << 15) ? 1 : g_threads(), task);
}

void fold(nb::handle cols, nb::handle x, nb::tuple geometry) {
    const Geometry q = geometry_of(geometry);
    View cv, xv;
    cv.acquire(cols, false, "fold_windows: cols");
    xv.acquire(x, true, "fold_windows: x");
    check(xv, cv, q, "fold_windows");
    const char kind = xv.float_kind();
    const void* cp = cv.view.buf;
    void* xp = xv.view.buf;
    const std::function<void(long long)> task = [&](long long b) {
        if (kind == 'f') fold_image(static_cast<const float*>(cp), static_cast<float*>(xp), q, b);
        else fold_image(static_cast<const double*>(cp), static_cast<double*>(xp), q, b);
    };
    nb::gil_scoped_release release;
    pool().run(q.n, cv.size() < (1 << 15) ? 1 : g_threads(), task);
}

}  // namespace

void bind_windows(nb::module_& m, int (*threads)()) {
    g_threads = threads;
    m.def("extract_windows", &extract, nb::arg("x"), nb::arg("cols"), nb::arg("geometry"), nb::arg("pad_value"),
          "im2col: cols (G, P, KH*KW*Cg) of the NHWC array x; geometry (n, h, w, c, oh, ow, kh, kw, sh, sw, dh, dw, "
          "pt, pl, groups).");
    m.def("fold_windows", &fold, nb::arg("cols"), nb::arg("x"), nb::arg("geometry"),
          "col2im: adds every entry of cols onto the element of the zeroed NHWC array x it was copied from.");
}

}  // namespace accel_cpu
