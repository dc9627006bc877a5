// The neural-network loops for one instruction set (nn_loops.h states what each computes). CMake
// compiles this file once per ISA with ACCEL_ISA naming the namespace, as loops.cpp. Elementwise
// loops are plain loops the vectoriser widens, and give the same values on every ISA (no FMA
// contraction); row reductions run in the ISA's vector width, so a row's last bits may differ
// between ISAs, never between thread counts (a row is always one thread's).
#include "cpu/nn_loops.h"
#include "rules/erf32.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#ifndef ACCEL_ISA
#error "compile nn_loops.cpp with -DACCEL_ISA=<namespace>"
#endif

namespace accel_cpu {
namespace ACCEL_ISA {
namespace {

// exp for float32, vectorisable (std::exp runs one element per call: the exact GELU's VJP and the
// softmax spent most of their time there). exp(x) = 2^n exp(r), n = round(x / ln 2),
// r = x - n ln 2 in two parts (Cody and Waite), exp(r) Cephes' degree-6 polynomial on
// |r| <= ln(2) / 2: within 2 ulp of the correctly rounded value for normal results. 2^n is
// applied as two factors 2^(n >> 1) * 2^(n - (n >> 1)), so results down to the denormals stay
// right; x above ln(FLT_MAX) gives inf, below -104 gives 0, NaN gives NaN.
// The arithmetic of exp32 shared by its scalar and vector forms: for c (x clamped) returns exp(r)
// and sets t, whose low bits hold n = round(c / ln 2) (1.5 * 2^23 added rounds to an integer).
template <class F> inline F exp_reduced(F c, F& t) {
    t = c * 1.44269504088896341f + 12582912.0f;
    const F n = t - 12582912.0f;
    F r = c - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    F p = r * 1.9875691500e-4f + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    return p * (r * r) + r + 1.0f;
}

inline float exp32(float x) {
    const float c = x < -104.0f ? -104.0f : (x > 88.7228394f ? 88.7228394f : x);
    float t;
    const float p = exp_reduced(c, t);
    int32_t bits;
    std::memcpy(&bits, &t, sizeof bits);
    const int32_t k = bits - 0x4B400000, k1 = k >> 1, k2 = k - k1;
    const int32_t b1 = (k1 + 127) << 23, b2 = (k2 + 127) << 23;
    float s1, s2;
    std::memcpy(&s1, &b1, sizeof s1);
    std::memcpy(&s2, &b2, sizeof s2);
    const float y = (p * s1) * s2;
    return x > 88.7228394f ? std::numeric_limits<float>::infinity() : (x != x ? x : y);
}

inline float exp_of(float x) { return exp32(x); }
inline double exp_of(double x) { return std::exp(x); }
inline float erf_of(float x) { return accel_erf32(x); }
inline double erf_of(double x) { return std::erf(x); }

template <class T> void erf(const T* __restrict__ x, T* __restrict__ out, long long n) {
    for (long long i = 0; i < n; ++i) out[i] = erf_of(x[i]);
}

template <class T> void gelu(const T* __restrict__ x, T* __restrict__ out, long long n) {
    const T half_sqrt = T(0.7071067811865476);
    for (long long i = 0; i < n; ++i) out[i] = x[i] * (erf_of(x[i] * half_sqrt) + T(1)) * T(0.5);
}

template <class T> void gelu_grad(const T* __restrict__ g, const T* __restrict__ x, T* __restrict__ out, long long n) {
    const T half_sqrt = T(0.7071067811865476), inv_sqrt_2pi = T(0.3989422804014327);
    for (long long i = 0; i < n; ++i) {
        const T v = x[i], e = exp_of(v * v * T(-0.5));
        out[i] = g[i] * ((erf_of(v * half_sqrt) + T(1)) * T(0.5) + v * e * inv_sqrt_2pi);
    }
}

// ---- rows: the ISA's own vectors (GCC's vector types: 64 bytes with AVX-512, 32 with AVX2, 16
// otherwise; wider types than the hardware's are lowered lane by lane). GCC's vectoriser handles
// rows of a few dozen elements badly (peeling, epilogues, aliasing checks per row: a softmax over
// 64 columns ran at 2 ns per element), so the row loops say the vectors themselves; the last,
// partial vector of a row is loaded lane by lane. Row sums accumulate in double (float32 rows
// too: more exact than NumPy's float32 pairwise sums); lanes combine in a fixed tree.
#if defined(__AVX512F__)
constexpr int kBytes = 64;
#elif defined(__AVX2__)
constexpr int kBytes = 32;
#else
constexpr int kBytes = 16;
#endif
template <class T> struct VecOf {
    typedef T type __attribute__((vector_size(kBytes)));
};
template <class T> using Vec = typename VecOf<T>::type;
template <class T> constexpr int lanes() { return kBytes / int(sizeof(T)); }

template <class T> inline Vec<T> splat(T s) { return Vec<T>{} + s; }

// p[0, n) (n < lanes: the other lanes `pad`), each times `scale`
template <class T> inline Vec<T> load(const T* p, long long n, T pad, T scale = T(1)) {
    Vec<T> v;
    if (n >= lanes<T>()) {
        std::memcpy(&v, p, sizeof v);
        return scale == T(1) ? v : v * scale;
    }
    v = splat(pad);
    for (int l = 0; l < n; ++l) v[l] = p[l] * scale;
    return v;
}

template <class T> inline void store(T* p, Vec<T> v, long long n) {
    if (n >= lanes<T>()) std::memcpy(p, &v, sizeof v);
    else
        for (int l = 0; l < n; ++l) p[l] = v[l];
}

// exp32 on a vector (the same operations, lane by lane, as the scalar exp32)
inline Vec<float> exp_lanes(Vec<float> x) {
    typedef int32_t Ints __attribute__((vector_size(kBytes)));
    const Vec<float> lo = splat(-104.0f), hi = splat(88.7228394f);
    const Vec<float> c = x < lo ? lo : (x > hi ? hi : x);
    Vec<float> t;
    const Vec<float> p = exp_reduced(c, t);
    const Ints k = (Ints)t - 0x4B400000, k1 = k >> 1, k2 = k - k1;
    const Vec<float> y = (p * (Vec<float>)((k1 + 127) << 23)) * (Vec<float>)((k2 + 127) << 23);
    return x > hi ? splat(std::numeric_limits<float>::infinity()) : (x != x ? x : y);
}

inline Vec<double> exp_lanes(Vec<double> x) {
    for (int l = 0; l < lanes<double>(); ++l) x[l] = std::exp(x[l]);
    return x;
}

// Row sums: double lanes, in vectors (a float32 vector widens into two), combined in a fixed
// tree at the end.
typedef double Doubles __attribute__((vector_size(kBytes)));
#if defined(__AVX512F__)
#define ACCEL_LOW(v) __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7)
#define ACCEL_HIGH(v) __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15)
#elif defined(__AVX2__)
#define ACCEL_LOW(v) __builtin_shufflevector(v, v, 0, 1, 2, 3)
#define ACCEL_HIGH(v) __builtin_shufflevector(v, v, 4, 5, 6, 7)
#else
#define ACCEL_LOW(v) __builtin_shufflevector(v, v, 0, 1)
#define ACCEL_HIGH(v) __builtin_shufflevector(v, v, 2, 3)
#endif

inline double lanes_total(Doubles s) {  // halves added lane by lane: a tree of depth log2(lanes)
    double lane[lanes<double>()];
    std::memcpy(lane, &s, sizeof s);
    for (int w = lanes<double>() / 2; w >= 1; w /= 2)
        for (int l = 0; l < w; ++l) lane[l] += lane[l + w];
    return lane[0];
}

template <class T> struct Sums;

template <> struct Sums<float> {
    Doubles low = {}, high = {};
    void add(Vec<float> v) {
        low += __builtin_convertvector(ACCEL_LOW(v), Doubles);
        high += __builtin_convertvector(ACCEL_HIGH(v), Doubles);
    }
    double total() const { return lanes_total(low + high); }
};

template <> struct Sums<double> {
    Doubles sum = {};
    void add(Vec<double> v) { sum += v; }
    double total() const { return lanes_total(sum); }
};

// The largest lane, NaN if any is NaN (NumPy's max): a lane that meets a NaN keeps it.
template <class T> inline T nan_max(T v, T m) { return (v > m) | (v != v) ? v : m; }

template <class V> inline V nan_max_lanes(V v, V m) { return (v > m) | (v != v) ? v : m; }

template <class T> inline T largest(Vec<T> m) {
    T lane[lanes<T>()];
    std::memcpy(lane, &m, sizeof m);
    for (int w = lanes<T>() / 2; w >= 1; w /= 2)
        for (int l = 0; l < w; ++l) lane[l] = nan_max(lane[l], lane[l + w]);
    return lane[0];
}

template <class T> inline long long lanes_left(long long j, long long n) {
    return n - j < lanes<T>() ? n - j : lanes<T>();
}

// One row: z = x * scale on [0, kept), -inf after (masked); shift = max(z), or 0 when not finite
// (a row of -inf, or one holding inf or NaN: then the row's NaN or inf carries through);
// softmax = exp(z - shift) * (1 / sum), log_softmax = (z - shift) - log(sum): the values of the NumPy
// form on the masked row, NaN included.
template <class T>
void softmax_row(const T* __restrict__ x, T* __restrict__ out, long long cols, long long kept, T scale, bool log) {
    const T inf = std::numeric_limits<T>::infinity();
    Vec<T> m = splat(-inf);
    for (long long j = 0; j < kept; j += lanes<T>()) {
        const long long n = lanes_left<T>(j, kept);
        const Vec<T> z = load(x + j, n, -inf, scale);
        store(out + j, z, n);
        m = nan_max_lanes(z, m);
    }
    T shift = largest<T>(m);
    if (!std::isfinite(shift)) shift = T(0);
    Sums<T> sums;
    for (long long j = 0; j < kept; j += lanes<T>()) {
        const long long n = lanes_left<T>(j, kept);
        const Vec<T> e = exp_lanes(load(out + j, n, -inf) - shift);  // padded lanes: exp(-inf) = 0
        sums.add(e);
        if (!log) store(out + j, e, n);
    }
    const T sum = T(sums.total());
    if (log) {
        const T lse = std::log(sum);
        for (long long j = 0; j < kept; ++j) out[j] = T(out[j] - shift) - lse;
        // masked: exp(-inf) entered the sum as 0; -inf - lse is NaN where the row's lse is
        for (long long j = kept; j < cols; ++j) out[j] = -inf - lse;
        return;
    }
    const T inverse = T(1) / sum;  // a multiply per element: a divide costs several (<= 1 ulp more)
    for (long long j = 0; j < kept; j += lanes<T>()) {
        const long long n = lanes_left<T>(j, kept);
        store(out + j, load(out + j, n, T(0)) * inverse, n);
    }
    for (long long j = kept; j < cols; ++j) out[j] = T(0) * inverse;  // 0, or NaN in a row whose sum is 0 or NaN
}

template <class T>
void softmax(const T* x, T* out, long long rows, long long cols, double scale, long long causal, long long row0,
             bool log) {
    for (long long r = 0; r < rows; ++r) {
        long long kept = cols;
        if (causal > 0) {
            const long long i = (row0 + r) % causal + 1;
            kept = i < cols ? i : cols;
        }
        softmax_row(x + r * cols, out + r * cols, cols, kept, T(scale), log);
    }
}

template <class T>
void softmax_grad(const T* g, const T* y, T* out, long long rows, long long cols, double scale_d, bool log) {
    const T scale = T(scale_d);
    for (long long r = 0; r < rows; ++r) {
        const T* __restrict__ gr = g + r * cols;
        const T* __restrict__ yr = y + r * cols;
        T* __restrict__ o = out + r * cols;
        Sums<T> sums;
        for (long long j = 0; j < cols; j += lanes<T>()) {
            const long long n = lanes_left<T>(j, cols);
            sums.add(log ? load(gr + j, n, T(0)) : load(gr + j, n, T(0)) * load(yr + j, n, T(0)));
        }
        const T s = T(sums.total());  // log: sum(g); else sum(g * y)
        for (long long j = 0; j < cols; j += lanes<T>()) {
            const long long n = lanes_left<T>(j, cols);
            const Vec<T> gv = load(gr + j, n, T(0)), yv = load(yr + j, n, T(0));
            store(o + j, (log ? gv - exp_lanes(yv) * s : yv * (gv - s)) * scale, n);
        }
    }
}

// A row's mean and 1 / sqrt(var + eps) (two passes, double sums, as NumPy's moments: mean, then
// the mean of the squared deviations).
template <class T> void row_moments(const T* __restrict__ x, long long cols, double eps, T& mean, T& rstd) {
    Sums<T> sums;
    for (long long j = 0; j < cols; j += lanes<T>()) sums.add(load(x + j, lanes_left<T>(j, cols), T(0)));
    mean = T(sums.total() / double(cols));
    Sums<T> squares;
    for (long long j = 0; j < cols; j += lanes<T>()) {
        const long long n = lanes_left<T>(j, cols);
        const Vec<T> d = load(x + j, n, mean) - mean;  // padded lanes: 0
        squares.add(d * d);
    }
    rstd = T(1.0 / std::sqrt(double(T(squares.total() / double(cols))) + eps));
}

template <class T> void layer_norm(const T* x, T* out, long long rows, long long cols, double eps) {
    for (long long r = 0; r < rows; ++r) {
        const T* __restrict__ xr = x + r * cols;
        T* __restrict__ o = out + r * cols;
        T mean, rstd;
        row_moments(xr, cols, eps, mean, rstd);
        for (long long j = 0; j < cols; j += lanes<T>()) {
            const long long n = lanes_left<T>(j, cols);
            store(o + j, (load(xr + j, n, T(0)) - mean) * rstd, n);
        }
    }
}

template <class T> void layer_norm_grad(const T* g, const T* x, T* out, long long rows, long long cols, double eps) {
    for (long long r = 0; r < rows; ++r) {
        const T* __restrict__ gr = g + r * cols;
        const T* __restrict__ xr = x + r * cols;
        T* __restrict__ o = out + r * cols;
        T mean, rstd;
        row_moments(xr, cols, eps, mean, rstd);
        Sums<T> g_sum, gx_sum;
        for (long long j = 0; j < cols; j += lanes<T>()) {
            const long long n = lanes_left<T>(j, cols);
            const Vec<T> gv = load(gr + j, n, T(0)), xh = (load(xr + j, n, mean) - mean) * rstd;
            g_sum.add(gv);
            gx_sum.add(gv * xh);
        }
        const T g_mean = T(g_sum.total() / double(cols)), gx_mean = T(gx_sum.total() / double(cols));
        for (long long j = 0; j < cols; j += lanes<T>()) {
            const long long n = lanes_left<T>(j, cols);
            const Vec<T> xh = (load(xr + j, n, mean) - mean) * rstd;
            store(o + j, (load(gr + j, n, T(0)) - g_mean - xh * gx_mean) * rstd, n);
        }
    }
}

inline long long label_at(const void* labels, int bytes, long long r) {
    return bytes == 4 ? static_cast<const int32_t*>(labels)[r] : static_cast<const int64_t*>(labels)[r];
}

template <class T>
long long xent(const T* logits, const void* labels, int label_bytes, long long rows, long long classes, const T* g,
               T* loss, T* grad) {
    const T inf = std::numeric_limits<T>::infinity();
    for (long long r = 0; r < rows; ++r) {
        const T* __restrict__ x = logits + r * classes;
        const long long label = label_at(labels, label_bytes, r);
        if (label < 0 || label >= classes) return r;
        Vec<T> m = splat(-inf);
        for (long long j = 0; j < classes; j += lanes<T>()) m = nan_max_lanes(load(x + j, lanes_left<T>(j, classes), -inf), m);
        T shift = largest<T>(m);
        if (!std::isfinite(shift)) shift = T(0);
        Sums<T> sums;
        for (long long j = 0; j < classes; j += lanes<T>())
            sums.add(exp_lanes(load(x + j, lanes_left<T>(j, classes), -inf) - shift));
        const T lse = std::log(T(sums.total()));
        if (loss) loss[r] = -(T(x[label] - shift) - lse);
        if (grad) {
            T* __restrict__ out = grad + r * classes;
            const T scale = g[r];
            for (long long j = 0; j < classes; j += lanes<T>()) {
                const long long n = lanes_left<T>(j, classes);
                store(out + j, exp_lanes((load(x + j, n, T(0)) - shift) - lse) * scale, n);
            }
            out[label] = scale * (exp_of(T(T(x[label] - shift) - lse)) - T(1));
        }
    }
    return -1;
}

}  // namespace
}  // namespace ACCEL_ISA

#define ACCEL_NN_CAT2(a, b) a##b
#define ACCEL_NN_CAT(a, b) ACCEL_NN_CAT2(a, b)

// The table module.cpp picks: nn_loops_<isa>.
const NnLoops ACCEL_NN_CAT(nn_loops_, ACCEL_ISA) = {
    ACCEL_ISA::erf<float>,
    ACCEL_ISA::erf<double>,
    ACCEL_ISA::gelu<float>,
    ACCEL_ISA::gelu<double>,
    ACCEL_ISA::gelu_grad<float>,
    ACCEL_ISA::gelu_grad<double>,
    ACCEL_ISA::softmax<float>,
    ACCEL_ISA::softmax<double>,
    ACCEL_ISA::softmax_grad<float>,
    ACCEL_ISA::softmax_grad<double>,
    ACCEL_ISA::layer_norm<float>,
    ACCEL_ISA::layer_norm<double>,
    ACCEL_ISA::layer_norm_grad<float>,
    ACCEL_ISA::layer_norm_grad<double>,
    ACCEL_ISA::xent<float>,
    ACCEL_ISA::xent<double>,
};

}  // namespace accel_cpu
