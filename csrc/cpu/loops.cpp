// The per-element loops of accel._cpu for one instruction set. CMake compiles this file once per
// ISA (baseline, AVX2, AVX-512 on x86-64) with ACCEL_ISA naming the namespace; module.cpp picks
// the best the CPU supports at import. The loops only iterate: the math is csrc/rules.
#include <cmath>
#include <type_traits>

#include "cpu/launch.h"
#include "rules/apply.h"
#include "rules/registry.h"

#ifndef ACCEL_ISA
#error "compile loops.cpp with -DACCEL_ISA=<namespace>"
#endif

#if defined(__F16C__) && defined(__AVX__)
#include <immintrin.h>
#define ACCEL_F16C 1
#else
#define ACCEL_F16C 0
#endif

namespace accel_cpu {
namespace ACCEL_ISA {

// ---- software prefetch ----------------------------------------------------------------------
// A step streams 3 to 6 arrays at once. A core's hardware prefetchers keep too few lines in flight
// for that many streams and stop at every 4 KB page boundary: asking for each stream's line
// kPrefetchBytes ahead made Adam on 2^25 float32 11% faster at 1 thread and 10% at 2 on a Xeon
// (AVX-512), 0.84x PyTorch's fused step instead of 0.95x (bench/placement.py). Distances from 1 to
// 4 KB and blocks from 128 to 512 bytes measured alike. Loops run in blocks of kPrefetchBlock
// bytes and ask for the lines of the block kPrefetchBytes ahead, never past the chunk's end.
// Prefetches never fault and change no value.
constexpr long long kLine = 64;
constexpr long long kPrefetchBytes = 2048;
constexpr long long kPrefetchBlock = 512;

template <class T> inline void prefetch_ahead(const T* x, long long from, long long to) {
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
    // An asm statement: GCC 12 dropped __builtin_prefetch from most rules' loops (0 of Adam's).
    for (long long i = from; i < to; i += kLine / (long long)sizeof(T))
        __asm__ volatile("prefetcht0 %0" : : "m"(*reinterpret_cast<const char*>(x + i)));
#elif defined(__GNUC__) || defined(__clang__)
    for (long long i = from; i < to; i += kLine / (long long)sizeof(T)) __builtin_prefetch(x + i, 0, 3);
#else
    (void)x, (void)from, (void)to;
#endif
}

template <class T> constexpr long long prefetch_distance() { return kPrefetchBytes / (long long)sizeof(T); }
template <class T> constexpr long long prefetch_block() { return kPrefetchBlock / (long long)sizeof(T); }

// Where prefetching may reach for a chunk: its end, or the end of the chunk a block belongs to.
inline long long stream_end(const Chunk& c) { return c.stream_end > c.end ? c.stream_end : c.end; }

// Elements [b, e) of a block: the same elements kPrefetchBytes ahead in each stream.
template <int kSlots, class T>
inline void prefetch_streams(const T* p, const T* g, T* const* s, long long b, long long e, long long end) {
    constexpr long long ahead = prefetch_distance<T>();
    if (b + ahead >= end) return;
    const long long to = e + ahead < end ? e + ahead : end;
    prefetch_ahead(p, b + ahead, to);
    prefetch_ahead(g, b + ahead, to);
    for (int j = 0; j < kSlots; ++j) prefetch_ahead(s[j], b + ahead, to);
}

template <class Rule, bool CLIP, bool DECAY, class T>
void run_segment(const Launch& L, const Segment& seg, const Chunk& c) {
    using C = accel::compute_t<T>;
    const accel::GradPrep<C> prep{C(L.args.global_scale), C(L.args.clip_value), C(seg.decays ? L.args.decay : 0.0)};
    const auto k = Rule::template params<C>(L.args.scalars);
    T* p = static_cast<T*>(seg.param);
    T* s[3] = {nullptr, nullptr, nullptr};
    for (int j = 0; j < Rule::kSlots; ++j) s[j] = static_cast<T*>(seg.slots[j]);
    const T* g = static_cast<const T*>(seg.grad);
    const C scale = C(seg.scale);
    constexpr long long block = prefetch_block<T>();
    const long long end = stream_end(c);
    for (long long b = c.begin; b < c.end; b += block) {
        const long long e = b + block < c.end ? b + block : c.end;
        prefetch_streams<Rule::kSlots>(p, g, s, b, e, end);
#pragma omp simd
        for (long long i = b; i < e; ++i) accel::apply_update<Rule, CLIP, DECAY>(p, s, i, g[i], scale, prep, k);
    }
}

#if ACCEL_F16C
// Half storage on CPUs with F16C: blocks are converted to float with 8-lane hardware conversions,
// the rule runs on the float copies (vectorised like the float32 loop), and the results are
// converted back rounding to nearest even. `step` rounds each value once per step either way, so
// this gives the same bits as the element-by-element loop of the baseline build.
constexpr int kHalfBlock = 256;

inline void halves_to_floats(const accel::half_t* src, float* dst, int n) {
    int e = 0;
    for (; e + 8 <= n; e += 8)
        _mm256_store_ps(dst + e, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + e))));
    for (; e < n; ++e) dst[e] = accel::half_to_float(src[e].bits);
}

