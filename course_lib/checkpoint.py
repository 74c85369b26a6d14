"""Save and restore a training run: several models, their optimizers and the step.

One checkpoint is one `.npz` file holding plain arrays:

    model/<name>/<i>       the i-th variable of a model (`model.variables` order:
                           weights, batch-norm moving statistics and the RNG
                           states of dropout layers)
    optimizer/<name>/<i>   the i-th variable of an optimizer (its step counter,
                           learning rate and slots such as Adam's moments)
    variable/<name>        any other variable (e.g. a SeedGenerator's state)
    step                   the training step reached

Writes are atomic: the file is written under a temporary name in the same
folder and then renamed over the old one with `os.replace`, so a crash in the
middle of a save leaves the previous checkpoint intact. A temporary file left
by a process that was killed mid-save is removed by the next save of the same
file. New files get the usual permissions (0666 minus the umask).

Loading is all or nothing: every count and shape is checked before the first
variable is assigned. A file that cannot be read (empty, truncated, not an
`.npz`) or that does not fit the objects raises `CheckpointError`, which names
the file and says what to do.

A Keras 3 optimizer creates its variables lazily, on its first update. To load
state into a fresh optimizer, pass the variables it trains in `build_with`
(e.g. `{"d_optimizer": discriminator.trainable_variables}`); it is built on
them before its state is assigned.
"""
import glob
import os
import secrets
import zipfile
import zlib

import numpy as np

TEMP_MARK = ".tmp-"  # temporary files are named .<file name>.tmp-<pid>-<random><suffix>


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read, or that does not fit the objects it is loaded into."""


def save_checkpoint(path, step, models=None, optimizers=None, variables=None):
    """Write models' weights, optimizers' state, extra variables and `step` to `path`."""
    arrays = {"step": np.asarray(int(step), dtype=np.int64)}
    for name, model in (models or {}).items():
        for i, variable in enumerate(model.variables):
            arrays[f"model/{name}/{i}"] = _to_numpy(variable)
    for name, optimizer in (optimizers or {}).items():
        for i, variable in enumerate(optimizer.variables):
            arrays[f"optimizer/{name}/{i}"] = _to_numpy(variable)
    for name, variable in (variables or {}).items():
        arrays[f"variable/{name}"] = _to_numpy(variable)
    _atomic_savez(path, arrays)
    return path


def load_checkpoint(path, models=None, optimizers=None, variables=None, build_with=None):
    """Restore what `save_checkpoint` wrote into the given objects; return the step.

    Nothing is assigned unless everything fits: a CheckpointError leaves every object as it was.
    """
    arrays = _read(path)
    pairs = []  # (variable, value), all checked before any is assigned
    for name, model in (models or {}).items():
        values = _numbered(arrays, f"model/{name}", len(model.variables), path)
        pairs += _matched(model.variables, values, f"model {name!r}", path)
    for name, optimizer in (optimizers or {}).items():
        _build(optimizer, name, (build_with or {}).get(name))
        values = _numbered(arrays, f"optimizer/{name}", len(optimizer.variables), path)
        pairs += _matched(optimizer.variables, values, f"optimizer {name!r}", path)
    for name, variable in (variables or {}).items():
        key = f"variable/{name}"
        if key not in arrays:
            raise CheckpointError(f"checkpoint {path} has no variable {name!r}: it was written by another "
                                  f"kind of run. Load it with the objects it was saved from, or delete it.")
        pairs += _matched([variable], [arrays[key]], f"variable {name!r}", path)
    for variable, value in pairs:
        variable.assign(value)
    return int(arrays["step"])


def checkpoint_step(path):
    """The step stored in a checkpoint, without loading it into anything."""
    return int(_read(path)["step"])


def _read(path):
    """Every array of the checkpoint at `path`, or a CheckpointError saying why it cannot be read."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {path!r}")
    try:
        stored = np.load(path, allow_pickle=False)
        if not isinstance(stored, np.lib.npyio.NpzFile):  # a single .npy array
            raise CheckpointError(f"checkpoint {path} holds a single NumPy array, not the .npz archive "
                                  f"save_checkpoint writes. Delete it, or point to another checkpoint.")
        with stored:
            arrays = {key: stored[key] for key in stored.files}
    except CheckpointError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        reason = "it is not a NumPy file" if "pickle" in str(err) else f"{type(err).__name__}: {err}"
        raise CheckpointError(f"checkpoint {path} cannot be read ({reason}). It is empty, truncated (a save that "
                              f"was cut short?) or not written by save_checkpoint. Delete it to start afresh, "
                              f"or point to another checkpoint.") from None
    if "step" not in arrays or arrays["step"].shape != ():
        raise CheckpointError(f"{path} is an .npz archive but not a checkpoint written by save_checkpoint "
                              f"(it holds no 'step'). Delete it, or point to another checkpoint.")
    return arrays


