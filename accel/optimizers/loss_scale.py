"""LossScaleOptimizer: dynamic loss scaling around any optimizer (Keras 3's semantics; see
docs/semantics.md section 9).

    scale_loss(loss)  = loss * dynamic_scale          (a float16 loss is cast to float32 first)
    apply_gradients:  g / dynamic_scale, applied by the inner optimizer when every gradient is
                      finite; then every `dynamic_growth_steps` finite steps in a row the scale
                      doubles. A step with an inf or NaN changes no variable, slot or iteration
                      count, halves the scale (no floor) and restarts the count.

The unscaling and the finiteness test run inside the inner optimizer's fused launch: the scale
is its gradient pre-scale (`loss_scale_factor`) and the test its `skip_nonfinite` norm pass (the
global-clipping pass when there is one), so a scaled step costs the same update launches as a
plain one. The scale and the counter live on the host (0-d CPU Variables, checkpointed with the
optimizer); on a GPU they live on the device between syncs and a step reads nothing back
(device_scaling.py).
"""

from __future__ import annotations

import math

import numpy

from .. import ops
from ..ops._core import make, traceable
from ..tensor import Tensor
from ..variable import Variable
from .base import Optimizer
from .device_scaling import DeviceScaling, device_for, next_scale
from ..dtypes import is_floating

__all__ = ["LossScaleOptimizer"]

_FLOAT16 = numpy.dtype("float16")


