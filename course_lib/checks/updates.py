"""Which network each update of a GAN step moves.

`record_updates` runs a step with every `train_on_batch` it calls watched: for each call it keeps
the inputs, the targets, the loss Keras returned, D's `trainable` flag at that moment, the model's
output before the update, and whether G and D changed. Lesson 06's check reads the student's step
from these records; `check_updates_isolated` is the short version the trainer tests use.
"""
import numpy as np
from keras import ops

# batch-norm moving statistics and RNG states change without being trained
UNTRAINED = ("moving_mean", "moving_variance", "seed_generator_state")


def snapshot(model):
    """Copies of a model's parameters (batch-norm statistics and RNG states left out)."""
    return [np.array(ops.convert_to_numpy(v)) for v in model.weights if v.name not in UNTRAINED]


def changed(before, after):
    return any(a.shape != b.shape or not np.array_equal(a, b) for a, b in zip(before, after))


def _numpy(value):
    if isinstance(value, (list, tuple)):
        return [_numpy(v) for v in value]
    return np.array(ops.convert_to_numpy(value))


def record_updates(step, generator, discriminator, watched):
    """Run step(); returns (what step returned, one dict per watched `train_on_batch` call, in order).

    watched: {name: model}, e.g. {"D": discriminator, "combined": combined}. Each record holds
    name, x, y, loss (what train_on_batch returned), d_trainable (D's flag at the call),
    output (the model's output on x just before the update), d_moved and g_moved.
    """
    records = []

    def spy(name, model):
        original = model.train_on_batch

        def train_on_batch(x, y=None, *args, **kwargs):
            g_before, d_before = snapshot(generator), snapshot(discriminator)
            record = {"name": name, "x": _numpy(x), "y": None if y is None else _numpy(y),
                      "d_trainable": bool(discriminator.trainable), "output": _numpy(model(x))}
            record["loss"] = original(x, y, *args, **kwargs)
            record["g_moved"] = changed(g_before, snapshot(generator))
            record["d_moved"] = changed(d_before, snapshot(discriminator))
            records.append(record)
            return record["loss"]

        return train_on_batch

    for name, model in watched.items():
        model.train_on_batch = spy(name, model)
    try:
        result = step()
    finally:
        for model in watched.values():
            model.__dict__.pop("train_on_batch", None)  # back to the class's method
    return result, records


def check_updates_isolated(d_step, g_step, generator, discriminator):
    """Run one D step and one G step and check which network each one changed.

    Raises AssertionError unless D changes in the D step and G does not, and G changes
    in the G step and D does not. It catches the Keras 2 idiom "freeze D once after
    compiling it", under which D never learns in Keras 3.
    """
    g_before, d_before = snapshot(generator), snapshot(discriminator)
    d_step()
    g_mid, d_mid = snapshot(generator), snapshot(discriminator)
    g_step()
    g_after, d_after = snapshot(generator), snapshot(discriminator)
    problems = []
    if not changed(d_before, d_mid):
        problems.append("D's weights did not change in the D step (is D frozen while it trains?)")
    if changed(g_before, g_mid):
        problems.append("G's weights changed in the D step")
    if changed(d_mid, d_after):
        problems.append("D's weights changed in the G step (D must be frozen in the combined model)")
    if not changed(g_mid, g_after):
        problems.append("G's weights did not change in the G step")
    if problems:
        raise AssertionError("; ".join(problems))
    return True
