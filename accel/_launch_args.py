"""What one fused optimizer launch does: accel::LaunchArgs (csrc/rules/launch_args.h) on the
Python side. accel.kernels.launch builds one per launch and checks it; the CPU launcher hands its
bytes to accel._cpu, the CUDA launcher passes the same bytes by value as one kernel argument. The
field list and its layout come from the C header (`_cpu.launch_args_layout()`), so a field added
there and not here fails at import, not as garbage in a kernel."""

from __future__ import annotations

import math
import struct

import numpy

from . import _cpu

# What a launch does with the accumulators (csrc/rules/apply.h; LaunchArgs.accumulation).
ACCUMULATION = {None: 0, "add": 1, "mean": 2, "accumulated": 3}

LAYOUT = tuple(_cpu.launch_args_layout())  # (name, NumPy type, byte offset, count), in layout order
DTYPE = numpy.dtype({"names": [name for name, *_ in LAYOUT],
                     "formats": [code if count == 1 else (code, count) for _, code, _, count in LAYOUT],
                     "offsets": [offset for _, _, offset, _ in LAYOUT]})
_CODES = {"<f8": "d", "<i8": "q", "<u8": "Q"}
_STRUCT = struct.Struct("<" + "".join(f"{count}{_CODES[code]}" for _, code, _, count in LAYOUT))
POINTERS = tuple(name for name, code, _, _ in LAYOUT if code == "<u8")  # device addresses (null on the CPU)
SCALAR_SLOTS = dict((name, count) for name, _, _, count in LAYOUT)["scalars"]
assert _STRUCT.size == DTYPE.itemsize, "LaunchArgs: the layout has gaps"


class LaunchArgs:
    """One launch's description, field for field accel::LaunchArgs. Pointer fields hold what they
    point at (a device array, or for norm_sq on the CPU a host float) until `pack`."""

    __slots__ = tuple(name for name, *_ in LAYOUT)

    def __init__(self, scalars, *, global_scale=1.0, clip_value=math.nan, decay=0.0, clip_norm=0.0, grad_scale=1.0,
                 accumulation_steps=1.0, ema_momentum=0.0, accumulation=0, ema=0, ema_overwrite=0,
                 skip_nonfinite=0, norm_sq=None, device_scalars=None, loss_scale=None):
        self.scalars = scalars
        self.global_scale, self.clip_value, self.decay, self.clip_norm = global_scale, clip_value, decay, clip_norm
        self.grad_scale, self.accumulation_steps, self.ema_momentum = grad_scale, accumulation_steps, ema_momentum
        self.accumulation, self.ema, self.ema_overwrite = accumulation, ema, ema_overwrite
        self.skip_nonfinite, self.norm_sq = skip_nonfinite, norm_sq
        self.device_scalars, self.loss_scale = device_scalars, loss_scale

    def pack(self, address=None) -> bytes:
        """The bytes of accel::LaunchArgs. address(array) -> its device address; None: every
        pointer field must be None (the CPU's launches)."""
        return _pack(self, address)

    def record(self, address=None) -> numpy.ndarray:
        """`pack` as a NumPy array of one DTYPE record: what CuPy passes by value to a kernel."""
        return numpy.frombuffer(self.pack(address), DTYPE)

    def __repr__(self):
        return "LaunchArgs(" + ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__) + ")"


def _pointer(value, address, name):
    if value is None:
        return 0
    if address is None:
        raise ValueError(f"{name}: a device pointer; the CPU's launches have none")
    return address(value)


def _packer():
    """pack(args, address) written out field by field from LAYOUT: one struct.pack call per
    launch (a loop over the fields cost as much as the CPU kernel of a small launch)."""
    items = []
    for name, _, _, count in LAYOUT:
        if name in POINTERS:
            items.append(f"_pointer(a.{name}, address, {name!r})")
        elif count > 1:
            items.append(f"*a.{name}, *_ZEROS[len(a.{name}):]")
        else:
            items.append(f"a.{name}")
    namespace = {"_pointer": _pointer, "_STRUCT": _STRUCT, "_ZEROS": (0.0,) * SCALAR_SLOTS}
    exec(f"def pack(a, address):\n    return _STRUCT.pack({', '.join(items)})\n", namespace)  # noqa: S102
    return namespace["pack"]


_pack = _packer()
