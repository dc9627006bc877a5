"""IndexedSlices: a gradient that touches only some rows of a tensor (TensorFlow's
tensorflow/python/framework/indexed_slices.py; semantics.md section 17).

`IndexedSlices(values, indices, dense_shape)` stands for the tensor of `dense_shape` that is zero
except that row indices[i] has values[i] added to it (a row may repeat: its values add up). The
gradient of `gather` / `embedding_lookup` / `x[ids]` on axis 0 is one (indexing.py); the graph
walk keeps it sparse while only such gradients reach a tensor (several concatenate, in the order
they arrive) and makes it dense as soon as a dense one joins, or when the tensor's own node has to
pass it on (autodiff/walk.py). Optimizers update only the rows it names (optimizers/sparse.py).

`convert_to_tensor(slices)` (and every op given one) densifies it, summing repeated rows.
"""

from __future__ import annotations

import numpy

from .nest import register_composite
from .tensor import Tensor, convert, register_dense_conversion

__all__ = ["IndexedSlices", "convert_to_tensor", "is_indexed_slices"]


class IndexedSlices:
    """The rows `indices` of a tensor of shape `dense_shape`, holding `values`.

    values: a tensor of shape (n,) + dense_shape[1:]. indices: n integers (a 1-D integer tensor
    on the values' device), each in [0, dense_shape[0]); repeats allowed (they add up).
    dense_shape: the shape of the dense tensor (a tuple of ints; TensorFlow keeps a 1-D tensor:
    `tuple(slices.dense_shape)` reads alike). None: unknown, as TensorFlow allows; densifying
    then needs it and says so.
    """

    __slots__ = ("values", "indices", "dense_shape")

    def __init__(self, values, indices, dense_shape=None):
        values = values if isinstance(values, Tensor) else convert(values)
        if isinstance(indices, Tensor):
            if indices.device != values.device:
                raise ValueError(f"IndexedSlices: indices are on {indices.device} but values on {values.device}")
        else:
            raw = numpy.asarray(indices)
            if raw.size == 0:
                raw = raw.astype(numpy.int64)
            if raw.dtype.kind not in "iu":
                raise TypeError(f"IndexedSlices: indices must be integers, got {raw.dtype.name}")
            indices = convert(raw, device=values.device)
        if indices.dtype.kind not in "iu":
            raise TypeError(f"IndexedSlices: indices must be integers, got {indices.dtype.name}")
        if indices.ndim != 1:
            raise ValueError(f"IndexedSlices: indices must be 1-D, got shape {tuple(indices.shape)}")
        if values.ndim == 0 or values.shape[0] != indices.shape[0]:
            raise ValueError(f"IndexedSlices: values must have one row per index ({indices.shape[0]}), got shape "
                             f"{tuple(values.shape)}")
        if dense_shape is not None:
            dense_shape = tuple(int(n) for n in (dense_shape.numpy() if isinstance(dense_shape, Tensor)
                                                  else dense_shape))
            if len(dense_shape) != values.ndim or dense_shape[1:] != tuple(values.shape[1:]):
                raise ValueError(f"IndexedSlices: values of shape {tuple(values.shape)} cannot be rows of a tensor of "
                                 f"shape {dense_shape}")
        self.values, self.indices, self.dense_shape = values, indices, dense_shape

    # -- what a tensor would say ----------------------------------------------------------------
    @property
    def dtype(self) -> numpy.dtype:
        return self.values.dtype

    @property
    def device(self):
        return self.values.device

    @property
    def shape(self) -> tuple:
        """The dense shape (TensorFlow's IndexedSlices.shape)."""
        return self.dense_shape

    @property
    def ndim(self) -> int:
        return self.values.ndim

    def __repr__(self) -> str:
        return (f"IndexedSlices(indices={self.indices.numpy().tolist()!r}, values shape {tuple(self.values.shape)}, "
                f"dense_shape={self.dense_shape}, dtype={self.dtype.name})")

    # -- arithmetic the graph walk and the users need --------------------------------------------
    def __neg__(self) -> "IndexedSlices":
        return IndexedSlices(-self.values, self.indices, self.dense_shape)

    def __add__(self, other):
        """Two IndexedSlices of one dense shape: their rows concatenated (still sparse); anything
        else: the dense sum."""
        if isinstance(other, IndexedSlices) and other.dense_shape == self.dense_shape \
                and other.dtype == self.dtype:
            return concatenate([self, other])
        return densify(self) + (densify(other) if isinstance(other, IndexedSlices) else other)

    def __radd__(self, other):
        return other + densify(self)

    def __mul__(self, other):
        """slices * a Python number: the values scaled (still sparse); anything else is dense."""
        if isinstance(other, (int, float, numpy.integer, numpy.floating)) and not isinstance(other, bool):
            return IndexedSlices(self.values * other, self.indices, self.dense_shape)
        return densify(self) * other

    __rmul__ = __mul__

    def __truediv__(self, other):
        if isinstance(other, (int, float, numpy.integer, numpy.floating)) and not isinstance(other, bool):
            return IndexedSlices(self.values / other, self.indices, self.dense_shape)
        return densify(self) / other

    def __array__(self, dtype=None, copy=None):
        array = densify(self).numpy()
        return array if dtype is None else array.astype(dtype)

    def numpy(self) -> numpy.ndarray:
        """The dense value as a NumPy array (repeated rows summed)."""
        return densify(self).numpy()

    def cast(self, dtype) -> "IndexedSlices":
        """The same rows with values of `dtype`."""
        from .ops.conversion import cast

        return self if self.dtype == dtype else IndexedSlices(cast(self.values, dtype), self.indices,
                                                              self.dense_shape)


