// Adamax (Keras 3 form).
//
//   lr_t = lr / (1 - beta_1^t)                               (host, float64, once per step)
//   m += (g - m) * (1 - beta_1)
//   u = max(beta_2 * u, |g|)
//   var -= lr_t * m / (u + epsilon)
#pragma once
#include "common.h"

namespace accel {

template <class C> struct AdamaxParams {
    C lr_t, one_minus_beta1, beta2, epsilon;
};

struct Adamax {
    static constexpr int kSlots = 2;    // momentum, norm
    static constexpr int kScalars = 4;  // lr_t, beta_1, beta_2, epsilon

    template <class C> static ACCEL_HD AdamaxParams<C> params(const double* s) {
        return AdamaxParams<C>{C(s[0]), C(1.0 - s[1]), C(s[2]), C(s[3])};
    }

    template <class T, class C>
    static ACCEL_HD void update(C& var, T* const* slot, long long i, C g, const AdamaxParams<C>& k) {
        C m = load(slot[0][i]);
        m += (g - m) * k.one_minus_beta1;
        const C u = larger(k.beta2 * load(slot[1][i]), magnitude(g));
        slot[0][i] = store<T>(m);
        slot[1][i] = store<T>(u);
        var -= k.lr_t * m / (u + k.epsilon);
    }
};

}  // namespace accel
