"""course_lib.diffusion against closed forms, hand computations and an oracle noise predictor."""
import math

import keras
import numpy as np
import pytest
from keras import ops

from course_lib import diffusion, unet


def to_numpy(value):
    return np.asarray(ops.convert_to_numpy(value), dtype=np.float64)


# ---- the forward process ------------------------------------------------------------------------
def test_q_sample_has_the_closed_form_mean_and_variance():
    # q(x_t | x_0) = N(sqrt(abar) x_0, (1 - abar) I), estimated from 200,000 draws per pixel value
    rng = np.random.default_rng(0)
    n, x0_values, abar = 200_000, np.array([-1.0, 0.3, 1.0]), 0.36
    x0 = np.broadcast_to(x0_values, (n, 3)).reshape(n, 3, 1, 1).astype("float32")
    eps = rng.standard_normal(x0.shape).astype("float32")
    x_t = to_numpy(diffusion.q_sample(x0, eps, np.full(n, abar, "float32"))).reshape(n, 3)
    # the sample mean is within 5 standard errors (sqrt((1 - abar) / n) = 0.0018) of its expectation
    np.testing.assert_allclose(x_t.mean(axis=0), 0.6 * x0_values, atol=5 * math.sqrt(0.64 / n))
    # the sample variance's standard error is about var * sqrt(2 / n) = 0.002
    np.testing.assert_allclose(x_t.var(axis=0), np.full(3, 0.64), atol=5 * 0.64 * math.sqrt(2 / n))


def test_q_sample_uses_each_example_s_own_abar():
    x0, eps = np.ones((2, 2, 2, 1), "float32"), np.zeros((2, 2, 2, 1), "float32")
    x_t = to_numpy(diffusion.q_sample(x0, eps, np.array([1.0, 0.25], "float32")))
    np.testing.assert_allclose(x_t[:, 0, 0, 0], [1.0, 0.5], atol=1e-6)  # sqrt(1) and sqrt(0.25)


@pytest.mark.parametrize("make", [diffusion.linear_schedule, diffusion.cosine_schedule])
def test_abar_falls_from_about_one_to_about_zero(make):
    schedule = make(1000)
    assert np.all(np.diff(schedule.abar) < 0)  # every step adds noise
    assert schedule.abar[0] > 0.999 and schedule.abar[-1] < 1e-4
    np.testing.assert_allclose(schedule.abar, np.cumprod(1 - schedule.betas), rtol=1e-12)


def test_linear_schedule_end_points():
    schedule = diffusion.linear_schedule(1000)
    assert schedule.betas[0] == pytest.approx(1e-4) and schedule.betas[-1] == pytest.approx(0.02)
    # log abar_T = sum log(1 - beta_t) ~ -sum beta_t - sum beta_t^2 / 2, and for betas rising linearly from a to b
    # sum beta = T (a + b) / 2 = 10.05 and sum beta^2 ~ T (a^2 + ab + b^2) / 3 = 0.1340
    assert schedule.abar[-1] == pytest.approx(math.exp(-10.05 - 0.1340 / 2), rel=0.005)
    short = diffusion.linear_schedule(100)  # betas rescaled by 1000 / T: the same sum, so x_T is noise too
    assert short.betas.sum() == pytest.approx(schedule.betas.sum(), rel=0.02) and short.abar[-1] < 1e-4


