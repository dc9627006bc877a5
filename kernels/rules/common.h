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
#define ACCEL_HD inline
#include <cmath>
#define ACCEL_GPU 0
#endif

namespace accel {

// ---- storage types and the type their math runs in ------------------------------------------
#if ACCEL_GPU
typedef __half half_t;
#elif defined(__FLT16_MAX__)
typedef _Float16 half_t;  // GCC >= 12 and Clang on x86-64/AArch64: IEEE binary16 storage
#else
#error "accel needs a compiler with _Float16 (GCC >= 12 or Clang >= 15)"
#endif

template <class T> struct compute_type { typedef float type; };
template <> struct compute_type<double> { typedef double type; };
template <class T> using compute_t = typename compute_type<T>::type;

ACCEL_HD float load(float x) { return x; }
ACCEL_HD double load(double x) { return x; }
ACCEL_HD float load(half_t x) {
#if ACCEL_GPU
    return __half2float(x);
#else
    return static_cast<float>(x);
#endif
}

template <class T> ACCEL_HD T store(compute_t<T> x);
template <> ACCEL_HD float store<float>(float x) { return x; }
template <> ACCEL_HD double store<double>(double x) { return x; }
template <> ACCEL_HD half_t store<half_t>(float x) {
#if ACCEL_GPU
    return __float2half_rn(x);
#else
    return static_cast<half_t>(x);
#endif
}

// ---- math that is the same function on host and device --------------------------------------
ACCEL_HD float rsqrt_of(float x) { return 1.0f / sqrtf(x); }
ACCEL_HD double rsqrt_of(double x) { return 1.0 / sqrt(x); }
ACCEL_HD float root(float x) { return sqrtf(x); }
ACCEL_HD double root(double x) { return sqrt(x); }
template <class C> ACCEL_HD C larger(C a, C b) { return a > b ? a : b; }
template <class C> ACCEL_HD C smaller(C a, C b) { return a < b ? a : b; }

}  // namespace accel
