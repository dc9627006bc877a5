"""Checkpoint: save and restore Variables, containers of them, layers and optimizers.

    ckpt = accel.Checkpoint(model=model, optimizer=opt, step=step_variable)
    ckpt.save("run/ckpt.npz"); ...; ckpt.restore("run/ckpt.npz")

The file is a NumPy .npz archive of plain numeric arrays plus a JSON manifest (names, shapes,
dtypes): no pickles are written or read. Saving writes a temporary file beside the target,
fsyncs it and renames it into place, so a crash never leaves a torn checkpoint under the name.
Restoring reads and checks the whole file first (zip CRCs; every member stored as accel writes it
and holding exactly what its header declares, so a crafted size is refused before anything is
allocated; manifest against arrays; names, shapes, dtypes and values such as a negative step
count against the objects; each optimizer's class and kernel, recorded at save); any difference
raises CheckpointError listing all of them, and nothing is assigned. Values are assigned onto
each variable's own device, whatever device saved them.

Names: object `k` is saved under "k"; list items under "k/0", "k/1", ...; dict items under
"k/<key>"; objects with a `_checkpoint_items()` method (layers) under "k/<item>"; an optimizer's
apply count under "k/iterations" (`raw_iterations`: the updates, unless it accumulates gradients
over several calls) and its slots under "k/slots/<owner's path>/<slot>", the owner
named by its path elsewhere in the same checkpoint (saving an optimizer without the variables it
trains is an error: its slots could not be matched on restore).

Partial restores (TensorFlow's `restore(path).expect_partial()`): values in the file under a name
that is none of this Checkpoint's objects (an optimizer saved beside the model, restored into a
Checkpoint of the model alone) are left unused; `restore` returns a RestoreStatus listing them,
which warns when it is dropped unless `expect_partial()` was called (`assert_consumed()` raises
instead). A value under one of the objects that the object does not have is still an error, and
so is restoring into a model whose layers are not built yet (call it once first).
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
import zipfile

import numpy

from .optimizers.base import Optimizer
from .variable import Variable

__all__ = ["Checkpoint", "CheckpointError", "RestoreStatus"]

_MANIFEST = "__accel_checkpoint__"
_FORMAT = 1


class CheckpointError(ValueError):
    """A checkpoint file is unreadable, corrupt, or does not match the objects restored into."""


class Checkpoint:
    """A set of named objects saved and restored together."""

    def __init__(self, **objects):
        if not objects:
            raise ValueError("Checkpoint: give at least one object, e.g. Checkpoint(model=model)")
        for key in objects:
            if "/" in key:
                raise ValueError(f"Checkpoint: object names may not contain '/', got {key!r}")
        self._objects = objects

    # -- what is saved ------------------------------------------------------------------------------
    def _variables(self) -> dict:
        """path -> Variable for every variable reachable from the objects (optimizers aside)."""
        found: dict = {}
        for key, obj in self._objects.items():
            if not isinstance(obj, Optimizer):
                _walk(obj, key, found)
        return found

    def _entries(self) -> dict:
        """path -> (Variable or None, current value as a host array) for everything saved."""
        variables = self._variables()
        path_of = {id(v): p for p, v in variables.items()}
        entries = {path: (var, None) for path, var in variables.items()}
        for key, obj in self._objects.items():
            if isinstance(obj, Optimizer):
                entries[f"{key}/iterations"] = (None, numpy.asarray(obj.raw_iterations, dtype=numpy.int64))
                for name, var in obj._checkpoint_state().items():  # a wrapper's own state (loss scale)
                    entries[f"{key}/{name}"] = (var, None)
                for owner, name, slot in obj.slot_owners():
                    owner_path = path_of.get(id(owner)) if owner is not None else None
                    if owner_path is None:  # its slots could never be matched on restore
                        raise ValueError(
                            f"Checkpoint: optimizer {key!r} holds slots of variable "
                            f"{getattr(owner, 'name', None)!r}, which is not in this checkpoint; add the "
                            "model or variables it trains, e.g. Checkpoint(model=model, optimizer=opt)")
                    entries[f"{key}/slots/{owner_path}/{name}"] = (slot, None)
        return entries

    def save(self, path) -> str:
        """Write every value to `path` atomically; returns the path."""
        path = os.fspath(path)
        arrays = {}
        manifest = {}
        for name, (var, value) in self._entries().items():
            array = var.numpy() if var is not None else value
            arrays[name] = array
            manifest[name] = {"shape": list(array.shape), "dtype": array.dtype.name}
        optimizers = {key: _optimizer_kind(obj) for key, obj in self._objects.items() if isinstance(obj, Optimizer)}
        arrays[_MANIFEST] = numpy.frombuffer(
            json.dumps({"format": _FORMAT, "entries": manifest, "optimizers": optimizers}).encode(), dtype=numpy.uint8)
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".ckpt-", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(handle, "wb") as out:
                numpy.savez(out, **arrays)
                out.flush()
                # mkstemp makes the file 0600; a checkpoint gets the mode any new file would get
                os.fchmod(out.fileno(), 0o666 & ~_umask())
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise
        _fsync_directory(directory)
        return path

    def restore(self, path) -> "RestoreStatus":
        """Assign every saved value back, after checking that the file matches the objects;
        returns a RestoreStatus (the values of objects not in this Checkpoint, left unused)."""
        stored, kinds = _read(os.fspath(path))
        variables = self._variables()
        path_of = {id(v): p for p, v in variables.items()}
        expected = {p: (tuple(v.shape), v.dtype.name) for p, v in variables.items()}
        optimizer_work = []
        problems = []
        per_row = set()  # host slots (one int64 per row): a file from before they were per row has one
        for key, obj in self._objects.items():
            if not isinstance(obj, Optimizer):
                continue
            saved_kind = kinds.get(key)
            if saved_kind is not None and saved_kind != _optimizer_kind(obj):
                problems.append(f"{key}: the checkpoint holds a {saved_kind}, the object is a {_optimizer_kind(obj)}")
            expected[f"{key}/iterations"] = ((), "int64")
            state = obj._checkpoint_state()
            for name, var in state.items():
                expected[f"{key}/{name}"] = (tuple(var.shape), var.dtype.name)
            present = {name: stored[f"{key}/{name}"] for name in state if f"{key}/{name}" in stored}
            problems += [f"{key}/{problem}" for problem in obj._checkpoint_problems(present)]
            owners = {}
            prefix = f"{key}/slots/"
            slot_names = set(obj.get_slot_names())
            for name in stored:
                if name.startswith(prefix):
                    owner_path, _, slot = name[len(prefix):].rpartition("/")
                    owner = variables.get(owner_path)
                    if owner is None or slot not in slot_names:
                        continue  # reported below as unexpected
                    owners[id(owner)] = owner
                    expected[name] = _slot_meta(obj, slot, owner)
                    if slot in obj.host_slots():
                        per_row.add(name)
            for owner, slot_name, _ in obj.slot_owners():  # slots that exist must be in the file
                if owner is not None and id(owner) in path_of:
                    expected.setdefault(f"{prefix}{path_of[id(owner)]}/{slot_name}",
                                        _slot_meta(obj, slot_name, owner))
            optimizer_work.append((key, obj, list(owners.values())))
        for name in sorted(set(expected) - set(stored)):
            problems.append(f"missing from the checkpoint: {name}")
        unused = sorted(name for name in set(stored) - set(expected) if name.split("/", 1)[0] not in self._objects)
        for name in sorted(set(stored) - set(expected) - set(unused)):
            problems.append(f"not in the objects being restored: {name}")
        unbuilt = [key for key, obj in self._objects.items() if _unbuilt_layers(obj)
                   and any(name.startswith(f"{key}/") and name not in expected for name in stored)]
        if unbuilt:
            problems.insert(0, f"{', '.join(unbuilt)}: not built yet (layers create their weights on their first "
                               "call): call the model once on a batch, or give its first layer input_shape=, "
                               "then restore")
        for name in sorted(set(expected) & set(stored)):
            shape, dtype = expected[name]
            array = stored[name]
            if name in per_row and array.shape == () and array.dtype.name == dtype:
                array = stored[name] = numpy.full(shape, array)  # every row takes the variable's old count
            if tuple(array.shape) != shape or array.dtype.name != dtype:
                problems.append(f"{name}: checkpoint has {tuple(array.shape)} {array.dtype.name}, "
                                f"the object has {shape} {dtype}")
            elif dtype == "int64" and (name.endswith("/iterations") or "/slots/" in name) and int(array.min()) < 0:
                problems.append(f"{name}: must be >= 0, the checkpoint has {int(array.min())}")
        if problems:
            raise CheckpointError(f"checkpoint {path!s} does not match the objects; nothing was restored:\n  "
                                  + "\n  ".join(problems))
        # Everything matches: now assign.
        for name, var in variables.items():
            var.assign(stored[name])
        for key, optimizer, owners in optimizer_work:
            if owners:
                optimizer.build(owners)
            optimizer.raw_iterations = int(stored[f"{key}/iterations"])
            for name, var in optimizer._checkpoint_state().items():
                var.assign(stored[f"{key}/{name}"])
            for owner, slot_name, slot in optimizer.slot_owners():
                name = f"{key}/slots/{path_of.get(id(owner))}/{slot_name}"
                if name in stored:
                    slot.assign(stored[name])
        return RestoreStatus(os.fspath(path), unused)


class RestoreStatus:
    """What a restore left unused: the file's values of objects this Checkpoint does not hold.

    Dropping a status with unused values warns (naming them) unless `expect_partial()` was
    called: ``Checkpoint(model=model).restore(path).expect_partial()`` restores the model from a
    checkpoint that also holds an optimizer, quietly."""

    def __init__(self, path: str, unused):
        self.path = path
        self.unused = tuple(unused)
        self._partial_expected = False

    def expect_partial(self) -> "RestoreStatus":
        """Unused values are intended: no warning."""
        self._partial_expected = True
        return self

    def assert_consumed(self) -> "RestoreStatus":
        """Raises CheckpointError if the file held values nothing was restored into."""
        self._partial_expected = True  # said here, not again when dropped
        if self.unused:
            raise CheckpointError(f"checkpoint {self.path} holds values nothing was restored into: "
                                  + ", ".join(self.unused))
        return self

    def assert_existing_objects_matched(self) -> "RestoreStatus":
        """Every object given was restored in full (restore raises otherwise): a no-op check."""
        return self

    def __del__(self):
        if self.unused and not self._partial_expected:
            warnings.warn(f"checkpoint {self.path}: values not restored (no object here for them): "
                          f"{', '.join(self.unused[:6])}{' ...' if len(self.unused) > 6 else ''}; call "
                          ".expect_partial() on restore()'s result if this is intended", stacklevel=2)


def _unbuilt_layers(obj) -> bool:
    """True when obj is a module with a layer that has not created its weights yet."""
    modules = getattr(obj, "modules", None)
    if modules is None or isinstance(obj, (list, dict, tuple)):
        return False
    return any(getattr(m, "built", True) is False for m in modules)


def _umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it: put it straight back
    os.umask(mask)
    return mask


def _optimizer_kind(optimizer) -> str:
    """What a checkpoint records of an optimizer: its class and its fused kernel, if any."""
    return f"{type(optimizer).__name__} ({optimizer.kernel or 'custom'})"


def _slot_meta(optimizer, slot_name, owner) -> tuple:
    """(shape, dtype) a slot has: like its owner, or one int64 per row of it for host slots."""
    if slot_name in optimizer.host_slots():
        return tuple(owner.shape[:1]), "int64"
    return tuple(owner.shape), owner.dtype.name


def _walk(obj, path: str, found: dict) -> None:
    if isinstance(obj, Variable):
        if path in found:
            raise ValueError(f"Checkpoint: two objects are named {path!r}")
        found[path] = obj
    elif isinstance(obj, dict):
        for key in sorted(obj):
            _walk(obj[key], f"{path}/{key}", found)
    elif isinstance(obj, (list, tuple)):
        for i, item in enumerate(obj):
            _walk(item, f"{path}/{i}", found)
    elif hasattr(obj, "_checkpoint_items"):
        for key, item in obj._checkpoint_items().items():
            _walk(item, f"{path}/{key}", found)
    else:
        raise TypeError(f"Checkpoint: cannot save {type(obj).__name__} at {path!r}; expected Variables, "
                        "lists or dicts of them, layers, or optimizers")


def _check_sizes(handle, size_on_disk: int) -> None:
    """Every member of the archive stored uncompressed, holding exactly the bytes its .npy header
    declares, within the file: a crafted header cannot make the reader allocate more than the file
    holds."""
    with zipfile.ZipFile(handle) as archive:
        for info in archive.infolist():
            if info.compress_type != zipfile.ZIP_STORED or info.file_size != info.compress_size \
                    or info.file_size > size_on_disk:
                raise ValueError(f"member {info.filename!r} is not stored as accel writes it")
            with archive.open(info) as member:
                version = numpy.lib.format.read_magic(member)
                if version == (1, 0):
                    shape, _, dtype = numpy.lib.format.read_array_header_1_0(member)
                else:
                    shape, _, dtype = numpy.lib.format.read_array_header_2_0(member)
                if dtype.hasobject:
                    raise ValueError(f"member {info.filename!r} holds Python objects")
                declared = int(numpy.prod(shape, dtype=object)) * dtype.itemsize
                if declared != info.file_size - member.tell():
                    raise ValueError(f"member {info.filename!r} declares {declared} bytes but holds "
                                     f"{info.file_size - member.tell()}")


def _read(path: str) -> tuple:
    """(every array of the checkpoint at `path`, checked against its manifest; the optimizer kinds
    it records). Anything wrong with the file is a CheckpointError."""
    try:
        size_on_disk = os.path.getsize(path)
        with open(path, "rb") as handle:  # ours to close, even when numpy.load fails midway
            _check_sizes(handle, size_on_disk)
            handle.seek(0)
            with numpy.load(handle, allow_pickle=False) as archive:
                arrays = {name: archive[name] for name in archive.files}
    except FileNotFoundError:
        raise
    except Exception as exc:  # zip, header, CRC, size or format trouble: the file is bad
        raise CheckpointError(f"checkpoint {path!s} is unreadable or corrupt ({type(exc).__name__}: {exc})") from None
    raw = arrays.pop(_MANIFEST, None)
    if raw is None:
        raise CheckpointError(f"checkpoint {path!s} has no accel manifest (not an accel checkpoint?)")
    try:
        manifest = json.loads(raw.tobytes().decode())
        if not isinstance(manifest, dict) or not isinstance(manifest.get("entries"), dict):
            raise ValueError("the manifest is not an object with an 'entries' object")
        entries = manifest["entries"]
        kinds = manifest.get("optimizers") or {}
        if not isinstance(kinds, dict):
            raise ValueError("'optimizers' is not an object")
    except (ValueError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"checkpoint {path!s} has a corrupt manifest ({exc})") from None
    if manifest.get("format") != _FORMAT:
        raise CheckpointError(f"checkpoint {path!s} has format {manifest.get('format')!r}; this accel reads {_FORMAT}")
    if set(entries) != set(arrays):
        raise CheckpointError(f"checkpoint {path!s} is corrupt: its manifest and arrays disagree")
    for name, meta in entries.items():
        if not isinstance(meta, dict) or list(arrays[name].shape) != meta.get("shape") \
                or arrays[name].dtype.name != meta.get("dtype"):
            raise CheckpointError(f"checkpoint {path!s} is corrupt: {name} does not match its manifest")
    return arrays, kinds


def _fsync_directory(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
