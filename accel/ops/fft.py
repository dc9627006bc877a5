"""The discrete Fourier transforms: the Array API's fft extension (`accel.fft`), one op-table record
each (namespace "fft"), computed by NumPy's pocketfft on the CPU and cuFFT through CuPy on a GPU.

Dtypes: the complex transforms take complex tensors (a real one is taken as complex, integers as
float32 first, accel's rule for ops that compute in floating point) and keep their precision:
complex64 in, complex64 out. rfft / rfftn / ihfft take real tensors and give complex64 or
complex128; irfft / irfftn / hfft give the real dtype of their complex operand's precision.
`norm` scales the forward transform by 1 ("backward", the default), 1/sqrt(n) ("ortho") or 1/n
("forward"), and its inverse by the rest.

Gradients (TensorFlow's convention, autodiff/complex_grads.py). Each transform is linear, so its
VJP is its adjoint: the adjoint of a DFT of norm m is the inverse DFT of the dual norm (backward
<-> forward, ortho <-> ortho), and the adjoint of padding x to n (or cutting it) is cutting the
gradient back (or padding it). rfft's adjoint pads the half spectrum with zeros before the inverse
(the real part is the gradient of its real input); irfft's is rfft of the gradient with the bins
that stand for two (every one but the zero frequency and, for even n, the Nyquist one) doubled.
hfft and ihfft are irfft and rfft of conjugates, and fftshift a roll: their gradients follow.
"""

from __future__ import annotations

import numpy

from ..autodiff.complex_grads import complex_form
from ..device import get_device
from ..dtypes import as_dtype, is_complex, is_floating
from ._core import defop, make, normalize_axis, tensor_arg
from .conversion import cast, identity

__all__ = ["fft", "ifft", "fftn", "ifftn", "rfft", "irfft", "rfftn", "irfftn", "hfft", "ihfft", "fftfreq",
           "rfftfreq", "fftshift", "ifftshift"]

_NORMS = ("backward", "ortho", "forward")
_DUAL = {"backward": "forward", "ortho": "ortho", "forward": "backward"}


def _norm_arg(norm, op):
    if norm not in _NORMS:
        raise ValueError(f"{op}: norm must be one of {_NORMS}, got {norm!r}")
    return norm


def _complex_operand(x, op):
    """x as a complex tensor: complex kept; real floats as the complex of their precision (float16
    as complex64); integers and bools as float32 first."""
    x = tensor_arg(x)
    if is_complex(x.dtype):
        return x
    if not is_floating(x.dtype) and x.dtype.kind not in "biu":
        raise TypeError(f"{op}: x must be numeric, got {x.dtype.name}")
    return cast(x, "complex128" if x.dtype == numpy.float64 else "complex64")


def _real_operand(x, op):
    x = tensor_arg(x)
    if is_complex(x.dtype):
        raise TypeError(f"{op}: x must be real (the transform of a real signal), got {x.dtype.name}")
    if not is_floating(x.dtype):
        x = cast(x, "float32")
    return x


def _length(n, op, name="n"):
    if isinstance(n, (bool, numpy.bool_)) or not isinstance(n, (int, numpy.integer)):
        raise TypeError(f"{op}: {name} must be an int, got {n!r}")
    if n < 1:
        raise ValueError(f"{op}: {name} must be at least 1, got {n}")
    return int(n)


def _axes_and_sizes(x, s, axes, op):
    """(axes, sizes) of an n-dimensional transform: the standard's defaults (every axis; x's
    sizes), each checked."""
    if axes is None:
        axes = tuple(range(x.ndim)) if s is None else tuple(range(x.ndim - len(s), x.ndim))
    else:
        axes = tuple(axes) if isinstance(axes, (list, tuple)) else (axes,)
        normalize_axis(axes, x.ndim, op)  # checks range and repeats
        axes = tuple(int(a) % x.ndim for a in axes)
    if s is None:
        sizes = tuple(int(x.shape[a]) for a in axes)
    else:
        if len(s) != len(axes):
            raise ValueError(f"{op}: s has {len(s)} entries for {len(axes)} axes")
        sizes = tuple(-1 if n == -1 else _length(n, op, "s") for n in s)
        sizes = tuple(int(x.shape[a]) if n == -1 else n for n, a in zip(sizes, axes))
    if x.ndim == 0:
        raise ValueError(f"{op}: x must have at least one dimension")
    return axes, sizes


