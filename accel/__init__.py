"""accel: tensors on CPU (NumPy) and NVIDIA GPUs (CuPy) with tape-based autodiff.

This module only re-exports the public API; docs/architecture.md describes the layout.
"""

from . import blas, dtypes, malloc, random, threads
from .autodiff.backprop import gradients
from .autodiff.custom import custom_gradient
from .autodiff.tape import GradientTape
from .device import (
    Device, DeviceUnavailableError, default_device, device, devices, get_device, set_default_device,
)
from .dtypes import SUPPORTED as _SUPPORTED
from .ops import *  # noqa: F401,F403  (every op is public)
from .tensor import Tensor, from_dlpack, from_numpy, tensor
from .variable import Variable
from .indexed_slices import IndexedSlices, convert_to_tensor
from . import item_assignment  # noqa: F401  (installs Tensor.__setitem__)
from .array_api import (__array_api_version__, __array_namespace_info__, broadcast_shapes, can_cast,  # noqa: F401
                        finfo, iinfo, isdtype, result_type)
from . import callbacks, distributed, fft, linalg, mixed_precision, nn, optimizers, testing
from .optimizers.clip import clip_by_global_norm, clip_by_norm, clip_by_value
from .checkpoint import Checkpoint, CheckpointError, RestoreStatus
from .checkpoint_manager import CheckpointManager, latest_checkpoint
from .function import TensorSpec, cond, function, print, while_loop  # noqa: A004  (ac.print is tf.print)

(bool_, uint8, int8, int16, int32, int64, float16, float32, float64, uint16, uint32, uint64, complex64,
 complex128) = _SUPPORTED

# The Array API's constants (NumPy's values), and its name of the boolean dtype (as numpy.bool).
e, inf, nan, pi, newaxis = 2.718281828459045, float("inf"), float("nan"), 3.141592653589793, None
bool = bool_  # noqa: A001

__version__ = "0.1.0"

threads.omp_num_threads()  # a bad OMP_NUM_THREADS is said once, at import
malloc.tune()  # glibc keeps freed tensor memory for the next step (accel/malloc.py; ACCEL_MALLOC=system: off)
blas.tune()  # OpenBLAS's idle threads sleep instead of spinning (accel/blas.py; ACCEL_BLAS=system: off)
