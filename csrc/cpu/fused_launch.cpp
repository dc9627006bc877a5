// The fused optimizer updates of accel._cpu: one call updates every parameter of a (device, dtype)
// group. The parameters and each slot are the variables' own arrays, checked once into a Table;
// gradients arrive as one array per segment (a variable). A launch validates its arguments (all of
// them, before anything is written), splits the work into chunks and runs them on the pool with
// the GIL released, through the rule of csrc/rules/<family>.h (loops.cpp, per instruction set).
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "cpu/chunks.h"
#include "rules/apply.h"

namespace nb = nanobind;

namespace accel_cpu {
namespace {

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
    const IsaLoops* loops = current_loops();
    nb::gil_scoped_release release;
    if (selective) {  // many short rows: each task runs a range of them (one pool task per row cost more)
        for_ranges((long long)chunks.size(), total, thread_count(), [&](long long b, long long e) {
            for (long long c = b; c < e; ++c) loops->run_chunk(L, chunks[c]);
        });
        return;
    }
    for_chunks(chunks, total, [&](long long c) { loops->run_chunk(L, chunks[c]); });
}

}  // namespace

void bind_fused_launch(nb::module_& m) {
    m.def("rules", &rules, "The fused kernels of csrc/rules/registry.h: id, family, flags, slots, scalars, types.");
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
}

}  // namespace accel_cpu
