"""LAMB, layer-wise adaptive moments (Keras 3 form; csrc/rules/lamb.h).

    m += (g - m) * (1 - beta_1);  v += (g * g - v) * (1 - beta_2)
    r = (m / (1 - beta_1^t)) / (sqrt(v / (1 - beta_2^t)) + epsilon)
    ratio = ||var|| / ||r||, or 1 if either norm is 0  (per variable; after weight decay)
    var -= ratio * lr * r

Two launches per (device, dtype) group: the moments kernel (decay, clipping, m, v, and r into a
scratch buffer), then the per-variable norms of var and r (the norm kernels, one pass each) and
the SGD kernel with the ratios as per-variable scales. On a GPU the ratios pass through the host:
one synchronisation per step.
"""

import numpy

from .. import kernels
from .base import Optimizer
from .ema import AVERAGE
from .validation import check_range


class Lamb(Optimizer):
    """LAMB, layer-wise adaptive moments: Adam's bias-corrected step r, scaled per variable by the
    trust ratio ||var|| / ||r|| (1 if either is 0): var -= ratio * lr * r.

    learning_rate: float, tensor, schedule or callable (default 0.001). beta_1, beta_2: decay rates
    of the moments, in [0, 1). epsilon: added to the root of the second moment (>= 0).

    Every optimizer also takes weight_decay, clipnorm / clipvalue / global_clipnorm, use_ema,
    ema_momentum, ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps, name
    and skip_nonfinite: see `accel.optimizers.Optimizer`.
    """

    rule = "lamb"
    _defaults = {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}
    _scratch_slots = ("r",)

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1 = check_range("beta_1", beta_1, low=0, high=1, high_open=True, where="Lamb")
        self.beta_2 = check_range("beta_2", beta_2, low=0, high=1, high_open=True, where="Lamb")
        self.epsilon = check_range("epsilon", epsilon, low=0, where="Lamb")

    def _scalars(self, lr, step):
        return {"c1": 1.0 / (1.0 - self.beta_1 ** step), "c2": 1.0 / (1.0 - self.beta_2 ** step),
                "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}

    _two_launches = True

    def _second_launch(self, plan, variables, lr, ema, rows=None):
        """var -= ratio * lr * r with the trust ratios (and the EMA, when on, after it). A lazy
        step (`rows`: IndexedSlices, lazy_sparse) updates only the named rows, its ratio taken over
        them: ||var[rows]|| / ||r[rows]||, the rows the step moves (r of the others is stale)."""
        for device, _, positions, _ in plan.groups:
            params = [variables[p]._data for p in positions]
            updates = [self._store.get(variables[p], "r")._data for p in positions]
            picked = [None if rows is None else rows[p] for p in positions]
            with device.activate():  # a lazy step: the rows it names (2-D copies) measured and applied
                measured_params = [a if r is None else a.reshape(-1, r[1])[r[0]] for a, r in zip(params, picked)]
                updates = [a if r is None else a.reshape(-1, r[1])[r[0]] for a, r in zip(updates, picked)]
            var_norms = numpy.sqrt(kernels.norms_sq(measured_params, device))
            r_norms = numpy.sqrt(kernels.norms_sq(updates, device))
            positive = (var_norms > 0) & (r_norms > 0)
            ratios = numpy.where(positive, var_norms / numpy.where(positive, r_norms, 1.0), 1.0)
            averages = [self._store.get(variables[p], AVERAGE)._data for p in positions] if ema else None
            table = kernels.table("sgd", params, [], device, averages=averages)
            selected = None if all(r is None for r in picked) else picked
            kernels.launch(table, updates, segment_scales=ratios, scalars=[lr, 0.0], rows=selected, **ema)
