"""TensorFlow / Keras parity (issue 13), the behaviours done so far: each with TF's value or error."""

import numpy
import pytest

import accel as ac


def test_clip_by_norm_of_zero_has_the_identity_gradient():
    x = ac.Variable(ac.zeros((3,), dtype="float64"))
    with ac.GradientTape() as tape:
        y = ac.sum(ac.clip_by_norm(x, 1.0))
    numpy.testing.assert_array_equal(tape.gradient(y, x).numpy(), [1.0, 1.0, 1.0])  # TF: [1, 1, 1]
    numpy.testing.assert_allclose(ac.clip_by_norm(ac.tensor([3.0, 4.0], dtype="float64"), 1.0).numpy(), [0.6, 0.8])
    ac.testing.check_gradients(lambda t: ac.clip_by_norm(t, 1.0), [numpy.array([3.0, -4.0])])


def test_clip_by_value_keeps_the_shape_of_t():
    with pytest.raises(ValueError, match=r"clip_by_value: the bounds would broadcast t of shape \(2, 3, 1\) to "
                                         r"\(2, 3, 2\)"):
        ac.clip_by_value(ac.zeros((2, 3, 1)), -1.0, ac.ones((2,)))
    out = ac.clip_by_value(ac.tensor([[-2.0, 0.5], [3.0, 1.0]]), ac.tensor([-1.0, 0.0]), 1.0)
    assert out.numpy().tolist() == [[-1.0, 0.5], [1.0, 1.0]]


def test_adamw_needs_a_weight_decay():
    with pytest.raises(ValueError, match="AdamW: weight_decay must be a float, got None"):
        ac.optimizers.AdamW(weight_decay=None)


def test_batch_jacobian_needs_rank_two():
    with ac.GradientTape(persistent=True) as tape:
        v = ac.tensor([1.0, 2.0])
        tape.watch(v)
        y = v * v
    with pytest.raises(ValueError, match="batch_jacobian: target and source must have rank at least 2"):
        tape.batch_jacobian(y, v)


def test_watching_a_numpy_array_is_a_value_error():
    with ac.GradientTape() as tape:
        with pytest.raises(ValueError, match="watch: expected tensors or Variables, got ndarray"):
            tape.watch(numpy.ones(3))


def test_custom_gradient_with_variables_follows_tensorflows_protocol():
    w = ac.Variable(ac.ones((2, 4), dtype="float64"), name="w")

    @ac.custom_gradient
    def f(x):
        def grad(dy, variables=None):
            return ac.matmul(dy, ac.transpose(w)), [ac.matmul(ac.transpose(x), dy)]
        return ac.matmul(x, w), grad

    x = ac.ones((3, 2), dtype="float64")
    with ac.GradientTape() as tape:
        tape.watch(x)
        y = ac.sum(f(x))
    gx, gw = tape.gradient(y, [x, w])
    numpy.testing.assert_array_equal(gw.numpy(), numpy.full((2, 4), 3.0))
    numpy.testing.assert_array_equal(gx.numpy(), numpy.full((3, 2), 4.0))

    @ac.custom_gradient
    def g(x):
        return ac.matmul(x, w), lambda dy: ac.matmul(dy, ac.transpose(w))

    with pytest.raises(TypeError, match="must accept a keyword argument `variables`"):
        g(x)


def test_custom_gradient_on_a_method_and_with_plain_numbers():
    class Layer:
        scale = 3.0

        @ac.custom_gradient
        def __call__(self, x):
            return x * self.scale, lambda dy: dy * self.scale

    x = ac.tensor(2.0, dtype="float64")
    with ac.GradientTape() as tape:
        tape.watch(x)
        y = Layer()(x)
    assert y.item() == 6.0 and tape.gradient(y, x).item() == 3.0

    @ac.custom_gradient
    def constant_gradient(x):
        return x * 2.0, lambda dy: 2.0  # a Python number as the gradient

    with ac.GradientTape() as tape:
        tape.watch(x)
        y = constant_gradient(x)
    g = tape.gradient(y, x)
    assert g.item() == 2.0 and g.dtype == numpy.float64


def test_variables_read_by_comparisons_are_watched():
    xs = [ac.Variable(ac.tensor(v)) for v in (1.0, 2.0, 3.0)]
    with ac.GradientTape() as tape:
        top = max(xs)  # compares, then returns one of them (TF: [None, None, 1.0])
    grads = tape.gradient(top, xs)
    assert grads[0] is None and grads[1] is None and grads[2].item() == 1.0
    assert len(tape.watched_variables()) == 3


@pytest.mark.parametrize("lr,want", [(lambda: 0.25, 0.25), (lambda step: 0.5 / (step + 1), 0.5),
                                     (ac.tensor(0.25, dtype="float64"), 0.25)])