def _fit(t, axes, sizes):
    """t cut or padded with zeros along each of `axes` to `sizes` (differentiable: slices and pads)."""
    from .indexing import getitem
    from .padding import pad

    index, paddings, cut, grow = [slice(None)] * t.ndim, [[0, 0] for _ in range(t.ndim)], False, False
    for a, n in zip(axes, sizes):
        if t.shape[a] > n:
            index[a], cut = slice(0, n), True
        elif t.shape[a] < n:
            paddings[a][1], grow = n - t.shape[a], True
    if cut:
        t = getitem(t, tuple(index))
    if grow:
        t = pad(t, paddings)
    return t


def _xp_fft(x):
    return x._device.xp.fft


def _axis_arg(x, axis, op):
    if x.ndim == 0:
        raise ValueError(f"{op}: x must have at least one dimension")
    (axis,) = normalize_axis(axis, x.ndim, op)
    return axis


# -- the complex transforms and their adjoints ----------------------------------------------------
def _fft_vjp(g, ans, x, axis, n, norm):
    return _fit(ifft(g, n=n, axis=axis, norm=_DUAL[norm]), (axis,), (x.shape[axis],))


def _ifft_vjp(g, ans, x, axis, n, norm):
    return _fit(fft(g, n=n, axis=axis, norm=_DUAL[norm]), (axis,), (x.shape[axis],))


def _fftn_vjp(g, ans, x, axes, sizes, norm):
    return _fit(ifftn(g, s=sizes, axes=axes, norm=_DUAL[norm]), axes, tuple(x.shape[a] for a in axes))


def _ifftn_vjp(g, ans, x, axes, sizes, norm):
    return _fit(fftn(g, s=sizes, axes=axes, norm=_DUAL[norm]), axes, tuple(x.shape[a] for a in axes))


def _one_dimensional(name, vjp, doc):
    def transform(x, /, *, n=None, axis=-1, norm="backward"):
        x = _complex_operand(x, name)
        axis = _axis_arg(x, axis, name)
        n = int(x.shape[axis]) if n is None else _length(n, name)
        out = getattr(_xp_fft(x), name)(x._data, n=n, axis=axis, norm=_norm_arg(norm, name))
        return make(out.astype(x.dtype, copy=False), x._device, (x,), (vjp,), {"axis": axis, "n": n, "norm": norm})

    transform.__name__ = transform.__qualname__ = name
    transform.__doc__ = doc
    complex_form(vjp, vjp)  # a linear map's adjoint, written for complex values
    return defop("fft", namespace="fft")(transform)


def _n_dimensional(name, vjp, doc):
    def transform(x, /, *, s=None, axes=None, norm="backward"):
        x = _complex_operand(x, name)
        axes, sizes = _axes_and_sizes(x, s, axes, name)
        out = getattr(_xp_fft(x), name)(x._data, s=sizes, axes=axes, norm=_norm_arg(norm, name))
        return make(out.astype(x.dtype, copy=False), x._device, (x,), (vjp,),
                    {"axes": axes, "sizes": sizes, "norm": norm})

    transform.__name__ = transform.__qualname__ = name
    transform.__doc__ = doc
    complex_form(vjp, vjp)
    return defop("fft", namespace="fft")(transform)


fft = _one_dimensional("fft", _fft_vjp, """The one-dimensional discrete Fourier transform along `axis`,
    y[k] = sum_j x[j] exp(-2 pi i j k / n), of x cut or padded with zeros to length `n`.""")
ifft = _one_dimensional("ifft", _ifft_vjp, """The inverse of fft: y[j] = 1/n sum_k x[k] exp(2 pi i j k / n)
    (with norm="backward"), of x cut or padded with zeros to length `n` along `axis`.""")
fftn = _n_dimensional("fftn", _fftn_vjp, """The n-dimensional discrete Fourier transform over `axes`
    (default: every axis, or the last len(s)), x cut or padded to the sizes `s` (-1: x's own).""")
ifftn = _n_dimensional("ifftn", _ifftn_vjp, """The inverse of fftn over `axes`, x cut or padded to the
    sizes `s`.""")


