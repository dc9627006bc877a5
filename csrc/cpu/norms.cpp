// The norms of accel._cpu's gradient clipping (sum(x * x) per array and over all, in float64, one
// pass over chunks of the pool) and the bandwidth probes bench/ measures the fused updates against
// (a += s * b; a step's access pattern of read and written streams).
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <string>
#include <vector>

#include "cpu/chunks.h"
#include "rules/apply.h"

namespace nb = nanobind;

namespace accel_cpu {
namespace {

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
    const IsaLoops* loops = current_loops();
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
    const IsaLoops* loops = current_loops();
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
    const IsaLoops* loops = current_loops();
    nb::gil_scoped_release release;
    for_chunks(chunks, n, [&](long long k) {
        loops->stream(w, int(write_count), r, int(read_count), float(s), chunks[k].begin, chunks[k].end);
    });
}

}  // namespace

void bind_norms(nb::module_& m) {
    m.def("norms_sq", &norms_sq, nb::arg("arrays"), "sum(x*x) of each array, in float64, in one pass.");
    m.def("global_norm_sq", &global_norm_sq, nb::arg("arrays"),
          "sum(x*x) over all arrays, in float64, in one pass.");
    m.def("global_clip_scale", &accel::global_clip_scale, nb::arg("norm_sq"), nb::arg("clip_norm"),
          "clip_by_global_norm's factor clip / max(norm, clip) (NaN for an inf/NaN norm).");
    m.def("axpy", &axpy, nb::arg("a"), nb::arg("b"), nb::arg("s"), "a += s * b (bandwidth probe).");
    m.def("stream_probe", &stream_probe, nb::arg("writes"), nb::arg("reads"), nb::arg("s"),
          "writes[w] += s * sum(reads) for every w: the bandwidth probe of a step's access pattern.");
}

}  // namespace accel_cpu
