"""CheckpointManager, partial restores (restore(path).expect_partial()), and a model's
save_weights / load_weights."""

import os
import warnings

import numpy
import pytest

import accel as ac


def _trained_model():
    model = ac.nn.Sequential([ac.nn.Dense(3, input_shape=(4,), seed=0), ac.nn.BatchNormalization(),
                              ac.nn.Dense(2, seed=1)])
    model.compile(optimizer=ac.optimizers.Adam(0.01), loss="mse")
    x = numpy.random.default_rng(0).normal(size=(8, 4)).astype("float32")
    model.fit(x, numpy.ones((8, 2), "float32"), epochs=2, batch_size=4, verbose=0)
    return model


def _fresh():
    return ac.nn.Sequential([ac.nn.Dense(3, input_shape=(4,), seed=5), ac.nn.BatchNormalization(),
                             ac.nn.Dense(2, seed=6)])


def test_save_and_load_weights_round_trip_moving_statistics_included(tmp_path):
    model = _trained_model()
    assert numpy.any(model.layers[1].moving_mean.numpy() != 0)
    path = model.save_weights(tmp_path / "w.npz")
    other = _fresh()
    other.load_weights(path)
    for a, b in zip(model.get_weights(), other.get_weights()):
        numpy.testing.assert_array_equal(a, b)


def test_the_model_part_of_a_full_checkpoint_restores_with_expect_partial(tmp_path):
    model = _trained_model()
    path = ac.Checkpoint(model=model, optimizer=model.optimizer).save(tmp_path / "full.npz")
    other = _fresh()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ac.Checkpoint(model=other).restore(path).expect_partial()
    assert caught == []
    numpy.testing.assert_array_equal(other.get_weights()[0], model.get_weights()[0])
    with pytest.warns(UserWarning, match=r"values not restored \(no object here for them\): optimizer/"):
        ac.Checkpoint(model=_fresh()).restore(path)
    with pytest.raises(ac.CheckpointError, match="holds values nothing was restored into: optimizer/"):
        ac.Checkpoint(model=_fresh()).restore(path).assert_consumed()
    another = _fresh()
    another.load_weights(path)  # load_weights takes the model part quietly
    numpy.testing.assert_array_equal(another.get_weights()[-1], model.get_weights()[-1])


def test_restoring_into_an_unbuilt_model_says_to_build_it_and_changes_nothing(tmp_path):
    model = _trained_model()
    path = model.save_weights(tmp_path / "w.npz")
    unbuilt = ac.nn.Sequential([ac.nn.Dense(3), ac.nn.BatchNormalization(), ac.nn.Dense(2)])
    with pytest.raises(ac.CheckpointError, match="model: not built yet .* call the model once on a batch"):
        unbuilt.load_weights(path)
    assert unbuilt.variables == []
    unbuilt(numpy.zeros((1, 4), "float32"))
    unbuilt.load_weights(path)
    numpy.testing.assert_array_equal(unbuilt.get_weights()[0], model.get_weights()[0])


def test_a_mismatched_model_is_refused_whole(tmp_path):
    path = _trained_model().save_weights(tmp_path / "w.npz")
    wrong = ac.nn.Sequential([ac.nn.Dense(5, input_shape=(4,)), ac.nn.BatchNormalization(), ac.nn.Dense(2)])
    before = wrong.get_weights()
    with pytest.raises(ac.CheckpointError, match=r"model/layers/0/kernel: checkpoint has \(4, 3\)"):
        wrong.load_weights(path)
    for a, b in zip(before, wrong.get_weights()):
        numpy.testing.assert_array_equal(a, b)


def test_checkpoint_manager_numbers_keeps_and_finds_the_latest(tmp_path):
    v = ac.Variable([1.0, 2.0])
    manager = ac.CheckpointManager(ac.Checkpoint(v=v), tmp_path / "run", max_to_keep=2)
    assert manager.latest_checkpoint is None and manager.checkpoints == []
    paths = []
    for step in range(4):
        v.assign([float(step), 0.0])
        paths.append(manager.save())
    assert [os.path.basename(p) for p in paths] == ["ckpt-1.npz", "ckpt-2.npz", "ckpt-3.npz", "ckpt-4.npz"]
    assert manager.checkpoints == paths[2:] and manager.latest_checkpoint == paths[3]
    assert sorted(os.listdir(tmp_path / "run")) == ["ckpt-3.npz", "ckpt-4.npz"]  # no temporary files left
    again = ac.CheckpointManager(ac.Checkpoint(v=v), tmp_path / "run", max_to_keep=2)
    assert again.save().endswith("ckpt-5.npz")  # the numbering continues from the files
    assert ac.latest_checkpoint(tmp_path / "run").endswith("ckpt-5.npz")
    target = ac.Variable([0.0, 0.0])
    ac.Checkpoint(v=target).restore(paths[3])
    assert target.numpy().tolist() == [3.0, 0.0]
    assert manager.save(checkpoint_number=100).endswith("ckpt-100.npz")


def test_checkpoint_manager_arguments():
    c = ac.Checkpoint(v=ac.Variable([1.0]))
    with pytest.raises(TypeError, match="checkpoint must be an accel.Checkpoint"):
        ac.CheckpointManager({"v": 1}, "d")
    with pytest.raises(ValueError, match="max_to_keep must be a positive int or None"):
        ac.CheckpointManager(c, "d", max_to_keep=0)
