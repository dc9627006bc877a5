"""Gradient accumulation (Keras's gradient_accumulation_steps = S; semantics.md section 8).

Apply calls are counted raw (`raw_iterations`); a call k (from 0) with (k + 1) % S != 0 only
adds its gradient (divided by loss_scale_factor) to the variable's accumulator. The S-th call
updates with the mean (g + acc) / S (then clipping, weight decay and the rule, as one step) and
restarts every accumulator at 0. `iterations` counts updates: raw_iterations // S. Both kinds of
call are one fused launch per (device, dtype) group (csrc/rules/apply.h).
"""

from __future__ import annotations

import numbers

__all__ = ["ACCUMULATOR", "check_steps"]

ACCUMULATOR = "gradient_accumulator"  # the slot holding a variable's accumulated gradient


def check_steps(steps, where: str):
    """S as an int >= 2, or None (no accumulation)."""
    if steps is None:
        return None
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 2:
        raise ValueError(f"{where}: `gradient_accumulation_steps` must be an integer >= 2. "
                         f"Received: gradient_accumulation_steps={steps!r}")
    return int(steps)
