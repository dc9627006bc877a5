"""Reductions over axes: sum, mean, max, min, prod, logsumexp, argmax/argmin, any/all.

`axis` is None (all axes), an int, or a sequence of ints; `keepdims` keeps reduced axes as size 1.
Every VJP first reshapes the upstream gradient to the keepdims shape so it broadcasts against x.
"""

from __future__ import annotations

import builtins
import math

import numpy

from ..autodiff.complex_grads import holomorphic, linear, own_form
from ..dtypes import is_complex, is_floating
from .. import recording
from ._core import add_reduce, as_array, defop, make, normalize_axis, tensor_arg
from .table import register
from .elementwise import equal, exp, logical_and, select_grad, where
from .shape import reshape

_state = recording.state



def _kept_shape(shape, axes):
    """`shape` with the reduced `axes` (None: all) set to 1."""
    if axes is None:
        return (1,) * len(shape)
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _reduced_count(shape, axes) -> int:
    return math.prod(n for i, n in enumerate(shape) if axes is None or i in axes)


def _unreduce(t, x, axes, keepdims):
    """A reduction's output (or its gradient) reshaped so it broadcasts against x."""
    return t if keepdims else reshape(t, _kept_shape(x.shape, axes))


def _reduction(name, doc, forward, vjp=None, empty_ok=True, takes_dtype=False, **facts):
    """A reduction over axes, entered in the op table (`facts`: table.OpRecord's fields); its
    NumPy function and Tensor method are its name unless `facts` say otherwise. `takes_dtype`:
    a `dtype` argument casts x first (the Array API's sum and prod; the cast is recorded, so a
    gradient flows through it)."""
    vjps = None if vjp is None else (vjp,)
    if facts.get("numpy"):
        facts.setdefault("numpy_keywords", frozenset({"axis", "keepdims"} | ({"dtype"} if takes_dtype else set())))

    def op(x, axis=None, keepdims=False, dtype=None):
        if dtype is not None:
            if not takes_dtype:
                raise TypeError(f"{name}: takes no dtype argument")
            from .conversion import cast

            out = op(cast(x, dtype), axis, keepdims)  # (NumPy widens small integers: the standard keeps dtype)
            return out if out.dtype == dtype else cast(out, dtype)
        trace = _state.trace
        if trace is not None:  # accel.function: this call is one step of the trace
            return trace.call(op, (x, axis, keepdims), {})
        x = tensor_arg(x)
        axes = normalize_axis(axis, x.ndim, name)
        if not empty_ok and _reduced_count(x.shape, axes) == 0:
            raise ValueError(f"{name}: cannot reduce over an empty axis (no identity element)")
        device = x._device
        if not device.contextual:  # the CPU: no device context to enter
            out = forward(device._xp, x._data, axes, keepdims)
        else:
            with device.activate():
                out = forward(device._xp, x._data, axes, keepdims)
        return make(out, device, (x,), vjps, {"axes": axes, "keepdims": keepdims})

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    # accel.function's replay on raw arrays (the trace checked the axes and emptiness already)
    kernel = lambda xp, x, axis=None, keepdims=False: as_array(  # noqa: E731
        forward(xp, x, normalize_axis(axis, x.ndim, name), keepdims))
    return register(op, family="reduce", kernel=kernel, differentiable=vjps is not None, **facts)


@linear
def _spread_vjp(gg, ans, g, kept, shape):
    return reshape(sum(gg, tuple(i for i, (k, n) in enumerate(zip(kept, shape)) if k != n), keepdims=True),
                   g.shape)


_SPREAD_VJPS = (_spread_vjp,)
_MATERIALIZE = 1 << 16  # below this many elements a copy is cheaper than NumPy's broadcast_to


def _spread_kernel(xp, g, kept, shape):
    data = g.reshape(kept)
    if math.prod(shape) <= _MATERIALIZE:
        out = xp.empty(shape, data.dtype)
        out[...] = data
        return out
    return xp.broadcast_to(data, shape)


@defop("reduce", namespace="internal", kernel=_spread_kernel)
def _spread(g, kept, shape):
    """A reduction's gradient g (shaped like its output) spread over the reduced input's `shape`
    in one op: g reshaped to `kept` (the shape with reduced axes of size 1) and broadcast. The
    VJP of sum, whose own VJP sums back."""
    out = _spread_kernel(g._device.xp, g._data, kept, shape)
    return make(out, g._device, (g,), _SPREAD_VJPS, {"kept": kept, "shape": shape})



@linear
def _sum_vjp(g, ans, x, axes, keepdims):
    return _spread(g, _kept_shape(x.shape, axes), tuple(x.shape))


