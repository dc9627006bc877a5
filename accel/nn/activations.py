"""Keras 3's activations by name (keras.activations.get): Dense's and Activation's `activation=`
strings. Each is an accel op (gelu, silu, elu, selu, leaky_relu, softsign, log_sigmoid: the tf.nn
ops) or written from accel ops, so its gradient (every order) comes from theirs. The
defaults are Keras 3.15's: "gelu" is the exact GELU (erf), "leaky_relu" has slope 0.2,
"hard_sigmoid" is relu6(x + 3) / 6. "threshold" needs arguments Keras's name cannot pass: it is
refused with the reason."""

from __future__ import annotations

from .. import ops

__all__ = ["get", "NAMES"]



def linear(x):
    return x


def leaky_relu(x, negative_slope=0.2):
    return ops.leaky_relu(x, negative_slope)


def relu6(x):
    return ops.minimum(ops.relu(x), 6.0)


def elu(x, alpha=1.0):
    if alpha == 1.0:
        return ops.elu(x)
    # expm1 of min(x, 0): the branch not taken never overflows
    return ops.where(ops.greater(x, 0), x, ops.expm1(ops.minimum(x, 0.0)) * alpha)


def selu(x):
    return ops.selu(x)


def celu(x, alpha=1.0):
    return ops.relu(x) + ops.minimum(ops.expm1(ops.minimum(x, 0.0) / alpha) * alpha, 0.0)


def softsign(x):
    return ops.softsign(x)


def squareplus(x, b=4.0):
    return (x + ops.sqrt(ops.square(x) + b)) * 0.5


def soft_shrink(x, threshold=0.5):
    return ops.where(ops.greater(x, threshold), x - threshold,
                     ops.where(ops.less(x, -threshold), x + threshold, ops.zeros_like(x)))


def hard_shrink(x, threshold=0.5):
    return ops.where(ops.greater(ops.abs(x), threshold), x, ops.zeros_like(x))


def sparse_plus(x):
    middle = ops.square(x + 1.0) * 0.25
    return ops.where(ops.less_equal(x, -1.0), ops.zeros_like(x), ops.where(ops.greater_equal(x, 1.0), x, middle))


def sparse_sigmoid(x):
    return ops.clip((x + 1.0) * 0.5, 0.0, 1.0)


def silu(x):
    return ops.silu(x)


def gelu(x, approximate=False):
    """x * Phi(x); approximate=True: 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3)))."""
    return ops.gelu(x, approximate)


def glu(x, axis=-1):
    a, b = ops.split(x, 2, axis=axis)
    return a * ops.sigmoid(b)


def tanh_shrink(x):
    return x - ops.tanh(x)


def hard_sigmoid(x):
    return relu6(x + 3.0) / 6.0


def hard_silu(x):
    return x * hard_sigmoid(x)


def hard_tanh(x):
    return ops.clip(x, -1.0, 1.0)


def mish(x):
    return x * ops.tanh(ops.softplus(x))


def log_sigmoid(x):
    return ops.log_sigmoid(x)


def log_softmax(x, axis=-1):
    return ops.log_softmax(x, axis)


def softmax(x, axis=-1):
    return ops.softmax(x, axis)


def sparsemax(x, axis=-1):
    """Sparsemax (Martins & Astudillo): the Euclidean projection of x onto the simplex along axis.
    With z sorted descending, k = max{j : 1 + j z_j > sum_{i<=j} z_i}, tau = (sum_{i<=k} z_i - 1)/k,
    out = max(x - tau, 0). tau is a smooth function of the entries in the support, so the gradient
    is g - mean of g over the support, inside the support (the op's VJP)."""
    return ops.sparsemax(x, axis)


_BY_NAME = {
    "relu": ops.relu, "leaky_relu": leaky_relu, "relu6": relu6, "softmax": softmax, "celu": celu,
    "elu": elu, "selu": selu, "softplus": ops.softplus, "softsign": softsign, "squareplus": squareplus,
    "soft_shrink": soft_shrink, "sparse_plus": sparse_plus, "silu": silu, "swish": silu, "gelu": gelu,
    "glu": glu, "tanh": ops.tanh, "tanh_shrink": tanh_shrink, "sigmoid": ops.sigmoid,
    "sparse_sigmoid": sparse_sigmoid, "exponential": ops.exp, "hard_sigmoid": hard_sigmoid,
    "hard_silu": hard_silu, "hard_swish": hard_silu, "hard_tanh": hard_tanh, "hard_shrink": hard_shrink,
    "linear": None, "mish": mish, "log_softmax": log_softmax, "log_sigmoid": log_sigmoid,
    "sparsemax": sparsemax,
}
NAMES = tuple(sorted(_BY_NAME))


def get(identifier):
    """An activation from a Keras name, a callable (returned as it is), or None (no activation)."""
    if identifier is None or callable(identifier):
        return identifier
    if identifier == "threshold":
        raise ValueError("activation 'threshold' needs its threshold and default_value, which a name cannot "
                         "pass (Keras fails on it at the first call): pass a callable, e.g. "
                         "lambda x: accel.where(x > 0.5, x, 0.0)")
    if not isinstance(identifier, str) or identifier not in _BY_NAME:
        raise ValueError(f"unknown activation {identifier!r}; expected one of {', '.join(NAMES)}, a callable "
                         "or None")
    return _BY_NAME[identifier]
