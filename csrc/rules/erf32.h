// erf for float32, vectorisable: erf(x) = x * P(x^2) / Q(x^2) on [-4, 4] (a rational fit of
// erf(x) / x in t = x^2, degrees 6 / 4, coefficients rounded to float32; beyond +-4 erf is 1 in
// float32), evaluated in float32 with Horner's rule. Largest error over [-4, 4]: 3.6e-7 relative
// (about 6 ulp), the accuracy class of TensorFlow's float32 erf (a rational approximation too);
// std::erf would be within an ulp but runs scalar, about ten times slower in the exact GELU.
// The CPU loops (csrc/cpu/activations.cpp) and the CUDA kernel (accel/ops/cuda_math.py, which
// prepends this file to its source) share it, so both devices give the same float32 values.
// Self-contained: NVRTC compiles it from a string, without the other headers.
#pragma once

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define ACCEL_ERF32_HD __host__ __device__ __forceinline__
#else
#define ACCEL_ERF32_HD inline
#endif

ACCEL_ERF32_HD float accel_erf32(float x) {
    const float c = x < -4.0f ? -4.0f : (x > 4.0f ? 4.0f : x);  // NaN passes through
    const float t = c * c;
    float p = 1.9321453e-08f;
    p = p * t - 1.9366407e-06f;
    p = p * t + 0.00014387757f;
    p = p * t + 0.0038359473f;
    p = p * t + 0.05102391f;
    p = p * t + 0.20342137f;
    p = p * t + 1.1283791f;
    float q = 0.0009847117f;
    q = q * t + 0.014639006f;
    q = q * t + 0.11643109f;
    q = q * t + 0.5136091f;
    q = q * t + 1.0f;
    const float y = c * p / q;
    return y > 1.0f ? 1.0f : (y < -1.0f ? -1.0f : y);
}
