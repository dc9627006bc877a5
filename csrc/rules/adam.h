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

// The first and second moments of Adam-style rules (Adam, Nadam, LAMB), updated in their slots:
//   m += (g - m) * (1 - beta_1);  v += (g * g - v) * (1 - beta_2)
template <class T, class C>
ACCEL_HD void update_moments(T* m_slot, T* v_slot, long long i, C g, C one_minus_beta1, C one_minus_beta2, C& m,
                             C& v) {
    m = load(m_slot[i]);
    v = load(v_slot[i]);
    m += (g - m) * one_minus_beta1;
    v += (g * g - v) * one_minus_beta2;
    m_slot[i] = store<T>(m);
    v_slot[i] = store<T>(v);
}

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
        C m, v;
        update_moments(slot[0], slot[1], i, g, k.one_minus_beta1, k.one_minus_beta2, m, v);
        if (AMSGRAD) {
            v = larger(load(slot[2][i]), v);
            slot[2][i] = store<T>(v);
        }
        var -= k.alpha * m / (root(v) + k.epsilon);
    }
};

}  // namespace accel
