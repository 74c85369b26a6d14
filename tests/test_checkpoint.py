"""course_lib.checkpoint: exact round trip of weights, optimizer state, extra variables and step."""
import os

import keras
import numpy as np
import pytest

from course_lib import checkpoint


def _model(seed, units=3):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(units), keras.layers.BatchNormalization(),
                             keras.layers.Dense(1)])


def _trained(seed):
    model = _model(seed)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    x = np.random.default_rng(seed).normal(size=(16, 4)).astype("float32")
    for _ in range(3):
        model.train_on_batch(x, x[:, :1])
    return model


def _arrays(variables):
    return [np.array(keras.ops.convert_to_numpy(v)) for v in variables]


def test_round_trip_restores_weights_optimizer_state_variables_and_step(tmp_path):
    model = _trained(0)
    seed = keras.random.SeedGenerator(7)
    keras.random.normal((2,), seed=seed)  # move the RNG state away from its start
    path = str(tmp_path / "run.npz")
    checkpoint.save_checkpoint(path, 42, {"net": model}, {"opt": model.optimizer}, {"seed": seed.state})

    fresh = _model(1)  # other initial weights
    fresh_optimizer = keras.optimizers.Adam(1e-2)  # not built yet
    fresh_seed = keras.random.SeedGenerator(0)
    step = checkpoint.load_checkpoint(path, {"net": fresh}, {"opt": fresh_optimizer}, {"seed": fresh_seed.state},
                                      build_with={"opt": fresh.trainable_variables})
    assert step == 42 == checkpoint.checkpoint_step(path)
    for got, want in zip(fresh.get_weights(), model.get_weights()):  # includes BN moving stats
        np.testing.assert_array_equal(got, want)
    got_opt, want_opt = _arrays(fresh_optimizer.variables), _arrays(model.optimizer.variables)
    assert len(got_opt) == len(want_opt) > 3  # iterations, learning rate, Adam moments
    for got, want in zip(got_opt, want_opt):
        np.testing.assert_array_equal(got, want)
    assert int(_arrays(fresh_optimizer.variables)[0]) == 3  # the optimizer's step counter
    np.testing.assert_array_equal(_arrays([fresh_seed.state])[0], _arrays([seed.state])[0])


def test_failed_save_leaves_previous_checkpoint_and_no_temp_file(tmp_path, monkeypatch):
    model = _trained(0)
    path = str(tmp_path / "run.npz")
    checkpoint.save_checkpoint(path, 1, {"net": model})
    before = open(path, "rb").read()

    def broken_savez(file, **arrays):
        file.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint.np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save_checkpoint(path, 2, {"net": model})
    assert open(path, "rb").read() == before
    assert os.listdir(tmp_path) == ["run.npz"]
    assert checkpoint.checkpoint_step(path) == 1


def test_wrong_architecture_and_unbuilt_optimizer_are_clear_errors(tmp_path):
    model = _trained(0)
    path = str(tmp_path / "run.npz")
    checkpoint.save_checkpoint(path, 5, {"net": model}, {"opt": model.optimizer})
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="different architecture"):
        checkpoint.load_checkpoint(path, {"net": other})
    with pytest.raises(ValueError, match="build_with"):
        checkpoint.load_checkpoint(path, optimizers={"opt": keras.optimizers.Adam()})
    with pytest.raises(FileNotFoundError):
        checkpoint.load_checkpoint(str(tmp_path / "missing.npz"))
