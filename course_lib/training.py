"""A small, explicit training loop for one compiled Keras model.

    history = train(model, x, y, epochs=5, batch_size=128,
                    validation_data=(x_val, y_val), transform=rebinarize)

Each step is one `model.train_on_batch` call on a shuffled mini-batch, so the
whole step (forward, loss, gradients, update) runs as one compiled function on
the GPU when there is one; the only value read back to the host per step is
the logged losses. `x` may be one array or a list of arrays (e.g. `[images,
one_hot_labels]` for a conditional model); `y` may be None (models that build
their own loss, such as `course_lib.vae.VAE`).

If a logged loss becomes NaN or inf, training stops with a `FloatingPointError`
that names the epoch and step, after putting back the weights and optimizer
state of the last good epoch's end (kept in memory; before the first epoch
ends, the state before the first step). When the batch itself holds NaN or
inf, the error says so: the data is at fault, not the learning rate.
"""
import time
from dataclasses import dataclass, field

import keras
import numpy as np
from keras import ops

from course_lib.validate import check_positive_int


@dataclass
class History:
    """Logged values: `steps[name]` has one entry per step, `epochs[name]` one per epoch.

    Epoch entries are means over the epoch's steps (weighted by batch size);
    validation results appear in `epochs` as "val_<name>". `epoch_seconds` holds
    the wall-clock time of each epoch's training steps (the first includes compiling).
    """

    steps: dict = field(default_factory=dict)
    epochs: dict = field(default_factory=dict)
    epoch_seconds: list = field(default_factory=list)

    def log(self, table, values, prefix=""):
        for name, value in values.items():
            getattr(self, table).setdefault(prefix + name, []).append(float(value))


# ----------------------------------------------------------------------------
# Data helpers: x and y may be arrays, lists of arrays, or None
# ----------------------------------------------------------------------------
def length(data):
    """Number of examples in an array or in a list of arrays of the same length."""
    if isinstance(data, (list, tuple)):
        lengths = {len(part) for part in data}
        if len(lengths) != 1:
            raise ValueError(f"the arrays in a list input must have the same length; got lengths {sorted(lengths)}.")
        return lengths.pop()
    return len(data)


def take(data, index):
    """The rows `index` of an array, of each array of a list, or None."""
    if data is None:
        return None
    if isinstance(data, (list, tuple)):
        return [part[index] for part in data]
    return data[index]


def _split_validation(validation_data):
    if validation_data is None:
        return None
    if isinstance(validation_data, tuple) and len(validation_data) == 2:
        return validation_data
    return validation_data, None


# ----------------------------------------------------------------------------
# Keeping the last good state
# ----------------------------------------------------------------------------
def state_variables(model):
    """Every variable a rollback must restore: the weights and the optimizer's state."""
    optimizer = model.optimizer
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    return list(model.weights) + list(optimizer.variables)


def finite_snapshot(variables):
    """Host copies of the variables, or None if any is NaN or inf (not a state to go back to)."""
    values = [ops.convert_to_numpy(v.value) for v in variables]
    if any(v.dtype.kind == "f" and not np.all(np.isfinite(v)) for v in values):
        return None
    return values


def restore(variables, values):
    """Assign the values kept by `finite_snapshot` back to the variables."""
    for variable, value in zip(variables, values):
        variable.assign(value)


def _bad_rows(data):
    """Indices of the rows of `data` (an array, a list of arrays or None) that hold NaN or inf."""
    parts = data if isinstance(data, (list, tuple)) else [data]
    bad = np.zeros(length(data) if data is not None else 0, dtype=bool)
    for part in parts:
        values = np.asarray(part) if part is not None else None
        if values is not None and values.dtype.kind in "fc":
            bad |= ~np.isfinite(values.reshape(len(values), -1)).all(axis=1)
    return np.flatnonzero(bad)


def _nan_cause(x_batch, y_batch, index, step):
    """What to blame for a NaN loss: the batch's data when it holds NaN or inf, else the training."""
    for name, data in (("x", x_batch), ("y", y_batch)):
        rows = _bad_rows(data)
        if len(rows):
            examples = ", ".join(str(i) for i in sorted(index[rows])[:5]) + (", ..." if len(rows) > 5 else "")
            return (f"Batch {step + 1} of this epoch holds NaN or inf in {name} (examples {examples} of the "
                    f"epoch's data, after any transform): the data is at fault, not the learning rate. "
                    f"Find them with np.isfinite and clean or drop them.")
    return "Try a smaller learning rate."


