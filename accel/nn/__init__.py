"""accel.nn: modules, layers, initializers and losses for building real models."""

from . import activations, initializers, layers, losses, metrics, regularizers
from .layers import *  # noqa: F401,F403 (the layers' own __all__)
from .layers import __all__ as _layer_names
from .losses import mean_squared_error, softmax_cross_entropy, sparse_softmax_cross_entropy
from .module import Module, current_training
from ..ops import relu, sigmoid, softmax, softplus, tanh

__all__ = ["Module", "current_training", *_layer_names, "activations", "initializers", "layers", "losses", "metrics",
           "regularizers", "relu", "sigmoid", "tanh", "softmax", "softplus", "sparse_softmax_cross_entropy",
           "softmax_cross_entropy", "mean_squared_error"]
