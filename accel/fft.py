"""accel.fft: the Array API standard's Fourier transform extension (`xp.fft`), every function an op
of the op table (namespace "fft": ops/fft.py), differentiable (TensorFlow's complex gradients)."""

from .ops import registry as _registry

__all__ = []
for _record in _registry.values():
    if _record.namespace == "fft":
        globals()[_record.name] = _record.fn
        __all__.append(_record.name)
__all__.sort()
del _record
