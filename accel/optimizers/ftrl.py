"""FTRL-proximal (Keras 3 form; csrc/rules/ftrl.h). p = learning_rate_power, n = accumulator,
z = linear, l2r = l2 + beta / (2 * lr):

    gs = g + 2 * l2_shrinkage * var
    n1 = n + g * g
    z += gs - (n1^(-p) - n^(-p)) / lr * var
    var = (clip(z, -l1, l1) - z) / (n1^(-p) / lr + 2 * l2r);  n = n1
"""

from .base import Optimizer
from .validation import check_range


class Ftrl(Optimizer):
    """FTRL-proximal (Keras's form), for sparse linear models.

    learning_rate: > 0 (float, tensor, schedule or callable; default 0.001). learning_rate_power:
    <= 0, how the per-coordinate rate falls with the accumulated squared gradient (-0.5: sqrt).
    initial_accumulator_value: >= 0. l1_regularization_strength, l2_regularization_strength:
    >= 0 (L1 makes coordinates exactly 0). l2_shrinkage_regularization_strength: >= 0, L2 on the
    weights in the gradient (magnitude shrinkage). beta: added to the denominator as in the paper
    (beta / (2 * lr) joins the L2 term; default 0).

    Every optimizer also takes weight_decay, clipnorm / clipvalue / global_clipnorm, use_ema,
    ema_momentum, ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps, name
    and skip_nonfinite: see `accel.optimizers.Optimizer`.
    """

    rule = "ftrl"
    _defaults = {"learning_rate_power": -0.5, "initial_accumulator_value": 0.1, "l1_regularization_strength": 0.0,
                 "l2_regularization_strength": 0.0, "l2_shrinkage_regularization_strength": 0.0, "beta": 0.0}

    def __init__(self, learning_rate=0.001, learning_rate_power=-0.5, initial_accumulator_value=0.1,
                 l1_regularization_strength=0.0, l2_regularization_strength=0.0,
                 l2_shrinkage_regularization_strength=0.0, beta=0.0, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.learning_rate_power = check_range("learning_rate_power", learning_rate_power, high=0, where="Ftrl")
        self.initial_accumulator_value = check_range("initial_accumulator_value", initial_accumulator_value, low=0,
                                                     where="Ftrl")
        self.l1_regularization_strength = check_range("l1_regularization_strength", l1_regularization_strength,
                                                      low=0, where="Ftrl")
        self.l2_regularization_strength = check_range("l2_regularization_strength", l2_regularization_strength,
                                                      low=0, where="Ftrl")
        self.l2_shrinkage_regularization_strength = check_range(
            "l2_shrinkage_regularization_strength", l2_shrinkage_regularization_strength, low=0, where="Ftrl")
        self.beta = check_range("beta", beta, where="Ftrl")

    def _variant(self) -> tuple:
        return ("sqrt",) if self.learning_rate_power == -0.5 else ()  # n^0.5 as a vectorised sqrt

    def _slot_initial(self, name):
        return self.initial_accumulator_value if name == "accumulator" else 0.0

    def _scalars(self, lr, step):
        if not lr > 0:
            raise ValueError(f"Ftrl: the learning rate must be > 0 (the rule divides by it), got {lr} at step {step}")
        l2r = self.l2_regularization_strength + self.beta / (2.0 * lr)
        return {"lr": lr, "learning_rate_power": self.learning_rate_power, "l1": self.l1_regularization_strength,
                "l2r": l2r, "l2_shrinkage": self.l2_shrinkage_regularization_strength}
