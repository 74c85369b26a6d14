"""course_lib.flow_matching: the path, Euler with an exact velocity field, guidance, label dropout, training."""

import keras
import numpy as np
import pytest
from keras import ops

from course_lib import diffusion, flow_matching, unet


def to_numpy(value):
    return np.asarray(ops.convert_to_numpy(value), dtype=np.float64)


def test_path_runs_from_noise_to_data_with_constant_velocity():
    rng = np.random.default_rng(0)
    x0, x1 = rng.standard_normal((3, 2, 2, 1)).astype("float32"), rng.uniform(-1, 1, (3, 2, 2, 1)).astype("float32")
    x_t, v = flow_matching.path_and_target(x0, x1, np.array([0.0, 1.0, 0.25], "float32"))
    x_t, v = to_numpy(x_t), to_numpy(v)
    np.testing.assert_allclose(x_t[0], x0[0], atol=1e-6)  # t = 0: the noise
    np.testing.assert_allclose(x_t[1], x1[1], atol=1e-6)  # t = 1: the data
    np.testing.assert_allclose(x_t[2], 0.75 * x0[2] + 0.25 * x1[2], atol=1e-6)
    np.testing.assert_allclose(v, x1 - x0, atol=1e-6)


class GaussianVelocity:
    """The exact marginal velocity E[x1 - x0 | x_t = x] for x0 ~ N(0, 1), x1 ~ N(m, s^2), independent.

    x_t ~ N(t m, (1-t)^2 + t^2 s^2) and Cov(x1 - x0, x_t) = t s^2 - (1 - t), so by Gaussian regression
    v(x, t) = m + (t s^2 - (1 - t)) / ((1 - t)^2 + t^2 s^2) (x - t m).
    """

    input_shape = [(None, 1, 1, 1), (None, 1), (None, 1)]

    def __init__(self, m, s):
        self.m, self.s = m, s

    def predict_on_batch(self, inputs):
        x, t, _ = inputs
        t = float(t[0, 0])
        slope = (t * self.s ** 2 - (1 - t)) / ((1 - t) ** 2 + t ** 2 * self.s ** 2)
        return (self.m + slope * (x - t * self.m)).astype("float32")


def test_euler_with_the_exact_velocity_lands_on_the_target_gaussian():
    m, s, n = 2.0, 0.5, 100_000
    x = flow_matching.euler_sample(GaussianVelocity(m, s), labels=np.zeros(n), num_steps=200)
    # Euler's error is O(1/num_steps); the sample mean's standard error is 0.5 / sqrt(n) = 0.0016
    assert x.mean() == pytest.approx(m, abs=0.01) and x.std() == pytest.approx(s, abs=0.01)


def test_guidance_weight_zero_is_unconditional_and_one_is_conditional():
    rng = np.random.default_rng(1)
    v_uncond, v_cond = rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    np.testing.assert_allclose(to_numpy(flow_matching.guidance(v_uncond, v_cond, 0.0)), v_uncond)
    np.testing.assert_allclose(to_numpy(flow_matching.guidance(v_uncond, v_cond, 1.0)), v_cond)
    np.testing.assert_allclose(to_numpy(flow_matching.guidance(v_uncond, v_cond, 3.0)), 3 * v_cond - 2 * v_uncond)


class Recorder:
    """A fake network that returns the label as the velocity, and records what it was called with."""

    input_shape = [(None, 1, 1, 1), (None, 1), (None, 1)]

    def __init__(self):
        self.labels, self.times = [], []

    def predict_on_batch(self, inputs):
        x, t, labels = inputs
        self.labels.append(labels.copy())
        self.times.append(float(t[0, 0]))
        return np.broadcast_to(labels.reshape(-1, 1, 1, 1), x.shape).astype("float32")


def test_euler_sample_calls_the_network_with_and_without_labels():
    net = Recorder()
    x = flow_matching.euler_sample(net, labels=[3, 5], num_steps=4, w=2.0, num_classes=10,
                                   x_start=np.zeros((2, 1, 1, 1)))
    assert [int(l[0, 0]) for l in net.labels[:2]] == [3, 10]  # conditional, then the "no label" token
    # v = v_uncond + 2 (v_cond - v_uncond) = 2 label - 10, integrated over t in [0, 1]
    np.testing.assert_allclose(x.ravel(), [2 * 3 - 10, 2 * 5 - 10], atol=1e-5)
    single = Recorder()
    flow_matching.euler_sample(single, labels=[3], num_steps=4, w=1.0, x_start=np.zeros((1, 1, 1, 1)))
    assert len(single.labels) == 4  # w = 1: the conditional velocity alone, one call per step
    assert single.times == [0.0, 0.25, 0.5, 0.75]  # each Euler step reads v at the start of its interval


def tiny_model(label_dropout=0.1):
    keras.utils.set_random_seed(0)
    network = unet.build_unet(channels=(8,), blocks_per_level=1, emb_dim=16, num_classes=10, time_scale=1000)
    return flow_matching.FlowMatching(network, num_classes=10, label_dropout=label_dropout, seed=0)


def test_labels_are_dropped_with_the_given_probability():
    seen = []
    model = tiny_model(label_dropout=0.25)

    def spy(inputs, training=False):  # records the labels the network would see; returns x_t
        seen.append(ops.convert_to_numpy(inputs[2]))
        return inputs[0]
    model.network = spy
    x1 = np.zeros((4000, 1, 1, 1), "float32")
    model([x1, np.full(4000, 7)])
    labels = seen[0].ravel()
    assert set(np.unique(labels)) == {7, 10}
    # 4000 draws: the fraction's standard error is sqrt(0.25 * 0.75 / 4000) = 0.007
    assert np.mean(labels == 10) == pytest.approx(0.25, abs=0.03)


def test_loss_at_initialisation_is_the_mean_square_of_the_target():
    # the zero output layer predicts v = 0, so the loss is E[(x1 - x0)^2] = x1^2 + 1 for a constant image x1
    model = tiny_model()
    x1 = np.full((32, 28, 28, 1), 0.5, "float32")
    loss = float(model.compute_loss([x1, np.zeros(32)], None, model([x1, np.zeros(32)])))
    assert loss == pytest.approx(1.25, abs=0.05)


def test_training_on_images_and_labels_lowers_the_loss():
    model = tiny_model()
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    x = np.tile(np.linspace(-1, 1, 28, dtype="float32").reshape(1, 28, 1, 1), (64, 1, 28, 1))
    history = diffusion.train(model, [x, np.arange(64) % 10], steps=30, batch_size=16, verbose=0)
    assert np.mean(history["loss"][-5:]) < 0.8 * np.mean(history["loss"][:3])
