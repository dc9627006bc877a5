"""SGD with optional momentum and Nesterov momentum (Keras 3 form; csrc/rules/sgd.h).

    momentum == 0:  var -= lr * g
    else:           m = momentum * m - lr * g
                    nesterov: var += momentum * m - lr * g;   else: var += m
"""

from .base import Optimizer
from .validation import check_range


class SGD(Optimizer):
    """Gradient descent with optional (Nesterov) momentum, Keras's form.

    learning_rate: a float, a 0-d tensor, a schedule or a callable (default 0.01).
    momentum: in [0, 1]; 0 is plain SGD (var -= lr * g), else m = momentum * m - lr * g and
        var += m. nesterov: var += momentum * m - lr * g instead.

    Every optimizer also takes weight_decay, clipnorm / clipvalue / global_clipnorm, use_ema,
    ema_momentum, ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps, name
    and skip_nonfinite: see `accel.optimizers.Optimizer`.
    """

    rule = "sgd"
    _defaults = {"momentum": 0.0, "nesterov": False}

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.momentum = check_range("momentum", momentum, low=0, high=1, where="SGD")
        self.nesterov = bool(nesterov)

    def _variant(self) -> tuple:
        if self.momentum == 0:
            return ()
        return ("momentum", "nesterov") if self.nesterov else ("momentum",)

    def _zero_gradient_keeps_rows(self):
        return self.momentum == 0  # var -= lr * 0; momentum moves every row

    def _scalars(self, lr, step):
        return {"lr": lr, "momentum": self.momentum}