def is_indexed_slices(value) -> bool:
    return isinstance(value, IndexedSlices)


def concatenate(parts) -> IndexedSlices:
    """The rows of every part, in order (TensorFlow's aggregation of sparse gradients)."""
    from .ops.shape import concat

    if len(parts) == 1:
        return parts[0]
    return IndexedSlices(concat([p.values for p in parts], axis=0),
                         concat([p.indices for p in parts], axis=0), parts[0].dense_shape)


def densify(slices: IndexedSlices) -> Tensor:
    """The dense tensor: zeros of dense_shape with each row of values added at its index
    (repeated rows summed). Differentiable in the values (its gradient gathers the rows)."""
    from .ops.indexing import scatter_add

    if slices.dense_shape is None:
        raise ValueError("IndexedSlices: densifying needs the dense_shape, which is None")
    rows = slices.dense_shape[0]
    indices = slices.indices
    if indices.size:
        with indices.device.activate():
            lo, hi = int(indices._data.min()), int(indices._data.max())
        if lo < 0 or hi >= rows:
            raise IndexError(f"IndexedSlices: indices must be in [0, {rows}), got values in [{lo}, {hi}]")
    return scatter_add(slices.values, (indices,), slices.dense_shape)


def convert_to_tensor(value, dtype=None, device=None) -> Tensor:
    """`value` as a Tensor (tf.convert_to_tensor): IndexedSlices are densified (repeated rows
    summed); tensors, arrays, lists and scalars as `accel.tensor` takes them, except that a
    Tensor of the right dtype and device is returned as it is."""
    return convert(value, dtype=dtype, device=device)


def _rebuilt(slices: IndexedSlices, parts) -> IndexedSlices:
    """IndexedSlices like `slices` (its dense_shape) holding `parts` (values, indices), unchecked:
    nest rebuilds templates whose parts are a trace's references."""
    out = object.__new__(IndexedSlices)
    out.values, out.indices, out.dense_shape = parts[0], parts[1], slices.dense_shape
    return out


register_dense_conversion(IndexedSlices, densify)
register_composite(IndexedSlices, lambda slices: (slices.values, slices.indices), _rebuilt,
                   lambda slices: slices.dense_shape)
