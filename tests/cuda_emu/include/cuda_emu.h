// The CUDA kernels of csrc/cuda, unmodified, on the CPU: what CUDA provides, for g++ (C++20).
//
// This checks the kernels' logic (indexing, chunk and segment tables, the vector path and its
// scalar tail, shared-memory reductions) and the Python bridge that launches them: not warps,
// flush-to-zero or fused multiply-adds (the CPU build and this one both compile with
// -ffp-contract=off, so results are compared bit for bit).
//
// A launch runs the block's threads as std::threads that meet at a std::barrier: __syncthreads
// waits there, and every thread waits there again after each block, so the blocks run one after
// another and a __shared__ array (a function-local static) is the block's own. Kernel arguments
// are read as the kernel's own parameter types from the bytes the caller packed, as
// cuLaunchKernel does, so an argument of the wrong type is garbage here exactly as on a GPU.
#pragma once
#define __CUDACC_RTC__ 1  // what NVRTC defines: csrc/rules/common.h then takes its GPU branch

#include <atomic>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <math.h>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "cuda_fp16.h"

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static
#define __launch_bounds__(...)

struct uint3 {
    unsigned int x, y, z;
};
struct dim3 {
    unsigned int x = 1, y = 1, z = 1;
};
namespace cuda_emu {
// Internal linkage: each compiled library counts its own (an inline variable would be one object
// shared by every library loaded, GCC marks it unique).
static std::atomic<long long> vector_copies{0};  // 16-byte copies through uint4 (the vector path)
static std::atomic<bool> misaligned{false};       // a 16-byte access that a GPU would fault on

inline void vector_access(const void* a, const void* b) {
    ++vector_copies;
    if ((reinterpret_cast<uintptr_t>(a) | reinterpret_cast<uintptr_t>(b)) & 15u) misaligned = true;
}
}  // namespace cuda_emu

// CUDA's uint4, counting its copies (a test can tell that the 16-byte vector path ran) and
// checking their alignment: the CPU reads a misaligned uint4 happily, a GPU raises
// "misaligned address".
struct alignas(16) uint4 {
    unsigned int x, y, z, w;
    uint4() = default;
    uint4(const uint4& o) : x(o.x), y(o.y), z(o.z), w(o.w) { cuda_emu::vector_access(this, &o); }
    uint4& operator=(const uint4& o) {
        x = o.x, y = o.y, z = o.z, w = o.w;
        cuda_emu::vector_access(this, &o);
        return *this;
    }
};

inline thread_local uint3 threadIdx;
inline thread_local uint3 blockIdx;
inline thread_local dim3 blockDim;
inline thread_local dim3 gridDim;

namespace cuda_emu {
inline thread_local std::barrier<>* block_barrier = nullptr;
}

inline void __syncthreads() { cuda_emu::block_barrier->arrive_and_wait(); }

namespace cuda_emu {

template <class P> P read_argument(void* const* args, size_t i) {
    P value;
    std::memcpy(&value, args[i], sizeof(P));
    return value;
}

template <class... P, size_t... I>
std::tuple<P...> read_arguments(void* const* args, std::index_sequence<I...>) {
    return std::tuple<P...>(read_argument<P>(args, I)...);
}

// Runs kernel<<<grid, block>>>(args...) to completion. `args[i]` points at the bytes of argument
// i, which are read as the kernel's i-th parameter type.
template <class... P>
void launch(void (*kernel)(P...), dim3 grid, dim3 block, void* const* args) {
    const std::tuple<P...> values = read_arguments<P...>(args, std::index_sequence_for<P...>{});
    const unsigned threads = block.x * block.y * block.z;
    if (threads == 0 || threads > 1024) throw std::invalid_argument("block: 1 to 1024 threads");
    std::barrier<> barrier(threads);
    std::vector<std::thread> pool;
    pool.reserve(threads);
    for (unsigned t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            block_barrier = &barrier;
            blockDim = block;
            gridDim = grid;
            threadIdx = uint3{t % block.x, (t / block.x) % block.y, t / (block.x * block.y)};
            for (unsigned z = 0; z < grid.z; ++z)
                for (unsigned y = 0; y < grid.y; ++y)
                    for (unsigned x = 0; x < grid.x; ++x) {
                        blockIdx = uint3{x, y, z};
                        std::apply(kernel, values);
                        barrier.arrive_and_wait();  // the block is done before the next starts
                    }
        });
    }
    for (std::thread& th : pool) th.join();
    if (misaligned.exchange(false))
        throw std::runtime_error("misaligned address: a 16-byte vector access was not 16-byte aligned");
}

}  // namespace cuda_emu
