"""The rest of Keras 3's optimizers (semantics.md section 7): Adadelta, Adamax, Nadam, Ftrl, Lion
and Lamb, each one registry line of csrc/rules/registry.h.

Checked against the worked values of the reference (Keras 3.15 on TensorFlow, float64 variables;
Keras rounds its hyperparameters to float32 first and accel does not, so those agree to ~1e-7),
against an independent float64 NumPy transcription of Keras's formulas over several steps (to
1e-12), and against PyTorch where its formula is the same (Adadelta, Adamax, NAdam)."""

import math

import numpy
import pytest

import accel as ac
from accel import optimizers as opts


def _run(opt, steps, v0=(1.0, 2.0), g=(0.1, 0.1)):
    w = ac.Variable(ac.tensor(list(v0), dtype="float64"), name="w")
    for _ in range(steps):
        opt.apply_gradients([(ac.tensor(list(g), dtype="float64"), w)])
    return w


# ---- the reference's worked values -------------------------------------------------------------
@pytest.mark.parametrize("make,steps,kwargs,want", [
    (lambda: opts.Adadelta(1.0), 1, {}, [0.99858593, 1.99858593]),
    (lambda: opts.Adadelta(1.0), 2, {}, [0.99715384, 1.99715384]),
    (lambda: opts.Adamax(0.5), 1, {}, [0.5000005, 1.5000005]),  # Keras's f32(0.9): 0.50000062
    (lambda: opts.Adamax(0.5), 2, {}, [1.2321431e-06, 1.0000012]),
    (lambda: opts.Nadam(0.5), 1, {}, [0.46860662, 1.46860662]),
    (lambda: opts.Nadam(0.5), 2, {}, [0.08181165, 1.08181165]),
    (lambda: opts.Ftrl(0.5), 1, {}, [-0.10421826, -0.05768085]),
    (lambda: opts.Ftrl(0.5), 2, {}, [-0.24855583, -0.20201842]),
    (lambda: opts.Ftrl(0.5, l1_regularization_strength=0.05), 1, {}, [-0.02884043, 0.0]),
    (lambda: opts.Ftrl(0.5, l2_regularization_strength=0.1, beta=1.0, l2_shrinkage_regularization_strength=0.1), 1,
     {}, [-0.09399233, -0.15306022]),
    (lambda: opts.Lion(0.5), 2, {}, [0.0, 1.0]),
    (lambda: opts.Lion(0.5), 2, {"g": (0.1, -0.1)}, [0.0, 3.0]),
    (lambda: opts.Lamb(0.5), 1, {}, [0.20943058, 1.20943058]),
    (lambda: opts.Lamb(0.5), 2, {}, [-0.22453132, 0.77546868]),
    (lambda: opts.Lamb(0.5), 1, {"v0": (3.0, 4.0), "g": (1.0, 0.0)}, [0.5, 4.0]),
])
def test_worked_values(make, steps, kwargs, want):
    w = _run(make(), steps, **kwargs)
    numpy.testing.assert_allclose(w.numpy(), want, rtol=2e-7, atol=2e-6)


def test_worked_slot_values():
    opt = opts.Adadelta(1.0)
    w = _run(opt, 2)
    numpy.testing.assert_allclose(opt.get_slot(w, "accumulated_grad").numpy(), 0.000975, rtol=1e-12)
    numpy.testing.assert_allclose(opt.get_slot(w, "accumulated_delta_var").numpy(), 1.9752433e-07, rtol=1e-7)
    opt = opts.Ftrl(0.5)
    w = _run(opt, 2)
    numpy.testing.assert_allclose(opt.get_slot(w, "accumulator").numpy(), 0.1 + 0.02, rtol=1e-12)
    numpy.testing.assert_allclose(opt.get_slot(w, "linear").numpy(), [0.17220453, 0.13996247], rtol=1e-7)
    nadam = opts.Nadam()
    assert nadam.u_product(1) == pytest.approx(0.468, rel=1e-15)
    assert nadam.u_product(2) == pytest.approx(0.22711104, rel=1e-8)
    assert nadam.u_product(1) == pytest.approx(0.468, rel=1e-15)  # a restore to an earlier step


