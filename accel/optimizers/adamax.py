"""Adamax, Adam with the infinity norm (Keras 3 form; csrc/rules/adamax.h).

    m += (g - m) * (1 - beta_1)
    u = max(beta_2 * u, |g|)
    var -= lr * m / ((1 - beta_1^t) * (u + epsilon))
"""

from .base import Optimizer
from .validation import check_range


class Adamax(Optimizer):
    """Adamax, Adam with the infinity norm: m += (g - m) * (1 - beta_1); u = max(beta_2 * u, |g|);
    var -= lr * m / ((1 - beta_1^t) * (u + epsilon)).

    learning_rate: float, tensor, schedule or callable (default 0.001). beta_1, beta_2: decay rates
    of the moment and of the weighted infinity norm, in [0, 1]. epsilon: >= 0.

    Every optimizer also takes weight_decay, clipnorm / clipvalue / global_clipnorm, use_ema,
    ema_momentum, ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps, name
    and skip_nonfinite: see `accel.optimizers.Optimizer`.
    """

    rule = "adamax"
    _defaults = {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1 = check_range("beta_1", beta_1, low=0, high=1, high_open=True, where="Adamax")
        self.beta_2 = check_range("beta_2", beta_2, low=0, high=1, where="Adamax")
        self.epsilon = check_range("epsilon", epsilon, low=0, where="Adamax")

    def _scalars(self, lr, step):
        return {"lr_t": lr / (1 - self.beta_1 ** step), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}
