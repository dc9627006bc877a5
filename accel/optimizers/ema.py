"""Exponential moving averages of the trained variables (Keras's use_ema; semantics.md section 8).

After each apply call, for every variable the optimizer holds an average of:

    momentum = ema_momentum, or 0 while iterations == 0 (the average starts at the variable)
    average = momentum * average + (1 - momentum) * var
    every ema_overwrite_frequency steps ((iterations + 1) % frequency == 0): var = average

The variables of the call are averaged inside the fused launch (csrc/rules/apply.h); this
module holds the settings and does the same for the others (no gradient this call), with the
same formula in the variable's dtype.
"""

from __future__ import annotations

import numbers

__all__ = ["AVERAGE", "MovingAverage"]

AVERAGE = "average"  # the slot holding a variable's average


class MovingAverage:
    """use_ema's settings, validated as Keras does (only when EMA is on)."""

    __slots__ = ("momentum", "overwrite_frequency")

    def __init__(self, momentum, overwrite_frequency, where: str):
        if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real) or not 0 <= momentum <= 1:
            raise ValueError(f"{where}: `ema_momentum` must be in the range [0, 1]. "
                             f"Received: ema_momentum={momentum!r}")
        if overwrite_frequency is not None and (
                isinstance(overwrite_frequency, bool) or not isinstance(overwrite_frequency, numbers.Integral)
                or overwrite_frequency < 1):
            raise ValueError(f"{where}: `ema_overwrite_frequency` must be an integer >= 1 or None. "
                             f"Received: ema_overwrite_frequency={overwrite_frequency!r}")
        self.momentum = float(momentum)
        self.overwrite_frequency = None if overwrite_frequency is None else int(overwrite_frequency)

    def momentum_at(self, iterations: int) -> float:
        """The momentum of the call made at `iterations` (updates before it)."""
        return self.momentum if iterations != 0 else 0.0

    def overwrites_at(self, iterations: int) -> bool:
        frequency = self.overwrite_frequency
        return frequency is not None and (iterations + 1) % frequency == 0

    @staticmethod
    def update(variable, average, momentum: float, overwrite: bool) -> None:
        """One variable's average outside a launch (it had no gradient this call)."""
        xp, data = variable.device.xp, variable._data
        m = data.dtype.type(momentum)
        with variable.device.activate():
            new = m * average._data + (data.dtype.type(1) - m) * data
        average._before_write()
        with variable.device.activate():
            average._data[...] = new
        if overwrite:
            variable._before_write()
            with variable.device.activate():
                xp.copyto(data, average._data)