# ---- an independent float64 transcription of Keras's formulas ----------------------------------
def _keras(name, hp, w, g, slots, t):
    """One Keras step on float64 NumPy arrays (exact hyperparameters); mutates w and slots."""
    lr = hp["learning_rate"]
    if name == "adadelta":
        rho, eps = hp["rho"], hp["epsilon"]
        ag, ad = slots
        ag[:] = rho * ag + (1 - rho) * g * g
        d = -numpy.sqrt(ad + eps) * g / numpy.sqrt(ag + eps)
        ad[:] = rho * ad + (1 - rho) * d * d
        w += lr * d
    elif name == "adamax":
        b1, b2, eps = hp["beta_1"], hp["beta_2"], hp["epsilon"]
        m, u = slots
        m += (g - m) * (1 - b1)
        u[:] = numpy.maximum(b2 * u, numpy.abs(g))
        w -= lr * m / ((1 - b1 ** t) * (u + eps))
    elif name == "nadam":
        b1, b2, eps = hp["beta_1"], hp["beta_2"], hp["epsilon"]
        m, v, product = slots
        u_t, u_t1 = b1 * (1 - 0.5 * 0.96 ** t), b1 * (1 - 0.5 * 0.96 ** (t + 1))  # product: already * u_t
        m += (g - m) * (1 - b1)
        v += (g * g - v) * (1 - b2)
        m_hat = u_t1 * m / (1 - product[0] * u_t1) + (1 - u_t) * g / (1 - product[0])
        v_hat = v / (1 - b2 ** t)
        w -= m_hat * lr / (numpy.sqrt(v_hat) + eps)
    elif name == "ftrl":
        p, l1, l2, l2s, beta = (hp["learning_rate_power"], hp["l1_regularization_strength"],
                                hp["l2_regularization_strength"], hp["l2_shrinkage_regularization_strength"], hp["beta"])
        n, z = slots
        l2r = l2 + beta / (2 * lr)
        gs = g + 2 * l2s * w
        n1 = n + g * g
        z += gs - (n1 ** (-p) - n ** (-p)) / lr * w
        w[:] = (numpy.clip(z, -l1, l1) - z) / (n1 ** (-p) / lr + 2 * l2r)
        n[:] = n1
    elif name == "lion":
        b1, b2 = hp["beta_1"], hp["beta_2"]
        (m,) = slots
        w -= lr * numpy.sign(b1 * m + (1 - b1) * g)
        m[:] = b2 * m + (1 - b2) * g
    elif name == "lamb":
        b1, b2, eps = hp["beta_1"], hp["beta_2"], hp["epsilon"]
        m, v = slots
        m += (g - m) * (1 - b1)
        v += (g * g - v) * (1 - b2)
        r = (m / (1 - b1 ** t)) / (numpy.sqrt(v / (1 - b2 ** t)) + eps)
        wn, rn = numpy.linalg.norm(w), numpy.linalg.norm(r)
        ratio = wn / rn if wn > 0 and rn > 0 else 1.0
        w -= ratio * lr * r