def test_cosine_schedule_follows_its_formula():
    schedule, s, big_t = diffusion.cosine_schedule(1000), 0.008, 1000
    f = lambda t: math.cos((t / big_t + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    for t in (0, 250, 500, 900):  # step index t is after t + 1 noising steps
        assert schedule.abar[t] == pytest.approx(f(t + 1) / f(0), rel=1e-9)


# ---- DDIM and DDPM steps ------------------------------------------------------------------------
def noisy_example(abar_t, seed=0):
    rng = np.random.default_rng(seed)
    x0 = rng.uniform(-1, 1, (3, 4, 4, 1)).astype("float32")
    eps = rng.standard_normal(x0.shape).astype("float32")
    return x0, eps, to_numpy(diffusion.q_sample(x0, eps, np.full(3, abar_t, "float32")))


def test_ddim_step_with_the_true_noise_returns_x0_exactly():
    x0, eps, x_t = noisy_example(0.2)
    x_prev = to_numpy(diffusion.ddim_step(x_t.astype("float32"), eps, np.float32(0.2), np.float32(1.0)))
    np.testing.assert_allclose(x_prev, x0, atol=2e-6)


def test_ddim_step_to_an_earlier_step_lands_on_the_same_noise_path():
    # deterministic (eta = 0): from x_t with the true eps it lands on x_s = sqrt(abar_s) x0 + sqrt(1 - abar_s) eps
    x0, eps, x_t = noisy_example(0.1, seed=1)
    x_s = to_numpy(diffusion.ddim_step(x_t.astype("float32"), eps, np.float32(0.1), np.float32(0.7)))
    np.testing.assert_allclose(x_s, math.sqrt(0.7) * x0 + math.sqrt(0.3) * eps, atol=2e-6)


def test_posterior_matches_the_product_of_two_gaussians():
    # q(x_{t-1} | x_t, x_0) is proportional to N(x_t; sqrt(alpha_t) x_{t-1}, beta_t) N(x_{t-1}; sqrt(abar_{t-1}) x_0,
    # 1 - abar_{t-1}); completing the square by hand for one t and one pixel:
    schedule, t = diffusion.linear_schedule(1000), 300
    beta, alpha, abar_prev = schedule.betas[t], 1 - schedule.betas[t], np.prod(1 - schedule.betas[:t])
    x0, x_t = 0.4, -0.9
    precision = alpha / beta + 1 / (1 - abar_prev)
    want_var = 1 / precision
    want_mean = want_var * (math.sqrt(alpha) * x_t / beta + math.sqrt(abar_prev) * x0 / (1 - abar_prev))
    mean, var = diffusion.posterior_mean_variance(x0, x_t, t, schedule)
    assert mean == pytest.approx(want_mean, rel=1e-9) and var == pytest.approx(want_var, rel=1e-9)


def test_ddpm_step_mean_is_the_posterior_mean_when_eps_is_right():
    schedule, t = diffusion.cosine_schedule(1000), 600
    x0, eps, x_t = noisy_example(schedule.abar[t], seed=2)
    mean, var = diffusion.posterior_mean_variance(x0, x_t, t, schedule)
    got = diffusion.ddpm_step(x_t, eps, t, schedule, z=np.zeros_like(x_t))
    np.testing.assert_allclose(got, mean, atol=1e-5)
    z = np.ones_like(x_t)  # the noise term is sigma_t z with sigma_t^2 = beta_tilde_t
    np.testing.assert_allclose(diffusion.ddpm_step(x_t, eps, t, schedule, z) - got, math.sqrt(var), rtol=1e-6)


def test_ddim_timesteps_run_from_the_last_step_to_the_first():
    steps = diffusion.ddim_timesteps(1000, 10)
    assert steps[0] == 999 and steps[-1] == 0 and len(steps) == 10 and np.all(np.diff(steps) < 0)
    with pytest.raises(ValueError, match="at most T"):
        diffusion.ddim_timesteps(100, 101)


class Oracle:
    """The exact noise predictor when every training image is x0_star: eps = (x_t - sqrt(abar) x0*) / sqrt(1 - abar)."""

    input_shape = [(None, 4, 4, 1), (None, 1)]

    def __init__(self, schedule, x0_star):
        self.abar, self.x0_star = schedule.abar, x0_star

    def predict_on_batch(self, inputs):
        x_t, t = inputs
        abar = self.abar[int(t[0, 0])]
        return (x_t - math.sqrt(abar) * self.x0_star) / math.sqrt(1 - abar)


@pytest.mark.parametrize("sampler", ["ddim", "ddpm"])
def test_samplers_with_an_oracle_reach_the_single_data_point(sampler):
    schedule = diffusion.linear_schedule(50)
    x0_star = np.linspace(-1, 1, 16).reshape(4, 4, 1)
    oracle = Oracle(schedule, x0_star)
    if sampler == "ddim":
        x = diffusion.ddim_sample(oracle, schedule, n=3, num_sampling_steps=7)
    else:  # at t = 0 the posterior puts all its mass on x_0
        x = diffusion.ddpm_sample(oracle, schedule, n=3)
    np.testing.assert_allclose(x, np.broadcast_to(x0_star, (3, 4, 4, 1)), atol=1e-4)


# ---- training -----------------------------------------------------------------------------------
def tiny_model(**kwargs):
    keras.utils.set_random_seed(0)
    network = unet.build_unet(channels=(8, 16), blocks_per_level=1, emb_dim=16)
    return diffusion.Diffusion(network, diffusion.linear_schedule(100), seed=0, **kwargs)


def test_loss_at_initialisation_is_about_one():
    # the zero-initialised output layer predicts eps_theta = 0, so the loss is E[eps^2] = 1
    model = tiny_model()
    x0 = np.random.default_rng(0).uniform(-1, 1, (32, 28, 28, 1)).astype("float32")
    loss = float(model.compute_loss(x0, None, model(x0)))
    assert loss == pytest.approx(1.0, abs=0.05)  # mean of 25,088 squares: standard error 0.009


def test_training_lowers_the_loss_and_moves_the_average():
    from course_lib.ema import MovingAverage

    model = tiny_model()
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    x = np.tile(np.linspace(-1, 1, 28, dtype="float32").reshape(1, 28, 1, 1), (64, 1, 28, 1))  # one image
    ema = MovingAverage(model.network, 0.9)
    history = diffusion.train(model, x, steps=30, batch_size=16, ema=ema, verbose=0)
    assert len(history["loss"]) == 30 and np.mean(history["loss"][-5:]) < 0.7 * np.mean(history["loss"][:3])
    output = ema.model.get_layer("output").get_weights()[0]
    assert np.abs(output).max() > 0  # the average left its zero start


def nan_once_trained(eps, eps_pred):
    # the zero-initialised output layer predicts exactly 0 until the first update: NaN from the second step on
    loss = diffusion.epsilon_loss(eps, eps_pred)
    return ops.where(ops.max(ops.abs(eps_pred)) > 0, float("nan"), loss)


def test_nan_loss_raises_with_the_step_and_keeps_the_last_finite_weights():
    x = np.random.default_rng(0).uniform(-1, 1, (8, 28, 28, 1)).astype("float32")

    def make(loss_fn):
        keras.utils.set_random_seed(0)
        model = diffusion.Diffusion(unet.build_unet(channels=(8,), blocks_per_level=1, emb_dim=8),
                                    diffusion.linear_schedule(10), loss_fn=loss_fn, seed=0)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        return model

    reference = make(diffusion.epsilon_loss)
    diffusion.train(reference, x, steps=1, batch_size=4, verbose=0)  # the same first step
    model = make(nan_once_trained)
    with pytest.raises(FloatingPointError, match="at step 2; .*put back to step 1"):
        diffusion.train(model, x, steps=5, batch_size=4, good_state_every=1, verbose=0)
    for got, want in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
