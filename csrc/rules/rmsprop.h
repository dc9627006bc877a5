// RMSprop: one rule, flags for the centered and momentum variants (Keras 3 form).
//
//   rms = rho * rms + (1 - rho) * g * g
//   centered: mg = rho * mg + (1 - rho) * g;  d = rms - mg * mg + epsilon
//   else:     d = rms + epsilon
//   inc = lr * g / sqrt(d)
//   momentum: mom = momentum * mom + inc;  var -= mom
//   else:     var -= inc
#pragma once
#include "common.h"

namespace accel {

template <class C> struct RmspropParams {
    C lr, rho, momentum, epsilon;
};

template <bool CENTERED, bool MOMENTUM> struct Rmsprop {
    // slot 0: rms; then momentum (if MOMENTUM); then mg (if CENTERED)
    static constexpr int kSlots = 1 + (MOMENTUM ? 1 : 0) + (CENTERED ? 1 : 0);
    static constexpr int kScalars = 4;  // lr, rho, momentum, epsilon

    template <class C> static ACCEL_HD RmspropParams<C> params(const double* s) {
        return RmspropParams<C>{C(s[0]), C(s[1]), C(s[2]), C(s[3])};
    }

    template <class T, class C>
    static ACCEL_HD void update(C& var, T* const* slot, long long i, C g, const RmspropParams<C>& k) {
        const C one_minus_rho = C(1) - k.rho;
        C rms = k.rho * load(slot[0][i]) + one_minus_rho * g * g;
        slot[0][i] = store<T>(rms);
        C d = rms + k.epsilon;
        if (CENTERED) {
            T* mg_slot = slot[MOMENTUM ? 2 : 1];
            C mg = k.rho * load(mg_slot[i]) + one_minus_rho * g;
            mg_slot[i] = store<T>(mg);
            d = rms - mg * mg + k.epsilon;
        }
        C inc = k.lr * g / root(d);
        if (MOMENTUM) {
            C mom = k.momentum * load(slot[1][i]) + inc;
            slot[1][i] = store<T>(mom);
            inc = mom;
        }
        var -= inc;
    }
};

}  // namespace accel
