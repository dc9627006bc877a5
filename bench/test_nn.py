"""The models-people-train rows in the benchmark suite, on every device present (a CUDA device
when there is one: these are the GPU rows), ours beside PyTorch eager in the same run:

- conv2d 3x3, 16 -> 32 channels, 32x32, batch 32, forward + backward (target <= 1.5x PyTorch);
- a causal attention block (batch 16, T 64, 4 heads x 32) forward + backward (target <= 1.0x).

bench/compare_nn.py runs the same rows (and the examples' training steps) with each library in a
process of its own, which is how the targets are judged on a CPU host.
"""

import numpy

import accel as ac

CONV_FLOPS = 3 * 2 * 32 * 32 * 32 * 3 * 3 * 16 * 32
ATTENTION_FLOPS = 3 * 2 * (4 * 16 * 64 * 128 * 128 + 2 * 16 * 4 * 64 * 64 * 32)


def _conv_data():
    rng = numpy.random.default_rng(0)
    return (rng.normal(size=(32, 32, 32, 16)).astype(numpy.float32),
            (rng.normal(size=(3, 3, 16, 32)) * 0.1).astype(numpy.float32))


def _attention_data():
    rng = numpy.random.default_rng(0)
    return (rng.normal(size=(16, 64, 128)).astype(numpy.float32),
            [(rng.normal(size=(128, 128)) * 0.09).astype(numpy.float32) for _ in range(4)])


def test_conv2d_accel(benchmark, bench_device):
    benchmark.group = f"nn: conv2d 3x3 16->32, 32x32, batch 32, forward+backward [{bench_device}]"
    benchmark.extra_info["flops"] = CONV_FLOPS
    x_np, f_np = _conv_data()
    device = ac.get_device(bench_device)
    x, f = ac.tensor(x_np, device=device), ac.Variable(f_np, device=device)

    def step():
        with ac.GradientTape() as tape:
            tape.watch(x)
            y = ac.conv2d(x, f, 1, "SAME")
            loss = ac.sum(y * y)
        grads = tape.gradient(loss, [x, f])
        device.synchronize()
        return grads

    grads = benchmark(step)
    assert grads[1].shape == (3, 3, 16, 32) and float(ac.sum(grads[1] * grads[1])) > 0


def test_conv2d_torch(benchmark, torch_module, bench_device):
    torch = torch_module
    benchmark.group = f"nn: conv2d 3x3 16->32, 32x32, batch 32, forward+backward [{bench_device}]"
    benchmark.extra_info["flops"] = CONV_FLOPS
    x_np, f_np = _conv_data()
    device = "cuda" if bench_device.startswith("cuda") else "cpu"
    x = torch.tensor(x_np.transpose(0, 3, 1, 2).copy(), device=device, requires_grad=True)
    f = torch.tensor(f_np.transpose(3, 2, 0, 1).copy(), device=device, requires_grad=True)

    def step():
        y = torch.nn.functional.conv2d(x, f, padding=1)
        grads = torch.autograd.grad((y * y).sum(), [x, f])
        if device != "cpu":
            torch.cuda.synchronize()
        return grads

    grads = benchmark(step)
    assert float((grads[1] * grads[1]).sum()) > 0


def test_attention_accel(benchmark, bench_device):
    benchmark.group = f"nn: causal attention block B16 T64 4x32, forward+backward [{bench_device}]"
    benchmark.extra_info["flops"] = ATTENTION_FLOPS
    x_np, w_np = _attention_data()
    device = ac.get_device(bench_device)
    x, ws = ac.tensor(x_np, device=device), [ac.Variable(w, device=device) for w in w_np]

    def step():
        with ac.GradientTape() as tape:
            tape.watch(x)
            q, k, v = (ac.reshape(x @ w, (16, 64, 4, 32)) for w in ws[:3])
            y = ac.reshape(ac.dot_product_attention(q, k, v, is_causal=True), (16, 64, 128)) @ ws[3]
            loss = ac.sum(y * y)
        grads = tape.gradient(loss, [x, *ws])
        device.synchronize()
        return grads

    grads = benchmark(step)
    assert len(grads) == 5 and float(ac.sum(grads[1] * grads[1])) > 0


def test_attention_torch(benchmark, torch_module, bench_device):
    torch = torch_module
    benchmark.group = f"nn: causal attention block B16 T64 4x32, forward+backward [{bench_device}]"
    benchmark.extra_info["flops"] = ATTENTION_FLOPS
    x_np, w_np = _attention_data()
    device = "cuda" if bench_device.startswith("cuda") else "cpu"
    x = torch.tensor(x_np, device=device, requires_grad=True)
    ws = [torch.tensor(w, device=device, requires_grad=True) for w in w_np]

    def step():
        q, k, v = ((x @ w).reshape(16, 64, 4, 32).transpose(1, 2) for w in ws[:3])
        a = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        y = a.transpose(1, 2).reshape(16, 64, 128) @ ws[3]
        grads = torch.autograd.grad((y * y).sum(), [x, *ws])
        if device != "cpu":
            torch.cuda.synchronize()
        return grads

    grads = benchmark(step)
    assert float((grads[1] * grads[1]).sum()) > 0
