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
from .loss_scale import LossScaleOptimizer
from .nadam import Nadam
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adagrad", "AdagradDecay", "RMSprop", "Adam", "AdamW", "Adadelta", "Adamax",
           "Nadam", "Ftrl", "Lion", "Lamb", "LossScaleOptimizer", "schedules", "clip_by_global_norm", "clip_by_norm",
           "clip_by_value",
           "get", "serialize", "deserialize"]

_BY_NAME = {cls.__name__.lower(): cls for cls in (SGD, Adagrad, AdagradDecay, RMSprop, Adam, AdamW, Adadelta, Adamax,
                                                   Nadam, Ftrl, Lion, Lamb)}


def serialize(optimizer: Optimizer) -> dict:
    """{"class_name": ..., "config": optimizer.get_config()} (Keras's layout)."""
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config: dict) -> Optimizer:
    """The optimizer `serialize` (or Keras's serialize) describes."""
    if not isinstance(config, dict) or "class_name" not in config or not isinstance(config.get("config"), dict):
        raise TypeError(f"deserialize: expected {{'class_name': ..., 'config': {{...}}}}, got {config!r}")
    cls = _BY_NAME.get(str(config["class_name"]).lower())
    if str(config["class_name"]).lower() == "lossscaleoptimizer":
        cls = LossScaleOptimizer
    if cls is None:
        raise ValueError(f"deserialize: unknown optimizer {config['class_name']!r}; known: "
                         f"{', '.join(sorted(c.__name__ for c in _BY_NAME.values()))}")
    return cls.from_config(config["config"])


def get(identifier) -> Optimizer | None:
    """An optimizer from a name ("adam", case-insensitive, with its defaults), a serialized dict,
    or an optimizer (returned as it is); None gives None, as keras.optimizers.get."""
    if identifier is None:
        return None
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower())
        if cls is None:
            raise ValueError(f"get: unknown optimizer {identifier!r}; known: "
                             f"{', '.join(sorted(_BY_NAME))}")
        return cls()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise TypeError(f"get: expected a name, a serialized dict or an Optimizer, got {type(identifier).__name__}")
