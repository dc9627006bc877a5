"""Adam, AMSGrad and AdamW (TF1 / Keras 3 form with "epsilon hat"; csrc/rules/adam.h).

    alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)      (here, in float64, once per step)
    m += (g - m) * (1 - beta_1);  v += (g * g - v) * (1 - beta_2)
    amsgrad: vhat = max(vhat, v), used in place of v
    var -= alpha * m / (sqrt(v) + epsilon)
AdamW first applies decoupled weight decay: var -= var * weight_decay * lr.
"""

import math

from .base import Optimizer
from .validation import check_range


class Adam(Optimizer):
    """Adam (Keras / TF1 form with "epsilon hat": var -= alpha * m / (sqrt(v) + epsilon), alpha =
    lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)).

    learning_rate: float, tensor, schedule or callable (default 0.001). beta_1, beta_2: decay rates
    of the first and second moment estimates, in [0, 1). epsilon: added to sqrt(v) (>= 0).
    amsgrad: use the running maximum of v (AMSGrad).

    Every optimizer also takes weight_decay, clipnorm / clipvalue / global_clipnorm, use_ema,
    ema_momentum, ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps, name
    and skip_nonfinite: see `accel.optimizers.Optimizer`.
    """

    rule = "adam"
    _defaults = {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "amsgrad": False}

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        where = type(self).__name__
        self.beta_1 = check_range("beta_1", beta_1, low=0, high=1, high_open=True, where=where)
        self.beta_2 = check_range("beta_2", beta_2, low=0, high=1, high_open=True, where=where)
        self.epsilon = check_range("epsilon", epsilon, low=0, where=where)
        self.amsgrad = bool(amsgrad)

    def _variant(self) -> tuple:
        return ("amsgrad",) if self.amsgrad else ()

    def _scalars(self, lr, step):
        alpha = lr * math.sqrt(1 - self.beta_2 ** step) / (1 - self.beta_1 ** step)
        return {"alpha": alpha, "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class AdamW(Adam):
    """Adam with decoupled weight decay: var -= var * weight_decay * lr before each Adam update.

    learning_rate, beta_1, beta_2, epsilon, amsgrad: as `Adam`. weight_decay: the decay rate
    (default 0.004; required, >= 0).

    Every optimizer also takes weight_decay, clipnorm / clipvalue / global_clipnorm, use_ema,
    ema_momentum, ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps, name
    and skip_nonfinite: see `accel.optimizers.Optimizer`.
    """

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, **kwargs):
        if weight_decay is None:  # Keras: AdamW needs its decay (Adam is the optimizer without it)
            raise ValueError("AdamW: weight_decay must be a float, got None (use Adam for no weight decay)")
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         amsgrad=amsgrad, weight_decay=weight_decay, **kwargs)
