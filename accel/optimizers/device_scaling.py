"""A loss-scaled step decided on the GPU: no device-to-host copy per step.

On a CUDA device LossScaleOptimizer keeps its scale, its counter and the count of applied steps
in device memory. One step is: the gradients' global sum of squares (a device scalar); the inner
optimizer's fused launch, which divides the gradients by the device scale, takes its rule's
scalars from a device table row chosen by the device step count, and writes nothing when the
sum is inf or NaN; then a few element-wise ops move the counter, the scale and the step count.
The host never learns whether a step was applied until something reads the state (`iterations`,
`dynamic_scale`, a checkpoint): `sync` copies it back then.

The table holds, for each step t = 1, 2, ..., the rule's scalars and the weight-decay factor the
host path would compute at that step (learning-rate schedules included), filled ahead of the
largest step the device can have reached. A new learning rate (ReduceLROnPlateau, a setter)
makes the rows ahead stale: the state is synced once and the rows refilled.

Configurations whose step needs host decisions take the host path (one scalar read per step):
per-variable clipping (clipnorm), gradient accumulation, EMA, per-variable flags (AdagradDecay),
two launches (Lamb), a tensor learning rate, several devices.
"""

from __future__ import annotations

import numpy

from .. import kernels
from ..tensor import Tensor
from ..variable import Variable
from .base import Optimizer, _apply_constraints
from .validation import check_pairs, check_variables, checked_gradients

__all__ = ["DeviceScaling", "device_for", "next_scale"]

TABLE_WIDTH = 9  # the rule's 8 scalars, then weight_decay * lr


def device_for(inner, pairs):
    """The CUDA device a loss-scaled step of `pairs` can be decided on, or None."""
    if (inner._custom() or inner.rule is None or inner._two_launches or inner.clipnorm is not None
            or inner.gradient_accumulation_steps or inner.use_ema
            or type(inner)._segment_flags is not Optimizer._segment_flags
            or isinstance(inner._learning_rate, Tensor) and inner._float_rate() is None):
        return None
    devices = set()
    for g, v in pairs:
        if not isinstance(g, Tensor) or not isinstance(v, Tensor):
            return None
        devices.add(g.device)
        devices.add(v.device)
    if len(devices) != 1:
        return None
    device = devices.pop()
    return None if device.host_readable else device


