"""The throughput benchmark's own plumbing: each contender runs the steps it is timed for, the same math."""
import os
import sys

import keras
import numpy as np
import pytest
from keras import ops

from course_lib import backend, gan_models

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "bench"))
gan_throughput = pytest.importorskip("gan_throughput")

X = np.random.default_rng(0).uniform(-1, 1, (40, 28, 28, 1)).astype("float32")


def tiny(cls=None):
    cls = cls or gan_throughput.FusedGAN
    model = cls(*gan_throughput.build_pair(4, 0, tiny=True), 4)
    model.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    return model


def changed(before, model):
    return any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_fused_runs_two_d_updates_and_one_g_update_every_step():
    model = tiny()
    g_before, d_before = model.generator.get_weights(), model.discriminator.get_weights()
    rate = gan_throughput.time_fused(model, ops.convert_to_tensor(X), steps=10, batch_size=16)
    assert np.isfinite(rate) and rate > 0
    assert int(ops.convert_to_numpy(model.d_optimizer.iterations)) == 2 * 10
    assert int(ops.convert_to_numpy(model.g_optimizer.iterations)) == 10
    assert changed(g_before, model.generator) and changed(d_before, model.discriminator)
    logs = model.run_step(ops.convert_to_tensor(X), 16)
    assert sorted(logs) == sorted(gan_throughput.GANTrainer.history_keys) and all(np.isfinite(list(logs.values())))


def test_split_runs_the_same_three_updates():
    model = tiny(gan_throughput.SplitGAN)
    model.build_steps(X, batch_size=8)
    rate = gan_throughput.time_split(model, steps=3)
    losses = model.run_step()
    assert np.isfinite(rate) and all(np.isfinite(losses))
    assert int(ops.convert_to_numpy(model.d_optimizer.iterations)) == 2 * 4
    assert int(ops.convert_to_numpy(model.g_optimizer.iterations)) == 4


def test_a_stateless_d_update_equals_keras_own_training_step():
    # The same D, the same batch, SGD: the fused step's update must move D exactly as train_on_batch does.
    def discriminator():
        keras.utils.set_random_seed(3)
        return gan_models.build_dense_discriminator(hidden=(8,), dropout=0.0)

    x = X[:16]
    fused = gan_throughput.FusedGAN(gan_throughput.build_pair(4, 0, tiny=True)[0], discriminator(), 4)
    fused.compile(keras.optimizers.SGD(0.5), keras.optimizers.SGD(0.5))
    step = backend.compile(lambda x: fused.d_update(x, 1.0)[0], fused.variables)
    loss = float(step(ops.convert_to_tensor(x)))
    reference = discriminator()
    reference.compile(optimizer=keras.optimizers.SGD(0.5), loss="binary_crossentropy")
    want_loss = reference.train_on_batch(x, np.ones((16, 1), "float32"))
    assert loss == pytest.approx(float(want_loss), rel=1e-5)
    for got, want in zip(fused.discriminator.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert changed(discriminator().get_weights(), fused.discriminator)
