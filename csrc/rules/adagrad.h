// Adagrad and AdagradDecay (DeepRec's adagrad_decay.py): one rule, a per-variable decay flag.
//
//   AdagradDecay, on the step where t // decay_step first exceeds the variable's decay power
//   (the host decides, once per variable, and passes DECAY):
//       acc = max(acc * decay_rate, initial_accumulator_value)
//   then, for both:
//       acc += g * g
//       var -= lr * g / sqrt(acc + epsilon)     (AdagradDecay: epsilon = 0)
#pragma once
#include "common.h"

namespace accel {

template <class C> struct AdagradParams {
    C lr, epsilon, decay_rate, floor;
};

template <bool DECAY> struct Adagrad {
    static constexpr int kSlots = 1;    // slot 0: accumulator
    static constexpr int kScalars = 4;  // lr, epsilon, decay_rate, initial_accumulator_value

    template <class C> static ACCEL_HD AdagradParams<C> params(const double* s) {
        return AdagradParams<C>{C(s[0]), C(s[1]), C(s[2]), C(s[3])};
    }

    template <class T, class C>
    static ACCEL_HD void update(C& var, T* const* slot, long long i, C g, const AdagradParams<C>& k) {
        C acc = load(slot[0][i]);
        if (DECAY) acc = larger(acc * k.decay_rate, k.floor);
        acc += g * g;
        slot[0][i] = store<T>(acc);
        var -= k.lr * g / root(acc + k.epsilon);
    }
};

}  // namespace accel