# -- the transforms of real signals --------------------------------------------------------------
def _half_spectrum_weights(n, like, axis):
    """Along `axis`: 1 for the bins of a half spectrum of length n // 2 + 1 that stand for one bin of
    the full one (zero frequency; Nyquist for an even n), 2 for the others (each and its mirror)."""
    from .creation import asarray

    weights = numpy.full(n // 2 + 1, 2.0)
    weights[0] = 1.0
    if n % 2 == 0:
        weights[-1] = 1.0
    shape = [1] * like.ndim
    shape[axis] = n // 2 + 1
    real = numpy.float64 if like.dtype == numpy.complex128 else numpy.float32
    return asarray(weights.reshape(shape).astype(real), device=like.device)


def _rfft_vjp(g, ans, x, axis, n, norm):
    # the half spectrum's adjoint: pad it to n with zeros, the inverse DFT of the dual norm (the
    # real part, for the real x, is taken by complex_grads)
    full = _fit(g, (axis,), (n,))
    return _fit(ifft(full, n=n, axis=axis, norm=_DUAL[norm]), (axis,), (x.shape[axis],))


def _irfft_vjp(g, ans, x, axis, n, norm):
    spectrum = rfft(g, n=n, axis=axis, norm=_DUAL[norm]) * _half_spectrum_weights(n, x, axis)
    return _fit(spectrum, (axis,), (x.shape[axis],))


def _rfftn_vjp(g, ans, x, axes, sizes, norm):
    full = _fit(g, axes[-1:], sizes[-1:])
    return _fit(ifftn(full, s=sizes, axes=axes, norm=_DUAL[norm]), axes, tuple(x.shape[a] for a in axes))


def _irfftn_vjp(g, ans, x, axes, sizes, norm):
    spectrum = rfftn(g, s=sizes, axes=axes, norm=_DUAL[norm]) * _half_spectrum_weights(sizes[-1], x, axes[-1])
    return _fit(spectrum, axes, tuple(x.shape[a] for a in axes))


for _vjp in (_rfft_vjp, _irfft_vjp, _rfftn_vjp, _irfftn_vjp):
    complex_form(_vjp, _vjp)
del _vjp


def _complex_of(dtype):
    return numpy.dtype("complex128" if dtype == numpy.float64 else "complex64")


def _real_of(dtype):
    return numpy.dtype("float64" if dtype == numpy.complex128 else "float32")


@defop("fft", namespace="fft")
def rfft(x, /, *, n=None, axis=-1, norm="backward"):
    """The discrete Fourier transform of a real x along `axis` (cut or padded with zeros to length
    `n`): its n // 2 + 1 non-negative frequency terms (the others are their conjugates)."""
    x = _real_operand(x, "rfft")
    axis = _axis_arg(x, axis, "rfft")
    n = int(x.shape[axis]) if n is None else _length(n, "rfft")
    out = _xp_fft(x).rfft(x._data, n=n, axis=axis, norm=_norm_arg(norm, "rfft"))
    return make(out.astype(_complex_of(x.dtype), copy=False), x._device, (x,), (_rfft_vjp,),
                {"axis": axis, "n": n, "norm": norm})


@defop("fft", namespace="fft")
def irfft(x, /, *, n=None, axis=-1, norm="backward"):
    """The inverse of rfft: the real signal of length `n` (default 2 * (m - 1) for m terms along
    `axis`) whose half spectrum is x (cut or padded with zeros to n // 2 + 1 terms; the imaginary
    parts of the zero-frequency term, and of the Nyquist term for an even n, are ignored)."""
    x = _complex_operand(x, "irfft")
    axis = _axis_arg(x, axis, "irfft")
    n = 2 * (int(x.shape[axis]) - 1) if n is None else _length(n, "irfft")
    if n < 1:
        raise ValueError(f"irfft: x has {x.shape[axis]} terms along axis {axis}: give n (the output length)")
    out = _xp_fft(x).irfft(x._data, n=n, axis=axis, norm=_norm_arg(norm, "irfft"))
    return make(out.astype(_real_of(x.dtype), copy=False), x._device, (x,), (_irfft_vjp,),
                {"axis": axis, "n": n, "norm": norm})


@defop("fft", namespace="fft")
def rfftn(x, /, *, s=None, axes=None, norm="backward"):
    """The n-dimensional transform of a real x over `axes` (cut or padded to the sizes `s`): the
    last axis holds the s[-1] // 2 + 1 non-negative frequency terms."""
    x = _real_operand(x, "rfftn")
    axes, sizes = _axes_and_sizes(x, s, axes, "rfftn")
    out = _xp_fft(x).rfftn(x._data, s=sizes, axes=axes, norm=_norm_arg(norm, "rfftn"))
    return make(out.astype(_complex_of(x.dtype), copy=False), x._device, (x,), (_rfftn_vjp,),
                {"axes": axes, "sizes": sizes, "norm": norm})


@defop("fft", namespace="fft")
def irfftn(x, /, *, s=None, axes=None, norm="backward"):
    """The inverse of rfftn: the real signal of the sizes `s` over `axes` (default: x's sizes, the
    last one 2 * (m - 1))."""
    x = _complex_operand(x, "irfftn")
    if s is None and x.ndim:
        axes_, _ = _axes_and_sizes(x, None, axes, "irfftn")
        s = [int(x.shape[a]) for a in axes_]
        s[-1] = 2 * (s[-1] - 1)
        if s[-1] < 1:
            raise ValueError("irfftn: the last axis has one term: give s (the output sizes)")
    axes, sizes = _axes_and_sizes(x, s, axes, "irfftn")
    out = _xp_fft(x).irfftn(x._data, s=sizes, axes=axes, norm=_norm_arg(norm, "irfftn"))
    return make(out.astype(_real_of(x.dtype), copy=False), x._device, (x,), (_irfftn_vjp,),
                {"axes": axes, "sizes": sizes, "norm": norm})


@defop("fft", kind="composite", namespace="fft")
def hfft(x, /, *, n=None, axis=-1, norm="backward"):
    """The transform of a signal with Hermitian symmetry given by its first half x: a real signal
    of length n (default 2 * (m - 1)); irfft of conj(x) with the norm's direction swapped."""
    from .complex_parts import conj

    return irfft(conj(_complex_operand(x, "hfft")), n=n, axis=axis, norm=_DUAL[_norm_arg(norm, "hfft")])


@defop("fft", kind="composite", namespace="fft")
def ihfft(x, /, *, n=None, axis=-1, norm="backward"):
    """The inverse of hfft: conj(rfft(x)) of a real x with the norm's direction swapped."""
    from .complex_parts import conj

    return conj(rfft(x, n=n, axis=axis, norm=_DUAL[_norm_arg(norm, "ihfft")]))


# -- frequencies and shifts ---------------------------------------------------------------------
def _frequencies(name, n, d, dtype, device):
    from .creation import asarray

    n = _length(n, name)
    if isinstance(d, bool) or not isinstance(d, (int, float, numpy.integer, numpy.floating)) or d == 0:
        raise ValueError(f"{name}: d must be a non-zero number (the sample spacing), got {d!r}")
    dtype = as_dtype(dtype, default=numpy.dtype("float32"))
    if not is_floating(dtype):
        raise TypeError(f"{name}: dtype must be a real floating dtype, got {dtype.name}")
    values = getattr(numpy.fft, name)(n, d=float(d)).astype(dtype)
    return asarray(values, device=get_device(device) if device is not None else None)


@defop("fft", namespace="fft", differentiable=False, dtype="given")
def fftfreq(n, /, *, d=1.0, dtype=None, device=None):
    """The sample frequencies of fft's n terms: [0, 1, ..., (n-1)//2, -(n//2), ..., -1] / (d n), in
    `dtype` (default float32, accel's default float)."""
    return _frequencies("fftfreq", n, d, dtype, device)


@defop("fft", namespace="fft", differentiable=False, dtype="given")
def rfftfreq(n, /, *, d=1.0, dtype=None, device=None):
    """The sample frequencies of rfft's n // 2 + 1 terms: [0, 1, ..., n//2] / (d n)."""
    return _frequencies("rfftfreq", n, d, dtype, device)


def _shift(x, axes, op, sign):
    from .manipulation import roll

    x = tensor_arg(x)
    axes = tuple(range(x.ndim)) if axes is None else tuple(axes) if isinstance(axes, (list, tuple)) else (axes,)
    axes = normalize_axis(axes, x.ndim, op) if axes else ()
    if not axes:  # a 0-d x, or no axes: a copy
        return identity(x)
    return roll(x, [sign * (int(x.shape[a]) // 2) for a in axes], list(axes))


@defop("fft", kind="composite", namespace="fft")
def fftshift(x, /, *, axes=None):
    """x with the zero-frequency term moved to the centre of each of `axes` (default all): a roll
    by n // 2."""
    return _shift(x, axes, "fftshift", 1)


@defop("fft", kind="composite", namespace="fft")
def ifftshift(x, /, *, axes=None):
    """The inverse of fftshift: a roll by -(n // 2)."""
    return _shift(x, axes, "ifftshift", -1)