def test_learning_rate_callables_and_tensors(lr, want):
    w = ac.Variable(ac.tensor([1.0], dtype="float64"))
    opt = ac.optimizers.SGD(lr)
    opt.apply_gradients([(ac.tensor([1.0], dtype="float64"), w)])
    assert w.numpy()[0] == pytest.approx(1.0 - want)
    assert isinstance(opt.get_config()["learning_rate"], (float, str))


def test_a_variable_learning_rate_is_read_at_each_step():
    lr = ac.Variable(ac.tensor(0.5, dtype="float64"))
    w = ac.Variable(ac.tensor([1.0], dtype="float64"))
    opt = ac.optimizers.SGD(lr)
    opt.apply_gradients([(ac.tensor([1.0], dtype="float64"), w)])
    lr.assign(0.25)
    opt.apply_gradients([(ac.tensor([1.0], dtype="float64"), w)])
    assert w.numpy()[0] == pytest.approx(0.25)
    with pytest.raises(ValueError, match="a tensor learning_rate must be a 0-d float tensor"):
        ac.optimizers.SGD(ac.tensor([0.1, 0.2]))


@pytest.mark.parametrize("clip", [{}, {"clipnorm": 0.5}, {"global_clipnorm": 0.5}, {"clipvalue": 0.05},
                                  {"weight_decay": 0.1}])
@pytest.mark.parametrize("make", [lambda **kw: ac.optimizers.Adam(0.1, **kw),
                                  lambda **kw: ac.optimizers.SGD(0.1, momentum=0.9, **kw),
                                  lambda **kw: ac.optimizers.Lamb(0.1, **kw)])
def test_loss_scale_factor_divides_the_gradients_first(make, clip):
    """Keras: gradients are divided by loss_scale_factor before clipping and the update."""
    rng = numpy.random.default_rng(3)
    grads = [[rng.standard_normal(4), rng.standard_normal(2)] for _ in range(3)]
    results = []
    for factor in (None, 1024.0):
        ws = [ac.Variable(ac.tensor(v, dtype="float64")) for v in ([1.0, 2.0, 3.0, 4.0], [5.0, 6.0])]
        opt = make(loss_scale_factor=factor, **clip)
        for step in grads:
            scaled = [g * (factor or 1.0) for g in step]
            opt.apply_gradients(zip([ac.tensor(g, dtype="float64") for g in scaled], ws))
        results.append([w.numpy() for w in ws])
    for a, b in zip(*results):
        numpy.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    assert make(loss_scale_factor=8.0).scale_loss(ac.tensor(2.0)).item() == 16.0


def test_loss_scale_factor_on_a_custom_optimizer_and_its_validation():
    class Plain(ac.optimizers.Optimizer):
        def update_step(self, gradient, variable, learning_rate):
            variable.assign_sub(learning_rate * gradient)

    w = ac.Variable(ac.tensor([1.0], dtype="float64"))
    Plain(0.5, loss_scale_factor=4.0).apply_gradients([(ac.tensor([4.0], dtype="float64"), w)])
    assert w.numpy().tolist() == [0.5]
    with pytest.raises(ValueError, match="loss_scale_factor must be > 0"):
        ac.optimizers.SGD(0.1, loss_scale_factor=0.0)


def test_apply_takes_gradients_and_variables_as_two_lists():
    w = ac.Variable(ac.tensor([1.0], dtype="float64"))
    opt = ac.optimizers.SGD(0.5)
    opt.apply([ac.tensor([1.0], dtype="float64")], [w])
    assert w.numpy().tolist() == [0.5] and opt.iterations == 1
    with pytest.raises(ValueError, match="apply: 2 gradients for 1 variables"):
        opt.apply([ac.tensor([1.0]), ac.tensor([1.0])], [w])


ALL_OPTIMIZERS = [
    lambda: ac.optimizers.SGD(0.1, momentum=0.9, nesterov=True, clipnorm=1.0),
    lambda: ac.optimizers.Adam(ac.optimizers.schedules.CosineDecay(1e-3, 100, warmup_target=1e-2, warmup_steps=5,
                                                                   name="warm_cosine")),
    lambda: ac.optimizers.AdamW(weight_decay=0.01, amsgrad=True), lambda: ac.optimizers.RMSprop(centered=True),
    lambda: ac.optimizers.Adagrad(), lambda: ac.optimizers.AdagradDecay(accumulator_decay_step=7),
    lambda: ac.optimizers.Adadelta(), lambda: ac.optimizers.Adamax(), lambda: ac.optimizers.Nadam(),
    lambda: ac.optimizers.Ftrl(l1_regularization_strength=0.1), lambda: ac.optimizers.Lion(),
    lambda: ac.optimizers.Lamb(loss_scale_factor=128.0),
]