class LossScaleOptimizer(Optimizer):
    """Wraps `inner_optimizer` (any accel.optimizers.Optimizer, with its own clipping, decay and
    schedule) with dynamic loss scaling.

    initial_scale: the first scale (2**15). dynamic: must be True (Keras: a fixed scale is the
    optimizer's `loss_scale_factor`). dynamic_growth_steps: finite steps in a row after which the
    scale doubles (2000). name: the optimizer's name ("loss_scale_optimizer"). Any other keyword
    (clipnorm, ...) raises: give it to the inner optimizer.

    `iterations`, `learning_rate`, slots, `build` and the rest are the inner optimizer's; the
    wrapper adds `dynamic_scale` (float32) and `step_counter` (int64) and counts skipped steps in
    `skipped_steps`."""

    def __init__(self, inner_optimizer, initial_scale=2.0 ** 15, dynamic=True, dynamic_growth_steps=2000, name=None,
                 **kwargs):
        if not isinstance(inner_optimizer, Optimizer) or isinstance(inner_optimizer, LossScaleOptimizer):
            raise TypeError("LossScaleOptimizer: inner_optimizer must be an accel optimizer (not another "
                            f"LossScaleOptimizer), got {type(inner_optimizer).__name__}")
        if getattr(inner_optimizer, "_distributed", False):  # it would test each worker's own gradients
            raise TypeError("LossScaleOptimizer: wrap the LossScaleOptimizer in the DistributedOptimizer, not the "
                            "other way round (DistributedOptimizer(LossScaleOptimizer(opt)))")
        if not dynamic:
            raise ValueError("LossScaleOptimizer: dynamic=False is not supported; for a fixed scale give the "
                             "optimizer loss_scale_factor=... instead")
        if kwargs:
            key = sorted(kwargs)[0]
            raise ValueError(f"LossScaleOptimizer does not support `{key}`; give it to the inner optimizer")
        if isinstance(initial_scale, bool) or not isinstance(initial_scale, (int, float)) or \
                not math.isfinite(initial_scale) or initial_scale <= 0:
            raise ValueError(f"LossScaleOptimizer: initial_scale must be a finite number > 0, got {initial_scale!r}")
        if isinstance(dynamic_growth_steps, bool) or not isinstance(dynamic_growth_steps, int) or \
                dynamic_growth_steps <= 0:
            raise ValueError(f"LossScaleOptimizer: dynamic_growth_steps must be a positive int, got "
                             f"{dynamic_growth_steps!r}")
        super().__init__(name=name or "loss_scale_optimizer")  # before inner_optimizer: its defaults stay ours
        self.inner_optimizer = inner_optimizer
        inner_optimizer.loss_scale_factor = None  # the wrapper scales (Keras clears it too)
        self.initial_scale = float(initial_scale)
        self.dynamic_growth_steps = int(dynamic_growth_steps)
        self._scale = Variable(numpy.float32(initial_scale), trainable=False, name="dynamic_scale", device="cpu")
        self._counter = Variable(numpy.int64(0), trainable=False, name="step_counter", device="cpu")
        self._on_device = None  # DeviceScaling while steps are decided on a GPU

    # -- the scale's state: on the host, or on a GPU between syncs ---------------------------------------
    @property
    def dynamic_scale(self) -> Variable:
        """The current loss scale (a float32 CPU Variable; read from the GPU if steps run there)."""
        self.sync()
        return self._scale

    @property
    def step_counter(self) -> Variable:
        """Finite steps in a row since the scale last changed (an int64 CPU Variable)."""
        self.sync()
        return self._counter

    @property
    def skipped_steps(self) -> int:
        self.sync()
        return self._skipped

    @skipped_steps.setter
    def skipped_steps(self, value: int) -> None:
        self._skipped = value

    def sync(self) -> None:
        """Copies the state of steps decided on a GPU back to the host (three scalar reads; a no-op
        otherwise). Reading iterations, dynamic_scale, step_counter or skipped_steps, saving a
        checkpoint and get_weights call it."""
        state = self._on_device
        if state is None or state.attempted == 0:
            return
        scale, counter, applied = state.read()
        self._skipped += state.attempted - (applied - state.base)
        self.inner_optimizer._iterations = applied
        self._scale.assign(numpy.float32(scale))
        self._counter.assign(numpy.int64(counter))
        state.base, state.attempted = applied, 0

    def _leave_device(self) -> None:
        """Back to host decisions (the state is synced first)."""
        self.sync()
        self._on_device = None

    # -- what the inner optimizer owns ---------------------------------------------------------------
    @property
    def learning_rate(self):
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        if "inner_optimizer" in vars(self):  # Optimizer.__init__ sets its default first: not the inner's
            self.inner_optimizer.learning_rate = value

    @property
    def _learning_rate(self):
        return self.inner_optimizer._learning_rate

    @property
    def iterations(self) -> int:
        self.sync()
        return self.inner_optimizer.iterations

    @iterations.setter
    def iterations(self, value) -> None:
        self._leave_device()
        self.inner_optimizer.iterations = value

    @property
    def raw_iterations(self) -> int:
        self.sync()
        return self.inner_optimizer.raw_iterations

    @raw_iterations.setter
    def raw_iterations(self, value) -> None:
        if "inner_optimizer" in vars(self):
            self._leave_device()  # a restore: the device copy is made again from the host values
            self.inner_optimizer.raw_iterations = value

    @property
    def kernel(self):
        return self.inner_optimizer.kernel

    def host_slots(self) -> dict:
        return self.inner_optimizer.host_slots()

    def build(self, var_list) -> None:
        self.inner_optimizer.build(var_list)

    def get_slot_names(self) -> list:
        return self.inner_optimizer.get_slot_names()

    def get_slot(self, var, slot_name: str):
        return self.inner_optimizer.get_slot(var, slot_name)

    def slot_owners(self) -> list:
        return self.inner_optimizer.slot_owners()

    @property
    def variables(self) -> list:
        """step_counter and dynamic_scale, then the inner optimizer's (Keras's order)."""
        self.sync()
        return [self._counter, self._scale] + self.inner_optimizer.variables

    def get_weights(self) -> list:
        """[step_counter, dynamic_scale] then the inner optimizer's get_weights()."""
        self.sync()
        return [self._counter.numpy(), self._scale.numpy()] + self.inner_optimizer.get_weights()

    def set_weights(self, weights) -> None:
        weights = list(weights)
        if len(weights) < 2:
            raise ValueError("set_weights: expected step_counter, dynamic_scale, then the inner optimizer's weights")
        counter, scale = numpy.asarray(weights[0]), numpy.asarray(weights[1])
        if counter.shape != () or counter.dtype.kind not in "iu" or int(counter) < 0:
            raise ValueError(f"set_weights: weights[0] must be the step counter, a non-negative integer, "
                             f"got {counter!r}")
        if scale.shape != () or not numpy.isfinite(scale) or float(scale) <= 0:
            raise ValueError(f"set_weights: weights[1] must be the loss scale, a finite number > 0, got {scale!r}")
        self._leave_device()
        self.inner_optimizer.set_weights(weights[2:])  # checks its own before assigning anything
        self._counter.assign(numpy.int64(counter))
        self._scale.assign(numpy.float32(scale))

    def exclude_from_weight_decay(self, var_list=None, var_names=None) -> None:
        self.inner_optimizer.exclude_from_weight_decay(var_list, var_names)

    def finalize_variable_values(self, var_list) -> None:
        self.inner_optimizer.finalize_variable_values(var_list)

    def _checkpoint_state(self) -> dict:
        """What a Checkpoint saves (and restores into) beside the inner optimizer's step count and
        slots; a restore first sets raw_iterations, which returns the state to the host."""
        self.sync()
        return {"dynamic_scale": self._scale, "step_counter": self._counter}

    def _checkpoint_problems(self, arrays: dict) -> list:
        problems = []
        scale, counter = arrays.get("dynamic_scale"), arrays.get("step_counter")
        if scale is not None and is_floating(scale.dtype) and not (numpy.isfinite(scale).all() and (scale > 0).all()):
            problems.append(f"dynamic_scale: must be finite and > 0, the checkpoint has {scale}")
        if counter is not None and counter.dtype.kind in "iu" and (counter < 0).any():
            problems.append(f"step_counter: must be >= 0, the checkpoint has {counter}")
        return problems

    # -- scaling -------------------------------------------------------------------------------------------
    def scale_loss(self, loss):
        """loss * dynamic_scale; a float16 loss is cast to float32 first (its scaled value would
        overflow float16). On the GPU the steps run on, the scale is read there (no host copy)."""
        if isinstance(loss, Tensor):
            if loss.dtype == _FLOAT16:
                loss = ops.cast(loss, "float32")
            scale = self._device_scale(loss)
            if scale is not None:
                return loss * ops.cast(scale, loss.dtype)
        return loss * float(self.dynamic_scale.numpy())

    def _device_scale(self, like):
        """The device scale as a 0-d tensor when steps run on `like`'s device, else None."""
        state = self._on_device
        if state is None or like.device != state.device:
            return None
        return make(state.scale, state.device)

    def compute_gradients(self, loss, var_list, tape=None):
        """Gradients of the scaled loss (apply_gradients divides them back), as TF's
        LossScaleOptimizer does: minimize() works unchanged."""
        if callable(loss) and not isinstance(loss, Tensor):
            return super().compute_gradients(lambda: self.scale_loss(loss()), var_list)
        if tape is None:
            raise ValueError("compute_gradients: a tensor loss needs the tape that recorded it (pass tape=...), "
                             "or pass a zero-argument callable")
        variables = list(var_list() if callable(var_list) else var_list)
        scale = self._device_scale(loss)
        if scale is None:
            weight = ops.full(tuple(loss.shape), float(self.dynamic_scale.numpy()), dtype=loss.dtype,
                              device=loss.device)
        else:
            weight = ops.broadcast_to(ops.cast(scale, loss.dtype), tuple(loss.shape))
        grads = tape.gradient(loss, variables, output_gradients=weight)
        return list(zip(grads, variables))

    @traceable(effect=True)  # accel.function: run on every call
    def apply_gradients(self, grads_and_vars) -> None:
        """Unscale, test, apply (or skip) in the inner optimizer's launch; then adjust the scale.
        On a GPU (device_scaling.py) all of it happens there, without a host copy."""
        pairs = list(grads_and_vars)
        device = device_for(self.inner_optimizer, pairs)
        if device is not None:
            if self._on_device is None or self._on_device.device is not device:
                self._leave_device()
                self._on_device = DeviceScaling(device, float(self._scale.numpy()), int(self._counter.numpy()),
                                                self.inner_optimizer._iterations)
            self._on_device.step(self, pairs)
            return
        self._leave_device()
        self._apply_on_host(pairs)

    def _apply_on_host(self, grads_and_vars) -> None:
        inner = self.inner_optimizer
        scale = float(self._scale.numpy())
        saved = inner.loss_scale_factor, inner.skip_nonfinite, inner.skipped_steps
        inner.loss_scale_factor, inner.skip_nonfinite = scale, True
        try:
            inner.apply_gradients(grads_and_vars)
            finite = inner.skipped_steps == saved[2]
        finally:
            inner.loss_scale_factor, inner.skip_nonfinite, inner.skipped_steps = saved
        self._skipped += not finite
        counter, scale = next_scale(numpy, numpy.bool_(finite), self._counter.numpy(), self._scale.numpy(),
                                    self.dynamic_growth_steps)
        self._counter.assign(counter)
        self._scale.assign(scale)

    # -- configuration -------------------------------------------------------------------------------
    def get_config(self) -> dict:
        from . import serialize

        return {"name": self.name, "inner_optimizer": serialize(self.inner_optimizer),
                "initial_scale": self.initial_scale, "dynamic_growth_steps": self.dynamic_growth_steps}

    @classmethod
    def from_config(cls, config: dict):
        from . import deserialize

        config = dict(config)
        inner = config.pop("inner_optimizer", None)
        if inner is None:
            raise ValueError("LossScaleOptimizer.from_config: the config has no inner_optimizer")
        return cls(deserialize(inner) if isinstance(inner, dict) else inner, **config)

    def __repr__(self) -> str:
        return (f"LossScaleOptimizer({self.inner_optimizer!r}, dynamic_scale={float(self._scale.numpy())}, "
                f"step_counter={int(self._counter.numpy())})")
