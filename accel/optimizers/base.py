"""Optimizer: slots, minimize / compute_gradients / apply_gradients (semantics.md section 3).

Built-in optimizers name a fused kernel rule (kernels/rules): `apply_gradients` validates every
gradient, then makes ONE kernel launch per (device, dtype) group of variables for clipping, weight
decay and the update together; per-step scalars (learning rate, bias corrections) are computed
here on the host in float64.

A custom optimizer overrides `update_step` instead (Keras style) and declares slots in `build`:

    class GradientDescent(accel.optimizers.Optimizer):
        def update_step(self, gradient, variable, learning_rate):
            variable.assign_sub(learning_rate * gradient)
"""

from __future__ import annotations

import inspect
import math
import warnings

import numpy

from .. import kernels
from ..autodiff.backprop import flatten
from ..autodiff.recording import live_captures
from ..autodiff.tape import GradientTape
from ..tensor import Tensor, Variable
from . import schedules as schedules_module
from .gradient_norms import clipnorm_scales, global_norm_sq, launchable, segment_norms_sq
from .slots import SlotStore
from .weight_decay import DecayExclusions
from .validation import check_pairs, check_range, check_variables, checked_gradients, is_none

__all__ = ["Optimizer"]


class Optimizer:
    """Base class of accel's optimizers.

    learning_rate: a float or a schedule (any callable of the step). weight_decay: decoupled
    weight decay, var -= var * weight_decay * lr before the update. clipnorm / clipvalue /
    global_clipnorm: at most one; clip each gradient's norm, its values, or the global norm.
    skip_nonfinite: when any gradient element is inf or NaN (its global norm is not finite), skip
    the whole step: no variable or slot changes, `iterations` stays, `skipped_steps` counts it.
    Off by default, as in TensorFlow, where such a step is applied and its NaNs stay.
    loss_scale_factor: static loss scaling (Keras): gradients are divided by it before clipping
    and the update (folded into the fused launch: no extra pass); `scale_loss(loss)` multiplies.
    """

    rule: str | None = None  # the fused kernel family; None for custom update_step optimizers
    _scratch_slots: tuple = ()  # kernel slots that are working memory, not state (not saved or listed)
    _defaults: dict = {}

    def __init__(self, learning_rate=0.001, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name=None, skip_nonfinite=False, loss_scale_factor=None):
        where = type(self).__name__
        self.learning_rate = learning_rate
        self.weight_decay = None if weight_decay is None else check_range(
            "weight_decay", weight_decay, low=0, where=where)
        clips = {k: v for k, v in (("clipnorm", clipnorm), ("clipvalue", clipvalue),
                                   ("global_clipnorm", global_clipnorm)) if v is not None}
        if len(clips) > 1:
            raise ValueError(f"{where}: only one of clipnorm, clipvalue and global_clipnorm can be set, "
                             f"got {', '.join(sorted(clips))}")
        for key, value in clips.items():
            check_range(key, value, low=0, low_open=True, where=where)
        self.clipnorm, self.clipvalue, self.global_clipnorm = (
            None if v is None else float(v) for v in (clipnorm, clipvalue, global_clipnorm))
        self.name = name or where
        if not isinstance(skip_nonfinite, bool):
            raise TypeError(f"{where}: skip_nonfinite must be True or False, got {skip_nonfinite!r}")
        self.skip_nonfinite = skip_nonfinite
        self.loss_scale_factor = None if loss_scale_factor is None else check_range(
            "loss_scale_factor", loss_scale_factor, low=0, low_open=True, where=where)
        self.skipped_steps = 0  # steps skipped for non-finite gradients (skip_nonfinite)
        self._iterations = 0
        self._store = SlotStore()  # slots per variable (held weakly) and launch plans
        self._exclusions = DecayExclusions()  # exclude_from_weight_decay

    # -- hyperparameters ------------------------------------------------------------------------------
    @property
    def iterations(self) -> int:
        """The number of steps applied."""
        return self._iterations

    @iterations.setter
    def iterations(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, numpy.integer)):
            raise TypeError(f"iterations must be an int, got {value!r}")
        if value < 0:
            raise ValueError(f"iterations must be >= 0, got {value}")
        self._iterations = int(value)

    @property
    def learning_rate(self) -> float:
        """The learning rate of the next step (a schedule is evaluated at `iterations`)."""
        return self._lr_at(self._iterations)

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        """A float; a schedule (called with the step); a callable of no arguments (Keras) or of
        the step; or a 0-d float tensor or Variable (read at each step)."""
        where = type(self).__name__
        self._lr_takes_step = True
        if isinstance(value, Tensor):
            if value.ndim != 0 or value.dtype.kind != "f":
                raise ValueError(f"{where}: a tensor learning_rate must be a 0-d float tensor, got shape "
                                 f"{tuple(value.shape)} {value.dtype.name}")
            check_range("learning_rate", float(value.item()), low=0, where=where)
        elif callable(value):
            self._lr_takes_step = _takes_an_argument(value)
        else:
            value = check_range("learning_rate", value, low=0, where=where)
        self._learning_rate = value

    def _lr_at(self, step: int) -> float:
        lr = self._learning_rate
        if isinstance(lr, Tensor):
            lr = float(lr.item())
        elif callable(lr):
            lr = float(lr(step) if self._lr_takes_step else lr())
        else:
            return lr
        if not (lr >= 0 and math.isfinite(lr)):
            raise ValueError(f"{type(self).__name__}: the learning rate is {lr} at step {step}")
        return lr

    def get_config(self) -> dict:
        lr = self._learning_rate
        if isinstance(lr, schedules_module.LearningRateSchedule):
            lr = schedules_module.serialize(lr)
        elif isinstance(lr, Tensor):
            lr = float(lr.item())
        elif callable(lr):
            lr = repr(lr)
        config = {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                  "clipnorm": self.clipnorm, "clipvalue": self.clipvalue,
                  "global_clipnorm": self.global_clipnorm, "skip_nonfinite": self.skip_nonfinite,
                  "loss_scale_factor": self.loss_scale_factor}
        config.update({key: getattr(self, key) for key in self._defaults})
        return config

    # Keras config keys accel accepts only at their default (their features are not built yet): a
    # config Keras itself wrote restores when it does not use them, and says so when it does.
    _KERAS_DEFAULTS = {"use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
                       "gradient_accumulation_steps": None, "is_legacy_optimizer": False}

    @classmethod
    def from_config(cls, config: dict):
        """The optimizer `get_config()` (accel's, or a Keras optimizer's) describes."""
        if not isinstance(config, dict):
            raise TypeError(f"{cls.__name__}.from_config: expected a dict, got {type(config).__name__}")
        config = dict(config)
        for key, default in cls._KERAS_DEFAULTS.items():
            if key in config:
                value = config.pop(key)
                if value != default:
                    raise ValueError(f"{cls.__name__}.from_config: {key}={value!r} is not supported by accel yet")
        lr = config.get("learning_rate")
        if isinstance(lr, dict):
            config["learning_rate"] = schedules_module.deserialize(lr)
        elif isinstance(lr, str):
            raise ValueError(f"{cls.__name__}.from_config: the learning rate was a callable ({lr}); pass it again")
        return cls(**config)

    # -- subclass interface (fused rules) -----------------------------------------------------------
    def _variant(self) -> tuple:
        """The named flags of this configuration's kernel (kernels/rules/registry.h)."""
        return ()

    def _kernel(self) -> str:
        return kernels.kernel_id(self.rule, *self._variant())

    def _slot_initial(self, name: str) -> float:
        return 0.0

    def _host_slots(self) -> dict:
        return {}

    def _scalars(self, lr: float, step: int) -> list:
        raise TypeError(f"{type(self).__name__} must define _scalars or update_step")

    def _segment_flags(self, variables, step: int):
        """Per-variable flags for this launch (AdagradDecay); must not change any state."""
        return None

    def _segment_flags_applied(self, variables, flags) -> None:
        """Called after the launch that used `flags` succeeded: commit what they imply."""

    # -- subclass interface (custom Python rules) -----------------------------------------------------
    def build(self, var_list) -> None:
        """Create the slots of `var_list` now (they are otherwise created on first apply)."""
        variables = check_variables(var_list, "build")
        if self._custom():
            for var in variables:
                self._store.entry(var)
            return
        self._plan(variables)

    def add_slot(self, variable, name: str, initial_value=0.0) -> Variable:
        """For custom optimizers (in build): a slot Variable shaped like `variable`."""
        return self._store.add(variable, name, initial_value)

    def update_step(self, gradient, variable, learning_rate) -> None:
        raise TypeError(f"{type(self).__name__}: a custom optimizer must override update_step")

    def _custom(self) -> bool:
        return type(self).update_step is not Optimizer.update_step

    # -- slots ------------------------------------------------------------------------------------------
    def get_slot_names(self) -> list:
        """The names of the slots this optimizer keeps per variable (sorted)."""
        if self._custom():
            return sorted({name for _, name, _ in self._store.owners()})
        names = [n for n in kernels.RULES[self._kernel()].slots if n not in self._scratch_slots]
        return sorted(names + list(self._host_slots()))

    def get_slot(self, var, slot_name: str) -> Variable:
        """The slot `slot_name` of `var`; KeyError naming the known slots otherwise."""
        known = self.get_slot_names()
        if slot_name not in known:
            raise KeyError(f"get_slot: no slot {slot_name!r}; this optimizer's slots are {known}")
        slot = self._store.get(var, slot_name)
        if slot is None:
            raise KeyError(f"get_slot: variable {getattr(var, 'name', var)!r} has no slots yet "
                           "(not built or applied)")
        return slot

    def variables(self) -> list:
        """Every slot Variable this optimizer holds (per variable, in the order the variables were
        first seen, then by slot name)."""
        return [slot for _, _, slot in self.slot_owners()]

    def slot_owners(self) -> list:
        """[(variable, slot name, slot Variable)] for every slot (checkpoints key slots by owner)."""
        return [entry for entry in self._store.owners() if entry[1] not in self._scratch_slots]

    def exclude_from_weight_decay(self, var_list=None, var_names=None) -> None:
        """No weight decay for the variables of `var_list` nor for those whose name `re.search`es
        `"|".join(var_names)` (Keras). Each call replaces the earlier exclusions; it also works
        after the optimizer has been built."""
        self._exclusions.set(var_list, var_names)

    def scale_loss(self, loss):
        """loss * loss_scale_factor (the loss itself without one): differentiate the scaled loss,
        and apply_gradients divides the gradients back."""
        return loss if self.loss_scale_factor is None else loss * self.loss_scale_factor

    def apply(self, grads, trainable_variables=None):
        """Keras's form of apply_gradients: gradients and variables as two lists."""
        if trainable_variables is None:
            raise ValueError("apply: pass the trainable_variables the gradients belong to")
        grads, variables = list(grads), list(trainable_variables)
        if len(grads) != len(variables):
            raise ValueError(f"apply: {len(grads)} gradients for {len(variables)} variables")
        return self.apply_gradients(list(zip(grads, variables)))

    # -- the three entry points -----------------------------------------------------------------------
    def minimize(self, loss, var_list, tape=None):
        """compute_gradients then apply_gradients. `loss`: a zero-argument callable (run under a
        new tape) or a tensor recorded by `tape`."""
        grads_and_vars = self.compute_gradients(loss, var_list, tape=tape)
        self.apply_gradients(grads_and_vars)
        return grads_and_vars

    def compute_gradients(self, loss, var_list, tape=None):
        """[(gradient or None, variable)] for `var_list`."""
        variables = flatten(var_list() if callable(var_list) and not isinstance(var_list, Variable) else var_list)
        if not variables:
            raise ValueError("No variables to optimize.")
        check_variables(variables, "compute_gradients")
        if callable(loss) and not isinstance(loss, Tensor):
            with GradientTape() as tape:
                tape.watch(variables)
                loss_value = loss()
        else:
            if tape is None:
                raise ValueError("compute_gradients: a tensor loss needs the tape that recorded it "
                                 "(pass tape=...), or pass a zero-argument callable")
            loss_value = loss
        grads = tape.gradient(loss_value, variables)
        return list(zip(grads, variables))

    def apply_gradients(self, grads_and_vars) -> None:
        """Clip, decay and update each variable from its gradient; then iterations += 1."""
        pairs = list(grads_and_vars)
        applied = self._apply_planned(pairs)
        if applied is not None:
            self._iterations += applied
            return
        if not pairs:
            raise ValueError("No variables provided.")
        check_pairs(pairs)  # the steady state (_apply_planned) only takes well-formed pairs
        grads, variables = zip(*pairs)
        if any(map(is_none, grads)):
            check_variables(variables, "apply_gradients")
            present = [(g, v) for g, v in pairs if g is not None]
            if not present:
                names = ", ".join(repr(v.name) for _, v in pairs)
                raise ValueError(f"No gradients provided for any variable: [{names}]")
            missing = ", ".join(repr(v.name) for g, v in pairs if g is None)
            warnings.warn(f"Gradients do not exist for variables [{missing}] when minimizing the loss; "
                          "they are skipped.", stacklevel=2)
            grads, variables = zip(*present)
        lr = self._lr_at(self._iterations)
        if self._custom():
            variables = check_variables(variables, "apply_gradients")
            applied = self._apply_custom(checked_gradients(grads, variables), variables, lr)
        else:
            plan = self._store.plan(tuple(map(id, variables)))
            if plan is None:  # a cached plan names these very Variables: they were checked then
                check_variables(variables, "apply_gradients")
            applied = self._apply_fused(checked_gradients(grads, variables, floats_known=plan is not None), variables,
                                        lr, plan)
        self._iterations += applied

    # -- internals ------------------------------------------------------------------------------------
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

    def _apply_custom(self, grads, variables, lr):
        new = [v for v in variables if self._store.entry(v, create=False) is None]
        if new:
            self.build(new)
        if self.skip_nonfinite and not self._finite([g._data for g in grads], grads):
            return False
        if self.loss_scale_factor is not None:
            grads = [g / self.loss_scale_factor for g in grads]
        if self.clipnorm is not None or self.clipvalue is not None or self.global_clipnorm is not None:
            grads = self._clip_with_ops(grads)
        for g, v in zip(grads, variables):
            if self.weight_decay and self._exclusions.applies(v):
                v.assign_sub(v * (self.weight_decay * lr))
            self.update_step(g, v, lr)
        return True

    def _clip_with_ops(self, grads):
        from .clip import clip_by_global_norm, clip_by_norm, clip_by_value

        if self.clipnorm is not None:
            return [clip_by_norm(g, self.clipnorm) for g in grads]
        if self.clipvalue is not None:
            return [clip_by_value(g, -self.clipvalue, self.clipvalue) for g in grads]
        return clip_by_global_norm(grads, self.global_clipnorm)[0]

    def _plan(self, variables):
        key = tuple(map(id, variables))
        plan = self._store.plan(key)
        if plan is not None:
            return plan
        for var in variables:
            if var.dtype.name not in ("float16", "float32", "float64"):
                raise TypeError(f"{type(self).__name__}: variables of dtype {var.dtype.name} are not supported")
        kernel = self._kernel()
        slot_names = kernels.RULES[kernel].slots
        for var in variables:
            for name in slot_names:
                self._store.add(var, name, self._slot_initial(name))
            for name, initial in self._host_slots().items():
                self._store.add(var, name, initial, host=True)
        return self._store.make_plan(key, variables, kernel, slot_names)

    def _apply_fused(self, grads, variables, lr, plan=None, arrays=None):
        plan = plan or self._plan(variables)
        step = self._iterations + 1
        scalars = self._scalars(lr, step)
        decay = (self.weight_decay or 0.0) * lr
        if arrays is None:
            arrays = [g._data for g in grads]
        # Static loss scaling folds into the launch: the gradients are g / f, so every clipping
        # bound applies to the raw gradients at f times its value, and the global scale is 1 / f.
        f = self.loss_scale_factor or 1.0
        global_scale, norm_sq = 1.0 / f, None
        global_clip = None if self.global_clipnorm is None else self.global_clipnorm * f
        if global_clip is not None:
            norm_sq = global_norm_sq(arrays, grads)
            if self.skip_nonfinite and not self._finite(arrays, grads, norm_sq):
                return False
            if isinstance(norm_sq, float):  # a host value: one factor for every group
                global_scale, norm_sq = global_scale * kernels.global_clip_scale(norm_sq, global_clip), None
        elif self.skip_nonfinite and not self._finite(arrays, grads):
            return False
        segment_norms = segment_norms_sq(arrays, grads) if self.clipnorm is not None else None
        flags = self._segment_flags(variables, step)
        if live_captures():  # values recorded on a tape keep their pre-step value (slots too)
            for var in variables:
                var._before_write()
                for slot in self._store.entry(var).slots.values():
                    slot._before_write()
        decay_masks = self._exclusions.masks(plan, variables) if decay else None
        for index, (device, dtype, positions, table) in enumerate(plan.groups):
            group_arrays = [arrays[p] for p in positions]
            args = dict(segment_scales=None if segment_norms is None else clipnorm_scales(
                            segment_norms, positions, self.clipnorm * f),
                        segment_flags=None if flags is None else flags[positions],
                        segment_decays=None if decay_masks is None else decay_masks[index], scalars=scalars,
                        clip_value=self.clipvalue, decay=decay, global_scale=global_scale,
                        norm_sq=norm_sq if device.kind != "cpu" else None, clip_norm=global_clip or 0.0)
            try:
                kernels.launch(table, group_arrays, **args)
            except TypeError:
                # A gradient of another float dtype, or not contiguous (the gradient through w.T):
                # the kernel checked and wrote nothing. Convert those and launch again (any other
                # error repeats and propagates).
                with device.activate():
                    group_arrays = [launchable(a, dtype) for a in group_arrays]
                kernels.launch(table, group_arrays, **args)
        self._segment_flags_applied(variables, flags)
        return True

    def __repr__(self) -> str:
        return f"{type(self).__name__}(learning_rate={self._learning_rate!r}, iterations={self._iterations})"


def _takes_an_argument(fn) -> bool:
    """Whether a learning-rate callable takes the step: schedules do; Keras calls any other
    callable with no arguments, so one that can be called without arguments is."""
    if isinstance(fn, schedules_module.LearningRateSchedule):
        return True
    try:
        inspect.signature(fn).bind()
        return False
    except TypeError:
        return True
    except ValueError:  # no signature to read (some builtins): the step, as accel always did
        return True