def _mean_forward(xp, x, axes, keepdims):
    dtype = None if is_floating(x.dtype) or is_complex(x.dtype) else numpy.float32
    if _reduced_count(x.shape, axes) == 0:  # NaN, as TensorFlow and PyTorch give, without NumPy's warning
        shape = tuple(x.sum(axis=axes, keepdims=keepdims).shape)
        return xp.full(shape, numpy.nan, dtype=dtype or x.dtype)
    if is_floating(x.dtype) and x.dtype.itemsize >= 4:
        # NumPy's mean is this sum divided by the count (the same two roundings), without the
        # ~8 µs of Python that numpy's _mean spends around them; float16 sums in float32 there
        return add_reduce(xp, x, axes, keepdims) / _reduced_count(x.shape, axes)
    return x.mean(axis=axes, keepdims=keepdims, dtype=dtype)


@linear
def _mean_vjp(g, ans, x, axes, keepdims):
    return _sum_vjp(g, ans, x, axes, keepdims) / builtins.max(_reduced_count(x.shape, axes), 1)


def _extremum_vjp(g, ans, x, axes, keepdims):
    # Ties share the gradient equally (TensorFlow's convention).
    hit = equal(x, _unreduce(ans, x, axes, keepdims))
    count = sum(hit, axes, keepdims=True)
    return select_grad(hit, _unreduce(g, x, axes, keepdims) / count)


@holomorphic  # a product of the elements: the complex gradient is g * conj(product of the others)
def _prod_vjp(g, ans, x, axes, keepdims):
    # d prod / d x_i = product of the other elements. Written without dividing by x_i so that
    # zeros are exact: with no zero it is ans / x_i; with one zero, only that element gets the
    # product of the rest; with two or more, every derivative is 0.
    is_zero = equal(x, 0)
    zeros = sum(is_zero, axes, keepdims=True)
    others = prod(where(is_zero, 1, x), axes, keepdims=True)
    safe_x = where(is_zero, 1, x)
    partial = where(equal(zeros, 0), others / safe_x,
                    where(logical_and(equal(zeros, 1), is_zero), others, 0))
    return _unreduce(g, x, axes, keepdims) * partial


def _logsumexp_forward(xp, x, axes, keepdims):
    if is_complex(x.dtype):  # its shift by the largest element needs an order (TensorFlow's refuses them too)
        raise TypeError(f"logsumexp: x must be real, got {x.dtype.name}")
    if not is_floating(x.dtype):
        x = x.astype(numpy.float32)
    shift = xp.max(x, axis=axes, keepdims=True) if x.size else xp.zeros(_kept_shape(x.shape, axes), x.dtype)
    shift = xp.where(xp.isfinite(shift), shift, 0)  # all -inf (or inf) rows: no shift
    with numpy.errstate(divide="ignore"):  # a row of only -inf has logsumexp -inf, no warning
        out = xp.log(xp.sum(xp.exp(x - shift), axis=axes, keepdims=True)) + shift
    return out if keepdims else out.reshape(_squeezed_shape(x.shape, axes))


def _squeezed_shape(shape, axes):
    return () if axes is None else tuple(n for i, n in enumerate(shape) if i not in axes)


def _logsumexp_vjp(g, ans, x, axes, keepdims):
    return _unreduce(g, x, axes, keepdims) * exp(x - _unreduce(ans, x, axes, keepdims))


sum = _reduction("sum", "Sum of elements over `axis` (`dtype`: summed in that dtype).",  # noqa: A001
                 lambda xp, x, axes, keepdims: add_reduce(xp, x, axes, keepdims),
                 _sum_vjp, takes_dtype=True, numpy="sum", methods=("sum",))
mean = _reduction("mean", "Arithmetic mean over `axis` (float32 for integer inputs).",
                  _mean_forward, _mean_vjp, numpy="mean", methods=("mean",), dtype="float")
max = _reduction("max", "Largest element over `axis`; ties share the gradient.",  # noqa: A001
                 lambda xp, x, axes, keepdims: xp.max(x, axis=axes, keepdims=keepdims),
                 _extremum_vjp, empty_ok=False, numpy="max", methods=("max",))
min = _reduction("min", "Smallest element over `axis`; ties share the gradient.",  # noqa: A001
                 lambda xp, x, axes, keepdims: xp.min(x, axis=axes, keepdims=keepdims),
                 _extremum_vjp, empty_ok=False, numpy="min", methods=("min",))
prod = _reduction("prod", "Product of elements over `axis` (gradient exact at zeros; `dtype`: in that dtype).",
                  lambda xp, x, axes, keepdims: xp.prod(x, axis=axes, keepdims=keepdims),
                  _prod_vjp, takes_dtype=True, numpy="prod", methods=("prod",))
