"""The throughput benchmark's own plumbing: each contender runs the steps it is timed for."""
import os
import sys

import keras
import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "bench"))
gan_throughput = pytest.importorskip("gan_throughput")

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                                reason="the fused and split contenders use tf.GradientTape")


def tiny_fused(cls=None):
    cls = cls or gan_throughput.FusedGAN
    model = cls(*gan_throughput.build_pair(4, 0, tiny=True), 4)
    model.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    return model


def test_fused_runs_every_step_even_when_the_data_holds_fewer_batches():
    # 10 steps of 16 need 160 images; there are 40. fit() stops when the data runs out, so the
    # timer must repeat the data (it once divided by 10 steps after running 3).
    x = np.random.default_rng(0).uniform(-1, 1, (40, 28, 28, 1)).astype("float32")
    model = tiny_fused()
    weights_before = [w.copy() for w in model.generator.get_weights()]
    rate = gan_throughput.time_fused(model, x, steps=10, batch_size=16)
    assert np.isfinite(rate) and rate > 0
    assert int(model.d_optimizer.iterations.numpy()) == 2 * 10  # two D updates per step, every step ran
    assert int(model.g_optimizer.iterations.numpy()) == 10
    assert any(not np.array_equal(a, b) for a, b in zip(weights_before, model.generator.get_weights()))


def test_split_runs_the_same_three_updates():
    x = np.random.default_rng(0).uniform(-1, 1, (40, 28, 28, 1)).astype("float32")
    model = tiny_fused(gan_throughput.SplitGAN)
    model.build_steps(x, batch_size=8)
    rate = gan_throughput.time_split(model, steps=3)
    losses = model.run_step()
    assert np.isfinite(rate) and all(np.isfinite(losses))
    assert int(model.d_optimizer.iterations.numpy()) == 2 * 4
    assert int(model.g_optimizer.iterations.numpy()) == 4