class DeviceScaling:
    """The device copy of a LossScaleOptimizer's state on one GPU (see the module docstring)."""

    def __init__(self, device, scale: float, counter: int, applied: int):
        self.device = device
        xp = device.xp
        with device.activate():
            self.scale = xp.asarray(numpy.float32(scale))
            self.counter = xp.asarray(numpy.int64(counter))
            self.steps = xp.asarray(numpy.int64(applied))  # applied updates, the inner `iterations`
            self.table = xp.zeros((0, TABLE_WIDTH), xp.float64)
        self.base = applied  # the step count when the host last knew it
        self.attempted = 0  # steps launched since then
        self.origin = applied  # row 0 of the table is step origin + 1 (steps before never run here)
        self.filled = applied  # the table has rows for steps origin + 1 .. filled
        self.lr_key = None

    # -- the table of per-step scalars -----------------------------------------------------------------
    def _rows(self, inner, first: int, needed: int, last: int) -> numpy.ndarray:
        """Host rows for steps first .. last: what `_apply_fused` would pass at each. Rows past
        `needed` are computed ahead; a learning rate that fails there (a schedule's domain, a
        callable that refuses a step) ends the block early instead of failing a step that may
        never run."""
        count = len(RULE_SCALARS(inner))
        rows = numpy.zeros((last - first + 1, TABLE_WIDTH), numpy.float64)
        for i, t in enumerate(range(first, last + 1)):
            try:
                lr = inner._lr_at(t - 1)
                rows[i, :count] = inner.rule_scalars(lr, t)
            except (ValueError, ArithmeticError):
                if t <= needed:
                    raise
                return rows[:i]
            rows[i, 8] = (inner.weight_decay or 0.0) * lr
        return rows

    def ensure_rows(self, inner, needed: int) -> None:
        """Rows up to step `needed` at least (grown in blocks: one host-to-device copy per block)."""
        if needed <= self.filled:
            return
        kept = self.filled - self.origin
        rows = self._rows(inner, self.filled + 1, needed, max(needed, self.origin + 2 * kept, self.filled + 256))
        xp = self.device.xp
        with self.device.activate():
            table = xp.empty((kept + len(rows), TABLE_WIDTH), xp.float64)
            if kept:
                table[:kept] = self.table[:kept]
            table[kept:] = xp.asarray(rows)
        self.table, self.filled = table, self.filled + len(rows)

    def refill(self, inner, applied: int) -> None:
        """After a sync: rows from step applied + 1 on are rebuilt from the current settings."""
        self.filled = max(self.origin, min(self.filled, applied))
        self.ensure_rows(inner, applied + 1)

    # -- one step ---------------------------------------------------------------------------------------------
    def step(self, lso, pairs) -> None:
        inner = lso.inner_optimizer
        check_pairs(pairs)
        grads, variables = zip(*pairs)
        plan = inner._store.plan(tuple(map(id, variables)))
        if plan is None:  # a cached plan names these very Variables: they were checked then (base.py)
            variables = check_variables(variables, "apply_gradients")
            plan = inner._plan(variables)
        grads = checked_gradients(grads, variables, floats_known=True)
        key = _lr_key(inner)
        if key != self.lr_key:
            if self.lr_key is not None:
                lso.sync()  # the rows ahead were computed with the old rate
            self.refill(inner, self.base)
            self.lr_key = key
        self.ensure_rows(inner, self.base + self.attempted + 1)
        arrays = [g._data for g in grads]
        device, xp = self.device, self.device.xp
        norm_sq = kernels.global_norm_sq(arrays, device)
        with device.activate():
            row = self.table[self.steps - self.origin]  # the row of step steps + 1, chosen on the device
        decay_masks = inner._exclusions.masks(plan, variables) if inner.weight_decay else None
        inner._copy_on_write(variables)
        inner._launch_all(plan, arrays, (lambda index, positions: dict(
            segment_decays=None if decay_masks is None else decay_masks[index])),
            norm_sq=norm_sq, clip_norm=inner.global_clipnorm or 0.0, scalars=numpy.zeros(len(RULE_SCALARS(inner))),
            clip_value=inner.clipvalue, decay=1.0 if inner.weight_decay else 0.0, global_scale=1.0,
            skip_nonfinite=True, device_scalars=row, loss_scale=self.scale)
        with device.activate():
            finite = xp.isfinite(norm_sq)
            self.steps += finite.astype(xp.int64)
            counter, scale = next_scale(xp, finite, self.counter, self.scale, lso.dynamic_growth_steps)
            self.counter[...] = counter
            self.scale[...] = scale
        self.attempted += 1
        if Variable._any_constraint:  # a constraint is idempotent on a skipped step's unchanged values
            _apply_constraints(list(variables))

    def read(self) -> tuple:
        """(scale, counter, applied steps) copied to the host: three scalar reads."""
        return float(self.scale.get()), int(self.counter.get()), int(self.steps.get())


def next_scale(xp, finite, counter, scale, growth_steps: int):
    """Keras's rule, element-wise so the host (NumPy scalars) and the device (0-d arrays) share
    it: a finite step counts, and the growth_steps-th in a row doubles the scale and restarts the
    count; a non-finite step halves the scale (no floor) and restarts the count.
    Returns (counter int64, scale float32)."""
    grow = xp.logical_and(finite, counter == growth_steps - 1)
    counter = xp.where(finite, xp.where(grow, 0, counter + 1), 0).astype(xp.int64)
    scale = xp.where(grow, scale * 2, xp.where(finite, scale, scale * 0.5)).astype(xp.float32)
    return counter, scale


def RULE_SCALARS(inner):  # noqa: N802 (a lookup, named like the table it reads)
    return kernels.RULES[inner.kernel].scalars


def _lr_key(inner):
    """What the table's rows were computed from: the learning rate (a float, or a schedule by
    identity), the weight decay and the rule's configuration."""
    rate = inner._float_rate()
    return (rate if rate is not None else id(inner._learning_rate), inner.weight_decay, inner.kernel,
            inner.clipvalue, inner.global_clipnorm)
