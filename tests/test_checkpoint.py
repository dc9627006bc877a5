import os
import zipfile

import numpy
import pytest

import accel as ac


def _model(seed=0):
    rng = numpy.random.default_rng(seed)
    return {"dense": [ac.Variable(rng.standard_normal((3, 2)), name="kernel"),
                      ac.Variable(rng.standard_normal(2), name="bias")]}


def _train(model, opt, steps, seed=1):
    rng = numpy.random.default_rng(seed)
    params = model["dense"]
    for _ in range(steps):
        x = ac.tensor(rng.standard_normal((4, 3)))
        opt.minimize(lambda x=x: ac.mean(ac.square(x @ params[0] + params[1])), params)


def test_round_trip_with_optimizer_state_continues_identically(tmp_path):
    model, opt = _model(), ac.optimizers.Adam(0.05)
    step = ac.Variable(7, name="step")
    _train(model, opt, 3)
    path = ac.Checkpoint(model=model, optimizer=opt, step=step).save(tmp_path / "ckpt.npz")
    assert os.path.exists(path) and not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]

    restored_model, restored_opt = _model(seed=99), ac.optimizers.Adam(0.05)
    restored_step = ac.Variable(0, name="step")
    ac.Checkpoint(model=restored_model, optimizer=restored_opt, step=restored_step).restore(path)
    assert restored_opt.iterations == 3 and restored_step.item() == 7
    for a, b in zip(model["dense"], restored_model["dense"]):
        numpy.testing.assert_array_equal(a.numpy(), b.numpy())
        numpy.testing.assert_array_equal(opt.get_slot(a, "m").numpy(), restored_opt.get_slot(b, "m").numpy())
    _train(model, opt, 2, seed=5)
    _train(restored_model, restored_opt, 2, seed=5)
    for a, b in zip(model["dense"], restored_model["dense"]):
        numpy.testing.assert_array_equal(a.numpy(), b.numpy())


def test_adagrad_decay_power_round_trips(tmp_path):
    v = ac.Variable([1.0, 2.0], name="v")
    opt = ac.optimizers.AdagradDecay(1.0, accumulator_decay_step=2)
    for _ in range(3):
        opt.apply_gradients([(ac.tensor([0.1, 0.1]), v)])
    ac.Checkpoint(v=v, opt=opt).save(tmp_path / "c.npz")
    v2, opt2 = ac.Variable([0.0, 0.0], name="v"), ac.optimizers.AdagradDecay(1.0, accumulator_decay_step=2)
    ac.Checkpoint(v=v2, opt=opt2).restore(tmp_path / "c.npz")
    assert opt2.get_slot(v2, "accumulator_decay_power").numpy().tolist() == [1, 1]


def test_mismatches_are_listed_and_nothing_changes(tmp_path):
    model, opt = _model(), ac.optimizers.SGD(0.1, momentum=0.9)
    _train(model, opt, 1)
    path = ac.Checkpoint(model=model, optimizer=opt).save(tmp_path / "ckpt.npz")

    other = {"dense": [ac.Variable(numpy.zeros((3, 5)), name="kernel")], "extra": ac.Variable([1.0])}
    before = [v.numpy() for v in other["dense"]] + [other["extra"].numpy()]
    fresh_opt = ac.optimizers.SGD(0.1, momentum=0.9)
    with pytest.raises(ac.CheckpointError) as info:
        ac.Checkpoint(model=other, optimizer=fresh_opt).restore(path)
    message = str(info.value)
    assert "nothing was restored" in message
    assert "model/dense/0: checkpoint has (3, 2) float64, the object has (3, 5) float64" in message
    assert "missing from the checkpoint: model/extra" in message
    assert "not in the objects being restored: model/dense/1" in message
    after = [v.numpy() for v in other["dense"]] + [other["extra"].numpy()]
    for x, y in zip(before, after):
        numpy.testing.assert_array_equal(x, y)
    assert fresh_opt.iterations == 0


def test_missing_variable(tmp_path):
    a, b = ac.Variable([1.0]), ac.Variable([2.0])
    path = ac.Checkpoint(a=a).save(tmp_path / "c.npz")
    with pytest.raises(ac.CheckpointError, match="missing from the checkpoint: b"):
        ac.Checkpoint(a=a, b=b).restore(path)