@pytest.mark.parametrize("make", ALL_OPTIMIZERS)
def test_config_round_trips(make):
    opt = make()
    config = opt.get_config()
    assert type(opt).from_config(config).get_config() == config
    again = ac.optimizers.deserialize(ac.optimizers.serialize(opt))
    assert type(again) is type(opt) and again.get_config() == config


def test_keras_written_configs_and_get():
    keras_adam = {"name": "adam", "learning_rate": 0.001, "weight_decay": None, "clipnorm": None,
                  "global_clipnorm": None, "clipvalue": None, "use_ema": False, "ema_momentum": 0.99,
                  "ema_overwrite_frequency": None, "loss_scale_factor": None, "gradient_accumulation_steps": None,
                  "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07, "amsgrad": False}
    opt = ac.optimizers.Adam.from_config(keras_adam)
    assert (opt.beta_1, opt.epsilon, opt.name) == (0.9, 1e-7, "adam")
    ema = ac.optimizers.Adam.from_config({**keras_adam, "use_ema": True, "gradient_accumulation_steps": 4})
    assert (ema.use_ema, ema.ema_momentum, ema.gradient_accumulation_steps) == (True, 0.99, 4)
    assert ema.get_slot_names() == ["average", "gradient_accumulator", "m", "v"]
    with pytest.raises(ValueError, match="is_legacy_optimizer=True is not supported"):
        ac.optimizers.Adam.from_config({**keras_adam, "is_legacy_optimizer": True})
    keras_schedule = {"module": "keras.optimizers.schedules", "class_name": "ExponentialDecay", "config": {
        "initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.5, "staircase": False,
        "name": "ExponentialDecay"}, "registered_name": None}
    schedule = ac.optimizers.schedules.deserialize(keras_schedule)
    assert schedule(10) == pytest.approx(0.05)
    assert isinstance(ac.optimizers.get("Adam"), ac.optimizers.Adam)
    assert ac.optimizers.get("sgd").learning_rate == 0.01
    assert ac.optimizers.get(opt) is opt
    assert isinstance(ac.optimizers.get({"class_name": "Lion", "config": {"learning_rate": 0.1}}), ac.optimizers.Lion)
    with pytest.raises(ValueError, match="get: unknown optimizer 'adamz'"):
        ac.optimizers.get("adamz")


@pytest.mark.parametrize("make", [lambda: ac.optimizers.SGD(0.5, weight_decay=0.5),
                                  lambda: ac.optimizers.AdamW(0.5, weight_decay=0.5)])
def test_exclude_from_weight_decay(make):
    """semantics.md section 8's worked example, with accel's names (no ':0' suffix)."""
    names = ("kernel", "bias", "my_bias")
    values = {}
    for case in ("none", "names", "list"):
        vs = [ac.Variable(ac.tensor(1.0, dtype="float64"), name=n) for n in names]
        opt = make()
        if case == "names":
            opt.exclude_from_weight_decay(var_names=["^b.as"])
        if case == "list":
            opt.exclude_from_weight_decay(var_names=["^b.as"])
            opt.exclude_from_weight_decay(var_list=[vs[0]])  # replaces the names
        opt.apply_gradients([(ac.tensor(0.0, dtype="float64"), v) for v in vs])
        values[case] = [v.numpy().item() for v in vs]
    decayed = values["none"][0]
    assert decayed < 1.0 and values["none"] == [decayed] * 3
    assert values["names"] == [decayed, 1.0, decayed]
    assert values["list"] == [1.0, decayed, decayed]


def test_exclusion_after_build_and_for_custom_optimizers():
    class Plain(ac.optimizers.Optimizer):
        def update_step(self, gradient, variable, learning_rate):
            variable.assign_sub(learning_rate * gradient)

    for opt in (ac.optimizers.SGD(0.5, weight_decay=0.5), Plain(0.5, weight_decay=0.5)):
        w, b = ac.Variable(ac.tensor(1.0, dtype="float64"), name="w"), ac.Variable(ac.tensor(1.0, dtype="float64"),
                                                                                    name="b")
        z = ac.tensor(0.0, dtype="float64")
        opt.apply_gradients([(z, w), (z, b)])
        opt.exclude_from_weight_decay(var_list=[b])
        opt.apply_gradients([(z, w), (z, b)])
        assert (w.numpy().item(), b.numpy().item()) == (0.5625, 0.75)
    with pytest.raises(TypeError, match="var_names must be a list of strings"):
        ac.optimizers.SGD(0.1).exclude_from_weight_decay(var_names="bias")
