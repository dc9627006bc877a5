// The neural-network loops of accel._cpu for one instruction set: nn_loops.cpp is compiled once per
// ISA (as loops.cpp), and the bindings (activations.cpp, classification.cpp) call the table of the
// ISA module.cpp picked. Each function computes a range the caller hands it (elements, or whole
// rows), so the bindings split a call over the thread pool and every element's value does not
// depend on the split or on the ISA (no FMA contraction; row sums in fixed 16-lane order).
#pragma once

namespace accel_cpu {

struct NnLoops {
    // out = erf(x): float32 by rules/erf32.h (as the CUDA kernel), float64 by std::erf
    void (*erf_f)(const float* x, float* out, long long n);
    void (*erf_d)(const double* x, double* out, long long n);
    // out = x * (erf(x / sqrt 2) + 1) / 2
    void (*gelu_f)(const float* x, float* out, long long n);
    void (*gelu_d)(const double* x, double* out, long long n);
    // out = g * ((erf(x / sqrt 2) + 1) / 2 + x exp(-x^2 / 2) / sqrt(2 pi))
    void (*gelu_grad_f)(const float* g, const float* x, float* out, long long n);
    void (*gelu_grad_d)(const double* g, const double* x, double* out, long long n);
    // Rows [0, rows) of `cols` elements: out = softmax(z) (log: log_softmax(z)), z = x * scale where
    // kept, -inf where masked; causal > 0: row r is row (row0 + r) % causal of a (causal, cols)
    // block and keeps columns j <= that row (0: every column).
    void (*softmax_f)(const float* x, float* out, long long rows, long long cols, double scale, long long causal,
                      long long row0, bool log);
    void (*softmax_d)(const double* x, double* out, long long rows, long long cols, double scale, long long causal,
                      long long row0, bool log);
    // The VJPs of those rows given y (the output): softmax: out = scale * y * (g - sum(g * y));
    // log_softmax: out = scale * (g - exp(y) * sum(g)).
    void (*softmax_grad_f)(const float* g, const float* y, float* out, long long rows, long long cols, double scale,
                           bool log);
    void (*softmax_grad_d)(const double* g, const double* y, double* out, long long rows, long long cols,
                           double scale, bool log);
    // Rows of `cols` elements normalised: out = (x - mean) / sqrt(var + eps), var the population
    // variance (two passes, sums in double); and its VJP given g: r * (g - mean(g) - xhat * mean(g * xhat)),
    // r = 1 / sqrt(var + eps), xhat the normalised row.
    void (*layer_norm_f)(const float* x, float* out, long long rows, long long cols, double eps);
    void (*layer_norm_d)(const double* x, double* out, long long rows, long long cols, double eps);
    void (*layer_norm_grad_f)(const float* g, const float* x, float* out, long long rows, long long cols, double eps);
    void (*layer_norm_grad_d)(const double* g, const double* x, double* out, long long rows, long long cols,
                              double eps);
    // The sparse softmax cross-entropy of rows (classification.cpp states the math): loss and/or
    // grad = g * (softmax - one_hot); labels int32 (label_bytes 4) or int64 (8). Returns the first
    // row whose label is outside [0, cols), or -1.
    long long (*xent_f)(const float* logits, const void* labels, int label_bytes, long long rows, long long cols,
                        const float* g, float* loss, float* grad);
    long long (*xent_d)(const double* logits, const void* labels, int label_bytes, long long rows, long long cols,
                        const double* g, double* loss, double* grad);
};

// Defined by nn_loops.cpp, one per compiled instruction set.
extern const NnLoops nn_loops_baseline;
extern const NnLoops nn_loops_avx2;
extern const NnLoops nn_loops_avx512;

// What the bindings need from module.cpp: the loops of the ISA in use and the thread count.
struct NnRuntime {
    const NnLoops* (*loops)();
    int (*threads)();
};

}  // namespace accel_cpu
