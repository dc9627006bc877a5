// Nadam (Keras 3 form). The host computes, once per step, in float64 (u_product is the running
// product of u_k = beta_1 * (1 - 0.5 * 0.96^k) over k = 1..t):
//   u_t = beta_1 * (1 - 0.5 * 0.96^t),  u_t1 = beta_1 * (1 - 0.5 * 0.96^(t+1))
//   s  = sqrt(1 / (1 - beta_2^t))                            (v_hat = v * s^2)
//   a  = lr * u_t1 / (1 - u_product * u_t1) / s,  b = lr * (1 - u_t) / (1 - u_product) / s
//   e  = epsilon / s
// so that  m_hat * lr / (sqrt(v_hat) + epsilon) = (a * m + b * g) / (sqrt(v) + e). Per element:
//   m += (g - m) * (1 - beta_1)
//   v += (g * g - v) * (1 - beta_2)
//   var -= (a * m + b * g) / (sqrt(v) + e)
#pragma once
#include "adam.h"

namespace accel {

template <class C> struct NadamParams {
    C a, b, e, one_minus_beta1, one_minus_beta2;
};

struct Nadam {
    static constexpr int kSlots = 2;    // momentum, velocity
    static constexpr int kScalars = 5;  // a, b, e, beta_1, beta_2

    template <class C> static ACCEL_HD NadamParams<C> params(const double* s) {
        return NadamParams<C>{C(s[0]), C(s[1]), C(s[2]), C(1.0 - s[3]), C(1.0 - s[4])};
    }

    template <class T, class C>
    static ACCEL_HD void update(C& var, T* const* slot, long long i, C g, const NadamParams<C>& k) {
        C m, v;
        update_moments(slot[0], slot[1], i, g, k.one_minus_beta1, k.one_minus_beta2, m, v);
        var -= (k.a * m + k.b * g) / (root(v) + k.e);
    }
};

}  // namespace accel
