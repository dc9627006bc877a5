// Lion (Keras 3 form).
//
//   var -= lr * sign(beta_1 * m + (1 - beta_1) * g)
//   m = beta_2 * m + (1 - beta_2) * g
#pragma once
#include "common.h"

namespace accel {

template <class C> struct LionParams {
    C lr, beta1, beta2;
};

struct Lion {
    static constexpr int kSlots = 1;    // momentum
    static constexpr int kScalars = 3;  // lr, beta_1, beta_2

    template <class C> static ACCEL_HD LionParams<C> params(const double* s) {
        return LionParams<C>{C(s[0]), C(s[1]), C(s[2])};
    }

    template <class T, class C>
    static ACCEL_HD void update(C& var, T* const* slot, long long i, C g, const LionParams<C>& k) {
        const C m = load(slot[0][i]);
        var -= k.lr * sign_of(k.beta1 * m + (C(1) - k.beta1) * g);
        slot[0][i] = store<T>(k.beta2 * m + (C(1) - k.beta2) * g);
    }
};

}  // namespace accel
