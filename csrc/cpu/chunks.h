// What the compiled launches of accel._cpu share (module.cpp: threads and instruction sets;
// fused_launch.cpp: the fused optimizer updates; norms.cpp: the clipping norms and the bandwidth
// probes): arrays through the buffer protocol, checked; long contiguous chunks over the pool.
#pragma once
#include <nanobind/nanobind.h>

#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "cpu/launch.h"
#include "cpu/pool.h"
#include "cpu/view.h"

namespace accel_cpu {

namespace nb = nanobind;

// ---- threads ----------------------------------------------------------------------------------
int thread_count();                 // the threads the kernels use (module.cpp: set_num_threads)
const IsaLoops* current_loops();    // the loops of the instruction set in use (module.cpp: set_isa)

// Below this many elements a launch runs on the calling thread: waking threads costs more.
constexpr long long kParallelThreshold = 1 << 15;
// Chunks are long contiguous runs (about four per thread): each thread then streams through
// memory sequentially and the hardware prefetchers stay ahead. With fixed 32K-element chunks
// handed out alternately, a single 2^25-element SGD ran at 70% of the bandwidth PyTorch reached.
constexpr long long kMinChunk = 1 << 15;
constexpr long long kMaxChunk = 1 << 22;

inline long long chunk_length(long long total, int threads) {
    long long length = total / (4LL * threads);
    length = length < kMinChunk ? kMinChunk : (length > kMaxChunk ? kMaxChunk : length);
    return (length + 63) & ~63LL;  // whole cache lines for every element size
}

// ---- buffers through the buffer protocol ------------------------------------------------------
inline const char* dtype_name(DType d) {
    return d == DType::f16 ? "float16" : d == DType::f32 ? "float32" : "float64";
}

using Buffer = View;  // an argument's buffer (view.h), acquired by `acquire` below with its index in messages

inline std::string describe(const std::string& argument, long long index) {
    return index < 0 ? argument : argument + "[" + std::to_string(index) + "]";
}

inline Buffer acquire(nb::handle obj, bool writable, const std::string& argument, long long index = -1) {
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

inline DType dtype_of(const Buffer& b, const std::string& argument, long long index = -1) {
    const char* f = b.view.format ? b.view.format : "B";
    if (*f == '<' || *f == '=' || *f == '@') ++f;
    if (std::strcmp(f, "e") == 0 && b.view.itemsize == 2) return DType::f16;
    if (std::strcmp(f, "f") == 0 && b.view.itemsize == 4) return DType::f32;
    if (std::strcmp(f, "d") == 0 && b.view.itemsize == 8) return DType::f64;
    throw nb::type_error((describe(argument, index) + ": unsupported element format '" + f +
                          "', expected float16, float32 or float64").c_str());
}

// ---- chunks and threads -----------------------------------------------------------------------
inline std::vector<Chunk> make_chunks(const std::vector<Segment>& segments) {
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

}  // namespace accel_cpu
