"""Adagrad and AdagradDecay (csrc/rules/adagrad.h).

Adagrad:       acc += g * g;  var -= lr * g / sqrt(acc + epsilon)
AdagradDecay (DeepRec's adagrad_decay.py): at step t, if t // accumulator_decay_step exceeds the
variable's decay power: power += 1 and acc = max(acc * accumulator_decay_rate,
initial_accumulator_value) (at most one decay per step); then acc += g * g and
var -= lr * g / sqrt(acc) (no epsilon).
"""

import numpy

from .base import Optimizer
from .validation import check_range


class Adagrad(Optimizer):
    """Adagrad: acc += g * g; var -= lr * g / sqrt(acc + epsilon).

    learning_rate: float, tensor, schedule or callable (default 0.001). initial_accumulator_value:
    the accumulator's starting value (>= 0). epsilon: added under the square root (>= 0).

    Every optimizer also takes weight_decay, clipnorm / clipvalue / global_clipnorm, use_ema,
    ema_momentum, ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps, name
    and skip_nonfinite: see `accel.optimizers.Optimizer`.
    """

    rule = "adagrad"
    _defaults = {"initial_accumulator_value": 0.1, "epsilon": 1e-7}

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.initial_accumulator_value = check_range(
            "initial_accumulator_value", initial_accumulator_value, low=0, where=type(self).__name__)
        self.epsilon = check_range("epsilon", epsilon, low=0, where=type(self).__name__)

    def _slot_initial(self, name):
        return self.initial_accumulator_value

    def _scalars(self, lr, step):
        return {"lr": lr, "epsilon": self.epsilon, "decay_rate": 1.0, "floor": self.initial_accumulator_value}


class AdagradDecay(Adagrad):
    """Adagrad whose accumulators decay (DeepRec's AdagradDecay): every accumulator_decay_step steps
    acc = max(acc * accumulator_decay_rate, initial_accumulator_value), then acc += g * g and
    var -= lr * g / sqrt(acc).

    learning_rate: float, tensor, schedule or callable. initial_accumulator_value: the accumulator's
    starting value and floor (> 0). accumulator_decay_step: steps between decays (int >= 1).
    accumulator_decay_rate: the factor of each decay, in (0, 1).

    Every optimizer also takes weight_decay, clipnorm / clipvalue / global_clipnorm, use_ema,
    ema_momentum, ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps, name
    and skip_nonfinite: see `accel.optimizers.Optimizer`.
    """

    _defaults = {"initial_accumulator_value": 0.1, "accumulator_decay_step": 100000,
                 "accumulator_decay_rate": 0.9}

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, accumulator_decay_step=100000,
                 accumulator_decay_rate=0.9, **kwargs):
        check_range("initial_accumulator_value", initial_accumulator_value, low=0, low_open=True,
                    where="AdagradDecay")
        if isinstance(accumulator_decay_step, bool) or not isinstance(accumulator_decay_step, int) \
                or accumulator_decay_step <= 0:
            raise ValueError(f"AdagradDecay: accumulator_decay_step must be an int > 0, got "
                             f"{accumulator_decay_step!r}")
        self.accumulator_decay_rate = check_range("accumulator_decay_rate", accumulator_decay_rate,
                                                  low=0, high=1, low_open=True, high_open=True,
                                                  where="AdagradDecay")
        super().__init__(learning_rate=learning_rate, initial_accumulator_value=initial_accumulator_value,
                         epsilon=0.0, **kwargs)
        self.accumulator_decay_step = accumulator_decay_step

    def host_slots(self):
        return {"accumulator_decay_power": 0}

    def _scalars(self, lr, step):
        return {"lr": lr, "epsilon": 0.0, "decay_rate": self.accumulator_decay_rate,
                "floor": self.initial_accumulator_value}

    def _segment_flags(self, variables, step):
        powers = numpy.array([self.get_slot(v, "accumulator_decay_power")._data for v in variables],
                             dtype=numpy.int64)
        return (powers < step // self.accumulator_decay_step).astype(numpy.uint8)

    def _segment_flags_applied(self, variables, flags):
        for var, flag in zip(variables, flags):
            if flag:  # one decay per step at most
                self.get_slot(var, "accumulator_decay_power").assign_add(1)
