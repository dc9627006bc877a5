// Adadelta (Keras 3 form; PyTorch's is the same formula).
//
//   ag = rho * ag + (1 - rho) * g * g
//   d  = -sqrt(ad + epsilon) * g / sqrt(ag + epsilon)      (new ag, old ad)
//   ad = rho * ad + (1 - rho) * d * d
//   var += lr * d
#pragma once
#include "common.h"

namespace accel {

template <class C> struct AdadeltaParams {
    C lr, rho, epsilon;
};

struct Adadelta {
    static constexpr int kSlots = 2;    // accumulated_grad, accumulated_delta_var
    static constexpr int kScalars = 3;  // lr, rho, epsilon

    template <class C> static ACCEL_HD AdadeltaParams<C> params(const double* s) {
        return AdadeltaParams<C>{C(s[0]), C(s[1]), C(s[2])};
    }

    template <class T, class C>
    static ACCEL_HD void update(C& var, T* const* slot, long long i, C g, const AdadeltaParams<C>& k) {
        const C one_minus_rho = C(1) - k.rho;
        const C ag = k.rho * load(slot[0][i]) + one_minus_rho * g * g;
        C ad = load(slot[1][i]);
        const C d = -root(ad + k.epsilon) * g / root(ag + k.epsilon);
        ad = k.rho * ad + one_minus_rho * d * d;
        slot[0][i] = store<T>(ag);
        slot[1][i] = store<T>(ad);
        var += k.lr * d;
    }
};

}  // namespace accel
