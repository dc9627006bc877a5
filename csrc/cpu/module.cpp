// accel._cpu: the CPU side of accel's fused kernels.
//
// One call updates every parameter of a (device, dtype) group: the parameters and each slot are
// one contiguous buffer; gradients arrive as one array per segment (a variable). This file
// validates the arguments (all of them, before anything is written), splits the work into chunks
// and runs them on a small thread pool with the GIL released. The loops are in loops.cpp, compiled
// once per instruction set; the math is in csrc/rules (the headers the CUDA kernels compile).
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <pthread.h>

#include <cmath>
#include <cstdint>
#include <algorithm>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "cpu/launch.h"
#include "cpu/pool.h"
#include "rules/apply.h"

namespace nb = nanobind;
using namespace accel_cpu;

namespace {

// ---- threads ----------------------------------------------------------------------------------
int g_threads = 0;  // 0: accel_cpu::default_threads()

int thread_count() { return g_threads > 0 ? g_threads : accel_cpu::default_threads(); }

// Below this many elements a launch runs on the calling thread: waking threads costs more.
constexpr long long kParallelThreshold = 1 << 15;
// Chunks are long contiguous runs (about four per thread): each thread then streams through
// memory sequentially and the hardware prefetchers stay ahead. With fixed 32K-element chunks
// handed out alternately, a single 2^25-element SGD ran at 70% of the bandwidth PyTorch reached.
constexpr long long kMinChunk = 1 << 15;
constexpr long long kMaxChunk = 1 << 22;

long long chunk_length(long long total, int threads) {
    long long length = total / (4LL * threads);
    length = length < kMinChunk ? kMinChunk : (length > kMaxChunk ? kMaxChunk : length);
    return (length + 63) & ~63LL;  // whole cache lines for every element size
}

// ---- buffers through the buffer protocol ------------------------------------------------------
const char* dtype_name(DType d) {
    return d == DType::f16 ? "float16" : d == DType::f32 ? "float32" : "float64";
}

struct Buffer {
    Py_buffer view{};
    bool held = false;
    Buffer() = default;
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    Buffer(Buffer&& other) noexcept : view(other.view), held(other.held) { other.held = false; }
    Buffer& operator=(Buffer&& other) noexcept {
        if (this != &other) {
            if (held) PyBuffer_Release(&view);
            view = other.view;
            held = other.held;
            other.held = false;
        }
        return *this;
    }
    ~Buffer() {
        if (held) PyBuffer_Release(&view);
    }
    long long size() const { return view.itemsize ? view.len / view.itemsize : 0; }
};

std::string describe(const std::string& argument, long long index) {
    return index < 0 ? argument : argument + "[" + std::to_string(index) + "]";
}

Buffer acquire(nb::handle obj, bool writable, const std::string& argument, long long index = -1) {
    Buffer b;
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj.ptr(), &b.view, flags) != 0) {
        PyErr_Clear();
        throw nb::type_error((describe(argument, index) + ": expected a C-contiguous" +
                              (writable ? " writable" : "") + " array").c_str());
    }
    b.held = true;
    return b;
}

DType dtype_of(const Buffer& b, const std::string& argument, long long index = -1) {
    const char* f = b.view.format ? b.view.format : "B";
    if (*f == '<' || *f == '=' || *f == '@') ++f;
    if (std::strcmp(f, "e") == 0 && b.view.itemsize == 2) return DType::f16;
    if (std::strcmp(f, "f") == 0 && b.view.itemsize == 4) return DType::f32;
    if (std::strcmp(f, "d") == 0 && b.view.itemsize == 8) return DType::f64;
    throw nb::type_error((describe(argument, index) + ": unsupported element format '" + f +
                          "', expected float16, float32 or float64").c_str());
}

// ---- instruction sets -----------------------------------------------------------------------
const IsaLoops* g_loops = nullptr;

std::vector<const IsaLoops*> supported_isas() {
    std::vector<const IsaLoops*> out{&loops_baseline};
#if ACCEL_HAVE_X86_ISAS
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))
        out.push_back(&loops_avx2);
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq"))
        out.push_back(&loops_avx512);
#endif
    return out;
}

