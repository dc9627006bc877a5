"""accel.nn: modules, layers, initializers and losses for building real models."""

from . import activations, initializers, losses, metrics, regularizers
from .layers import Dense, Sequential, activation
from .losses import mean_squared_error, softmax_cross_entropy, sparse_softmax_cross_entropy
from .module import Module
from ..ops import relu, sigmoid, softmax, softplus, tanh

__all__ = ["Module", "Dense", "Sequential", "activation", "activations", "initializers", "losses", "metrics",
           "regularizers", "relu", "sigmoid", "tanh", "softmax", "softplus", "sparse_softmax_cross_entropy",
           "softmax_cross_entropy",
           "mean_squared_error"]
