// accel._cpu: the CPU side of accel's fused kernels.
//
// For now it reports how it was built, which proves the toolchain (scikit-build-core, nanobind,
// OpenMP) on every install; the fused optimizer loops over kernels/rules join it later.
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace nb = nanobind;

static nb::dict build_info() {
    nb::dict info;
#ifdef _OPENMP
    info["openmp"] = true;
    info["max_threads"] = omp_get_max_threads();
#else
    info["openmp"] = false;
    info["max_threads"] = 1;
#endif
#if defined(__clang__)
    info["compiler"] = std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
    info["compiler"] = std::string("gcc ") + __VERSION__;
#else
    info["compiler"] = std::string("unknown");
#endif
    return info;
}

NB_MODULE(_cpu, m) {
    m.doc() = "accel's compiled CPU kernels";
    m.def("build_info", &build_info,
          "How accel._cpu was built: OpenMP support, its thread count, the compiler.");
}