logsumexp = _reduction("logsumexp", "log(sum(exp(x))) over `axis`, without overflow.",
                       _logsumexp_forward, _logsumexp_vjp, dtype="float")


def _variance_forward(xp, x, axes, keepdims):
    # mean(|x - mean|^2) in two passes, the subtraction before the squares (no cancellation); the
    # squares written over the deviations (NumPy's var: one temporary, not two)
    m = _mean_forward(xp, x, axes, True)
    d = x - m
    if is_complex(d.dtype):  # |d|^2, real (NumPy's var of complex values)
        squares = d.real * d.real
        squares += d.imag * d.imag
    else:
        squares = xp.multiply(d, d, out=d) if isinstance(d, xp.ndarray) else d * d
    return _mean_forward(xp, squares, axes, keepdims)


@own_form  # complex too: d|z - m|^2 / dx + i d|z - m|^2 / dy = 2 (z - m), g being real
def _variance_vjp(g, ans, x, axes, keepdims):
    # d/dx mean((x - m)^2) = 2 (x - m) / n (the mean's own term sums to zero)
    deviation = x - _unreduce(mean(x, axes, keepdims), x, axes, keepdims)
    return _unreduce(g, x, axes, keepdims) * deviation * (2.0 / builtins.max(_reduced_count(x.shape, axes), 1))


variance = _reduction("variance", "The population variance mean((x - mean)^2) over `axis` (moments' second).",
                      _variance_forward, _variance_vjp, dtype="float", namespace="internal")
reduce_any = _reduction("reduce_any", "Whether any element over `axis` is true.",
                        lambda xp, x, axes, keepdims: xp.any(x, axis=axes, keepdims=keepdims), dtype="bool",
                        aliases=("any",))
reduce_all = _reduction("reduce_all", "Whether every element over `axis` is true.",
                        lambda xp, x, axes, keepdims: xp.all(x, axis=axes, keepdims=keepdims), dtype="bool",
                        aliases=("all",))


def _correction(x, axis, correction, op):
    if isinstance(correction, (bool, numpy.bool_)) or not isinstance(correction, (int, float, numpy.number)) \
            or not correction >= 0:
        raise ValueError(f"{op}: correction must be a number >= 0, got {correction!r}")
    n = _reduced_count(x.shape, normalize_axis(axis, x.ndim, op))
    return n / builtins.max(n - correction, 0) if n - correction > 0 else float("nan")


@defop("reduce", kind="composite", numpy="var", numpy_keywords=frozenset({"axis", "keepdims"}))
def var(x, axis=None, correction=0.0, keepdims=False):
    """The variance over `axis`: sum((x - mean)^2) / (N - correction) (the Array API's; 0 is the
    population variance, 1 Bessel's; NaN when N <= correction)."""
    x = tensor_arg(x)
    return variance(x, axis, keepdims) * _correction(x, axis, correction, "var")


@defop("reduce", kind="composite", numpy="std", numpy_keywords=frozenset({"axis", "keepdims"}))
def std(x, axis=None, correction=0.0, keepdims=False):
    """The standard deviation over `axis`: sqrt(var(x, axis, correction))."""
    from .elementwise import sqrt

    return sqrt(var(x, axis, correction, keepdims))
count_nonzero = _reduction(
    "count_nonzero", "Number of non-zero elements over `axis` (int64).",
    lambda xp, x, axes, keepdims: xp.sum(x != 0, axis=axes, keepdims=keepdims, dtype=numpy.int64), dtype="int64")


def _arg_extremum(name, pick):
    def op(x, axis=None, keepdims=False):
        trace = _state.trace
        if trace is not None:  # accel.function: this call is one step of the trace
            return trace.call(op, (x, axis, keepdims), {})
        x = tensor_arg(x)
        axes = normalize_axis(axis, x.ndim, name)
        if axes is not None and len(axes) != 1:
            raise ValueError(f"{name}: axis must be None or a single int, got {axis!r}")
        if x.size == 0 and (axes is None or x.shape[axes[0]] == 0):
            raise ValueError(f"{name}: the tensor is empty along the reduced axis")
        with x._device.activate():
            out = pick(x._device.xp)(x._data, axis=None if axes is None else axes[0], keepdims=keepdims)
            out = as_array(out).astype(numpy.int64, copy=False)
        return make(out, x._device)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Index (int64) of the {name[3:]}imum over `axis`; None: of the flattened tensor."
    return register(op, family="reduce", differentiable=False, dtype="int64", numpy=name,
                    numpy_keywords=frozenset({"axis"}), methods=(name,))


argmax = _arg_extremum("argmax", lambda xp: xp.argmax)
argmin = _arg_extremum("argmin", lambda xp: xp.argmin)
