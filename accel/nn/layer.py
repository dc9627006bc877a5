"""Layer: what Keras's layers share. A dtype policy (variables in its variable dtype, floating
inputs cast to its compute dtype: Keras's autocast), a device, weights created on the first call
from the input's shape (`build`, or at construction with `input_shape=`, the shape without the
batch axis), and for layers whose weights or windows depend on the layout (`fixed_rank`:
convolution, pooling, normalization) a fixed input rank from then on: a call with another rank is
a ValueError naming the layer and both shapes, raised before anything runs. `output_shape` is the last call's, with
None for the batch axis (Model.summary shows it)."""

from __future__ import annotations

import numpy

from .. import ops
from ..dtypes import is_floating
from ..mixed_precision import as_policy
from ..tensor import Tensor, convert
from ..variable import Variable
from . import activations, initializers, regularizers
from .module import Module

__all__ = ["Layer"]


def _shape_of(inputs):
    """A tensor's shape, or a list of shapes for a list of tensors or arrays (Add's inputs); nested
    Python lists of numbers are one tensor."""
    if isinstance(inputs, (list, tuple)) and inputs and all(hasattr(x, "shape") for x in inputs):
        return [_shape_of(x) for x in inputs]
    return tuple(inputs.shape) if hasattr(inputs, "shape") else tuple(numpy.shape(inputs))


class Layer(Module):
    """Subclass with `build(input_shape)` (create weights with `add_weight`, in Keras's weight
    order) and `call(inputs, ...)`."""

    fixed_rank = False  # True: every call must have the rank of the input the layer was built for
    _regularized: tuple = ()  # (regularizer attribute, variable attribute) pairs, in Keras's order

    def __init__(self, name=None, dtype=None, device=None, input_shape=None):
        super().__init__(name=name)
        self.dtype_policy = as_policy(dtype)
        self.dtype = numpy.dtype(self.dtype_policy.variable_dtype)  # Keras: a layer's dtype is its variables'
        self.compute_dtype = numpy.dtype(self.dtype_policy.compute_dtype)
        self.device = device
        self.built = False
        self._built_shape = None
        self.output_shape = None
        if input_shape is not None:
            try:
                shape = tuple(int(n) if n is not None else None for n in input_shape)
            except TypeError:
                raise TypeError(f"{self.name}: input_shape must be a tuple of ints (without the batch axis), got "
                                f"{input_shape!r}") from None
            self._build_once((None,) + shape)

    def build(self, input_shape) -> None:
        """Creates the weights for inputs of `input_shape` (batch axis included, maybe None)."""

    def add_weight(self, name: str, shape, initializer, trainable: bool = True) -> Variable:
        return Variable(initializer(tuple(shape), self.dtype, self.device), trainable=trainable,
                        name=f"{self.name}/{name}")

    def _build_once(self, shape) -> None:
        self.build(shape)
        self.built = True
        self._built_shape = shape

    def _check_rank(self, shape) -> None:
        built = self._built_shape
        if isinstance(built, tuple) and isinstance(shape, tuple) and len(built) != len(shape):
            shown = "(None" + "".join(f", {n}" for n in built[1:]) + ")"
            raise ValueError(f"{self.name}: built for inputs of rank {len(built)} (shape {shown}), called with shape "
                             f"{shape} (rank {len(shape)})")

    def __call__(self, inputs, *args, **kwargs):
        shape = _shape_of(inputs)
        if not self.built:
            self._build_once(shape)
        elif self.fixed_rank:
            self._check_rank(shape)
        out = super().__call__(inputs, *args, **kwargs)
        if isinstance(out, Tensor):
            self.output_shape = (None,) + tuple(out.shape[1:]) if out.ndim else ()
        return out

    # -- helpers for call() ---------------------------------------------------------------------------
    def _cast_input(self, x):
        """x as a tensor, floating point cast to the compute dtype (Keras's autocast)."""
        x = convert(x)
        if is_floating(x.dtype) and x.dtype != self.compute_dtype:
            x = ops.cast(x, self.compute_dtype)
        return x

    def _configure_kernel(self, activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                          bias_regularizer, activity_regularizer, seed) -> None:
        """What Dense and the convolutions share: activation, initializers and regularizers by
        Keras name (or callables), and the kernel and bias attributes in Keras's weight order."""
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer, seed=seed)
        self.bias_initializer = initializers.get(bias_initializer, seed=seed)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self._activity_loss = None
        self.kernel = None
        self.bias = None

    def _record_activity(self, y) -> None:
        """activity_regularizer(y) / batch size (Keras), replacing the previous call's."""
        regularizer = getattr(self, "activity_regularizer", None)
        if regularizer is not None:
            self._activity_loss = regularizer(y) / float(y.shape[0] if y.ndim else 1)

    def _adds_penalties(self) -> bool:
        """Whether this layer can add a penalty: a regularizer is set, or its class has its own
        own_losses (fit's penalty walk skips the others)."""
        if type(self).own_losses is not Layer.own_losses:
            return True
        return any(getattr(self, name, None) is not None for name, _ in self._regularized) or \
            getattr(self, "activity_regularizer", None) is not None

    def own_losses(self) -> list:
        """This layer's penalties (not its sub-modules'): each regularized weight's, in
        `_regularized` order, then the last call's activity penalty."""
        out = []
        for regularizer_name, variable_name in self._regularized:
            regularizer, variable = getattr(self, regularizer_name, None), getattr(self, variable_name, None)
            if regularizer is not None and variable is not None:
                out.append(regularizer(variable))
        activity = getattr(self, "_activity_loss", None)
        if activity is not None:
            out.append(activity)
        return out

    def _read(self, variable):
        """The variable in the compute dtype (a recorded cast: float32 gradients come back)."""
        return variable if variable.dtype == self.compute_dtype else ops.cast(variable, self.compute_dtype)