def _build(optimizer, name, build_variables):
    if not optimizer.built:
        if build_variables is None:
            raise ValueError(
                f"optimizer {name!r} has no variables yet (it is built on its first update): "
                f"pass build_with={{{name!r}: the variables it trains}} to load_checkpoint"
            )
        optimizer.build(list(build_variables))


def _matched(variables, values, owner, path):
    """[(variable, value)] once every shape agrees; else a CheckpointError naming the first that does not."""
    for variable, value in zip(variables, values):
        if tuple(variable.shape) != value.shape:
            raise CheckpointError(
                f"checkpoint {path} does not fit {owner}: variable {variable.path} has shape "
                f"{tuple(variable.shape)} but the checkpoint holds shape {value.shape}; it was saved from a "
                f"different architecture. Nothing was loaded. Build the models it was saved from, or delete it."
            )
    return list(zip(variables, values))


def _numbered(arrays, prefix, expected, path):
    found = sorted(
        (int(key.rsplit("/", 1)[1]), value) for key, value in arrays.items() if key.startswith(prefix + "/")
    )
    if len(found) != expected:
        raise CheckpointError(
            f"checkpoint {path} holds {len(found)} arrays for {prefix!r} but the object has {expected}; "
            "it was saved from a different architecture. Nothing was loaded. Build the models it was "
            "saved from, or delete it."
        )
    return [value for _, value in found]


def _to_numpy(variable):
    import keras

    return np.array(keras.ops.convert_to_numpy(variable))


def atomic_write(path, write, suffix=""):
    """Call write(temp_path) on a temporary file beside `path`, then rename it to `path`.

    The rename is atomic (POSIX and Windows): a reader sees the old file or the new one, never
    half a file, even when training is interrupted mid-save. `suffix` keeps the extension a
    writer insists on (Keras wants ".weights.h5"). Temporary files that an earlier, killed
    process left for the same `path` are removed first.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    remove_stale_temp_files(path, suffix)
    name = f".{os.path.basename(path)}{TEMP_MARK}{os.getpid()}-{secrets.token_hex(4)}{suffix}"
    temp_path = os.path.join(folder, name)
    os.close(os.open(temp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # the umask applies
    try:
        write(temp_path)
        os.replace(temp_path, path)
    finally:
        if os.path.exists(temp_path):
            os.remove(temp_path)


def remove_stale_temp_files(path, suffix=""):
    """Remove temporary files of `path` whose writing process no longer runs; returns their paths."""
    folder = os.path.dirname(os.path.abspath(path))
    pattern = os.path.join(glob.escape(folder), f".{glob.escape(os.path.basename(path))}{TEMP_MARK}*{suffix}")
    removed = []
    for temp_path in glob.glob(pattern):
        pid = os.path.basename(temp_path)[len(os.path.basename(path)) + 1 + len(TEMP_MARK):].split("-")[0]
        if pid.isdigit() and not _running(int(pid)):
            try:
                os.remove(temp_path)
                removed.append(temp_path)
            except OSError:
                pass  # another process cleaned it first
    return removed


def _running(pid):
    """Whether process `pid` exists (POSIX; elsewhere every writer is assumed to be running)."""
    if os.name != "posix":
        return True
    if pid == os.getpid():
        return True  # this process's own save is in progress or cleans up after itself
    try:
        os.kill(pid, 0)  # signal 0 only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


def _atomic_savez(path, arrays):
    def write(temp_path):
        with open(temp_path, "wb") as file:
            np.savez(file, **arrays)

    atomic_write(path, write, suffix=".npz")
