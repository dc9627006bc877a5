// Adam, AMSGrad and (with the decoupled weight decay of apply.h) AdamW: one rule, one flag.
// TF1 / Keras 3 form with "epsilon hat" (not PyTorch's epsilon placement):
//
//   alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)      (host, float64, once per step)
//   m += (g - m) * (1 - beta_1)
//   v += (g * g - v) * (1 - beta_2)
//   amsgrad: vhat = max(vhat, v), and vhat replaces v below
//   var -= alpha * m / (sqrt(v) + epsilon)
#pragma once
#include "common.h"

namespace accel {

template <class C> struct AdamParams {
    C alpha, one_minus_beta1, one_minus_beta2, epsilon;
};

template <bool AMSGRAD> struct Adam {
    static constexpr int kSlots = AMSGRAD ? 3 : 2;  // m, v, vhat
    static constexpr int kScalars = 4;             // alpha, beta_1, beta_2, epsilon

    template <class C> static ACCEL_HD AdamParams<C> params(const double* s) {
        return AdamParams<C>{C(s[0]), C(1.0 - s[1]), C(1.0 - s[2]), C(s[3])};
    }

    template <class T, class C>
    static ACCEL_HD void update(C& var, T* const* slot, long long i, C g, const AdamParams<C>& k) {
        C m = load(slot[0][i]);
        C v = load(slot[1][i]);
        m += (g - m) * k.one_minus_beta1;
        v += (g * g - v) * k.one_minus_beta2;
        slot[0][i] = store<T>(m);
        slot[1][i] = store<T>(v);
        if (AMSGRAD) {
            v = larger(load(slot[2][i]), v);
            slot[2][i] = store<T>(v);
        }
        var -= k.alpha * m / (root(v) + k.epsilon);
    }
};

}  // namespace accel