// ---- chunks and threads -----------------------------------------------------------------------
std::vector<Chunk> make_chunks(const std::vector<Segment>& segments) {
    long long total = 0;
    for (const Segment& seg : segments) total += seg.length;
    const long long length = chunk_length(total, thread_count());
    std::vector<Chunk> chunks;
    for (long long s = 0; s < (long long)segments.size(); ++s)
        for (long long b = 0; b < segments[s].length; b += length)
            chunks.push_back({s, b, b + length < segments[s].length ? b + length : segments[s].length});
    return chunks;
}

// Runs fn(chunk index) over all chunks, on the pool when the launch is large enough.
template <class Fn> void for_chunks(const std::vector<Chunk>& chunks, long long total, Fn&& fn) {
    const long long n = (long long)chunks.size();
    if (total >= kParallelThreshold && thread_count() > 1) {
        const std::function<void(long long)> task = fn;
        accel_cpu::pool().run(n, thread_count(), task);
        return;
    }
    for (long long c = 0; c < n; ++c) fn(c);
}

struct RuleInfo {
    RuleId id;
    int slots;
    int scalars;
};

// The kernel named `rule` (an id of csrc/rules/registry.h).
RuleInfo find_rule(const std::string& rule) {
#define ACCEL_RULE_INFO(id, family, flags, Off, On, slots, scalars) \
    if (rule == #id) return {RuleId::id, accel::Off::kSlots, accel::Off::kScalars};
    ACCEL_RULES(ACCEL_RULE_INFO)
#undef ACCEL_RULE_INFO
    std::string known;
#define ACCEL_RULE_NAME(id, family, flags, Off, On, slots, scalars) known += std::string(known.empty() ? "" : ", ") + #id;
    ACCEL_RULES(ACCEL_RULE_NAME)
#undef ACCEL_RULE_NAME
    throw nb::value_error(("rule: unknown rule '" + rule + "', expected one of " + known).c_str());
}

// The registry for Python: every kernel with its family, flags, slots, scalars and rule types.
nb::list rules() {
    nb::list out;
#define ACCEL_RULE_DICT(id, family, flags, Off, On, slots, scalars) \
    {                                                             \
        nb::dict d;                                               \
        d["id"] = std::string(#id);                               \
        d["family"] = std::string(family);                        \
        d["flags"] = std::string(flags);                          \
        d["slots"] = std::string(slots);                          \
        d["scalars"] = std::string(scalars);                      \
        d["off"] = std::string("accel::" #Off);                   \
        d["on"] = std::string("accel::" #On);                     \
        out.append(d);                                            \
    }
    ACCEL_RULES(ACCEL_RULE_DICT)
#undef ACCEL_RULE_DICT
    return out;
}

// Reads a 1-D array of `count` values of one element type (int64 offsets, float64 scales, ...).
Buffer acquire_values(nb::handle obj, long long count, char format, size_t itemsize, const std::string& argument) {
    Buffer b = acquire(obj, false, argument);
    const char* f = b.view.format ? b.view.format : "B";
    if (*f == '<' || *f == '=' || *f == '@') ++f;
    bool ok = b.view.itemsize == (Py_ssize_t)itemsize &&
              (f[0] == format || (format == 'q' && f[0] == 'l') || (format == 'B' && f[0] == '?'));
    if (!ok) throw nb::type_error((argument + ": wrong element type").c_str());
    if (count >= 0 && b.size() != count)
        throw nb::value_error((argument + ": has " + std::to_string(b.size()) + " entries, expected " +
                               std::to_string(count)).c_str());
    return b;
}

// The variables of one launch group, checked once: their parameter and slot arrays (held, so the
// pointers stay valid for the table's life) in rule order. Built when the set of variables
// changes; every step then only brings gradients.
struct Table {
    RuleInfo info{};
    std::string rule;
    DType dtype = DType::f32;
    std::vector<Buffer> buffers;     // per segment: the parameter, then its slots
    std::vector<Segment> segments;   // pointers and lengths; grad, scale and flag are per step

    bool accumulates = false;  // every segment has a gradient accumulator
    bool averages = false;     // every segment has an EMA average

    Table(const std::string& rule_name, nb::list params, nb::list slots, nb::handle accumulator_arrays,
          nb::handle average_arrays)
        : info(find_rule(rule_name)), rule(rule_name) {
        if ((int)nb::len(slots) != info.slots)
            throw nb::value_error(("slots: rule '" + rule + "' needs " + std::to_string(info.slots) +
                                   " slot lists, got " + std::to_string(nb::len(slots))).c_str());
        const long long count = (long long)nb::len(params);
        std::vector<nb::list> kinds;
        for (int j = 0; j < info.slots; ++j) {
            if (!nb::isinstance<nb::list>(slots[j]))
                throw nb::type_error((describe("slots", j) + ": expected a list of arrays").c_str());
            kinds.push_back(nb::borrow<nb::list>(slots[j]));
            if ((long long)nb::len(kinds[j]) != count)
                throw nb::value_error((describe("slots", j) + ": has " + std::to_string(nb::len(kinds[j])) +
                                       " arrays for " + std::to_string(count) + " parameters").c_str());
        }
        const nb::handle extras[2] = {accumulator_arrays, average_arrays};
        const char* extra_names[2] = {"accumulators", "averages"};
        for (int x = 0; x < 2; ++x) {
            if (extras[x].is_none()) continue;
            if (!nb::isinstance<nb::list>(extras[x]) || (long long)nb::len(extras[x]) != count)
                throw nb::value_error((std::string(extra_names[x]) + ": expected a list of " + std::to_string(count) +
                                       " arrays, one per parameter").c_str());
        }
        accumulates = !accumulator_arrays.is_none();
        averages = !average_arrays.is_none();
        buffers.reserve(count * (3 + info.slots));
        segments.reserve(count);
        for (long long s = 0; s < count; ++s) {
            buffers.push_back(acquire(params[s], true, "params", s));
            const Buffer& p = buffers.back();
            const DType d = dtype_of(p, "params", s);
            if (s == 0) dtype = d;
            else if (d != dtype)
                throw nb::type_error((describe("params", s) + ": dtype must match params[0] (" + dtype_name(dtype) +
                                      ")").c_str());
            Segment seg{p.size(), p.view.buf, nullptr, {nullptr, nullptr, nullptr}, 1.0, false, true};
            for (int j = 0; j < info.slots; ++j) {
                buffers.push_back(acquire(kinds[j][s], true, "slots[" + std::to_string(j) + "]", s));
                const Buffer& b = buffers.back();
                if (dtype_of(b, "slots", j) != dtype || b.size() != seg.length)
                    throw nb::value_error(("slots[" + std::to_string(j) + "][" + std::to_string(s) + "]: must be " +
                                           dtype_name(dtype) + " with " + std::to_string(seg.length) +
                                           " elements like params[" + std::to_string(s) + "]").c_str());
                for (int k = 0; k < j; ++k)  // two slots in one array would be updated twice
                    if (seg.slots[k] == b.view.buf && seg.length > 0)
                        throw nb::value_error(("slots[" + std::to_string(j) + "][" + std::to_string(s) +
                                               "]: the same memory as another slot").c_str());
                seg.slots[j] = b.view.buf;
            }
            for (int x = 0; x < 2; ++x) {  // the accumulator and the average: slots the rule does not see
                if (extras[x].is_none()) continue;
                buffers.push_back(acquire(nb::borrow<nb::list>(extras[x])[s], true, extra_names[x], s));
                const Buffer& b = buffers.back();
                if (dtype_of(b, extra_names[x], s) != dtype || b.size() != seg.length)
                    throw nb::value_error((describe(extra_names[x], s) + ": must be " + dtype_name(dtype) + " with " +
                                           std::to_string(seg.length) + " elements like params[" + std::to_string(s) +
                                           "]").c_str());
                bool shared = b.view.buf == seg.param;
                for (int j = 0; j < info.slots; ++j) shared = shared || b.view.buf == seg.slots[j];
                if (x == 1) shared = shared || b.view.buf == seg.accumulator;
                if (shared && seg.length > 0)
                    throw nb::value_error((describe(extra_names[x], s) + ": the same memory as the parameter or "
                                           "another slot").c_str());
                (x == 0 ? seg.accumulator : seg.average) = b.view.buf;
            }
            segments.push_back(seg);
        }
        // A parameter listed twice would be updated twice, by two threads at once.
        std::vector<std::pair<const void*, long long>> starts;
        for (long long s = 0; s < count; ++s)
            if (segments[s].length > 0) starts.push_back({segments[s].param, s});
        std::sort(starts.begin(), starts.end());
        for (size_t k = 1; k < starts.size(); ++k)
            if (starts[k].first == starts[k - 1].first)
                throw nb::value_error((describe("params", starts[k].second) + ": the same memory as params[" +
                                       std::to_string(starts[k - 1].second) + "]").c_str());
    }

    Table(const Table&) = delete;  // holds buffer exports: never copied
    Table& operator=(const Table&) = delete;

    long long size() const { return (long long)segments.size(); }
};

// The bytes of one accel::LaunchArgs (a NumPy record of kernels.LAUNCH_ARGS), copied and checked.
accel::LaunchArgs read_launch_args(nb::handle obj) {
    Buffer b = acquire(obj, false, "args");
    if (b.view.len != (Py_ssize_t)sizeof(accel::LaunchArgs))
        throw nb::value_error(("args: has " + std::to_string(b.view.len) + " bytes, a LaunchArgs has " +
                               std::to_string(sizeof(accel::LaunchArgs))).c_str());
    accel::LaunchArgs args;
    std::memcpy(&args, b.view.buf, sizeof args);
    if (args.norm_sq || args.device_scalars || args.loss_scale || args.skip_nonfinite)
        throw nb::value_error("args: norm_sq, device_scalars, loss_scale and skip_nonfinite decide a step on a CUDA "
                              "device; on the CPU they are null");
    return args;
}

// Where each field of accel::LaunchArgs is: (name, NumPy type, offset, count), for kernels.LAUNCH_ARGS.
nb::list launch_args_layout() {
    nb::list out;
#define ACCEL_LAUNCH_FIELD(type, name, code, ...) \
    out.append(nb::make_tuple(#name, code, offsetof(accel::LaunchArgs, name), sizeof(accel::LaunchArgs::name) / 8));
#define ACCEL_LAUNCH_ARRAY ACCEL_LAUNCH_FIELD
    ACCEL_LAUNCH_FIELDS(ACCEL_LAUNCH_FIELD, ACCEL_LAUNCH_ARRAY)
#undef ACCEL_LAUNCH_ARRAY
#undef ACCEL_LAUNCH_FIELD
    return out;
}

// A variable updated only at some rows (an IndexedSlices gradient): `ids` (int64, strictly
// increasing, so no two threads write one row) and the row length; grads[s] holds one gradient row
// per id, and flags (uint8 per id, or none) replace the variable's flag row by row (AdagradDecay's
// per-row decay powers). Each row becomes a segment of its own: the loops, the rules and the
// extras (accumulator, average) then run unchanged, and the rows a step does not name are not read.
struct RowSelection {
    Buffer ids, flags;
    long long row_length = 0, count = 0;
};

RowSelection read_rows(nb::handle ids, nb::handle row_length, nb::handle flags, long long length, long long s) {
    RowSelection r;
    const std::string where = "rows[" + std::to_string(s) + "]";
    r.row_length = nb::cast<long long>(row_length);
    if (r.row_length <= 0 || length % r.row_length != 0)
        throw nb::value_error((where + ": the row length " + std::to_string(r.row_length) + " does not divide the " +
                               std::to_string(length) + " elements of params[" + std::to_string(s) + "]").c_str());
    r.ids = acquire_values(ids, -1, 'q', 8, where);
    r.count = r.ids.size();
    const long long* id = static_cast<const long long*>(r.ids.view.buf);
    const long long rows = length / r.row_length;
    for (long long k = 0; k < r.count; ++k) {
        if (id[k] < 0 || id[k] >= rows)
            throw nb::index_error((where + ": row " + std::to_string(id[k]) + " is not in [0, " + std::to_string(rows) +
                                   ")").c_str());
        if (k > 0 && id[k] <= id[k - 1])
            throw nb::value_error((where + ": row ids must be strictly increasing (unique), got " +
                                   std::to_string(id[k - 1]) + " then " + std::to_string(id[k])).c_str());
    }
    if (!flags.is_none()) r.flags = acquire_values(flags, r.count, 'B', 1, "row_flags[" + std::to_string(s) + "]");
    return r;
}

// `base` (an array of `itemsize`-byte elements, or nullptr) advanced by `elements`.
void* advance(void* base, long long elements, size_t itemsize) {
    return base == nullptr ? nullptr : static_cast<char*>(base) + elements * (long long)itemsize;
}

size_t item_size(DType d) { return d == DType::f16 ? 2 : d == DType::f32 ? 4 : 8; }

void launch(const Table& table, nb::list grads, nb::handle segment_scales, nb::handle segment_flags,
            nb::handle segment_decays, nb::handle launch_args, nb::handle rows, nb::handle row_lengths,
            nb::handle row_flags) {
    const accel::LaunchArgs args = read_launch_args(launch_args);
    const int accumulation = (int)args.accumulation;
    const double accumulation_steps = args.accumulation_steps, ema_momentum = args.ema_momentum;
    const long long count = table.size();
    if (args.accumulation < 0 || args.accumulation > 3)
        throw nb::value_error(("accumulation: expected 0 (none), 1 (add), 2 (mean) or 3 (accumulated), got " +
                               std::to_string(accumulation)).c_str());
    if (accumulation != 0 && !table.accumulates)
        throw nb::value_error("accumulation: this table has no accumulators");
    if (accumulation >= 2 && !(accumulation_steps >= 1))
        throw nb::value_error(("accumulation_steps: must be >= 1, got " + std::to_string(accumulation_steps)).c_str());
    const bool ema = args.ema != 0;
    if (ema && !table.averages) throw nb::value_error("ema_momentum: this table has no averages");
    if (ema && !(ema_momentum >= 0 && ema_momentum <= 1))
        throw nb::value_error(("ema_momentum: must be in [0, 1], got " + std::to_string(ema_momentum)).c_str());
    if ((long long)nb::len(grads) != count)
        throw nb::value_error(("grads: has " + std::to_string(nb::len(grads)) + " arrays for " +
                               std::to_string(count) + " parameters").c_str());
    Buffer scbuf, flbuf;
    const double* scale = nullptr;
    const uint8_t* flag = nullptr;
    if (!segment_scales.is_none()) {
        scbuf = acquire_values(segment_scales, count, 'd', 8, "segment_scales");
        scale = static_cast<const double*>(scbuf.view.buf);
    }
    if (!segment_flags.is_none()) {
        flbuf = acquire_values(segment_flags, count, 'B', 1, "segment_flags");
        flag = static_cast<const uint8_t*>(flbuf.view.buf);
    }
    Buffer debuf;
    const uint8_t* decays = nullptr;
    if (!segment_decays.is_none()) {
        debuf = acquire_values(segment_decays, count, 'B', 1, "segment_decays");
        decays = static_cast<const uint8_t*>(debuf.view.buf);
    }
    const bool selective = !rows.is_none();
    if (selective) {
        const char* names[3] = {"rows", "row_lengths", "row_flags"};
        const nb::handle lists[3] = {rows, row_lengths, row_flags};
        for (int k = 0; k < 3; ++k)
            if (!nb::isinstance<nb::list>(lists[k]) || (long long)nb::len(lists[k]) != count)
                throw nb::value_error((std::string(names[k]) + ": expected a list of " + std::to_string(count) +
                                       " entries, one per parameter").c_str());
    }
    Launch L{};
    L.rule = table.info.id;
    L.dtype = table.dtype;
    const size_t itemsize = item_size(L.dtype);
    std::vector<Buffer> gbufs;
    gbufs.reserve(count);
    std::vector<RowSelection> selections(count);
    std::vector<Segment> segments(table.segments);
    std::vector<Segment> row_segments;  // a selective launch: one segment per named row
    long long total = 0;
    for (long long s = 0; s < count; ++s) {
        gbufs.push_back(acquire(grads[s], false, "grads", s));
        if (dtype_of(gbufs[s], "grads", s) != L.dtype)
            throw nb::type_error((describe("grads", s) + ": dtype must match params (" +
                                  dtype_name(L.dtype) + ")").c_str());
        const bool some_rows = selective && !nb::borrow<nb::list>(rows)[s].is_none();
        if (some_rows)
            selections[s] = read_rows(nb::borrow<nb::list>(rows)[s], nb::borrow<nb::list>(row_lengths)[s],
                                      nb::borrow<nb::list>(row_flags)[s], segments[s].length, s);
        const long long expected = some_rows ? selections[s].count * selections[s].row_length : segments[s].length;
        if (gbufs[s].size() != expected)
            throw nb::value_error((describe("grads", s) + ": has " + std::to_string(gbufs[s].size()) + " elements, " +
                                   (some_rows ? "expected " + std::to_string(expected) + " (one row per id)"
                                              : "params[" + std::to_string(s) + "] has " + std::to_string(expected)))
                                      .c_str());
        segments[s].grad = gbufs[s].view.buf;
        segments[s].scale = scale ? scale[s] : 1.0;
        segments[s].flag = flag ? flag[s] != 0 : false;
        segments[s].decays = decays ? decays[s] != 0 : true;
        total += expected;
    }
    if (selective) {
        for (long long s = 0; s < count; ++s) {
            const Segment& whole = segments[s];
            const RowSelection& r = selections[s];
            if (r.row_length == 0) {
                row_segments.push_back(whole);
                continue;
            }
            const long long* id = static_cast<const long long*>(r.ids.view.buf);
            const uint8_t* row_flag = r.flags.held ? static_cast<const uint8_t*>(r.flags.view.buf) : nullptr;
            for (long long k = 0; k < r.count; ++k) {
                const long long at = id[k] * r.row_length;
                Segment row = whole;
                row.length = r.row_length;
                row.param = advance(whole.param, at, itemsize);
                row.grad = advance(const_cast<void*>(whole.grad), k * r.row_length, itemsize);
                for (int j = 0; j < 3; ++j) row.slots[j] = advance(whole.slots[j], at, itemsize);
                row.accumulator = advance(whole.accumulator, at, itemsize);
                row.average = advance(whole.average, at, itemsize);
                if (row_flag) row.flag = row_flag[k] != 0;
                row_segments.push_back(row);
            }
        }
        segments.swap(row_segments);
    }
    L.segments = segments.data();
    L.args = args;
    L.args.ema_overwrite = ema && args.ema_overwrite;

    const std::vector<Chunk> chunks = make_chunks(segments);
    const IsaLoops* loops = g_loops;
    nb::gil_scoped_release release;
    if (selective) {  // many short rows: each task runs a range of them (one pool task per row cost more)
        for_ranges((long long)chunks.size(), total, thread_count(), [&](long long b, long long e) {
            for (long long c = b; c < e; ++c) loops->run_chunk(L, chunks[c]);
        });
        return;
    }
    for_chunks(chunks, total, [&](long long c) { loops->run_chunk(L, chunks[c]); });
}

// ---- reductions and probes --------------------------------------------------------------------
// sum(x * x) of each array, accumulated in float64 per chunk and summed per array in chunk order.
std::vector<double> norms_sq(nb::list arrays) {
    const long long count = (long long)nb::len(arrays);
    std::vector<Buffer> bufs;
    std::vector<Segment> segments;
    std::vector<DType> types;
    long long total = 0;
    for (long long s = 0; s < count; ++s) {
        bufs.push_back(acquire(arrays[s], false, "arrays", s));
        types.push_back(dtype_of(bufs[s], "arrays", s));
        segments.push_back({bufs[s].size(), nullptr, bufs[s].view.buf, {nullptr, nullptr, nullptr}, 1.0, false, false});
        total += bufs[s].size();
    }
    const std::vector<Chunk> chunks = make_chunks(segments);
    std::vector<double> partial(chunks.size(), 0.0);
    const IsaLoops* loops = g_loops;
    {
        nb::gil_scoped_release release;
        for_chunks(chunks, total, [&](long long k) {
            const Chunk& c = chunks[k];
            partial[k] = loops->sum_squares(types[c.segment], segments[c.segment].grad, c.begin, c.end);
        });
    }
    std::vector<double> out(count, 0.0);  // summed in chunk order: the same for any thread count
    for (size_t k = 0; k < chunks.size(); ++k) out[chunks[k].segment] += partial[k];
    return out;
}

// sum over all arrays of sum(x * x), accumulated in float64, in one pass over the data.
double global_norm_sq(nb::list arrays) {
    double total = 0.0;
    for (double v : norms_sq(arrays)) total += v;
    return total;
}

// The bandwidth probe: a += s * b in place (float32), the memory-bound floor for a fused update.
void axpy(nb::handle a, nb::handle b, double s) {
    Buffer abuf = acquire(a, true, "a"), bbuf = acquire(b, false, "b");
    if (dtype_of(abuf, "a") != DType::f32 || dtype_of(bbuf, "b") != DType::f32 || abuf.size() != bbuf.size())
        throw nb::value_error("axpy: a and b must be float32 arrays of one size");
    float* x = static_cast<float*>(abuf.view.buf);
    const float* y = static_cast<const float*>(bbuf.view.buf);
    std::vector<Segment> segments{{abuf.size(), nullptr, nullptr, {nullptr, nullptr, nullptr}, 1.0, false, false}};
    const std::vector<Chunk> chunks = make_chunks(segments);
    const IsaLoops* loops = g_loops;
    nb::gil_scoped_release release;
    for_chunks(chunks, abuf.size(), [&](long long k) { loops->axpy(x, y, float(s), chunks[k].begin, chunks[k].end); });
}

// The probe of a fused step's access pattern: writes[w] += s * sum(reads) (float32, one size),
// so a kernel's "% of limit" compares it with the same number of read and written streams.
void stream_probe(nb::list writes, nb::list reads, double s) {
    const long long write_count = (long long)writes.size(), read_count = (long long)reads.size();
    if (write_count < 1 || write_count > kProbeMaxWrites || read_count > kProbeMaxReads)
        throw nb::value_error(("stream_probe: 1 to " + std::to_string(kProbeMaxWrites) + " writes and at most " +
                               std::to_string(kProbeMaxReads) + " reads, got " + std::to_string(write_count) + " and " +
                               std::to_string(read_count)).c_str());
    std::vector<Buffer> buffers;
    buffers.reserve(write_count + read_count);
    float* w[kProbeMaxWrites] = {};
    const float* r[kProbeMaxReads] = {};
    for (long long k = 0; k < write_count + read_count; ++k) {
        const bool written = k < write_count;
        const std::string name = written ? "writes" : "reads";
        const long long index = written ? k : k - write_count;
        buffers.push_back(acquire(written ? writes[k] : reads[index], written, name, index));
        if (dtype_of(buffers.back(), name, index) != DType::f32 || buffers.back().size() != buffers[0].size())
            throw nb::value_error((describe(name, index) + ": the probe's arrays are float32 of one size").c_str());
        if (written) w[k] = static_cast<float*>(buffers.back().view.buf);
        else r[index] = static_cast<const float*>(buffers.back().view.buf);
    }
    const long long n = buffers[0].size();
    std::vector<Segment> segments{{n, nullptr, nullptr, {nullptr, nullptr, nullptr}, 1.0, false, false}};
    const std::vector<Chunk> chunks = make_chunks(segments);
    const IsaLoops* loops = g_loops;
    nb::gil_scoped_release release;
    for_chunks(chunks, n, [&](long long k) {
        loops->stream(w, int(write_count), r, int(read_count), float(s), chunks[k].begin, chunks[k].end);
    });
}

nb::dict build_info() {
    nb::dict info;
    info["threads"] = thread_count();
    info["isa"] = std::string(g_loops->name);
    nb::list isas;
    for (const IsaLoops* l : supported_isas()) isas.append(std::string(l->name));
    info["supported_isas"] = isas;
#if defined(__clang__)
    info["compiler"] = std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
    info["compiler"] = std::string("gcc ") + __VERSION__;
#else
    info["compiler"] = std::string("unknown");
#endif
    return info;
}

void set_isa(const std::string& name) {
    for (const IsaLoops* l : supported_isas())
        if (name == l->name) {
            g_loops = l;
            return;
        }
    std::string known;
    for (const IsaLoops* l : supported_isas()) known += std::string(known.empty() ? "" : ", ") + l->name;
    throw nb::value_error(("set_isa: '" + name + "' is not supported on this CPU (supported: " + known + ")").c_str());
}

}  // namespace

namespace accel_cpu {
void bind_activations(nb::module_& m, NnRuntime runtime);  // activations.cpp
void bind_classification(nb::module_& m, NnRuntime runtime);  // classification.cpp
void bind_normalization(nb::module_& m, NnRuntime runtime);   // normalization.cpp
void bind_windows(nb::module_& m, int (*threads)());  // windows.cpp
void bind_sparse_rows(nb::module_& m, int (*threads)());  // sparse_rows.cpp
}

NB_MODULE(_cpu, m) {
    g_loops = supported_isas().back();  // the widest instruction set this CPU runs
    pthread_atfork(nullptr, nullptr, accel_cpu::reset_pool_in_child);
    m.doc() = "accel's compiled CPU kernels (fused optimizer updates over csrc/rules)";
    const NnRuntime nn{[]() { return g_loops->nn; }, &thread_count};
    accel_cpu::bind_activations(m, nn);
    accel_cpu::bind_classification(m, nn);
    accel_cpu::bind_normalization(m, nn);
    accel_cpu::bind_windows(m, &thread_count);
    accel_cpu::bind_sparse_rows(m, &thread_count);
    m.def("rules", &rules, "The fused kernels of csrc/rules/registry.h: id, family, flags, slots, scalars, types.");
    m.def("build_info", &build_info, "How accel._cpu was built and runs: threads, ISA, compiler.");
    m.def("set_num_threads", [](int n) {
        if (n < 0) throw nb::value_error("set_num_threads: n must be >= 0 (0 = the default)");
        g_threads = n;
    }, nb::arg("n"), "Threads the kernels use (0: OMP_NUM_THREADS if set, else the usable cores).");
    m.def("get_num_threads", &thread_count, "Threads the kernels use.");
    m.def("set_isa", &set_isa, nb::arg("name"), "Use the loops of one instruction set (for tests).");
    nb::class_<Table>(m, "Table", "The checked parameter and slot arrays of one launch group (held).")
        .def(nb::init<const std::string&, nb::list, nb::list, nb::handle, nb::handle>(), nb::arg("rule"),
             nb::arg("params"), nb::arg("slots"), nb::arg("accumulators").none() = nb::none(),
             nb::arg("averages").none() = nb::none())
        .def_ro("accumulates", &Table::accumulates)
        .def_ro("averages", &Table::averages)
        .def("__len__", &Table::size)
        .def_ro("rule", &Table::rule)
        .def_prop_ro("dtype", [](const Table& t) { return std::string(dtype_name(t.dtype)); });
    m.def("launch", &launch, nb::arg("table"), nb::arg("grads"), nb::arg("segment_scales").none(),
          nb::arg("segment_flags").none(), nb::arg("segment_decays").none(), nb::arg("args"),
          nb::arg("rows").none() = nb::none(), nb::arg("row_lengths").none() = nb::none(),
          nb::arg("row_flags").none() = nb::none(),
          "One fused optimizer update of every variable of a table, from one gradient each; args: the bytes of "
          "one LaunchArgs (csrc/rules/launch_args.h). rows (a list with, per variable, None or its strictly "
          "increasing int64 row ids), row_lengths (elements per row) and row_flags (None or uint8 per id): "
          "update only those rows of those variables, from one gradient row per id.");
    m.def("launch_args_layout", &launch_args_layout,
          "(name, NumPy type, byte offset, count) of each field of LaunchArgs, in layout order.");
    m.def("norms_sq", &norms_sq, nb::arg("arrays"), "sum(x*x) of each array, in float64, in one pass.");
    m.def("global_norm_sq", &global_norm_sq, nb::arg("arrays"),
          "sum(x*x) over all arrays, in float64, in one pass.");
    m.def("global_clip_scale", &accel::global_clip_scale, nb::arg("norm_sq"), nb::arg("clip_norm"),
          "clip_by_global_norm's factor clip / max(norm, clip) (NaN for an inf/NaN norm).");
    m.def("axpy", &axpy, nb::arg("a"), nb::arg("b"), nb::arg("s"), "a += s * b (bandwidth probe).");
    m.def("stream_probe", &stream_probe, nb::arg("writes"), nb::arg("reads"), nb::arg("s"),
          "writes[w] += s * sum(reads) for every w: the bandwidth probe of a step's access pattern.");
}
