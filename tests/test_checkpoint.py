"""course_lib.checkpoint: exact round trip of weights, optimizer state, extra variables and step."""
import os
import stat
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from course_lib import checkpoint

ROOT = Path(__file__).resolve().parent.parent


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


def _unreadable_files(folder):
    """File name -> writer of a file that is no checkpoint save_checkpoint could have written."""
    good = str(folder / "good.npz")
    checkpoint.save_checkpoint(good, 3, {"net": _trained(0)})
    data = open(good, "rb").read()
    return {
        "empty.npz": lambda path: open(path, "wb").close(),
        "truncated.npz": lambda path: open(path, "wb").write(data[: len(data) // 2]),
        "notes.txt": lambda path: open(path, "w").write("step = 3\nthis is a text file\n"),
        "one_array.npy": lambda path: np.save(path, np.arange(3)),
        "other.npz": lambda path: np.savez(path, weights=np.ones(3)),
    }


@pytest.mark.parametrize("name", ["empty.npz", "truncated.npz", "notes.txt", "one_array.npy", "other.npz"])
def test_a_file_that_is_no_checkpoint_is_one_error_naming_the_file_and_what_to_do(tmp_path, name):
    path = str(tmp_path / name)
    _unreadable_files(tmp_path)[name](path)
    loads = (lambda: checkpoint.load_checkpoint(path, {"net": _model(1)}), lambda: checkpoint.checkpoint_step(path))
    for load in loads:
        with pytest.raises(checkpoint.CheckpointError) as error:
            load()
        message = str(error.value)
        assert path in message and "Delete it" in message and "allow_pickle" not in message


def test_loading_is_all_or_nothing(tmp_path):
    path = str(tmp_path / "run.npz")
    g, d = _trained(0), _trained(1)
    checkpoint.save_checkpoint(path, 5, {"generator": g, "discriminator": d}, {"d_optimizer": d.optimizer})
    g_fresh, d_other = _model(2), _model(3, units=5)  # D of another architecture
    g_before = [w.copy() for w in g_fresh.get_weights()]
    with pytest.raises(checkpoint.CheckpointError, match=r"does not fit model 'discriminator'.*Nothing was loaded"):
        checkpoint.load_checkpoint(path, {"generator": g_fresh, "discriminator": d_other})
    for got, want in zip(g_fresh.get_weights(), g_before):  # G was checked, and not overwritten
        np.testing.assert_array_equal(got, want)
    optimizer = keras.optimizers.Adam(1e-2)
    with pytest.raises(checkpoint.CheckpointError, match="optimizer 'd_optimizer'"):  # an optimizer for another D
        checkpoint.load_checkpoint(path, {"generator": g_fresh}, {"d_optimizer": optimizer},
                                   build_with={"d_optimizer": d_other.trainable_variables})
    for got, want in zip(g_fresh.get_weights(), g_before):
        np.testing.assert_array_equal(got, want)


def test_the_next_save_removes_the_temp_file_of_a_killed_save(tmp_path):
    path = str(tmp_path / "run.npz")
    killed_save = ("import os\nfrom course_lib.checkpoint import atomic_write\n"
                   f"atomic_write({path!r}, lambda temp: os._exit(1), suffix='.npz')")  # killed mid-save
    subprocess.run([sys.executable, "-c", killed_save], cwd=str(ROOT), check=False, timeout=120)
    assert len(os.listdir(tmp_path)) == 1 and os.listdir(tmp_path)[0].startswith(".run.npz.tmp-")
    running = tmp_path / f".run.npz{checkpoint.TEMP_MARK}{os.getppid()}-abcd.npz"  # a save still in progress
    running.write_bytes(b"")
    checkpoint.save_checkpoint(path, 1, {"net": _trained(0)})
    assert sorted(os.listdir(tmp_path)) == sorted(["run.npz", running.name])
    assert checkpoint.checkpoint_step(path) == 1


def test_checkpoints_get_the_usual_file_permissions(tmp_path):
    old_umask = os.umask(0o022)
    try:
        path = str(tmp_path / "run.npz")
        checkpoint.save_checkpoint(path, 1, {"net": _trained(0)})
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644  # 0666 minus the umask, like any new file
