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
middle of a save leaves the previous checkpoint intact.

A Keras 3 optimizer creates its variables lazily, on its first update. To load
state into a fresh optimizer, pass the variables it trains in `build_with`
(e.g. `{"d_optimizer": discriminator.trainable_variables}`); it is built on
them before its state is assigned.
"""
import os
import tempfile

import numpy as np


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
    """Restore what `save_checkpoint` wrote into the given objects; return the step."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {path!r}")
    with np.load(path) as stored:
        arrays = {key: stored[key] for key in stored.files}
    for name, model in (models or {}).items():
        _assign_all(model.variables, _numbered(arrays, f"model/{name}", len(model.variables)), f"model {name!r}")
    for name, optimizer in (optimizers or {}).items():
        _load_optimizer(optimizer, name, arrays, (build_with or {}).get(name))
    for name, variable in (variables or {}).items():
        key = f"variable/{name}"
        if key not in arrays:
            raise KeyError(f"checkpoint {path!r} has no variable {name!r}")
        variable.assign(arrays[key])
    return int(arrays["step"])


def checkpoint_step(path):
    """The step stored in a checkpoint, without loading anything else."""
    with np.load(path) as stored:
        return int(stored["step"])


def _load_optimizer(optimizer, name, arrays, build_variables):
    if not optimizer.built:
        if build_variables is None:
            raise ValueError(
                f"optimizer {name!r} has no variables yet (it is built on its first update): "
                f"pass build_with={{{name!r}: the variables it trains}} to load_checkpoint"
            )
        optimizer.build(list(build_variables))
    values = _numbered(arrays, f"optimizer/{name}", len(optimizer.variables))
    _assign_all(optimizer.variables, values, f"optimizer {name!r}")


def _assign_all(variables, values, owner):
    for variable, value in zip(variables, values):
        if tuple(variable.shape) != value.shape:
            raise ValueError(
                f"{owner}: variable {variable.path} has shape {tuple(variable.shape)} but the checkpoint "
                f"holds shape {value.shape}; it was saved from a different architecture"
            )
    for variable, value in zip(variables, values):
        variable.assign(value)


def _numbered(arrays, prefix, expected):
    found = sorted(
        (int(key.rsplit("/", 1)[1]), value) for key, value in arrays.items() if key.startswith(prefix + "/")
    )
    if len(found) != expected:
        raise ValueError(
            f"checkpoint holds {len(found)} arrays for {prefix!r} but the object has {expected}; "
            "it was saved from a different architecture"
        )
    return [value for _, value in found]


def _to_numpy(variable):
    import keras

    return np.array(keras.ops.convert_to_numpy(variable))


def atomic_write(path, write, suffix=""):
    """Call write(temp_path) on a temporary file beside `path`, then rename it to `path`.

    The rename is atomic (POSIX and Windows): a reader sees the old file or the new one, never
    half a file, even when training is interrupted mid-save. `suffix` keeps the extension a
    writer insists on (Keras wants ".weights.h5").
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, temp_path = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=suffix)
    os.close(handle)
    try:
        write(temp_path)
        os.replace(temp_path, path)
    finally:
        if os.path.exists(temp_path):
            os.remove(temp_path)


def _atomic_savez(path, arrays):
    def write(temp_path):
        with open(temp_path, "wb") as file:
            np.savez(file, **arrays)

    atomic_write(path, write, suffix=".npz")
