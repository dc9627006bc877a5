// THE list of fused update kernels: one line per rule variant. The CPU loops (csrc/cpu), the
// module's rule table and `accel._cpu.rules()`, the CUDA explicit instantiations (csrc/cuda)
// and Python's tables (accel.kernels.RULES, the CUDA name expressions) all come from it.
//
// Adding an optimizer: a header with its rule struct (formula over the code), its include and
// type aliases here, one X line, and a small Python class (docs/optimizers.md).
//
// X(id, family, flags, Off, On, slots, scalars):
//   id       the kernel's name (a C++ identifier; Python's key)
//   family   the optimizer family; flags: its variant's named flags, space-separated
//   Off, On  the rule for a variable whose per-step flag is clear / set (AdagradDecay decays
//            the flagged variables' accumulators); the same type for rules without flags
//   slots    the slot names, space-separated, in the rule's slot order
//   scalars  the per-step scalars, space-separated, in the rule's order
#pragma once
#include "adadelta.h"
#include "adagrad.h"
#include "adam.h"
#include "adamax.h"
#include "ftrl.h"
#include "lamb.h"
#include "lion.h"
#include "nadam.h"
#include "rmsprop.h"
#include "sgd.h"

namespace accel {
using SgdPlain = Sgd<false, false>;
using SgdMomentum = Sgd<true, false>;
using SgdNesterov = Sgd<true, true>;
using AdagradPlain = Adagrad<false>;
using AdagradDecaying = Adagrad<true>;
using RmspropPlain = Rmsprop<false, false>;
using RmspropCentered = Rmsprop<true, false>;
using RmspropMomentum = Rmsprop<false, true>;
using RmspropCenteredMomentum = Rmsprop<true, true>;
using AdamPlain = Adam<false>;
using AdamAmsgrad = Adam<true>;
using FtrlPower = Ftrl<false>;
using FtrlSqrt = Ftrl<true>;
}  // namespace accel

#define ACCEL_RULES(X)                                                                                       \
    X(sgd, "sgd", "", SgdPlain, SgdPlain, "", "lr momentum")                                                 \
    X(sgd_momentum, "sgd", "momentum", SgdMomentum, SgdMomentum, "momentum", "lr momentum")                  \
    X(sgd_nesterov, "sgd", "momentum nesterov", SgdNesterov, SgdNesterov, "momentum", "lr momentum")         \
    X(adagrad, "adagrad", "", AdagradPlain, AdagradDecaying, "accumulator", "lr epsilon decay_rate floor")    \
    X(rmsprop, "rmsprop", "", RmspropPlain, RmspropPlain, "rms", "lr rho momentum epsilon")                   \
    X(rmsprop_centered, "rmsprop", "centered", RmspropCentered, RmspropCentered, "rms mg",                    \
      "lr rho momentum epsilon")                                                                             \
    X(rmsprop_momentum, "rmsprop", "momentum", RmspropMomentum, RmspropMomentum, "rms momentum",              \
      "lr rho momentum epsilon")                                                                             \
    X(rmsprop_centered_momentum, "rmsprop", "centered momentum", RmspropCenteredMomentum,                     \
      RmspropCenteredMomentum, "rms momentum mg", "lr rho momentum epsilon")                                 \
    X(adam, "adam", "", AdamPlain, AdamPlain, "m v", "alpha beta_1 beta_2 epsilon")                           \
    X(adam_amsgrad, "adam", "amsgrad", AdamAmsgrad, AdamAmsgrad, "m v vhat", "alpha beta_1 beta_2 epsilon")     \
    X(adadelta, "adadelta", "", Adadelta, Adadelta, "accumulated_grad accumulated_delta_var", "lr rho epsilon") \
    X(adamax, "adamax", "", Adamax, Adamax, "momentum norm", "lr_t beta_1 beta_2 epsilon")                     \
    X(nadam, "nadam", "", Nadam, Nadam, "momentum velocity", "a b e beta_1 beta_2")                            \
    X(ftrl, "ftrl", "", FtrlPower, FtrlPower, "accumulator linear", "lr learning_rate_power l1 l2r l2_shrinkage") \
    X(ftrl_sqrt, "ftrl", "sqrt", FtrlSqrt, FtrlSqrt, "accumulator linear",                                      \
      "lr learning_rate_power l1 l2r l2_shrinkage")                                                           \
    X(lion, "lion", "", Lion, Lion, "momentum", "lr beta_1 beta_2")                                            \
    X(lamb, "lamb", "", LambMoments, LambMoments, "momentum velocity r", "c1 c2 beta_1 beta_2 epsilon")

namespace accel {
// Words in a space-separated list: the registry's names must match each rule's counts.
constexpr int count_words(const char* s) {
    int n = 0;
    bool in_word = false;
    for (; *s; ++s) {
        const bool letter = *s != ' ';
        if (letter && !in_word) ++n;
        in_word = letter;
    }
    return n;
}

#define ACCEL_CHECK_RULE(id, family, flags, Off, On, slots, scalars)                              \
    static_assert(Off::kSlots == count_words(slots) && On::kSlots == Off::kSlots,                \
                  #id ": the slot names do not match the rule's slot count");                    \
    static_assert(Off::kScalars == count_words(scalars) && Off::kScalars <= 8,                   \
                  #id ": the scalar names do not match the rule's scalar count (at most 8)");
ACCEL_RULES(ACCEL_CHECK_RULE)
#undef ACCEL_CHECK_RULE
}  // namespace accel
