"""RMSprop, plain, centered and with momentum (Keras 3 form; csrc/rules/rmsprop.h).

    rms = rho * rms + (1 - rho) * g * g
    centered: mg = rho * mg + (1 - rho) * g;  d = rms - mg * mg + epsilon;   else: d = rms + epsilon
    inc = lr * g / sqrt(d)
    momentum > 0: mom = momentum * mom + inc; var -= mom;   else: var -= inc
"""

from .base import Optimizer
from .validation import check_range


class RMSprop(Optimizer):
    """RMSprop: rms = rho * rms + (1 - rho) * g * g; var -= lr * g / sqrt(rms + epsilon).

    learning_rate: float, tensor, schedule or callable (default 0.001). rho: the decay of the
    moving average of squared gradients, in [0, 1). momentum: in [0, 1]; with momentum the steps
    accumulate (mom = momentum * mom + step). epsilon: added to the denominator (>= 0).
    centered: divide by the centered second moment (rms - mg^2), Graves's variant.

    Every optimizer also takes weight_decay, clipnorm / clipvalue / global_clipnorm, use_ema,
    ema_momentum, ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps, name
    and skip_nonfinite: see `accel.optimizers.Optimizer`.
    """

    rule = "rmsprop"
    _defaults = {"rho": 0.9, "momentum": 0.0, "epsilon": 1e-7, "centered": False}

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.rho = check_range("rho", rho, low=0, high=1, high_open=True, where="RMSprop")
        self.momentum = check_range("momentum", momentum, low=0, high=1, where="RMSprop")
        self.epsilon = check_range("epsilon", epsilon, low=0, where="RMSprop")
        self.centered = bool(centered)

    def _variant(self) -> tuple:
        return ("centered",) * self.centered + ("momentum",) * (self.momentum > 0)

    def _scalars(self, lr, step):
        return {"lr": lr, "rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon}
