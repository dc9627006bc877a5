"""Adagrad and AdagradDecay (csrc/rules/adagrad.h).

Adagrad:       acc += g * g;  var -= lr * g / sqrt(acc + epsilon)
AdagradDecay (DeepRec's adagrad_decay.py): at step t, if t // accumulator_decay_step exceeds the
decay power: power += 1 and acc = max(acc * accumulator_decay_rate, initial_accumulator_value)
(at most one decay per step); then acc += g * g and var -= lr * g / sqrt(acc) (no epsilon).
The power is kept per row (slot `accumulator_decay_power`, int64 of shape var.shape[:1], as
DeepRec's sparse kernel reads it): a dense step decays every row that is behind; an IndexedSlices
step only the rows it names (DeepRec's SparseApplyAdagradDecay: a row not touched for several
periods catches up one decay per step it is touched).
"""

import numpy

from ..device import CPU
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

    def _zero_gradient_keeps_rows(self):
        return True  # acc += 0, var -= 0

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

    # IndexedSlices follow DeepRec's sparse path (Adagrad's _zero_gradient_keeps_rows): only the
    # named rows, each decaying when it is next touched (_row_selection)

    def _powers(self, var):
        return self.get_slot(var, "accumulator_decay_power")._data  # one per row (0-d: one)

    def _segment_flags(self, variables, step, rows=None):
        # A variable decays when every row is due; one launched row by row has its flags per row
        # (_row_selection), and its powers are not read here: a sparse step costs what it touches.
        due = step // self.accumulator_decay_step
        return numpy.array([(rows is None or rows[i] is None) and bool((self._powers(v) < due).all())
                            for i, v in enumerate(variables)], dtype=numpy.uint8)

    def _segment_flags_applied(self, variables, flags):
        for var, flag in zip(variables, flags):
            if flag:  # one decay per step at most
                slot = self.get_slot(var, "accumulator_decay_power")
                slot._before_write()
                slot._data += 1

    def _row_selection(self, variables, step, rows):
        """DeepRec's SparseApplyAdagradDecay: a row named by an IndexedSlices gradient decays when
        its own power is behind t // accumulator_decay_step (once per step; its power + 1). A dense
        gradient over rows whose powers differ (after sparse steps) is launched row by row too."""
        due = step // self.accumulator_decay_step
        selected = list(rows) if rows is not None else [None] * len(variables)
        flags = [None] * len(variables)
        for i, var in enumerate(variables):
            powers = self._powers(var)
            if selected[i] is not None:
                flags[i] = (powers[CPU.send(selected[i][0])] < due).astype(numpy.uint8)
            elif powers.ndim:
                behind = powers < due
                if behind.any() and not behind.all():
                    ids = numpy.arange(len(powers), dtype=numpy.int64)
                    selected[i] = (var.device.send(ids), int(numpy.prod(var.shape[1:], dtype=numpy.int64)))
                    flags[i] = behind.astype(numpy.uint8)
        if all(f is None for f in flags):
            return rows, None
        return selected, flags

    def _row_flags_applied(self, variables, rows, flags):
        for var, selection, flag in zip(variables, rows, flags):
            if flag is None:
                continue
            slot = self.get_slot(var, "accumulator_decay_power")
            slot._before_write()
            slot._data[CPU.send(selection[0])[flag != 0]] += 1
