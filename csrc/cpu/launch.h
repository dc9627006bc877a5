// What one fused launch is, shared by the binding (fused_launch.cpp) and the per-ISA loops (loops.cpp).
#pragma once
#include "cpu/nn_loops.h"
#include "rules/launch_args.h"
#include "rules/registry.h"

namespace accel_cpu {

enum class DType { f16, f32, f64 };

// One id per line of csrc/rules/registry.h.
#define ACCEL_RULE_ID(id, family, flags, Off, On, slots, scalars) id,
enum class RuleId { ACCEL_RULES(ACCEL_RULE_ID) };
#undef ACCEL_RULE_ID

// One variable of a launch: its own parameter, gradient and slot arrays (pointer tables, as
// PyTorch's _fused_adam_ takes lists of tensors: a variable keeps its storage for life).
struct Segment {
    long long length;  // elements of the parameter, its gradient and each slot
    void* param;
    const void* grad;
    void* slots[3];
    double scale;  // per-tensor gradient scale (clipnorm), usually 1
    bool flag;     // AdagradDecay: decay this variable's accumulator on this step
    bool decays;   // weight decay applies to this variable (exclude_from_weight_decay: false)
    void* accumulator;  // gradient_accumulation_steps: the accumulated gradient (nullptr: none)
    void* average;      // use_ema: the variable's moving average (nullptr: none)
};

// What a launch does with the accumulators (csrc/rules/apply.h).
enum class Accumulation : int {
    none = 0,         // the rule on the gradient
    add = 1,          // acc += gradient * grad_scale; no update (a call between updates)
    mean = 2,         // the rule on (gradient * grad_scale + acc) / steps; acc = 0
    accumulated = 3,  // the rule on acc / steps (the gradient was added already); acc = 0
};

struct Chunk {
    long long segment, begin, end;  // elements [begin, end) of one segment
    long long stream_end = 0;  // a block of a longer chunk: where that chunk ends (software prefetch may reach it)
};

struct Launch {
    RuleId rule;
    DType dtype;
    const Segment* segments;
    accel::LaunchArgs args;  // what the launch does (csrc/rules/launch_args.h; its CUDA fields are null)

    Accumulation accumulation() const { return static_cast<Accumulation>(args.accumulation); }
};

// The loops of one instruction set (loops.cpp is compiled once per ISA, into its namespace).
struct IsaLoops {
    const char* name;
    void (*run_chunk)(const Launch&, const Chunk&);
    double (*sum_squares)(DType, const void*, long long begin, long long end);
    void (*axpy)(float* a, const float* b, float s, long long begin, long long end);
    // The bandwidth probe of an access pattern: writes[w][i] += s * (sum of reads[r][i]).
    void (*stream)(float* const* writes, int write_count, const float* const* reads, int read_count, float s,
                   long long begin, long long end);
    const NnLoops* nn;  // the neural-network loops of the same ISA (nn_loops.cpp)
};

constexpr int kProbeMaxWrites = 8, kProbeMaxReads = 4;

// Defined by loops.cpp, one per compiled instruction set.
extern const IsaLoops loops_baseline;
extern const IsaLoops loops_avx2;
extern const IsaLoops loops_avx512;

}  // namespace accel_cpu
