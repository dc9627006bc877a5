// FTRL-proximal (Keras 3 form). p = learning_rate_power (<= 0), n = accumulator, z = linear;
// l2r = l2 + beta / (2 * lr) is computed on the host.
//
//   gs = g + 2 * l2_shrinkage * var
//   n1 = n + g * g                                   (the raw gradient, not gs)
//   z += gs - (n1^(-p) - n^(-p)) / lr * var
//   var = (clip(z, -l1, l1) - z) / (n1^(-p) / lr + 2 * l2r)
//   n = n1
#pragma once
#include "common.h"

namespace accel {

template <class C> struct FtrlParams {
    C lr, power, l1, l2r, l2_shrinkage;
};

// SQRT: learning_rate_power == -0.5 (the default), n^(-p) = sqrt(n): vectorised; a general power
// calls pow per element (no vector pow without -ffast-math), about 20x slower.
template <bool SQRT> struct Ftrl {
    static constexpr int kSlots = 2;    // accumulator, linear
    static constexpr int kScalars = 5;  // lr, learning_rate_power, l1, l2 + beta / (2 lr), l2_shrinkage
    static constexpr bool kScalarLoads = true;  // CUDA: the 16-byte path spills float64 at 64 registers

    template <class C> static ACCEL_HD FtrlParams<C> params(const double* s) {
        return FtrlParams<C>{C(s[0]), C(-s[1]), C(s[2]), C(s[3]), C(s[4])};
    }

    template <class T, class C>
    static ACCEL_HD void update(C& var, T* const* slot, long long i, C g, const FtrlParams<C>& k) {
        const C n = load(slot[0][i]);
        const C n1 = n + g * g;
        const C gs = g + C(2) * k.l2_shrinkage * var;
        const C n1_pow = SQRT ? root(n1) : power(n1, k.power);
        const C n_pow = SQRT ? root(n) : power(n, k.power);
        C z = load(slot[1][i]) + gs - (n1_pow - n_pow) / k.lr * var;
        slot[0][i] = store<T>(n1);
        slot[1][i] = store<T>(z);
        var = (smaller(larger(z, -k.l1), k.l1) - z) / (n1_pow / k.lr + C(2) * k.l2r);
    }
};

}  // namespace accel
