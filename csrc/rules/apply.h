// The per-element update every optimizer shares (apply_update), around its rule:
//
//   g = gradient * segment_scale * global_scale     (clipnorm per tensor; clip_by_global_norm)
//   CLIP:  g = min(max(g, -clip_value), clip_value)  (clipvalue)
//   DECAY: var -= var * weight_decay * lr            (decoupled weight decay, Keras/AdamW)
//   the rule's update of var (and of its slots)
//
// and, when the optimizer has them (Keras's gradient_accumulation_steps and use_ema):
//
//   ACCUMULATE (a call that only accumulates):  acc += gradient * grad_scale
//   MEAN (the S-th call):  gradient = (gradient * grad_scale + acc) / S;  then the above;  acc = 0
//   EMA (after the update): average = momentum * average + (1 - momentum) * var
//                           overwrite (every ema_overwrite_frequency steps): var = average
//
// var is loaded once and stored once, in the compute type in between: 16-bit storage is rounded
// once per step, and a loop may hand the rule float copies of half storage (the F16C block path
// of csrc/cpu/loops.cpp) with bit-identical results.
//
// The loops in csrc/cpu and csrc/cuda call `apply_update` and contain no math of their own.
#pragma once
#include "common.h"

namespace accel {

// Grad-side settings of one launch, in the compute type.
template <class C> struct GradPrep {
    C global_scale;  // from clip_by_global_norm, or 1
    C clip_value;    // used when CLIP
    C decay;         // weight_decay * lr, used when DECAY
};

// clip_by_global_norm's factor: clip / max(norm, clip), and NaN when the norm is inf or NaN
// (TensorFlow: every output is NaN then). 1 when clip_norm <= 0 (no clipping).
ACCEL_HD double global_clip_scale(double norm_sq, double clip_norm) {
    if (!(clip_norm > 0)) return 1.0;
    double norm = sqrt(norm_sq);
    return clip_norm / (norm > clip_norm ? norm : clip_norm) + (norm - norm);
}

template <class Rule, bool CLIP, bool DECAY, class T, class G, class C>
ACCEL_HD void apply_update(T* p, T* const* slot, long long i, G grad, C segment_scale, const GradPrep<C>& prep,
                   const decltype(Rule::template params<C>(nullptr))& k) {
    C g = load(grad) * segment_scale * prep.global_scale;
    if (CLIP) g = smaller(larger(g, -prep.clip_value), prep.clip_value);
    C var = load(p[i]);
    if (DECAY) var -= var * prep.decay;
    Rule::update(var, slot, i, g, k);
    p[i] = store<T>(var);
}

// Gradient accumulation: a call that does not update adds its (unscaled) gradient.
template <class T, class C> ACCEL_HD void accumulate(T& acc, C g) { acc = store<T>(load(acc) + g); }

// The update call's gradient: the mean of the S accumulated gradients, as Keras forms it,
// (g + acc) / S in the variable's dtype (a division, so S = 3 gives Keras's bits). The loops
// restart the accumulator at 0 after the rule has read the mean.
template <class T, class C> ACCEL_HD T accumulated_mean(C g, T acc, C steps) { return store<T>((g + load(acc)) / steps); }

// The exponential moving average of a variable after its update (Keras's use_ema; momentum is 0
// on the first step, so the average starts at the variable). With `overwrite` the variable takes
// the stored average.
template <class T, class C> ACCEL_HD void moving_average(T& var, T& average, C momentum, bool overwrite) {
    const C a = momentum * load(average) + (C(1) - momentum) * load(var);
    average = store<T>(a);
    if (overwrite) var = average;
}

}  // namespace accel
