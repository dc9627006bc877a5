"""Optimizer: slots, minimize / compute_gradients / apply_gradients (semantics.md section 3).

Built-in optimizers name a fused kernel rule (csrc/rules): `apply_gradients` validates every
gradient, then makes ONE kernel launch per (device, dtype) group of variables for clipping, weight
decay and the update together (fused.py: the rule's interface and the launches).

A custom optimizer overrides `update_step` instead (Keras style) and declares slots in `build`:

    class GradientDescent(accel.optimizers.Optimizer):
        def update_step(self, gradient, variable, learning_rate):
            variable.assign_sub(learning_rate * gradient)
"""

from __future__ import annotations

import inspect
import math
import os
import sys
import warnings

import numpy

from ..dtypes import is_floating
from ..indexed_slices import IndexedSlices
from .. import kernels
from ..nest import flatten
from ..autodiff.tape import GradientTape
from ..ops._core import traceable
from ..tensor import Tensor
from ..variable import Variable
from . import schedules as schedules_module
from .accumulation import ACCUMULATOR, check_steps
from .ema import AVERAGE, MovingAverage
from .fused import FusedSteps
from . import sparse
from .slots import SlotStore
from .weight_decay import DecayExclusions
from .validation import check_pairs, check_range, check_variables, checked_gradients, is_none, who

__all__ = ["Optimizer"]