inline void floats_to_halves(const float* src, accel::half_t* dst, int n) {
    int e = 0;
    for (; e + 8 <= n; e += 8)
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + e),
                         _mm256_cvtps_ph(_mm256_load_ps(src + e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    for (; e < n; ++e) dst[e].bits = accel::float_to_half(src[e]);
}

template <class Rule, bool CLIP, bool DECAY>
void run_half_blocks(const Launch& L, const Segment& seg, const Chunk& c) {
    const accel::GradPrep<float> prep{float(L.args.global_scale), float(L.args.clip_value), float(seg.decays ? L.args.decay : 0.0)};
    const auto k = Rule::template params<float>(L.args.scalars);
    accel::half_t* p = static_cast<accel::half_t*>(seg.param);
    accel::half_t* s[3] = {nullptr, nullptr, nullptr};
    for (int j = 0; j < Rule::kSlots; ++j) s[j] = static_cast<accel::half_t*>(seg.slots[j]);
    const accel::half_t* g = static_cast<const accel::half_t*>(seg.grad);
    const float scale = float(seg.scale);
    alignas(64) float fp[kHalfBlock], fg[kHalfBlock], f0[kHalfBlock], f1[kHalfBlock], f2[kHalfBlock];
    float* fs[3] = {f0, f1, f2};
    const long long end = stream_end(c);
    for (long long b = c.begin; b < c.end; b += kHalfBlock) {
        const int n = int(c.end - b < kHalfBlock ? c.end - b : kHalfBlock);
        prefetch_streams<Rule::kSlots>(p, g, s, b, b + n, end);
        halves_to_floats(p + b, fp, n);
        halves_to_floats(g + b, fg, n);
        for (int j = 0; j < Rule::kSlots; ++j) halves_to_floats(s[j] + b, fs[j], n);
#pragma omp simd
        for (int e = 0; e < n; ++e) accel::apply_update<Rule, CLIP, DECAY>(fp, fs, e, fg[e], scale, prep, k);
        floats_to_halves(fp, p + b, n);
        for (int j = 0; j < Rule::kSlots; ++j) floats_to_halves(fs[j], s[j] + b, n);
    }
}
#endif

template <class Rule, class T> void run_flags(const Launch& L, const Segment& seg, const Chunk& c) {
    const bool clip = !std::isnan(L.args.clip_value), decay = L.args.decay != 0.0;
#if ACCEL_F16C
    if constexpr (std::is_same<T, accel::half_t>::value) {
        if (clip && decay) run_half_blocks<Rule, true, true>(L, seg, c);
        else if (clip) run_half_blocks<Rule, true, false>(L, seg, c);
        else if (decay) run_half_blocks<Rule, false, true>(L, seg, c);
        else run_half_blocks<Rule, false, false>(L, seg, c);
        return;
    }
#endif
    if (clip && decay) run_segment<Rule, true, true, T>(L, seg, c);
    else if (clip) run_segment<Rule, true, false, T>(L, seg, c);
    else if (decay) run_segment<Rule, false, true, T>(L, seg, c);
    else run_segment<Rule, false, false, T>(L, seg, c);
}

// ---- gradient accumulation and EMA (csrc/rules/apply.h), over elements [0, n) -------------
template <class T, class C> void add_gradients(T* acc, const T* g, C grad_scale, long long n) {
#pragma omp simd
    for (long long i = 0; i < n; ++i) accel::accumulate(acc[i], accel::load(g[i]) * grad_scale);
}

// The mean the rule reads, into the accumulator: (g * grad_scale + acc) / steps, or acc / steps
// when g is null (the gradient was added already).
template <class T, class C> void form_means(T* acc, const T* g, C grad_scale, C steps, long long n) {
    if (g) {
#pragma omp simd
        for (long long i = 0; i < n; ++i) acc[i] = accel::accumulated_mean(accel::load(g[i]) * grad_scale, acc[i], steps);
    } else {
#pragma omp simd
        for (long long i = 0; i < n; ++i) acc[i] = accel::accumulated_mean(C(0), acc[i], steps);
    }
}

template <class T> void restart(T* acc, long long n) {
    using C = accel::compute_t<T>;
#pragma omp simd
    for (long long i = 0; i < n; ++i) acc[i] = accel::store<T>(C(0));
}

template <class T, class C> void average(T* p, T* avg, C momentum, bool overwrite, long long n) {
#pragma omp simd
    for (long long i = 0; i < n; ++i) accel::moving_average(p[i], avg[i], momentum, overwrite);
}

#if ACCEL_F16C
// Half storage: the same loops on float copies of blocks, converted by F16C (float results round
// to nearest even on the way back, exactly as store<half_t> rounds them in the baseline build).
inline void add_gradients(accel::half_t* acc, const accel::half_t* g, float grad_scale, long long n) {
    alignas(64) float fa[kHalfBlock], fg[kHalfBlock];
    for (long long b = 0; b < n; b += kHalfBlock) {
        const int m = int(n - b < kHalfBlock ? n - b : kHalfBlock);
        halves_to_floats(acc + b, fa, m);
        halves_to_floats(g + b, fg, m);
        add_gradients<float, float>(fa, fg, grad_scale, m);
        floats_to_halves(fa, acc + b, m);
    }
}

inline void form_means(accel::half_t* acc, const accel::half_t* g, float grad_scale, float steps, long long n) {
    alignas(64) float fa[kHalfBlock], fg[kHalfBlock];
    for (long long b = 0; b < n; b += kHalfBlock) {
        const int m = int(n - b < kHalfBlock ? n - b : kHalfBlock);
        halves_to_floats(acc + b, fa, m);
        if (g) halves_to_floats(g + b, fg, m);
        form_means<float, float>(fa, g ? fg : nullptr, grad_scale, steps, m);
        floats_to_halves(fa, acc + b, m);
    }
}

inline void average(accel::half_t* p, accel::half_t* avg, float momentum, bool overwrite, long long n) {
    alignas(64) float fp[kHalfBlock], fv[kHalfBlock];
    for (long long b = 0; b < n; b += kHalfBlock) {
        const int m = int(n - b < kHalfBlock ? n - b : kHalfBlock);
        halves_to_floats(p + b, fp, m);
        halves_to_floats(avg + b, fv, m);
        average<float, float>(fp, fv, momentum, overwrite, m);
        floats_to_halves(fv, avg + b, m);
        if (overwrite) floats_to_halves(fp, p + b, m);  // otherwise p is unchanged
    }
}
#endif

// A call between updates: acc += gradient * grad_scale, then the averages (EMA runs every call).
template <class T> void run_accumulate(const Launch& L, const Segment& seg, const Chunk& c) {
    using C = accel::compute_t<T>;
    const long long b = c.begin, n = c.end - c.begin;
    add_gradients(static_cast<T*>(seg.accumulator) + b, static_cast<const T*>(seg.grad) + b, C(L.args.grad_scale), n);
    if (L.args.ema)
        average(static_cast<T*>(seg.param) + b, static_cast<T*>(seg.average) + b, C(L.args.ema_momentum), L.args.ema_overwrite != 0,
                n);
}

// With gradient accumulation or EMA a chunk runs in blocks that stay in L1: the mean into the
// accumulator, the rule reading it as the gradient, then the accumulator's restart and the
// averages. Memory is still streamed once, and the rule's loops are the plain ones.
constexpr long long kExtrasBlock = 1024;

template <class Rule, class T> void run_extras(const Launch& L, const Segment& seg, const Chunk& c) {
    using C = accel::compute_t<T>;
    const bool accumulating = L.accumulation() != Accumulation::none;
    T* p = static_cast<T*>(seg.param);
    T* acc = static_cast<T*>(seg.accumulator);
    T* avg = static_cast<T*>(seg.average);
    const T* g = L.accumulation() == Accumulation::mean ? static_cast<const T*>(seg.grad) : nullptr;
    const C grad_scale = C(L.args.grad_scale), steps = C(L.args.accumulation_steps), momentum = C(L.args.ema_momentum);
    Segment now = seg;
    if (accumulating) now.grad = seg.accumulator;  // holds the mean when the rule runs
    const long long end = stream_end(c);
    constexpr long long ahead = prefetch_distance<T>();
    for (long long b = c.begin; b < c.end; b += kExtrasBlock) {
        const Chunk block{c.segment, b, b + kExtrasBlock < c.end ? b + kExtrasBlock : c.end, end};
        const long long n = block.end - b;
        if (b + ahead < end) {  // the streams the rule's loop does not prefetch
            const long long to = block.end + ahead < end ? block.end + ahead : end;
            if (accumulating) prefetch_ahead(acc, b + ahead, to);
            if (g) prefetch_ahead(g, b + ahead, to);
            if (L.args.ema) prefetch_ahead(avg, b + ahead, to);
        }
        if (accumulating) form_means(acc + b, g ? g + b : nullptr, grad_scale, steps, n);
        run_flags<Rule, T>(L, now, block);
        if (accumulating) restart(acc + b, n);
        if (L.args.ema) average(p + b, avg + b, momentum, L.args.ema_overwrite != 0, n);
    }
}

template <class Rule, class T> void run_typed(const Launch& L, const Segment& seg, const Chunk& c) {
    if (L.accumulation() != Accumulation::none || L.args.ema) run_extras<Rule, T>(L, seg, c);
    else run_flags<Rule, T>(L, seg, c);
}

template <class Rule> void run_dtype(const Launch& L, const Segment& seg, const Chunk& c) {
    switch (L.dtype) {
        case DType::f16: run_typed<Rule, accel::half_t>(L, seg, c); break;
        case DType::f32: run_typed<Rule, float>(L, seg, c); break;
        case DType::f64: run_typed<Rule, double>(L, seg, c); break;
    }
}

void run_chunk(const Launch& L, const Chunk& c) {
    using namespace accel;
    const Segment& seg = L.segments[c.segment];
    if (L.accumulation() == Accumulation::add) {  // a call between updates: the rule does not run
        switch (L.dtype) {
            case DType::f16: run_accumulate<half_t>(L, seg, c); break;
            case DType::f32: run_accumulate<float>(L, seg, c); break;
            case DType::f64: run_accumulate<double>(L, seg, c); break;
        }
        return;
    }
    switch (L.rule) {  // one case per registry line; a flagged variable runs the rule's On form
#define ACCEL_RULE_CASE(id, family, flags, Off, On, slots, scalars) \
    case RuleId::id:                                               \
        if (seg.flag) run_dtype<On>(L, seg, c);                    \
        else run_dtype<Off>(L, seg, c);                            \
        break;
        ACCEL_RULES(ACCEL_RULE_CASE)
#undef ACCEL_RULE_CASE
    }
}

// Blocked with the rules' software prefetch: a lone read stream gets too few lines in flight
// from the hardware prefetchers on these hosts (the norm pass of 10.7M float32 ran at 26-29 GB/s
// against the update's 47). The sum is still formed in element order within a lane, so results
// do not depend on the thread count (chunks are fixed and summed in order by the caller).
template <class T> double squares(const T* x, long long begin, long long end) {
    constexpr long long block = prefetch_block<T>(), ahead = prefetch_distance<T>();
    double acc = 0.0;
    for (long long lo = begin; lo < end; lo += block) {
        const long long hi = lo + block < end ? lo + block : end;
        if (lo + ahead < end) prefetch_ahead(x, lo + ahead, hi + ahead < end ? hi + ahead : end);
#pragma omp simd reduction(+ : acc)
        for (long long i = lo; i < hi; ++i) {
            const double v = accel::load(x[i]);
            acc += v * v;
        }
    }
    return acc;
}

double sum_squares(DType dtype, const void* x, long long begin, long long end) {
    switch (dtype) {
        case DType::f16: return squares(static_cast<const accel::half_t*>(x), begin, end);
        case DType::f32: return squares(static_cast<const float*>(x), begin, end);
        default: return squares(static_cast<const double*>(x), begin, end);
    }
}

// The bandwidth probe streams the way the rules do, software prefetch included.
void axpy(float* a, const float* b, float s, long long begin, long long end) {
    constexpr long long block = prefetch_block<float>(), ahead = prefetch_distance<float>();
    for (long long lo = begin; lo < end; lo += block) {
        const long long hi = lo + block < end ? lo + block : end;
        if (lo + ahead < end) {
            prefetch_ahead(a, lo + ahead, hi + ahead < end ? hi + ahead : end);
            prefetch_ahead(b, lo + ahead, hi + ahead < end ? hi + ahead : end);
        }
#pragma omp simd
        for (long long i = lo; i < hi; ++i) a[i] += s * b[i];
    }
}

// The probe of a kernel's access pattern: every stream advances together, block by block, with
// the rules' prefetching; the written streams are read too (read, modify, write, as slots are).
void stream(float* const* writes, int write_count, const float* const* reads, int read_count, float s,
            long long begin, long long end) {
    constexpr long long block = prefetch_block<float>(), ahead = prefetch_distance<float>();
    alignas(64) float sum[block];
    for (long long lo = begin; lo < end; lo += block) {
        const long long hi = lo + block < end ? lo + block : end;
        const int n = int(hi - lo);
        if (lo + ahead < end) {
            const long long to = hi + ahead < end ? hi + ahead : end;
            for (int w = 0; w < write_count; ++w) prefetch_ahead(writes[w], lo + ahead, to);
            for (int r = 0; r < read_count; ++r) prefetch_ahead(reads[r], lo + ahead, to);
        }
#pragma omp simd
        for (int e = 0; e < n; ++e) sum[e] = 0.0f;
        for (int r = 0; r < read_count; ++r) {
            const float* x = reads[r] + lo;
#pragma omp simd
            for (int e = 0; e < n; ++e) sum[e] += x[e];
        }
        for (int w = 0; w < write_count; ++w) {
            float* y = writes[w] + lo;
#pragma omp simd
            for (int e = 0; e < n; ++e) y[e] += s * sum[e];
        }
    }
}

}  // namespace ACCEL_ISA

#define ACCEL_STR2(x) #x
#define ACCEL_STR(x) ACCEL_STR2(x)
#define ACCEL_CAT2(a, b) a##b
#define ACCEL_CAT(a, b) ACCEL_CAT2(a, b)

// The table module.cpp looks up: loops_<isa>.
extern const IsaLoops ACCEL_CAT(loops_, ACCEL_ISA);
const IsaLoops ACCEL_CAT(loops_, ACCEL_ISA) = {ACCEL_STR(ACCEL_ISA), ACCEL_ISA::run_chunk,
                                               ACCEL_ISA::sum_squares, ACCEL_ISA::axpy, ACCEL_ISA::stream,
                                               &ACCEL_CAT(nn_loops_, ACCEL_ISA)};

}  // namespace accel_cpu
