"""Nadam, Adam with Nesterov momentum (Keras 3 form; csrc/rules/nadam.h).

Once per step, before any variable: u_product *= u_t with u_t = beta_1 * (1 - 0.5 * 0.96^t)
(the running product starts at 1; it is a function of the step, so it needs no state of its
own and restores with `iterations`). Then, with u_t1 = beta_1 * (1 - 0.5 * 0.96^(t+1)):

    m += (g - m) * (1 - beta_1);  v += (g * g - v) * (1 - beta_2)
    m_hat = u_t1 * m / (1 - u_product * u_t1) + (1 - u_t) * g / (1 - u_product)
    v_hat = v / (1 - beta_2^t)
    var -= m_hat * lr / (sqrt(v_hat) + epsilon)
"""

import math

from .base import Optimizer
from .validation import check_range


def _u(beta_1: float, t: int) -> float:
    return beta_1 * (1.0 - 0.5 * 0.96 ** t)


class Nadam(Optimizer):
    """Nadam, Adam with Nesterov momentum (Keras's form, with its momentum schedule
    u_t = beta_1 * (1 - 0.5 * 0.96^t)).

    learning_rate: float, tensor, schedule or callable (default 0.001). beta_1, beta_2: decay rates
    of the first and second moments, in [0, 1]. epsilon: added to sqrt(v_hat) (>= 0).

    Every optimizer also takes weight_decay, clipnorm / clipvalue / global_clipnorm, use_ema,
    ema_momentum, ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps, name
    and skip_nonfinite: see `accel.optimizers.Optimizer`.
    """

    rule = "nadam"
    _defaults = {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1 = check_range("beta_1", beta_1, low=0, high=1, high_open=True, where="Nadam")
        self.beta_2 = check_range("beta_2", beta_2, low=0, high=1, high_open=True, where="Nadam")
        self.epsilon = check_range("epsilon", epsilon, low=0, where="Nadam")
        self._product = (0, 1.0)  # (t, u_product after step t), extended step by step

    def u_product(self, step: int) -> float:
        """prod over k = 1..step of beta_1 * (1 - 0.5 * 0.96^k): Keras's `u_product` after `step`."""
        t, product = self._product if self._product[0] <= step else (0, 1.0)
        while t < step:
            t += 1
            product *= _u(self.beta_1, t)
        self._product = (t, product)
        return product

    def _scalars(self, lr, step):
        u_t, u_t1 = _u(self.beta_1, step), _u(self.beta_1, step + 1)
        product = self.u_product(step)
        s = math.sqrt(1.0 / (1.0 - self.beta_2 ** step))  # sqrt(v_hat) = sqrt(v) * s
        a = lr * u_t1 / (1.0 - product * u_t1) / s
        b = lr * (1.0 - u_t) / (1.0 - product) / s
        return {"a": a, "b": b, "e": self.epsilon / s, "beta_1": self.beta_1, "beta_2": self.beta_2}
