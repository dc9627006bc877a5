// Shared by every rule: the ACCEL_HD qualifier, storage <-> compute conversions, math helpers.
//
// A rule is written once and compiled twice: by nvcc/NVRTC for the GPU (ACCEL_HD expands to
// __host__ __device__ __forceinline__) and by the host C++ compiler for accel._cpu (plain inline).
// Storage may be 16, 32 or 64-bit floating point; the math runs in float for 16/32-bit storage
// and in double for 64-bit storage (compute_t).
#pragma once

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define ACCEL_HD __host__ __device__ __forceinline__
#include <cuda_fp16.h>
#define ACCEL_GPU 1
#else
// Always inlined on the host: the loops only vectorise when the whole rule sits in the loop body
// (GCC left Adadelta's and Nadam's update out of line in the AVX builds: 4x slower than SSE2).
#if defined(__GNUC__) || defined(__clang__)
#define ACCEL_HD inline __attribute__((always_inline))
#else
#define ACCEL_HD inline
#endif
#include <cmath>
#include <cstdint>
#include <cstring>
#define ACCEL_GPU 0
#endif

namespace accel {

// ---- storage types and the type their math runs in ------------------------------------------
#if ACCEL_GPU
typedef __half half_t;
#else
// IEEE binary16 storage on the host. The conversions below use only integer and float32
// operations with no branches, so loops over half_t vectorise on every instruction set (GCC
// would otherwise call a scalar library routine per element for _Float16 without AVX512-FP16).
struct half_t {
    uint16_t bits;
};

inline float float_from_bits(uint32_t u) {
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

inline uint32_t bits_from_float(float f) {
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    return u;
}

// binary16 -> binary32, exact for every input (normals, subnormals, zeros, infinities, NaNs).
inline float half_to_float(uint16_t h) {
    const uint32_t word = uint32_t(h) << 16;
    const uint32_t sign = word & 0x80000000u;
    const uint32_t twice = word + word;  // exponent and mantissa, sign shifted out
    // Normal, infinite and NaN inputs: move exponent and mantissa into float32 position with a
    // rebiased exponent (+224 - 112 == +112) and undo the offset with one exact multiply.
    const float normal = float_from_bits((twice >> 4) + (0xE0u << 23)) * float_from_bits(0x7800000u);
    // Subnormal inputs: the mantissa, placed under the exponent of 0.5, minus 0.5.
    const float subnormal = float_from_bits((twice >> 17) | (126u << 23)) - 0.5f;
    const uint32_t magnitude = twice < (1u << 27) ? bits_from_float(subnormal) : bits_from_float(normal);
    return float_from_bits(sign | magnitude);
}

// binary32 -> binary16 with round-to-nearest-even (NumPy's astype(float16)); overflow gives
// infinity, NaN stays NaN.
inline uint16_t float_to_half(float f) {
    const uint32_t word = bits_from_float(f);
    const uint32_t twice = word + word;
    const uint32_t sign = word & 0x80000000u;
    // Scaling up by 2^112 and back down by 2^-110 makes float32 rounding do half's rounding
    // (and turns values too large for half into infinity).
    float rounded = (std::fabs(f) * float_from_bits(0x77800000u)) * float_from_bits(0x08800000u);
    uint32_t bias = twice & 0xFF000000u;
    bias = bias < 0x71000000u ? 0x71000000u : bias;
    rounded = float_from_bits((bias >> 1) + 0x07800000u) + rounded;
    const uint32_t bits = bits_from_float(rounded);
    const uint32_t result = ((bits >> 13) & 0x7C00u) + (bits & 0x0FFFu);
    return uint16_t((sign >> 16) | (twice > 0xFF000000u ? 0x7E00u : result));
}
#endif  // ACCEL_GPU

template <class T> struct compute_type { typedef float type; };
template <> struct compute_type<double> { typedef double type; };
template <class T> using compute_t = typename compute_type<T>::type;

ACCEL_HD float load(float x) { return x; }
ACCEL_HD double load(double x) { return x; }
ACCEL_HD float load(half_t x) {
#if ACCEL_GPU
    return __half2float(x);
#else
    return half_to_float(x.bits);
#endif
}

template <class T> ACCEL_HD T store(compute_t<T> x);
template <> ACCEL_HD float store<float>(float x) { return x; }
template <> ACCEL_HD double store<double>(double x) { return x; }
template <> ACCEL_HD half_t store<half_t>(float x) {
#if ACCEL_GPU
    return __float2half_rn(x);
#else
    return half_t{float_to_half(x)};
#endif
}

// ---- math that is the same function on host and device --------------------------------------
ACCEL_HD float rsqrt_of(float x) { return 1.0f / sqrtf(x); }
ACCEL_HD double rsqrt_of(double x) { return 1.0 / sqrt(x); }
ACCEL_HD float root(float x) { return sqrtf(x); }
ACCEL_HD double root(double x) { return sqrt(x); }
template <class C> ACCEL_HD C larger(C a, C b) { return a > b ? a : b; }
template <class C> ACCEL_HD C smaller(C a, C b) { return a < b ? a : b; }
template <class C> ACCEL_HD C magnitude(C x) { return x < C(0) ? -x : x; }
// -1, 0 or 1, and NaN for NaN (Keras's ops.sign).
template <class C> ACCEL_HD C sign_of(C x) { return x != x ? x : C(x > C(0)) - C(x < C(0)); }
ACCEL_HD float power(float x, float y) { return powf(x, y); }
ACCEL_HD double power(double x, double y) { return pow(x, y); }

}  // namespace accel
