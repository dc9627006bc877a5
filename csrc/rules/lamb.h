// LAMB (Keras 3 form), first of its two passes. The optimizer then takes ||var|| and ||r|| per
// variable (the per-segment norm kernels) and applies var -= ratio * lr * r with the SGD kernel,
// ratio = ||var|| / ||r|| (1 if either is 0) as the per-variable scale.
//
//   c1 = 1 / (1 - beta_1^t),  c2 = 1 / (1 - beta_2^t)        (host, float64, once per step)
//   m += (g - m) * (1 - beta_1)
//   v += (g * g - v) * (1 - beta_2)
//   r = (m * c1) / (sqrt(v * c2) + epsilon)                   (kept in the scratch slot r)
// var is not changed here beyond the weight decay that runs before every rule, so ||var|| is
// the decayed one.
#pragma once
#include "adam.h"

namespace accel {

template <class C> struct LambParams {
    C c1, c2, one_minus_beta1, one_minus_beta2, epsilon;
};

struct LambMoments {
    static constexpr int kSlots = 3;    // momentum, velocity, r (scratch)
    static constexpr int kScalars = 5;  // c1, c2, beta_1, beta_2, epsilon
    static constexpr bool kScalarLoads = true;  // CUDA: five arrays x 16 bytes do not fit 64 registers

    template <class C> static ACCEL_HD LambParams<C> params(const double* s) {
        return LambParams<C>{C(s[0]), C(s[1]), C(1.0 - s[2]), C(1.0 - s[3]), C(s[4])};
    }

    template <class T, class C>
    static ACCEL_HD void update(C& var, T* const* slot, long long i, C g, const LambParams<C>& k) {
        C m, v;
        update_moments(slot[0], slot[1], i, g, k.one_minus_beta1, k.one_minus_beta2, m, v);
        slot[2][i] = store<T>(m * k.c1 / (root(v * k.c2) + k.epsilon));
        (void)var;
    }
};

}  // namespace accel