CONFIGS = {
    "adadelta": (opts.Adadelta, {"learning_rate": 0.7, "rho": 0.9, "epsilon": 1e-6}),
    "adamax": (opts.Adamax, {"learning_rate": 0.05, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-7}),
    "nadam": (opts.Nadam, {"learning_rate": 0.05, "beta_1": 0.85, "beta_2": 0.99, "epsilon": 1e-7}),
    "ftrl": (opts.Ftrl, {"learning_rate": 0.3, "learning_rate_power": -0.6, "initial_accumulator_value": 0.2,
                      "l1_regularization_strength": 0.01, "l2_regularization_strength": 0.05,
                      "l2_shrinkage_regularization_strength": 0.02, "beta": 0.5}),
    "lion": (opts.Lion, {"learning_rate": 0.01, "beta_1": 0.8, "beta_2": 0.95}),
    "lamb": (opts.Lamb, {"learning_rate": 0.05, "beta_1": 0.8, "beta_2": 0.95, "epsilon": 1e-7}),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_six_steps_match_kerass_formulas_in_float64(name):
    cls, hp = CONFIGS[name]
    rng = numpy.random.default_rng(7)
    shapes = [(3, 4), (5,), (1,)]
    values = [rng.standard_normal(s) for s in shapes]
    variables = [ac.Variable(ac.tensor(v, dtype="float64")) for v in values]
    opt = cls(**hp)
    slot_count = {"nadam": 2, "lion": 1}.get(name, 2)
    initial = hp.get("initial_accumulator_value", 0.0)
    ref = [[numpy.full(s, initial if (name == "ftrl" and j == 0) else 0.0) for j in range(slot_count)]
           for s in shapes]
    product = [1.0]
    for t in range(1, 7):
        grads = [rng.standard_normal(s) for s in shapes]
        opt.apply_gradients(zip([ac.tensor(g, dtype="float64") for g in grads], variables))
        if name == "nadam":  # u_product advances once per step, before any variable
            product[0] *= hp["beta_1"] * (1 - 0.5 * 0.96 ** t)
        for w, g, slots in zip(values, grads, ref):
            _keras(name, hp, w, g, slots + [product] if name == "nadam" else slots, t)
    for var, want in zip(variables, values):
        numpy.testing.assert_allclose(var.numpy(), want, rtol=1e-12, atol=1e-13)


# ---- PyTorch, where the formula is the same --------------------------------------------------------
torch = pytest.importorskip("torch")


@pytest.mark.parametrize("name", ["adadelta", "adamax", "nadam"])
def test_matches_pytorch_in_float64(name):
    rng = numpy.random.default_rng(11)
    shapes = [(4, 3), (7,)]
    values = [rng.standard_normal(s) for s in shapes]
    grads = [[rng.standard_normal(s) for s in shapes] for _ in range(6)]
    if name == "adadelta":
        ours, theirs = opts.Adadelta(0.5, rho=0.9, epsilon=1e-6), (torch.optim.Adadelta, dict(lr=0.5, rho=0.9, eps=1e-6))
    elif name == "adamax":
        # PyTorch adds epsilon inside the max (max(beta_2 u, |g| + eps)), Keras outside: equal at eps = 0.
        ours, theirs = opts.Adamax(0.05, 0.8, 0.99, 0.0), (torch.optim.Adamax, dict(lr=0.05, betas=(0.8, 0.99), eps=0.0))
    else:
        # PyTorch's mu_t = beta_1 (1 - 0.5 * 0.96^(t * momentum_decay)); Keras's is momentum_decay = 1.
        ours, theirs = opts.Nadam(0.05, 0.85, 0.99, 1e-7), (torch.optim.NAdam, dict(
            lr=0.05, betas=(0.85, 0.99), eps=1e-7, momentum_decay=1.0))
    variables = [ac.Variable(ac.tensor(v, dtype="float64")) for v in values]
    params = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in values]
    topt = theirs[0](params, **theirs[1])
    for step in grads:
        ours.apply_gradients(zip([ac.tensor(g, dtype="float64") for g in step], variables))
        for p, g in zip(params, step):
            p.grad = torch.tensor(g, dtype=torch.float64)
        topt.step()
    for var, p in zip(variables, params):
        numpy.testing.assert_allclose(var.numpy(), p.detach().numpy(), rtol=1e-6, atol=1e-9)


# ---- names, defaults, validation -------------------------------------------------------------------
@pytest.mark.parametrize("make,slots", [
    (opts.Adadelta, ["accumulated_delta_var", "accumulated_grad"]), (opts.Adamax, ["momentum", "norm"]),
    (opts.Nadam, ["momentum", "velocity"]), (opts.Ftrl, ["accumulator", "linear"]), (opts.Lion, ["momentum"]),
    (opts.Lamb, ["momentum", "velocity"]),
])
def test_slot_names_and_defaults(make, slots):
    opt = make()
    assert opt.get_slot_names() == slots
    assert opt.learning_rate == pytest.approx(0.001)
    w = _run(opt, 1)
    assert sorted(name for owner, name, _ in opt.slot_owners() if owner is w) == slots
    assert all(opt.get_slot(w, s).shape == w.shape for s in slots)
    config = opt.get_config()
    assert config["learning_rate"] == 0.001 and set(type(opt)._defaults) <= set(config)


def test_keras_defaults():
    assert (opts.Adadelta().rho, opts.Adadelta().epsilon) == (0.95, 1e-7)
    assert (opts.Adamax().beta_1, opts.Adamax().beta_2, opts.Adamax().epsilon) == (0.9, 0.999, 1e-7)
    assert (opts.Lion().beta_1, opts.Lion().beta_2) == (0.9, 0.99)
    f = opts.Ftrl()
    assert (f.learning_rate_power, f.initial_accumulator_value, f.beta) == (-0.5, 0.1, 0.0)


