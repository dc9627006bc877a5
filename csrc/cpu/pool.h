// The thread pool of accel._cpu's kernels.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>
#ifdef __linux__
#include <sched.h>
#endif

namespace accel_cpu {

// A pool whose idle workers block (a condition variable) instead of spinning. OpenMP's default
// spinning workers starved the BLAS threads of NumPy's next matmul on a 2-core machine (a matmul
// followed by an update took 8.7 ms instead of 0.5 ms); blocking workers cost a few microseconds
// of wake-up per large launch and nothing else. Chunks are handed out by an atomic counter, so a
// thread the OS delays does not hold the others up; every chunk writes its own memory, so the
// results do not depend on which thread ran which chunk.
class Pool {
  public:
    // Runs task(0..count-1) on up to `threads` threads (the caller is one of them).
    void run(long long count, int threads, const std::function<void(long long)>& task) {
        std::unique_lock<std::mutex> busy(run_mutex_, std::try_to_lock);
        if (!busy || threads <= 1 || count <= 1) {  // another thread is using the pool: run here
            for (long long t = 0; t < count; ++t) task(t);
            return;
        }
        const int helpers = std::min<long long>(threads - 1, count - 1);
        {
            std::lock_guard<std::mutex> lock(mutex_);
            while ((int)workers_.size() < helpers) {
                const int index = (int)workers_.size();
                workers_.emplace_back([this, index] { work_loop(index); });
                workers_.back().detach();
            }
            task_ = &task;
            count_ = count;
            next_.store(0);
            participants_ = helpers;
            pending_ = helpers;
            ++generation_;
        }
        start_.notify_all();
        drain();
        std::unique_lock<std::mutex> lock(mutex_);
        done_.wait(lock, [this] { return pending_ == 0; });
        task_ = nullptr;
    }

  private:
    void drain() {
        for (long long t = next_.fetch_add(1); t < count_; t = next_.fetch_add(1)) (*task_)(t);
    }

    void work_loop(int index) {
        long long seen = 0;
        for (;;) {
            {
                std::unique_lock<std::mutex> lock(mutex_);
                start_.wait(lock, [&] { return generation_ != seen; });
                seen = generation_;
                if (index >= participants_) continue;
            }
            drain();
            std::lock_guard<std::mutex> lock(mutex_);
            if (--pending_ == 0) done_.notify_one();
        }
    }

    std::mutex run_mutex_, mutex_;
    std::condition_variable start_, done_;
    std::vector<std::thread> workers_;
    const std::function<void(long long)>* task_ = nullptr;
    std::atomic<long long> next_{0};
    long long count_ = 0, generation_ = 0;
    int participants_ = 0, pending_ = 0;
};

// The process's pool; never destroyed (workers may still be parked at interpreter exit).
inline Pool*& pool_slot() {
    static Pool* instance = new Pool();
    return instance;
}

inline Pool& pool() { return *pool_slot(); }

// A forked child has none of the parent's threads: give it a fresh pool (the old one is leaked:
// its mutexes may be held by threads that no longer exist).
inline void reset_pool_in_child() { pool_slot() = new Pool(); }

// Runs fn(begin, end) over contiguous ranges covering [0, count), about four per thread, on the pool
// when `work` (the elements the call touches) is worth waking threads for; else fn(0, count) here.
template <class Fn> void for_ranges(long long count, long long work, int threads, Fn&& fn) {
    constexpr long long kParallelWork = 1 << 15;
    if (count <= 1 || threads <= 1 || work < kParallelWork) {
        if (count > 0) fn(0LL, count);
        return;
    }
    const long long ranges = std::min<long long>(count, 4LL * threads), per = (count + ranges - 1) / ranges;
    const std::function<void(long long)> task = [&](long long k) {
        const long long begin = k * per, end = std::min(count, begin + per);
        if (begin < end) fn(begin, end);
    };
    pool().run(ranges, threads, task);
}

inline int default_threads() {
    // OMP_NUM_THREADS is the usual knob for CPU math libraries; accel honours it too.
    if (const char* env = std::getenv("OMP_NUM_THREADS")) {
        const int n = std::atoi(env);
        if (n > 0) return n;
    }
#ifdef __linux__
    cpu_set_t set;  // the cores this process may run on (containers, taskset), not all of them
    if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
#endif
    return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace accel_cpu
