"""The fused side of Optimizer (base.py): what a built-in rule declares to its kernel (csrc/rules),
and how one apply_gradients call becomes ONE kernel launch per (device, dtype) group of variables
for clipping, weight decay, accumulation, EMA and the update together, with the per-step scalars
computed here on the host in float64.

`FusedSteps` is a part of Optimizer, not a class of its own: it reads the optimizer's slots
(`_store`), hyperparameters and counters, and Optimizer's entry points call `_apply_planned` (the
steady state, one pass) and `_apply_fused`.
"""

from __future__ import annotations

import math

from .. import kernels
from ..dtypes import is_floating
from ..recording import live_captures
from ..tensor import Tensor
from .accumulation import ACCUMULATOR
from .ema import AVERAGE
from .gradient_norms import clipnorm_scales, global_norm_sq, launchable, segment_norms_sq

__all__ = ["FusedSteps"]


class FusedSteps:
    """Optimizer's fused rules: the subclass interface of a kernel rule and the launches of a step."""

    # -- subclass interface (fused rules) -----------------------------------------------------------
    def _variant(self) -> tuple:
        """The named flags of this configuration's kernel (csrc/rules/registry.h)."""
        return ()

    @property
    def kernel(self) -> str | None:
        """The fused kernel this configuration launches (a line of csrc/rules/registry.h), or
        None for a custom optimizer (update_step)."""
        return None if self.rule is None or self._custom() else kernels.kernel_id(self.rule, *self._variant())

    def _slot_initial(self, name: str) -> float:
        return 0.0

    def host_slots(self) -> dict:
        """Slots kept on the host, one int64 per variable: name -> initial value (AdagradDecay's
        step of each variable's last decay); the others are shaped like their variable."""
        return {}

    def _scalars(self, lr: float, step: int) -> dict:
        """The rule's per-step scalars by name (csrc/rules/registry.h names them)."""
        raise TypeError(f"{type(self).__name__} must define _scalars or update_step")

    def rule_scalars(self, lr: float, step: int) -> list:
        """`_scalars` in the kernel's order (kernels.RULES[kernel].scalars, read from the compiled
        registry): a name missing, extra or misspelt is a TypeError, so Python can never hand the
        kernel its scalars in another order (a count check would pass a swapped beta_1 / beta_2)."""
        named = self._scalars(lr, step)
        names = kernels.RULES[self.kernel].scalars
        if not isinstance(named, dict) or sorted(named) != sorted(names):
            got = sorted(named) if isinstance(named, dict) else type(named).__name__
            raise TypeError(f"{type(self).__name__}._scalars must give the scalars of rule {self.kernel} by name, "
                            f"{list(names)}; got {got}")
        return [named[name] for name in names]

    def _zero_gradient_keeps_rows(self) -> bool:
        """Whether the rule leaves a row with a zero gradient as it is (no momentum, no decaying
        moments): an IndexedSlices gradient then updates only its rows, with the dense result."""
        return False

    def _segment_flags(self, variables, step: int, rows=None):
        """Per-variable flags for this launch (AdagradDecay; `rows`: the variables launched row by
        row, see _row_selection, whose flags are per row); must not change any state."""
        return None

    def _segment_flags_applied(self, variables, flags) -> None:
        """Called after the launch that used `flags` succeeded: commit what they imply."""

    def _row_selection(self, variables, step: int, rows):
        """(rows, row flags) of this launch: `rows` (None, or per variable None or (ids, row
        length): the rows an IndexedSlices gradient names) as the rule needs them, and per variable
        None or one uint8 flag per row id (AdagradDecay's per-row decays); must not change any
        state."""
        return rows, None

    def _row_flags_applied(self, variables, rows, flags) -> None:
        """Called after the launch that used the row `flags` succeeded."""


    # -- one step: the fused launches ------------------------------------------------------------
    def _apply_planned(self, pairs):
        """The steady state in one pass: these very variables have a cached plan (so they were
        checked then) and every gradient is a tensor of its variable's dtype, device and shape.
        Returns whether the step was applied, or None (nothing done) for anything else: the
        general path checks and explains."""
        if self.rule is None or self._custom():
            return None
        try:
            variables = [v for _, v in pairs]
            plan = self._store.plan(tuple(map(id, variables)))
            if plan is None:
                return None
            grads, arrays = [], []
            for g, v in pairs:
                if g.__class__ is not Tensor:
                    return None
                gd, vd = g._data, v._data
                if gd.dtype is not vd.dtype or g._device is not v._device or gd.shape != vd.shape:
                    return None
                grads.append(g)
                arrays.append(gd)
        except (TypeError, ValueError, AttributeError):  # not (gradient, Variable) pairs
            return None
        return self._apply_fused(grads, variables, self._lr_at(self._iterations), plan, arrays)

    def _finite(self, arrays, grads, norm_sq=None) -> bool:
        """skip_nonfinite's test: whether the global norm of the gradients is finite (one read
        pass; the global-norm clipping pass when there is one). On a GPU this reads one scalar."""
        if norm_sq is None:
            norm_sq = global_norm_sq(arrays, grads)
        if math.isfinite(float(norm_sq)):
            return True
        self.skipped_steps += 1
        return False

    def _plan(self, variables):
        key = tuple(map(id, variables))
        plan = self._store.plan(key)
        if plan is not None:
            return plan
        for var in variables:
            if not is_floating(var.dtype):
                raise TypeError(f"{type(self).__name__}: variables of dtype {var.dtype.name} are not supported")
        kernel = self.kernel
        slot_names = kernels.RULES[kernel].slots
        for var in variables:
            for name in slot_names:
                self._store.add(var, name, self._slot_initial(name))
            for name, initial in self.host_slots().items():
                self._store.add(var, name, initial, host=True)
            self._add_extra_slots(var)
        return self._store.make_plan(key, variables, kernel, slot_names,
                                     accumulator=ACCUMULATOR if self.gradient_accumulation_steps else None,
                                     average=AVERAGE if self.use_ema else None)

    # A rule whose update needs a second launch after the main one (LAMB) sets this and defines
    # _second_launch(plan, variables, lr, ema, rows): the EMA then runs in that launch (`rows`: the
    # rows of a lazy step, as kernels.launch takes them, or None).
    _two_launches = False

    def _apply_fused(self, grads, variables, lr, plan=None, arrays=None, selection=None):
        """One fused launch per (device, dtype) group (an accumulating call, or an update); returns
        False when skip_nonfinite skipped the call. `selection` (sparse.Selection): a step with
        IndexedSlices gradients (the rows to launch, the arrays its norms read)."""
        plan = plan or self._plan(variables)
        rows = None
        if selection is not None:
            arrays, rows = selection.arrays, selection.rows
        elif arrays is None:
            arrays = [g._data for g in grads]
        steps, iterations = self.gradient_accumulation_steps, self.iterations
        f = self.loss_scale_factor or 1.0
        ema = {} if self._ema is None else dict(ema_momentum=self._ema.momentum_at(iterations),
                                                ema_overwrite=self._ema.overwrites_at(iterations))
        if steps and self.skip_nonfinite and not self._finite(arrays, grads):
            return False
        if steps and (self._iterations + 1) % steps:  # a call between updates: accumulate (and EMA)
            self._copy_on_write(variables)
            self._launch_all(plan, arrays, accumulation="add", grad_scale=1.0 / f, **ema)
            self._after_update(variables, iterations, updated=False)
            return True

        scalars = self.rule_scalars(lr, iterations + 1)
        decay = (self.weight_decay or 0.0) * lr
        # Static loss scaling folds into the launch: the gradients are g / f, so every clipping
        # bound applies to the raw gradients at f times its value, and the global scale is 1 / f.
        # With accumulation the rule reads the mean (g / f + acc) / S; a norm clip must see that
        # mean, so this gradient is added first and the accumulators (S times the mean) measured.
        args = dict(scalars=scalars, clip_value=self.clipvalue, decay=decay, global_scale=1.0 / f)
        norm_arrays, bound = arrays, f
        if selection is not None:  # IndexedSlices: norms of the values as they are (TensorFlow's)
            norm_arrays, grads = selection.norm_arrays, selection.norm_grads
        if steps:
            args.update(accumulation="mean", grad_scale=1.0 / f, accumulation_steps=steps, global_scale=1.0)
            if self.clipnorm is not None or self.global_clipnorm is not None:
                self._copy_on_write(variables)
                self._launch_all(plan, arrays, accumulation="add", grad_scale=1.0 / f)
                arrays = norm_arrays = [self._store.get(v, ACCUMULATOR)._data for v in variables]
                args["accumulation"], bound = "accumulated", steps
        global_clip = None if self.global_clipnorm is None else self.global_clipnorm * bound
        norm_sq = None
        if global_clip is not None:
            norm_sq = global_norm_sq(norm_arrays, variables)
            if self.skip_nonfinite and not steps and not self._finite(norm_arrays, grads, norm_sq):
                return False
            if isinstance(norm_sq, float):  # a host value: one factor for every group
                args["global_scale"] *= kernels.global_clip_scale(norm_sq, global_clip)
                norm_sq = None
        elif self.skip_nonfinite and not steps and not self._finite(norm_arrays, grads):
            return False
        segment_norms = segment_norms_sq(norm_arrays, variables) if self.clipnorm is not None else None
        rows, row_flags = self._row_selection(variables, iterations + 1, rows)
        flags = self._segment_flags(variables, iterations + 1, rows)
        if flags is not None and row_flags is not None:  # flagged row by row: the rows commit their own
            flags = flags.copy()
            flags[[i for i, f in enumerate(row_flags) if f is not None]] = 0
        self._copy_on_write(variables)
        decay_masks = self._exclusions.masks(plan, variables) if decay else None
        if not self._two_launches:
            args.update(ema)

        def per_group(index, positions):
            group = dict(segment_scales=None if segment_norms is None else clipnorm_scales(
                             segment_norms, positions, self.clipnorm * bound),
                         segment_flags=None if flags is None else flags[positions],
                         segment_decays=None if decay_masks is None else decay_masks[index])
            if rows is not None:
                group.update(rows=[rows[p] for p in positions],
                             row_flags=None if row_flags is None else [row_flags[p] for p in positions])
            return group

        self._launch_all(plan, arrays, per_group, norm_sq=norm_sq, clip_norm=global_clip or 0.0, **args)
        self._segment_flags_applied(variables, flags)
        if row_flags is not None:
            self._row_flags_applied(variables, rows, row_flags)
        if self._two_launches:
            self._second_launch(plan, variables, lr, ema, rows)
        self._after_update(variables, iterations, updated=True)
        return True

    def _copy_on_write(self, variables) -> None:
        """Values recorded on a tape keep their pre-step value (slots too)."""
        if live_captures():
            for var in variables:
                var._before_write()
                for slot in self._store.entry(var).slots.values():
                    slot._before_write()

    def _launch_all(self, plan, arrays, per_group=None, norm_sq=None, **args) -> None:
        """One launch per (device, dtype) group of `plan`, with the gradients `arrays`."""
        for index, (device, dtype, positions, table) in enumerate(plan.groups):
            group_args = dict(args, **per_group(index, positions)) if per_group else args
            group_arrays = [arrays[p] for p in positions]
            try:  # norm_sq: a device scalar only when every gradient is on that one GPU
                kernels.launch(table, group_arrays, norm_sq=norm_sq, **group_args)
            except TypeError:
                # A gradient of another float dtype, or not contiguous (the gradient through w.T):
                # the kernel checked and wrote nothing. Convert those and launch again (any other
                # error repeats and propagates).
                with device.activate():
                    group_arrays = [launchable(a, dtype) for a in group_arrays]
                kernels.launch(table, group_arrays, norm_sq=norm_sq, **group_args)

    def _after_update(self, variables, iterations, updated: bool) -> None:
        """What Keras does for every variable it was built with, not only this call's: EMA, and on
        an update the accumulators' restart. Nothing to do when the call had them all."""
        if len(self._store) <= len(variables):
            return
        launched = set(map(id, variables))
        self._average_with_ops(iterations, skip=launched)
        if updated and self.gradient_accumulation_steps:
            for var, acc in self._store.holding(ACCUMULATOR):
                if id(var) not in launched:
                    acc.assign(0.0)
