// Stand-in for CUDA's <cuda_fp16.h> under the CPU emulation of the CUDA kernels (cuda_emu.h).
//
// __half is two bytes of IEEE binary16, converted with the compiler's own _Float16: an
// implementation independent of csrc/rules/common.h's host conversions, so the bit-for-bit
// comparison with accel._cpu checks those too. Both round to nearest even, as __float2half_rn does.
#pragma once
#include <cstdint>
#include <cstring>

struct __half {
    uint16_t bits;
};

inline float __half2float(__half h) {
    _Float16 f;
    std::memcpy(&f, &h.bits, sizeof f);
    return float(f);
}

inline __half __float2half_rn(float x) {
    const _Float16 f = _Float16(x);
    __half h;
    std::memcpy(&h.bits, &f, sizeof h.bits);
    return h;
}
