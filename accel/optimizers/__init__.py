"""accel.optimizers: Optimizer (slots, minimize / compute_gradients / apply_gradients) and the
built-in optimizers, each one fused kernel launch per (device, dtype) group per step."""

from . import schedules
from .adadelta import Adadelta
from .adagrad import Adagrad, AdagradDecay
from .adam import Adam, AdamW
from .adamax import Adamax
from .base import Optimizer
from .clip import clip_by_global_norm, clip_by_norm, clip_by_value
from .ftrl import Ftrl
from .lamb import Lamb
from .lion import Lion
from .nadam import Nadam
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adagrad", "AdagradDecay", "RMSprop", "Adam", "AdamW", "Adadelta", "Adamax",
           "Nadam", "Ftrl", "Lion", "Lamb", "schedules", "clip_by_global_norm", "clip_by_norm", "clip_by_value"]