class Optimizer(FusedSteps):
    """Base class of accel's optimizers (its fused rules and launches: fused.py).

    learning_rate: a float or a schedule (any callable of the step). weight_decay: decoupled
    weight decay, var -= var * weight_decay * lr before the update. clipnorm / clipvalue /
    global_clipnorm: at most one; clip each gradient's norm, its values, or the global norm.
    skip_nonfinite: when any gradient element is inf or NaN (its global norm is not finite), skip
    the whole step: no variable or slot changes, `iterations` stays, `skipped_steps` counts it.
    Off by default, as in TensorFlow, where such a step is applied and its NaNs stay.
    loss_scale_factor: static loss scaling (Keras): gradients are divided by it before clipping
    and the update (folded into the fused launch: no extra pass); `scale_loss(loss)` multiplies.
    use_ema / ema_momentum / ema_overwrite_frequency: keep an exponential moving average of every
    variable (slot "average"), overwrite the variables with it every n steps, and
    `finalize_variable_values` (Keras). gradient_accumulation_steps=S: update every S-th call with
    the mean of the S gradients (slot "gradient_accumulator"); `iterations` counts updates and
    `raw_iterations` calls. Both run inside the fused launch.
    lazy_sparse: an IndexedSlices gradient (an embedding's) changes only the rows it names and
    their slots, whatever the rule (TF1's sparse optimizers, LazyAdam); by default the step equals
    the dense gradient's, touching only those rows where the rule allows (optimizers/sparse.py).
    """

    rule: str | None = None  # the fused kernel family; None for custom update_step optimizers
    _scratch_slots: tuple = ()  # kernel slots that are working memory, not state (not saved or listed)
    _defaults: dict = {}

    def __init__(self, learning_rate=0.001, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None, name=None, skip_nonfinite=False,
                 lazy_sparse=False):
        where = type(self).__name__
        # Keras 3's optimizer.variables start with these two: live Variables on the host (the step
        # count as int64; a float learning rate as float64, exactly the Python float given)
        self._iteration = Variable(numpy.int64(0), trainable=False, name="iteration", device="cpu")
        self._own_lr = None
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
        if not isinstance(use_ema, bool):
            raise TypeError(f"{where}: use_ema must be True or False, got {use_ema!r}")
        self.use_ema = use_ema
        # Keras validates (and uses) the EMA settings only with use_ema=True.
        self._ema = MovingAverage(ema_momentum, ema_overwrite_frequency, where) if use_ema else None
        self.ema_momentum, self.ema_overwrite_frequency = ema_momentum, ema_overwrite_frequency
        self.gradient_accumulation_steps = check_steps(gradient_accumulation_steps, where)
        if not isinstance(lazy_sparse, bool):
            raise TypeError(f"{where}: lazy_sparse must be True or False, got {lazy_sparse!r}")
        self.lazy_sparse = lazy_sparse
        self.skipped_steps = 0  # steps skipped for non-finite gradients (skip_nonfinite)
        self._store = SlotStore()  # slots per variable (held weakly) and launch plans
        self._exclusions = DecayExclusions()  # exclude_from_weight_decay

    # -- hyperparameters ------------------------------------------------------------------------------
    @property
    def _iterations(self) -> int:
        """apply_gradients calls applied, as stored in the `iteration` Variable (variables[0])."""
        return int(self._iteration._data)

    @_iterations.setter
    def _iterations(self, value: int) -> None:
        self._iteration._before_write()  # a value recorded earlier keeps its own (copy-on-write)
        self._iteration._data[...] = value

    @property
    def iterations(self) -> int:
        """The number of updates applied (with gradient accumulation: raw_iterations // S)."""
        steps = self.gradient_accumulation_steps
        return self._iterations // steps if steps else self._iterations

    @iterations.setter
    def iterations(self, value: int) -> None:
        """Sets the update count (with gradient accumulation, at the start of a cycle)."""
        self.raw_iterations = _check_count("iterations", value) * (self.gradient_accumulation_steps or 1)

    @property
    def raw_iterations(self) -> int:
        """apply_gradients calls applied (Keras's `_iterations`): the step a schedule sees. The
        same as `iterations` without gradient accumulation."""
        return self._iterations

    @raw_iterations.setter
    def raw_iterations(self, value: int) -> None:
        self._iterations = _check_count("raw_iterations", value)

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
            if value.ndim != 0 or not is_floating(value.dtype):
                raise ValueError(f"{where}: a tensor learning_rate must be a 0-d float tensor, got shape "
                                 f"{tuple(value.shape)} {value.dtype.name}")
            check_range("learning_rate", float(value.item()), low=0, where=where)
        elif callable(value):
            self._lr_takes_step = _takes_an_argument(value)
        else:
            value = check_range("learning_rate", value, low=0, where=where)
            if self._own_lr is None:
                self._own_lr = Variable(numpy.float64(value), trainable=False, name="learning_rate", device="cpu")
            else:  # the same Variable: whoever holds optimizer.variables[1] sees the new rate
                self._own_lr.assign(numpy.float64(value))
            value = self._own_lr
        self._learning_rate = value

    def _float_rate(self) -> float | None:
        """The learning rate when it is a number this optimizer holds itself (its `learning_rate`
        Variable), else None (a schedule, a callable, a tensor of the user's)."""
        lr = self._learning_rate
        return float(lr._data) if lr is self._own_lr else None

    def _lr_at(self, step: int) -> float:
        lr = self._learning_rate
        if lr is self._own_lr:
            lr = float(lr._data)
            if lr >= 0 and math.isfinite(lr):
                return lr
        elif isinstance(lr, Tensor):
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
                  "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue,
                  "use_ema": self.use_ema, "ema_momentum": self.ema_momentum,
                  "ema_overwrite_frequency": self.ema_overwrite_frequency,
                  "loss_scale_factor": self.loss_scale_factor,
                  "gradient_accumulation_steps": self.gradient_accumulation_steps,
                  "skip_nonfinite": self.skip_nonfinite, "lazy_sparse": self.lazy_sparse}
        config.update({key: getattr(self, key) for key in self._defaults})
        return config

    # Keras config keys accel accepts only at their default (tf.keras 2.11+ wrote this one).
    _KERAS_DEFAULTS = {"is_legacy_optimizer": False}

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
                    raise ValueError(f"{cls.__name__}.from_config: {key}={value!r} is not supported "
                                     "(a legacy tf.keras optimizer)")
        lr = config.get("learning_rate")
        if isinstance(lr, dict):
            config["learning_rate"] = schedules_module.deserialize(lr)
        elif isinstance(lr, str):
            raise ValueError(f"{cls.__name__}.from_config: the learning rate was a callable ({lr}); pass it again")
        return cls(**config)

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
        names = [n for n in kernels.RULES[self.kernel].slots if n not in self._scratch_slots]
        return sorted(names + list(self.host_slots()) + self._extra_slots())

    def _extra_slots(self) -> list:
        """The slots of EMA and gradient accumulation, when on (no rule reads them)."""
        return [AVERAGE] * self.use_ema + [ACCUMULATOR] * bool(self.gradient_accumulation_steps)

    def _add_extra_slots(self, var) -> None:
        for name in self._extra_slots():  # an average starts at the variable (Keras: at its first step)
            self._store.add(var, name, None if name == AVERAGE else 0.0)

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

    @property
    def variables(self) -> list:
        """Keras 3's `optimizer.variables`: the `iteration` Variable (int64: apply_gradients calls,
        `raw_iterations`), the `learning_rate` Variable (when the rate is a float or a Variable; a
        schedule's is not listed), then every slot Variable (per variable, in the order the
        variables were first seen, then by slot name). They are live: the optimizer reads and
        writes them, and assigning one changes the optimizer."""
        lr = self._learning_rate
        return [self._iteration] + ([lr] if isinstance(lr, Variable) else []) + self._slot_variables()

    def _slot_variables(self) -> list:
        return [slot for _, _, slot in self.slot_owners()]

    def get_weights(self) -> list:
        """The values of `variables`, as NumPy arrays."""
        return [v.numpy() for v in self.variables]

    def set_weights(self, weights) -> None:
        """Restore `variables` from arrays or Variables in their order (another optimizer's
        `variables` or `get_weights()`; for the same variables, built: slots exist). tf.keras's
        layout, [step count, *slots] without the learning rate, is accepted too. Every array is
        checked (count, shapes, a lossless dtype) before anything is assigned."""
        slots = self._slot_variables()
        if not slots:
            raise ValueError("set_weights: this optimizer has not been built yet; call "
                             "optimizer.build(trainable_variables) first")
        weights = [w.numpy() if isinstance(w, Tensor) else w for w in weights]
        targets = self.variables
        if len(weights) == len(slots) + 1 and len(targets) != len(weights):
            targets = [self._iteration] + slots  # tf.keras's layout
        if len(weights) != len(targets):
            raise ValueError(f"set_weights: expected {len(targets)} arrays (the step count"
                             f"{', the learning rate' if len(targets) > len(slots) + 1 else ''}, then "
                             f"{len(slots)} slots), got {len(weights)}")
        count = numpy.asarray(weights[0])
        if count.shape != () or count.dtype.kind not in "iu" or int(count) < 0:
            raise ValueError(f"set_weights: weights[0] must be the step count, a non-negative integer scalar; "
                             f"got {count.dtype.name} of shape {count.shape}")
        lr_value = None
        if targets[1:2] and targets[1] is self._learning_rate:
            lr_value = numpy.asarray(weights[1])
            if lr_value.shape != () or not is_floating(lr_value.dtype) or not (float(lr_value) >= 0 and
                                                                           math.isfinite(float(lr_value))):
                raise ValueError(f"set_weights: weights[1] must be the learning rate, a finite float >= 0 "
                                 f"scalar; got {lr_value!r}")
        first_slot = len(targets) - len(slots)
        arrays = []
        for i, (slot, weight) in enumerate(zip(slots, weights[first_slot:]), start=first_slot):
            array = weight.numpy() if isinstance(weight, Tensor) else numpy.asarray(weight)
            if array.shape != tuple(slot.shape):
                raise ValueError(f"set_weights: weights[{i}] ({slot.name}) has shape {array.shape}, "
                                 f"expected {tuple(slot.shape)}")
            if not numpy.can_cast(array.dtype, slot.dtype, casting="safe"):
                raise TypeError(f"set_weights: weights[{i}] ({slot.name}) is {array.dtype.name}; it cannot "
                                f"become {slot.dtype.name} without losing information")
            arrays.append(array)
        for slot, array in zip(slots, arrays):
            slot.assign(array.astype(slot.dtype))
        if lr_value is not None:
            self._learning_rate.assign(lr_value.astype(self._learning_rate.dtype))
        self._iterations = int(count)

    def slot_owners(self) -> list:
        """[(variable, slot name, slot Variable)] for every slot (checkpoints key slots by owner)."""
        return [entry for entry in self._store.owners() if entry[1] not in self._scratch_slots]

    def _checkpoint_state(self) -> dict:
        """name -> Variable of state a Checkpoint saves beside the step count and the slots
        (LossScaleOptimizer: its scale and counter)."""
        return {}

    def _checkpoint_problems(self, arrays: dict) -> list:
        """What is wrong with the saved `_checkpoint_state` values (name -> array), if anything."""
        return []

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

    def _tape_gradients(self, tape, loss, variables) -> list:
        """The gradients of `loss` recorded by `tape` that this optimizer will apply (fit's step
        asks here: accel.distributed's optimizer averages them across workers during the walk)."""
        return tape.gradient(loss, variables)

    @traceable(effect=True)  # accel.function: run on every call
    def apply_gradients(self, grads_and_vars) -> None:
        """Clip, decay and update each variable from its gradient; then iterations += 1."""
        pairs = list(grads_and_vars)
        applied = self._apply_planned(pairs)
        if applied is not None:
            self._iterations += applied
            if applied and Variable._any_constraint:
                _apply_constraints([v for _, v in pairs])
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
                          "they are skipped.", stacklevel=_user_stacklevel())
            if self.use_ema:  # their averages still follow them (Keras averages every built variable)
                for g, v in pairs:
                    if g is None:
                        self._store.add(v, AVERAGE, None)
            grads, variables = zip(*present)
        selection = None
        if any(g.__class__ is IndexedSlices for g in grads):  # an embedding's gradient (sparse.py)
            variables = check_variables(variables, "apply_gradients")
            grads, selection = sparse.prepare(self, grads, variables)
        lr = self._lr_at(self._iterations)
        if self._custom():
            variables = check_variables(variables, "apply_gradients")
            applied = self._apply_custom(checked_gradients(grads, variables), variables, lr)
        else:
            plan = self._store.plan(tuple(map(id, variables)))
            if plan is None:  # a cached plan names these very Variables: they were checked then
                check_variables(variables, "apply_gradients")
            if selection is None:
                grads = checked_gradients(grads, variables, floats_known=plan is not None)
            applied = self._apply_fused(grads, variables, lr, plan, selection=selection)
        self._iterations += applied
        if applied and Variable._any_constraint:
            _apply_constraints(variables)

    # -- internals ------------------------------------------------------------------------------------
    def _apply_custom(self, grads, variables, lr):
        new = [v for v in variables if self._store.entry(v, create=False) is None]
        if new:
            self.build(new)
        for var in variables:
            self._add_extra_slots(var)
        if self.skip_nonfinite and not self._finite([g._data for g in grads], grads):
            return False
        if self.loss_scale_factor is not None:
            grads = [g / self.loss_scale_factor for g in grads]
        steps, iterations = self.gradient_accumulation_steps, self.iterations
        if steps:
            accumulators = [self._store.get(v, ACCUMULATOR) for v in variables]
            if (self._iterations + 1) % steps:  # a call between updates
                for g, acc in zip(grads, accumulators):
                    acc.assign_add(g.astype(acc.dtype))
                self._average_with_ops(iterations)
                return True
            grads = [(g.astype(acc.dtype) + acc) / steps for g, acc in zip(grads, accumulators)]
        if self.clipnorm is not None or self.clipvalue is not None or self.global_clipnorm is not None:
            grads = self._clip_with_ops(grads)
        for g, v in zip(grads, variables):
            if self.weight_decay and self._exclusions.applies(v):
                v.assign_sub(v * (self.weight_decay * lr))
            self.update_step(g, v, lr)
        if steps:  # every accumulator restarts (Keras), also those without a gradient this call
            for _, acc in self._store.holding(ACCUMULATOR):
                acc.assign(0.0)
        self._average_with_ops(iterations)
        return True

    def _average_with_ops(self, iterations, skip=()) -> None:
        """EMA of every variable with an average (but those in `skip`: their launch did it)."""
        if self._ema is None:
            return
        momentum, overwrite = self._ema.momentum_at(iterations), self._ema.overwrites_at(iterations)
        for var, average in self._store.holding(AVERAGE):
            if id(var) not in skip:
                MovingAverage.update(var, average, momentum, overwrite)

    def _clip_with_ops(self, grads):
        from .clip import clip_by_global_norm, clip_by_norm, clip_by_value

        if self.clipnorm is not None:
            return [clip_by_norm(g, self.clipnorm) for g in grads]
        if self.clipvalue is not None:
            return [clip_by_value(g, -self.clipvalue, self.clipvalue) for g in grads]
        return clip_by_global_norm(grads, self.global_clipnorm)[0]

    def finalize_variable_values(self, var_list) -> None:
        """Keras: with use_ema, every variable of `var_list` takes its moving average (at the end
        of training); without EMA, nothing changes."""
        variables = check_variables(flatten(var_list), "finalize_variable_values")
        if not self.use_ema:
            return
        pairs = [(var, self._store.get(var, AVERAGE)) for var in variables]
        for var, average in pairs:
            if average is not None:
                var.assign(average)

    def __repr__(self) -> str:
        lr = self._learning_rate
        shown = float(lr._data) if lr is self._own_lr else lr
        return f"{type(self).__name__}(learning_rate={shown!r}, iterations={self._iterations})"


def _user_stacklevel() -> int:
    """The warnings.warn stacklevel, from its caller, of the first frame outside accel: a warning
    points at the user's line whether they called apply_gradients, apply or minimize."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    frame, level = sys._getframe(2), 2  # stacklevel 1 is the function that warns
    while frame is not None and frame.f_code.co_filename.startswith(package + os.sep):
        frame, level = frame.f_back, level + 1
    return level


def _check_count(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, numpy.integer)):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return int(value)


def _apply_constraints(variables) -> None:
    """Keras: after an applied call, each variable with a constraint takes constraint(variable)."""
    for position, var in enumerate(variables):
        if var._constraint is not None:
            value = var._constraint(var)
            try:
                var.assign(value)
            except (TypeError, ValueError) as exc:
                named = f"variable {var.name!r}" if var.name else who(var, position)
                raise type(exc)(f"the constraint of {named} returned an unusable value: {exc}") from exc


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
