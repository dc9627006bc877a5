"""SGD with optional momentum and Nesterov momentum (Keras 3 form; csrc/rules/sgd.h).

    momentum == 0:  var -= lr * g
    else:           m = momentum * m - lr * g
                    nesterov: var += momentum * m - lr * g;   else: var += m
"""

from .base import Optimizer
from .validation import check_range


class SGD(Optimizer):
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

    def _scalars(self, lr, step):
        return [lr, self.momentum]