# ----------------------------------------------------------------------------
# The loop
# ----------------------------------------------------------------------------
def evaluate(model, x, y=None, batch_size=256):
    """Mean of each logged value over (x, y), weighted by batch size."""
    totals, n = {}, length(x)
    for start in range(0, n, batch_size):
        index = slice(start, start + batch_size)
        logs = model.test_on_batch(take(x, index), take(y, index), return_dict=True)
        size = min(batch_size, n - start)
        for name, value in logs.items():
            totals[name] = totals.get(name, 0.0) + float(value) * size
    return {name: total / n for name, total in totals.items()}


def train(model, x, y=None, epochs=1, batch_size=128, validation_data=None, transform=None,
          seed=0, verbose=True):
    """Train `model` (already compiled) with `train_on_batch`; return a `History`.

    validation_data: `x_val` or `(x_val, y_val)`, evaluated after every epoch.
    transform: optional `transform(epoch, x, y) -> (x, y)` applied to the
        training data at the start of every epoch (fresh noise, masks, or a new
        stochastic binarization).
    """
    check_positive_int("epochs", epochs)
    check_positive_int("batch_size", batch_size)
    if getattr(model, "optimizer", None) is None:
        raise ValueError("the model must be compiled (model.compile(optimizer=...)) before train().")
    n = length(x)
    if y is not None and length(y) != n:
        raise ValueError(f"x has {n} examples but y has {length(y)}.")
    validation = _split_validation(validation_data)
    rng = np.random.default_rng(seed)
    history = History()
    steps_per_epoch = -(-n // batch_size)
    variables, good_state, kept_at = None, None, ""
    if model.built:  # keep the state before the first step (a model built on its first call has none yet)
        variables = state_variables(model)
        good_state, kept_at = finite_snapshot(variables), "before the first step"

    for epoch in range(epochs):
        x_epoch, y_epoch = transform(epoch, x, y) if transform is not None else (x, y)
        order = rng.permutation(n)
        progress = keras.utils.Progbar(steps_per_epoch, verbose=1 if verbose else 0)
        if verbose:
            print(f"Epoch {epoch + 1}/{epochs}")
        totals, started = {}, time.perf_counter()
        for step in range(steps_per_epoch):
            index = order[step * batch_size:(step + 1) * batch_size]
            x_batch, y_batch = take(x_epoch, index), take(y_epoch, index)
            logs = model.train_on_batch(x_batch, y_batch, return_dict=True)
            logs = {name: float(value) for name, value in logs.items()}
            if variables is None:  # a model built by its first call: its variables exist only now
                variables = state_variables(model)
            bad = [name for name, value in logs.items() if not np.isfinite(value)]
            if bad:
                kept = "left as they are (no finite state to go back to)"
                if good_state is not None:
                    restore(variables, good_state)
                    kept = f"restored to those {kept_at}"
                raise FloatingPointError(
                    f"training stopped: {bad[0]} became {logs[bad[0]]} at epoch {epoch + 1}, "
                    f"step {step + 1} (global step {epoch * steps_per_epoch + step + 1}). "
                    f"The weights were {kept}. {_nan_cause(x_batch, y_batch, index, step)}"
                )
            if not kept_at:  # a model built by its first call: keep the state after it until an epoch ends
                good_state, kept_at = finite_snapshot(variables), "after the first step"
            history.log("steps", logs)
            for name, value in logs.items():
                totals[name] = totals.get(name, 0.0) + value * len(index)
            progress.stateful_metrics = set(logs)  # show each step's value, not a running mean
            progress.update(step + 1, values=list(logs.items()))
        history.epoch_seconds.append(time.perf_counter() - started)
        history.log("epochs", {name: total / n for name, total in totals.items()})
        if validation is not None:
            val_logs = evaluate(model, validation[0], validation[1], batch_size=max(batch_size, 256))
            history.log("epochs", val_logs, prefix="val_")
            if verbose:
                print("  validation: " + ", ".join(f"{k} {v:.4g}" for k, v in val_logs.items()))
        epoch_state = finite_snapshot(variables)
        if epoch_state is not None:  # NaN weights with finite losses are no state to go back to
            good_state, kept_at = epoch_state, f"at the end of epoch {epoch + 1}"
    return history
