// Multi-tensor CUDA kernels: one launch updates every parameter of a (device, dtype) group.
//
// Each block owns one chunk (a range of one variable) from a table the host builds once per set of
// variables: the apex/PyTorch "multi-tensor apply" scheme, over pointer tables. Threads stride over
// the chunk with 16-byte vector loads when every pointer is 16-byte aligned, then a scalar tail.
// The per-element math is csrc/rules (the headers accel._cpu compiles); nothing here computes.
//
// Compiled at run time by CuPy (RawModule + name_expressions, NVRTC) and, in CI, by nvcc with
// ACCEL_EXPLICIT_INSTANTIATION to check registers and spills for sm_80 and sm_90.
#include "rules/apply.h"
#include "rules/launch_args.h"
#include "rules/registry.h"

namespace accel {

struct ChunkEntry {
    long long segment, begin, end;
};

// Where one variable's arrays are: a pointer table (PyTorch's _fused_adam_ takes lists of
// tensors the same way), so every variable keeps its own storage. Uploaded when the set of
// variables of a group changes.
struct SegmentEntry {
    unsigned long long param, slot0, slot1, slot2;  // device addresses (0: no such slot)
    long long length;
    unsigned long long accumulator, average;  // gradient_accumulation_steps / use_ema (0: none)
};

// What changes every step, per variable.
struct StepEntry {
    unsigned long long grad;  // device address of the gradient (`length` elements)
    double scale;             // per-tensor gradient scale (clipnorm), usually 1
    long long flag;           // AdagradDecay: decay this variable's accumulator this step
    long long decays;         // weight decay applies to this variable (0: exclude_from_weight_decay)
};

template <class T> struct Vec {
    static constexpr int kWidth = 16 / sizeof(T);  // elements per 16-byte load
};

__device__ __forceinline__ bool aligned16(const void* p) {
    return (reinterpret_cast<unsigned long long>(p) & 15ull) == 0;
}

// A rule that holds many values per element (LAMB's moments kernel) opts out of the 16-byte
// vector path with `static constexpr bool kScalarLoads = true;`: W elements of every array in
// registers would exceed the 64-register budget; coalesced scalar loads still stream.
template <class Rule, class = void> struct vector_loads {
    static constexpr bool value = true;
};
template <class Rule> struct vector_loads<Rule, decltype(void(Rule::kScalarLoads))> {
    static constexpr bool value = !Rule::kScalarLoads;
};

template <class T> __device__ __forceinline__ void load16(T* dst, const T* src) {
    *reinterpret_cast<uint4*>(dst) = *reinterpret_cast<const uint4*>(src);
}

template <class T> __device__ __forceinline__ void store16(T* dst, const T* src) {
    *reinterpret_cast<uint4*>(dst) = *reinterpret_cast<const uint4*>(src);
}

// One element's update with the launch's extras: the rule reads the mean of the accumulated
// gradients when there is one (stored in T, as the CPU loops form it), then the accumulator
// restarts and the average follows the stored parameter. `e` indexes p and the slots (a thread's
// registers in the vector path); `index` is the element's place in the accumulator and average.
template <class RuleOff, class RuleOn, class T, bool CLIP, bool DECAY, class K>
__device__ __forceinline__ void update_with_extras(T* p, T* const* slots, long long e, T grad, bool flag,
                                               compute_t<T> scale, const GradPrep<compute_t<T>>& prep, const K& k,
                                               const LaunchArgs& x, T* acc, T* avg, long long index) {
    typedef compute_t<T> C;
    if (x.accumulation == 2)
        grad = accumulated_mean(load(grad) * C(x.grad_scale), acc[index], C(x.accumulation_steps));
    else if (x.accumulation == 3)
        grad = accumulated_mean(C(0), acc[index], C(x.accumulation_steps));
    if (flag)
        apply_update<RuleOn, CLIP, DECAY>(p, slots, e, grad, scale, prep, k);
    else
        apply_update<RuleOff, CLIP, DECAY>(p, slots, e, grad, scale, prep, k);
    if (x.accumulation != 0) acc[index] = store<T>(C(0));
    if (x.ema) moving_average(p[e], avg[index], C(x.ema_momentum), x.ema_overwrite != 0);
}

template <class RuleOff, class RuleOn, class T, bool CLIP, bool DECAY>
__device__ __forceinline__ void run_chunk(const ChunkEntry& c, const SegmentEntry& seg, const StepEntry& now,
                                          const GradPrep<compute_t<T>>& prep, const double* scalars,
                                          const LaunchArgs& x) {
    typedef compute_t<T> C;
    const auto k = RuleOff::template params<C>(scalars);
    const C scale = C(now.scale);
    T* p = reinterpret_cast<T*>(seg.param);
    T* slots[3] = {reinterpret_cast<T*>(seg.slot0), reinterpret_cast<T*>(seg.slot1),
                   reinterpret_cast<T*>(seg.slot2)};
    const T* g = reinterpret_cast<const T*>(now.grad);
    T* acc = reinterpret_cast<T*>(seg.accumulator);
    T* avg = reinterpret_cast<T*>(seg.average);
    const bool plain = x.accumulation == 0 && !x.ema;
    const bool flag = now.flag != 0;

    constexpr int W = Vec<T>::kWidth;
    bool vector_ok = vector_loads<RuleOff>::value && aligned16(p + c.begin) && aligned16(g + c.begin);
    for (int j = 0; j < RuleOff::kSlots; ++j) vector_ok = vector_ok && aligned16(slots[j] + c.begin);
    const long long n = c.end - c.begin;
    const long long vectors = vector_ok ? n / W : 0;

    for (long long v = threadIdx.x; v < vectors; v += blockDim.x) {
        const long long i = c.begin + v * W;
        // Registers for W elements of params, gradient and every slot, moved with 16-byte loads.
        alignas(16) T lp[W], lg[W], ls0[W], ls1[W], ls2[W];
        T* local_slots[3] = {ls0, ls1, ls2};
        load16(lp, p + i);
        load16(lg, g + i);
        for (int j = 0; j < RuleOff::kSlots; ++j) load16(local_slots[j], slots[j] + i);
        if (plain) {
#pragma unroll
            for (int e = 0; e < W; ++e) {
                if (flag)
                    apply_update<RuleOn, CLIP, DECAY>(lp, local_slots, e, lg[e], scale, prep, k);
                else
                    apply_update<RuleOff, CLIP, DECAY>(lp, local_slots, e, lg[e], scale, prep, k);
            }
        } else {
            for (int e = 0; e < W; ++e)
                update_with_extras<RuleOff, RuleOn, T, CLIP, DECAY>(lp, local_slots, e, lg[e], flag, scale, prep, k, x,
                                                                acc, avg, i + e);
        }
        store16(p + i, lp);
        for (int j = 0; j < RuleOff::kSlots; ++j) store16(slots[j] + i, local_slots[j]);
    }
    for (long long i = c.begin + vectors * W + threadIdx.x; i < c.end; i += blockDim.x)
        update_with_extras<RuleOff, RuleOn, T, CLIP, DECAY>(p, slots, i, g[i], flag, scale, prep, k, x, acc, avg, i);
}

// One launch of an optimizer update, described by `a` (csrc/rules/launch_args.h, by value: no
// device memory read for it). `a.norm_sq` (nullable) is the device scalar the global-norm kernel
// wrote: clip_by_global_norm's factor is computed here, so clipping needs no host sync;
// `a.global_scale` is a host factor on every gradient; the two multiply in double, as on the CPU.
// A step decided on the device (dynamic loss scaling without a host sync) uses three more fields:
// `skip_nonfinite`: the launch writes nothing when *norm_sq is inf or NaN; `device_scalars`
// (nullable): the rule's 8 scalars, then the factor that multiplies the weight decay, read from
// device memory (the row of the step the device counts); `loss_scale` (nullable): the gradients
// are divided by *loss_scale and the global clip bound multiplied by it.
// 512 threads, and two blocks per SM for 16/32-bit storage: at most 64 registers per thread.
// Float64 storage (twice the registers per value) gets one block per SM: up to 128 registers, so
// the double forms never spill (the compile checks report any spill).
template <class T> struct min_blocks {
    static constexpr int value = sizeof(T) == 8 ? 1 : 2;
};

template <class RuleOff, class RuleOn, class T, bool CLIP, bool DECAY>
__global__ void __launch_bounds__(512, min_blocks<T>::value)
    fused_update(const ChunkEntry* chunks, const SegmentEntry* segments, const StepEntry* steps, const LaunchArgs a) {
    typedef compute_t<T> C;
    if (a.skip_nonfinite && a.norm_sq && (*a.norm_sq - *a.norm_sq) != 0.0) return;  // inf or NaN: no write at all
    double scalars[8];
    double decay = a.decay, global_scale = a.global_scale, clip_norm = a.clip_norm;
    for (int j = 0; j < 8; ++j) scalars[j] = a.device_scalars ? a.device_scalars[j] : a.scalars[j];
    if (a.device_scalars) decay *= a.device_scalars[8];
    if (a.loss_scale) {
        global_scale /= double(*a.loss_scale);
        clip_norm *= double(*a.loss_scale);
    }
    const ChunkEntry c = chunks[blockIdx.x];
    const double global = a.norm_sq ? global_scale * global_clip_scale(*a.norm_sq, clip_norm) : global_scale;
    const GradPrep<C> prep{C(global), C(a.clip_value), C(steps[c.segment].decays ? decay : 0.0)};
    run_chunk<RuleOff, RuleOn, T, CLIP, DECAY>(c, segments[c.segment], steps[c.segment], prep, scalars, a);
}

// A call between updates (gradient_accumulation_steps): acc += gradient * grad_scale, and with
// EMA the averages; the rule does not run, so one kernel serves every optimizer.
template <class T>
__global__ void __launch_bounds__(512) accumulate_only(const ChunkEntry* chunks, const SegmentEntry* segments,
                                                       const StepEntry* steps, const LaunchArgs a) {
    typedef compute_t<T> C;
    const ChunkEntry c = chunks[blockIdx.x];
    const SegmentEntry& seg = segments[c.segment];
    T* p = reinterpret_cast<T*>(seg.param);
    const T* g = reinterpret_cast<const T*>(steps[c.segment].grad);
    T* acc = reinterpret_cast<T*>(seg.accumulator);
    T* avg = reinterpret_cast<T*>(seg.average);
    for (long long i = c.begin + threadIdx.x; i < c.end; i += blockDim.x) {
        accumulate(acc[i], load(g[i]) * C(a.grad_scale));
        if (a.ema) moving_average(p[i], avg[i], C(a.ema_momentum), a.ema_overwrite != 0);
    }
}

// Sum of squares per chunk into partial[blockIdx.x] (float64), for clip_by_global_norm.
template <class T>
__global__ void chunk_sum_squares(const ChunkEntry* chunks, const StepEntry* arrays, double* partial) {
    const ChunkEntry c = chunks[blockIdx.x];
    const T* x = reinterpret_cast<const T*>(arrays[c.segment].grad);
    double acc = 0.0;
    for (long long i = c.begin + threadIdx.x; i < c.end; i += blockDim.x) {
        const double v = load(x[i]);
        acc += v * v;
    }
    __shared__ double lanes[1024];
    lanes[threadIdx.x] = acc;
    __syncthreads();
    for (unsigned int width = blockDim.x / 2; width > 0; width /= 2) {  // blockDim.x: a power of 2
        if (threadIdx.x < width) lanes[threadIdx.x] += lanes[threadIdx.x + width];
        __syncthreads();
    }
    if (threadIdx.x == 0) partial[blockIdx.x] = lanes[0];
}

// The partials summed in a fixed order by one block: the same norm on every run.
__global__ void sum_partials(const double* partial, long long count, double* out) {
    __shared__ double lanes[1024];
    double acc = 0.0;
    for (long long i = threadIdx.x; i < count; i += blockDim.x) acc += partial[i];
    lanes[threadIdx.x] = acc;
    __syncthreads();
    for (unsigned int width = blockDim.x / 2; width > 0; width /= 2) {
        if (threadIdx.x < width) lanes[threadIdx.x] += lanes[threadIdx.x + width];
        __syncthreads();
    }
    if (threadIdx.x == 0) *out = lanes[0];
}

// Per-segment sums of the partials (clipnorm's per-tensor norms): segment s owns the partials
// [first[s], first[s + 1]) and sums them in order, so every norm is the same on every run.
__global__ void sum_partials_by_segment(const double* partial, const long long* first, long long segments,
                                        double* out) {
    const long long s = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (s >= segments) return;
    double acc = 0.0;
    for (long long k = first[s]; k < first[s + 1]; ++k) acc += partial[k];
    out[s] = acc;
}

// Bandwidth probe: a += s * b.
__global__ void axpy(float* a, const float* b, float s, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        a[i] += s * b[i];
}

// Bandwidth probe of a step's access pattern: writes[w][i] += s * (sum of reads[r][i]); the
// written streams are read too, as a step reads and writes its parameters and slots.
__global__ void stream_probe(float* const* writes, int write_count, const float* const* reads, int read_count,
                             float s, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        float sum = 0.0f;
        for (int r = 0; r < read_count; ++r) sum += reads[r][i];
        for (int w = 0; w < write_count; ++w) writes[w][i] += s * sum;
    }
}

}  // namespace accel