def test_truncated_and_corrupt_files(tmp_path):
    v = ac.Variable(numpy.arange(1000.0))
    ac.Checkpoint(v=v).save(tmp_path / "c.npz")
    data = (tmp_path / "c.npz").read_bytes()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ac.CheckpointError, match="unreadable or corrupt"):
        ac.Checkpoint(v=v).restore(truncated)
    flipped = bytearray(data)
    flipped[len(data) // 3] ^= 0xFF  # inside the array data: the zip CRC catches it
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(bytes(flipped))
    with pytest.raises(ac.CheckpointError, match="unreadable or corrupt"):
        ac.Checkpoint(v=v).restore(corrupt)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(ac.CheckpointError):
        ac.Checkpoint(v=v).restore(garbage)
    numpy.testing.assert_array_equal(v.numpy(), numpy.arange(1000.0))


def test_a_plain_npz_is_not_a_checkpoint(tmp_path):
    numpy.savez(tmp_path / "plain.npz", v=numpy.zeros(3))
    with pytest.raises(ac.CheckpointError, match="no accel manifest"):
        ac.Checkpoint(v=ac.Variable(numpy.zeros(3))).restore(tmp_path / "plain.npz")


def test_no_pickles_are_stored(tmp_path):
    path = ac.Checkpoint(v=ac.Variable([1.0]), opt=ac.optimizers.Adam()).save(tmp_path / "c.npz")
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            with archive.open(name) as member:
                header = member.read(128)
            assert b"'descr': '|O'" not in header and b"'descr': 'O'" not in header
    with numpy.load(path, allow_pickle=False) as data:
        assert set(data.files) == {"v", "opt/iterations", "__accel_checkpoint__"}


def test_failed_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    v = ac.Variable([1.0])
    path = ac.Checkpoint(v=v).save(tmp_path / "c.npz")
    v.assign([2.0])

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(numpy, "savez", boom)
    with pytest.raises(OSError, match="disk full"):
        ac.Checkpoint(v=v).save(path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["c.npz"]  # no temporary left behind
    restored = ac.Variable([0.0])
    ac.Checkpoint(v=restored).restore(path)
    assert restored.numpy().tolist() == [1.0]


def test_restore_onto_another_device_kind_of_variable(tmp_path, device):
    v = ac.Variable([1.0, 2.0], device="cpu")
    path = ac.Checkpoint(v=v).save(tmp_path / "c.npz")
    target = ac.Variable([0.0, 0.0], device=device)
    ac.Checkpoint(v=target).restore(path)
    assert target.device == device and target.numpy().tolist() == [1.0, 2.0]


def test_checkpoint_argument_errors():
    with pytest.raises(ValueError, match="at least one object"):
        ac.Checkpoint()
    with pytest.raises(ValueError, match="may not contain '/'"):
        ac.Checkpoint(**{"a/b": ac.Variable([1.0])})
    with pytest.raises(TypeError, match="cannot save str at 'x'"):
        ac.Checkpoint(x="hello").save("/tmp/never.npz")


def test_an_optimizer_without_its_variables_cannot_be_saved(tmp_path):
    w = ac.Variable([1.0], name="w")
    opt = ac.optimizers.Adam()
    opt.apply_gradients([(ac.tensor([1.0]), w)])
    with pytest.raises(ValueError, match="holds slots of variable 'w', which is not in this checkpoint"):
        ac.Checkpoint(optimizer=opt).save(tmp_path / "c.npz")
    assert not list(tmp_path.iterdir())
    ac.Checkpoint(optimizer=ac.optimizers.Adam()).save(tmp_path / "fresh.npz")  # no slots yet: fine


# -- hardening: every bad file is a CheckpointError, raised before anything is assigned ------------
def _rewrite(path, change):
    """Load a checkpoint's arrays (manifest included), let `change` edit them, save them back."""
    with numpy.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    change(arrays)
    with open(path, "wb") as out:
        numpy.savez(out, **arrays)


def _manifest(arrays):
    import json

    return json.loads(arrays["__accel_checkpoint__"].tobytes().decode())


def _set_manifest(arrays, manifest):
    import json

    arrays["__accel_checkpoint__"] = numpy.frombuffer(json.dumps(manifest).encode(), dtype=numpy.uint8)


def _trained(tmp_path, opt):
    w = ac.Variable(ac.tensor([1.0, 2.0]), name="w")
    opt.apply_gradients([(ac.tensor([0.1, 0.1]), w)])
    path = ac.Checkpoint(w=w, opt=opt).save(tmp_path / "ckpt.npz")
    return w, path


def test_negative_iterations_are_refused_before_anything_is_assigned(tmp_path):
    w, path = _trained(tmp_path, ac.optimizers.Adam(0.1))
    _rewrite(path, lambda a: a.update({"opt/iterations": numpy.asarray(-5, dtype=numpy.int64)}))
    fresh = ac.Variable(ac.tensor([7.0, 7.0]), name="w")
    opt = ac.optimizers.Adam(0.1)
    with pytest.raises(ac.CheckpointError, match="opt/iterations: must be >= 0, the checkpoint has -5"):
        ac.Checkpoint(w=fresh, opt=opt).restore(path)
    assert fresh.numpy().tolist() == [7.0, 7.0] and opt.iterations == 0


def test_another_optimizer_kind_is_refused(tmp_path):
    _, path = _trained(tmp_path, ac.optimizers.Adam(0.1))
    fresh = ac.Variable(ac.tensor([7.0, 7.0]), name="w")
    with pytest.raises(ac.CheckpointError) as info:
        ac.Checkpoint(w=fresh, opt=ac.optimizers.SGD(0.1, momentum=0.9)).restore(path)
    message = str(info.value)
    assert "holds a Adam (adam), the object is a SGD (sgd_momentum)" in message
    assert "not in the objects being restored: opt/slots/w/m" in message
    assert fresh.numpy().tolist() == [7.0, 7.0]


@pytest.mark.parametrize("change", [
    lambda a: _set_manifest(a, ["entries"]),
    lambda a: _set_manifest(a, None),
    lambda a: _set_manifest(a, {**_manifest(a), "entries": {k: {"dtype": "float32"} for k in _manifest(a)["entries"]}}),
    lambda a: _set_manifest(a, {**_manifest(a), "optimizers": [1]}),
])
def test_malformed_manifests_are_checkpoint_errors(tmp_path, change):
    w, path = _trained(tmp_path, ac.optimizers.SGD(0.1))
    _rewrite(path, change)
    with pytest.raises(ac.CheckpointError, match="corrupt"):
        ac.Checkpoint(w=w, opt=ac.optimizers.SGD(0.1)).restore(path)


def test_a_header_declaring_more_than_the_file_holds_is_refused_before_allocating(tmp_path):
    """A crafted member (valid zip, valid CRC) whose .npy header claims 2**40 float32 elements."""
    import zipfile

    w, path = _trained(tmp_path, ac.optimizers.SGD(0.1))
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    header = numpy.lib.format.header_data_from_array_1_0(numpy.zeros(2, numpy.float32))
    header["shape"] = (2 ** 40,)
    import io

    crafted = io.BytesIO()
    numpy.lib.format.write_array_header_1_0(crafted, header)
    members["w.npy"] = crafted.getvalue() + b"\0" * 8
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(ac.CheckpointError, match="declares 4398046511104 bytes but holds 8"):
        ac.Checkpoint(w=w, opt=ac.optimizers.SGD(0.1)).restore(path)


def test_a_flipped_compression_flag_is_a_checkpoint_error(tmp_path):
    w, path = _trained(tmp_path, ac.optimizers.SGD(0.1))
    data = bytearray(open(path, "rb").read())
    central = data.find(b"PK\x01\x02")
    data[central + 10] = 99  # the central directory's compression method: unsupported
    open(path, "wb").write(bytes(data))
    with pytest.raises(ac.CheckpointError):
        ac.Checkpoint(w=w, opt=ac.optimizers.SGD(0.1)).restore(path)


def test_a_checkpoint_file_gets_the_users_umask(tmp_path):
    """mkstemp creates 0600 files; a saved checkpoint has the mode any new file would have."""
    import os
    import stat

    old = os.umask(0o027)
    try:
        path = ac.Checkpoint(v=ac.Variable(ac.tensor([1.0]))).save(tmp_path / "c.npz")
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    finally:
        os.umask(old)
