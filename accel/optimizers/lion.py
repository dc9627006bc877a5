"""Lion, evolved sign momentum (Keras 3 form; csrc/rules/lion.h).

    var -= lr * sign(beta_1 * m + (1 - beta_1) * g)
    m = beta_2 * m + (1 - beta_2) * g
"""

from .base import Optimizer
from .validation import check_range


class Lion(Optimizer):
    """Lion, evolved sign momentum: var -= lr * sign(beta_1 * m + (1 - beta_1) * g), then
    m = beta_2 * m + (1 - beta_2) * g.

    learning_rate: float, tensor, schedule or callable (default 0.001; Lion wants ~3-10x smaller
    rates than Adam). beta_1: the interpolation of the update, in (0, 1]. beta_2: the momentum's
    decay, in [0, 1].

    Every optimizer also takes weight_decay, clipnorm / clipvalue / global_clipnorm, use_ema,
    ema_momentum, ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps, name
    and skip_nonfinite: see `accel.optimizers.Optimizer`.
    """

    rule = "lion"
    _defaults = {"beta_1": 0.9, "beta_2": 0.99}

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        # Keras: beta_1 in (0, 1] (0 is rejected, 1 allowed).
        self.beta_1 = check_range("beta_1", beta_1, low=0, high=1, low_open=True, where="Lion")
        self.beta_2 = check_range("beta_2", beta_2, low=0, high=1, where="Lion")

    def _scalars(self, lr, step):
        return {"lr": lr, "beta_1": self.beta_1, "beta_2": self.beta_2}