#ifdef ACCEL_EXPLICIT_INSTANTIATION
// For nvcc's offline compile check (registers, spills): every registry line in every storage
// type, without and with clipping and decay. At run time CuPy instantiates by name.
#define ACCEL_INSTANTIATE(OFF, ON, T, CLIP, DECAY)                                                   \
    template __global__ void __launch_bounds__(512, accel::min_blocks<T>::value)                    \
        accel::fused_update<accel::OFF, accel::ON, T, CLIP, DECAY>(                                    \
        const accel::ChunkEntry*, const accel::SegmentEntry*, const accel::StepEntry*,               \
        const accel::LaunchArgs);
#define ACCEL_INSTANTIATE_ALL(id, family, flags, OFF, ON, slots, scalars) \
    ACCEL_INSTANTIATE(OFF, ON, float, false, false)                       \
    ACCEL_INSTANTIATE(OFF, ON, float, true, true)                         \
    ACCEL_INSTANTIATE(OFF, ON, double, false, false)                      \
    ACCEL_INSTANTIATE(OFF, ON, accel::half_t, false, false)               \
    ACCEL_INSTANTIATE(OFF, ON, accel::half_t, true, true)

ACCEL_RULES(ACCEL_INSTANTIATE_ALL)
template __global__ void __launch_bounds__(512) accel::accumulate_only<float>(const accel::ChunkEntry*, const accel::SegmentEntry*, const accel::StepEntry*, const accel::LaunchArgs);
template __global__ void __launch_bounds__(512) accel::accumulate_only<double>(const accel::ChunkEntry*, const accel::SegmentEntry*, const accel::StepEntry*, const accel::LaunchArgs);
template __global__ void __launch_bounds__(512) accel::accumulate_only<accel::half_t>(const accel::ChunkEntry*, const accel::SegmentEntry*, const accel::StepEntry*, const accel::LaunchArgs);
template __global__ void accel::chunk_sum_squares<float>(const accel::ChunkEntry*, const accel::StepEntry*, double*);
template __global__ void accel::chunk_sum_squares<double>(const accel::ChunkEntry*, const accel::StepEntry*, double*);
template __global__ void accel::chunk_sum_squares<accel::half_t>(const accel::ChunkEntry*, const accel::StepEntry*, double*);
#endif
