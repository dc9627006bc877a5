// accel._cpu: the CPU side of accel's kernels, and the module that binds them.
//
// This file picks the instruction set (the widest this CPU runs; set_isa for tests) and the
// thread count, and defines the module: the fused optimizer updates (fused_launch.cpp), their
// norms and the bandwidth probes (norms.cpp), the neural-network loops (activations.cpp,
// classification.cpp, normalization.cpp, windows.cpp) and the sparse rows (sparse_rows.cpp). The
// loops are in loops.cpp and nn_loops.cpp, compiled once per instruction set; the optimizer math
// is in csrc/rules (the headers the CUDA kernels compile).
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <pthread.h>

#include <string>
#include <vector>

#include "cpu/chunks.h"

namespace nb = nanobind;
using namespace accel_cpu;

namespace {

// ---- threads and instruction sets -------------------------------------------------------------
int g_threads = 0;  // 0: accel_cpu::default_threads()
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

int accel_cpu::thread_count() { return g_threads > 0 ? g_threads : accel_cpu::default_threads(); }
const IsaLoops* accel_cpu::current_loops() { return g_loops; }

namespace accel_cpu {
void bind_activations(nb::module_& m, NnRuntime runtime);  // activations.cpp
void bind_classification(nb::module_& m, NnRuntime runtime);  // classification.cpp
void bind_normalization(nb::module_& m, NnRuntime runtime);   // normalization.cpp
void bind_windows(nb::module_& m, int (*threads)());  // windows.cpp
void bind_sparse_rows(nb::module_& m, int (*threads)());  // sparse_rows.cpp
void bind_fused_launch(nb::module_& m);  // fused_launch.cpp
void bind_norms(nb::module_& m);         // norms.cpp
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
    m.def("build_info", &build_info, "How accel._cpu was built and runs: threads, ISA, compiler.");
    m.def("set_num_threads", [](int n) {
        if (n < 0) throw nb::value_error("set_num_threads: n must be >= 0 (0 = the default)");
        g_threads = n;
    }, nb::arg("n"), "Threads the kernels use (0: OMP_NUM_THREADS if set, else the usable cores).");
    m.def("get_num_threads", &thread_count, "Threads the kernels use.");
    m.def("set_isa", &set_isa, nb::arg("name"), "Use the loops of one instruction set (for tests).");
    accel_cpu::bind_fused_launch(m);
    accel_cpu::bind_norms(m);
}
