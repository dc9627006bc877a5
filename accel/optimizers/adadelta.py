"""Adadelta (Keras 3 form; csrc/rules/adadelta.h).

    ag = rho * ag + (1 - rho) * g * g
    d  = -sqrt(ad + epsilon) * g / sqrt(ag + epsilon)
    ad = rho * ad + (1 - rho) * d * d
    var += lr * d
"""

from .base import Optimizer
from .validation import check_range


class Adadelta(Optimizer):
    """Adadelta: ag = rho * ag + (1 - rho) * g^2; d = -sqrt(ad + epsilon) * g / sqrt(ag + epsilon);
    ad = rho * ad + (1 - rho) * d^2; var += lr * d.

    learning_rate: float, tensor, schedule or callable (default 0.001). rho: the decay rate of
    both moving averages, in [0, 1]. epsilon: keeps the ratio finite (>= 0).

    Every optimizer also takes weight_decay, clipnorm / clipvalue / global_clipnorm, use_ema,
    ema_momentum, ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps, name
    and skip_nonfinite: see `accel.optimizers.Optimizer`.
    """

    rule = "adadelta"
    _defaults = {"rho": 0.95, "epsilon": 1e-7}

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.rho = check_range("rho", rho, low=0, high=1, where="Adadelta")
        self.epsilon = check_range("epsilon", epsilon, low=0, where="Adadelta")

    def _scalars(self, lr, step):
        return {"lr": lr, "rho": self.rho, "epsilon": self.epsilon}
