"""A full training step (forward, backward, Adam update) of an MLP 784-256-256-10 at batch 128,
ours beside PyTorch (fused Adam) in the same run. Target (optimizers issue): ratio <= 1.0."""


import accel as ac
from test_autodiff import MLP_FLOPS, _mlp_data, mlp_logits


def test_train_step_accel(benchmark, bench_device):
    benchmark.group = f"training step: MLP 784-256-256-10, batch 128, Adam [{bench_device}]"
    benchmark.extra_info["flops"] = MLP_FLOPS
    weights, biases, x_np, labels_np = _mlp_data()
    with ac.device(bench_device):
        params = [ac.Variable(w) for w in weights] + [ac.Variable(b) for b in biases]
        x, labels = ac.tensor(x_np), ac.tensor(labels_np)
    opt = ac.optimizers.Adam(1e-3)
    device = ac.get_device(bench_device)

    def loss():
        return ac.mean(ac.sparse_softmax_cross_entropy_with_logits(labels, mlp_logits(params, x, ac.relu)))

    def step():
        opt.minimize(loss, params)
        device.synchronize()

    benchmark(step)
    assert opt.iterations > 0


def test_train_step_torch(benchmark, torch_module, bench_device):
    torch = torch_module
    benchmark.group = f"training step: MLP 784-256-256-10, batch 128, Adam [{bench_device}]"
    benchmark.extra_info["flops"] = MLP_FLOPS
    device = bench_device if bench_device.startswith("cuda") else "cpu"
    weights, biases, x_np, labels_np = _mlp_data()
    params = [torch.tensor(p, requires_grad=True, device=device) for p in weights + biases]
    x, labels = torch.tensor(x_np, device=device), torch.tensor(labels_np, device=device)
    opt = torch.optim.Adam(params, lr=1e-3, fused=True)

    def step():
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(mlp_logits(params, x, torch.relu), labels).backward()
        opt.step()
        if device != "cpu":
            torch.cuda.synchronize()

    benchmark(step)