@pytest.mark.parametrize("make,message", [
    (lambda: opts.Ftrl(initial_accumulator_value=-0.1), r"Ftrl: initial_accumulator_value must be >= 0"),
    (lambda: opts.Ftrl(l1_regularization_strength=-1), r"Ftrl: l1_regularization_strength must be >= 0"),
    (lambda: opts.Ftrl(l2_regularization_strength=-1), r"Ftrl: l2_regularization_strength must be >= 0"),
    (lambda: opts.Ftrl(l2_shrinkage_regularization_strength=-1), r"Ftrl: l2_shrinkage_regularization_strength must be >= 0"),
    (lambda: opts.Ftrl(learning_rate_power=0.5), r"Ftrl: learning_rate_power must be <= 0"),
    (lambda: opts.Lion(beta_1=0.0), r"Lion: beta_1 must be in \(0, 1\]"),
    (lambda: opts.Lion(beta_1=1.5), r"Lion: beta_1 must be in \(0, 1\]"),
    (lambda: opts.Adadelta(rho=1.5), r"Adadelta: rho must be in \[0, 1\]"),
    (lambda: opts.Nadam(beta_2=1.0), r"Nadam: beta_2 must be in \[0, 1\)"),
    (lambda: opts.Lamb(epsilon=-1.0), r"Lamb: epsilon must be >= 0"),
])
def test_validation(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_lion_accepts_beta_1_of_one():
    assert opts.Lion(beta_1=1.0).beta_1 == 1.0


def test_ftrl_needs_a_positive_learning_rate_and_changes_nothing_otherwise():
    opt = opts.Ftrl(0.0)
    w = ac.Variable(ac.tensor([1.0, 2.0], dtype="float64"))
    with pytest.raises(ValueError, match="Ftrl: the learning rate must be > 0"):
        opt.apply_gradients([(ac.tensor([0.1, 0.1], dtype="float64"), w)])
    assert w.numpy().tolist() == [1.0, 2.0] and opt.iterations == 0


def test_lamb_scratch_is_not_state():
    opt = opts.Lamb(0.5)
    w = _run(opt, 2)
    with pytest.raises(KeyError, match="no slot 'r'"):
        opt.get_slot(w, "r")
    assert len(opt.variables) == 2 + 2  # iteration, learning_rate, m, v


def test_lamb_ratio_uses_the_decayed_variable():
    """semantics.md: with weight_decay, decay runs first, so ||var|| is the decayed one."""
    opt = opts.Lamb(0.5, weight_decay=0.1)
    w = _run(opt, 1, v0=(3.0, 4.0), g=(1.0, 0.0))
    decayed = numpy.array([3.0, 4.0]) * (1 - 0.1 * 0.5)
    r = numpy.array([1.0 / (1.0 + 1e-7), 0.0])
    ratio = numpy.linalg.norm(decayed) / numpy.linalg.norm(r)
    numpy.testing.assert_allclose(w.numpy(), decayed - ratio * 0.5 * r, rtol=1e-12)


@pytest.mark.parametrize("cls", [opts.Adadelta, opts.Adamax, opts.Nadam, opts.Ftrl, opts.Lion, opts.Lamb])
def test_float32_and_float16_follow_float64(cls):
    rng = numpy.random.default_rng(2)
    values, grads = rng.standard_normal((3, 50)), rng.standard_normal((4, 3, 50)) * 0.1
    results = {}
    for dtype in ("float64", "float32", "float16"):
        variables = [ac.Variable(ac.tensor(v, dtype=dtype)) for v in values]
        opt = cls(0.01)
        for step in grads:
            opt.apply_gradients(zip([ac.tensor(g, dtype=dtype) for g in step], variables))
        results[dtype] = numpy.array([v.numpy().astype(float) for v in variables])
    numpy.testing.assert_allclose(results["float32"], results["float64"], rtol=1e-4, atol=1e-5)
    numpy.testing.assert_allclose(results["float16"], results["float64"], rtol=2e-2, atol=2e-2)
    assert not math.isnan(results["float16"].sum())


@pytest.mark.parametrize("cls", [opts.Nadam, opts.Lamb, opts.Ftrl, opts.Adadelta])
def test_checkpoint_resume_is_exact(cls, tmp_path):
    """Nadam's u_product follows `iterations`; Lamb's scratch buffer is not saved."""
    rng = numpy.random.default_rng(4)
    grads = rng.standard_normal((5, 6)) * 0.1

    def fresh():
        w = ac.Variable(ac.tensor(numpy.linspace(-1, 1, 6), dtype="float64"), name="w")
        return w, cls(0.05)

    w, opt = fresh()
    for g in grads:
        opt.apply_gradients([(ac.tensor(g, dtype="float64"), w)])
    straight = w.numpy()
    w, opt = fresh()
    for g in grads[:3]:
        opt.apply_gradients([(ac.tensor(g, dtype="float64"), w)])
    path = ac.Checkpoint(w=w, opt=opt).save(tmp_path / "ckpt")
    w, opt = fresh()
    opt.build([w])
    ac.Checkpoint(w=w, opt=opt).restore(path)
    assert opt.iterations == 3
    for g in grads[3:]:
        opt.apply_gradients([(ac.tensor(g, dtype="float64"), w)])
    numpy.testing.assert_array_equal(w.numpy(), straight)
