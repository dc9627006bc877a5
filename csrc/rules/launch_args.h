// What one fused optimizer launch does besides its per-variable arrays: ONE description, read by
// the CPU loops (csrc/cpu, handed over by accel._host as the bytes of one record) and by the CUDA
// kernels (csrc/cuda/fused.cu, passed by value as one kernel argument). accel/kernels.py builds it
// once per launch as a NumPy record whose layout accel._cpu exports from this list
// (`launch_args_layout`), so Python, the CPU loops and the CUDA kernels cannot disagree on a field.
//
// Every field is 8 bytes (flags are long long; pointers are device addresses, null on the CPU), so
// the struct has no padding on any compiler and its bytes mean the same on the host and the device.
#pragma once

namespace accel {

// FIELD(C type, name, NumPy type) and ARRAY(C type, name, NumPy type, count), in layout order.
#define ACCEL_LAUNCH_FIELDS(FIELD, ARRAY)                                                            \
    ARRAY(double, scalars, "<f8", 8)         /* the rule's scalars (RULES[rule].scalars), 0-padded */ \
    FIELD(double, global_scale, "<f8")       /* a factor on every gradient (clip_by_global_norm)   */ \
    FIELD(double, clip_value, "<f8")         /* clip gradients to [-c, c]; NaN: off                */ \
    FIELD(double, decay, "<f8")              /* weight_decay * lr (decoupled); 0: none             */ \
    FIELD(double, clip_norm, "<f8")          /* CUDA: the clip bound of norm_sq                    */ \
    FIELD(double, grad_scale, "<f8")         /* on a gradient before it is accumulated             */ \
    FIELD(double, accumulation_steps, "<f8") /* S: the divisor of the accumulated mean             */ \
    FIELD(double, ema_momentum, "<f8")       /* average = m * average + (1 - m) * var              */ \
    FIELD(long long, accumulation, "<i8")    /* 0 none, 1 add, 2 mean, 3 accumulated (apply.h)     */ \
    FIELD(long long, ema, "<i8")             /* update each variable's average after the update    */ \
    FIELD(long long, ema_overwrite, "<i8")   /* then var = average                                 */ \
    FIELD(long long, skip_nonfinite, "<i8")  /* CUDA: write nothing when *norm_sq is inf or NaN    */ \
    FIELD(const double*, norm_sq, "<u8")     /* CUDA: the device sum of squares (null: none)       */ \
    FIELD(const double*, device_scalars, "<u8") /* CUDA: 8 scalars and a decay factor (null: none) */ \
    FIELD(const float*, loss_scale, "<u8")   /* CUDA: gradients / it, clip bound * it (null: none)  */

#define ACCEL_LAUNCH_FIELD(type, name, code) type name;
#define ACCEL_LAUNCH_ARRAY(type, name, code, count) type name[count];
struct LaunchArgs {
    ACCEL_LAUNCH_FIELDS(ACCEL_LAUNCH_FIELD, ACCEL_LAUNCH_ARRAY)
};
#undef ACCEL_LAUNCH_FIELD
#undef ACCEL_LAUNCH_ARRAY

static_assert(sizeof(LaunchArgs) == 22 * 8, "LaunchArgs: 8-byte fields, no padding");

}  // namespace accel
