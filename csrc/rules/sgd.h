// SGD, momentum and Nesterov momentum: one rule, two flags (Keras 3 form).
//
//   momentum == 0:  var -= lr * g
//   else:           m = momentum * m - lr * g
//                   nesterov: var += momentum * m - lr * g
//                   else:     var += m
#pragma once
#include "common.h"

namespace accel {

template <class C> struct SgdParams {
    C lr, momentum;
};

template <bool MOMENTUM, bool NESTEROV> struct Sgd {
    static constexpr int kSlots = MOMENTUM ? 1 : 0;  // slot 0: momentum
    static constexpr int kScalars = 2;               // lr, momentum

    template <class C> static ACCEL_HD SgdParams<C> params(const double* s) {
        return SgdParams<C>{C(s[0]), C(s[1])};
    }

    template <class T, class C>
    static ACCEL_HD void update(C& var, T* const* slot, long long i, C g, const SgdParams<C>& k) {
        if (!MOMENTUM) {
            var -= k.lr * g;
        } else {
            C m = k.momentum * load(slot[0][i]) - k.lr * g;
            var += NESTEROV ? k.momentum * m - k.lr * g : m;
            slot[0][i] = store<T>(m);
        }
    }
};

}  // namespace accel
