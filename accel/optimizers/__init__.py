"""accel.optimizers: Optimizer (slots, minimize / compute_gradients / apply_gradients) and the
built-in optimizers, each one fused kernel launch per (device, dtype) group per step."""

from . import schedules
from .adagrad import Adagrad, AdagradDecay
from .adam import Adam, AdamW
from .base import Optimizer
from .clip import clip_by_global_norm, clip_by_norm, clip_by_value
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adagrad", "AdagradDecay", "RMSprop", "Adam", "AdamW", "schedules",
           "clip_by_global_norm", "clip_by_norm", "clip_by_value"]
