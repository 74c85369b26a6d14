"""course_lib.wgan: the gradient penalty against hand computation, clipping, the critic step, runs."""
import keras
import numpy as np
import pytest
from keras import ops

from course_lib import config
from course_lib.checks.updates import check_updates_isolated
from course_lib.wgan import CriticUpdate, WGANTrainer, gradient_penalty, input_gradient

LATENT_DIM = 4
X_REAL = np.random.default_rng(0).normal(size=(256, 2)).astype("float32")


def tiny_wgan(seed=0):
    config.set_seed(seed)
    generator = keras.Sequential([keras.Input((LATENT_DIM,)), keras.layers.Dense(8), keras.layers.LeakyReLU(0.2),
                                  keras.layers.Dense(2)])
    critic = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8), keras.layers.LeakyReLU(0.2),
                               keras.layers.Dense(1)])
    return generator, critic


def linear_critic(w, b=0.5):
    critic = keras.Sequential([keras.Input((len(w),)), keras.layers.Dense(1)])
    critic.set_weights([np.asarray(w, "float32")[:, None], np.array([b], "float32")])
    return critic


def tensor(rows):
    return ops.convert_to_tensor(np.asarray(rows, "float32"))


@pytest.mark.parametrize("w", [[3.0, 4.0], [0.6, 0.0], [0.0, 1.0]])
def test_gradient_penalty_of_a_linear_critic_is_lambda_times_norm_minus_one_squared(w):
    # C(x) = w.x + b has gradient w everywhere, so GP = lambda (||w|| - 1)^2 whatever alpha is.
    rng = np.random.default_rng(1)
    x_real, x_fake = tensor(rng.normal(size=(6, 2))), tensor(rng.normal(size=(6, 2)))
    alpha = tensor(rng.uniform(size=6))
    got = float(gradient_penalty(linear_critic(w), x_real, x_fake, 10.0, alpha))
    assert got == pytest.approx(10.0 * (np.linalg.norm(w) - 1.0) ** 2, rel=1e-5, abs=1e-6)


def test_gradient_penalty_uses_the_interpolates_on_a_quadratic_critic():
    # C(x) = sum(x^2) over an image-shaped input: grad = 2 x_hat, x_hat = a x_real + (1 - a) x_fake.
    critic = keras.Sequential([keras.Input((2, 2, 1)), keras.layers.Lambda(
        lambda x: ops.sum(ops.square(x), axis=(1, 2, 3))[:, None])])
    rng = np.random.default_rng(2)
    x_real, x_fake, alpha = rng.normal(size=(4, 2, 2, 1)), rng.normal(size=(4, 2, 2, 1)), rng.uniform(size=4)
    x_hat = alpha[:, None, None, None] * x_real + (1 - alpha[:, None, None, None]) * x_fake
    norms = np.linalg.norm((2 * x_hat).reshape(4, -1), axis=1)
    want = 10.0 * np.mean((norms - 1.0) ** 2)
    got = float(gradient_penalty(critic, tensor(x_real), tensor(x_fake), 10.0, tensor(alpha)))
    assert got == pytest.approx(want, rel=1e-5)
    np.testing.assert_allclose(ops.convert_to_numpy(input_gradient(critic, tensor(x_hat))), 2 * x_hat, rtol=1e-5)


def test_critic_loss_matches_hand_computation():
    critic = linear_critic([1.0, -2.0], b=0.25)
    update = CriticUpdate(critic, gp_weight=None)
    rng = np.random.default_rng(3)
    x_real, x_fake = rng.normal(size=(5, 2)), rng.normal(size=(5, 2))
    loss, logs = update.critic_loss(tensor(x_real), tensor(x_fake))
    score = lambda x: x @ np.array([1.0, -2.0]) + 0.25  # noqa: E731
    wasserstein = score(x_real).mean() - score(x_fake).mean()  # E[C(real)] - E[C(fake)]
    assert float(logs["wasserstein"]) == pytest.approx(wasserstein, rel=1e-5)
    assert float(loss) == pytest.approx(-wasserstein, rel=1e-5)


@pytest.mark.parametrize("gp_weight, scale", [(None, 1.0), (10.0, 1.0), (None, 3.0)])
def test_one_critic_update_is_one_sgd_step_along_the_hand_gradient(gp_weight, scale):
    # C(x) = w.x + b has gradient w everywhere, so L_C + GP = mean(C(fake)) - mean(C(real)) + lambda (||w|| - 1)^2:
    # dL/dw = mean(x_fake) - mean(x_real) + 2 lambda (||w|| - 1) w / ||w||, dL/db = 0. The penalty's part needs
    # the gradient of a gradient, taken inside Keras' training step.
    w, b, lr = np.array([3.0, 4.0]), 0.5, 0.01
    critic = linear_critic(w, b)
    # scale != 1: a critic_loss given by the caller (3 L_C) is the one differentiated, not the library's L_C
    given = (lambda c_real, c_fake: scale * (ops.mean(c_fake) - ops.mean(c_real))) if scale != 1.0 else None
    update = CriticUpdate(critic, gp_weight=gp_weight, critic_loss=given)
    update.compile(optimizer=keras.optimizers.SGD(lr))
    rng = np.random.default_rng(4)
    x_real, x_fake = rng.normal(1.0, 1.0, (8, 2)).astype("float32"), rng.normal(size=(8, 2)).astype("float32")
    logs = update.train_on_batch((x_real, x_fake), return_dict=True)
    norm = np.linalg.norm(w)
    penalty = (gp_weight or 0.0) * (norm - 1.0) ** 2
    grad_w = scale * (x_fake.mean(axis=0) - x_real.mean(axis=0)) + 2 * (gp_weight or 0.0) * (norm - 1.0) * w / norm
    new_w, new_b = critic.get_weights()
    np.testing.assert_allclose(new_w[:, 0], w - lr * grad_w, rtol=1e-5)
    assert float(new_b[0]) == pytest.approx(b)
    wasserstein = (x_real @ w).mean() - (x_fake @ w).mean()
    assert logs["wasserstein"] == pytest.approx(wasserstein, rel=1e-5)
    assert logs["gradient_penalty"] == pytest.approx(penalty, rel=1e-5)
    assert logs["loss"] == pytest.approx(-scale * wasserstein + penalty, rel=1e-5)


def test_clipping_keeps_every_critic_weight_in_minus_c_to_c():
    generator, critic = tiny_wgan()
    assert max(np.abs(w).max() for w in critic.get_weights()) > 0.1  # Glorot init is well outside [-c, c]
    trainer = WGANTrainer(generator, critic, LATENT_DIM, n_critic=2, clip_value=0.01, verbose=0)
    trainer.train(X_REAL, steps=3, batch_size=16)
    kernels = critic.get_weights()
    assert max(np.abs(w).max() for w in kernels) <= 0.01 + 1e-7
    assert any(np.isclose(np.abs(w), 0.01).any() for w in kernels)  # the bound was actually hit


def test_gradient_penalty_mode_does_not_clip_and_uses_the_papers_optimizer():
    generator, critic = tiny_wgan()
    trainer = WGANTrainer(generator, critic, LATENT_DIM, n_critic=2, gradient_penalty=10.0, verbose=0)
    history = trainer.train(X_REAL, steps=2, batch_size=16)
    assert max(np.abs(w).max() for w in critic.get_weights()) > 0.1
    assert all(value > 0 for value in history["gradient_penalty"])
    config = trainer.d_optimizer.get_config()
    assert isinstance(trainer.d_optimizer, keras.optimizers.Adam)
    assert (config["learning_rate"], config["beta_1"], config["beta_2"]) == pytest.approx((1e-4, 0.0, 0.9))  # Gulrajani et al., Algorithm 1
    clip = WGANTrainer(*tiny_wgan(), LATENT_DIM, verbose=0)
    assert clip.clip_value == 0.01 and isinstance(clip.g_optimizer, keras.optimizers.RMSprop)
    assert clip.g_optimizer.get_config()["learning_rate"] == pytest.approx(5e-5)


@pytest.mark.parametrize("mode", [dict(clip_value=0.01), dict(gradient_penalty=10.0)])
def test_critic_step_updates_only_the_critic_and_g_step_only_g(mode):
    generator, critic = tiny_wgan()
    trainer = WGANTrainer(generator, critic, LATENT_DIM, **mode, verbose=0)
    trainer.set_data(X_REAL)
    for _ in range(2):
        check_updates_isolated(lambda: trainer.d_step(16), lambda: trainer.g_step(16), generator, critic)


@pytest.mark.parametrize("mode", [dict(clip_value=0.01), dict(gradient_penalty=10.0)])
def test_short_run_changes_both_networks_with_finite_losses(mode):
    generator, critic = tiny_wgan()
    g0, c0 = generator.get_weights(), critic.get_weights()
    history = WGANTrainer(generator, critic, LATENT_DIM, n_critic=3, verbose=0, **mode).train(X_REAL, 4, 16)
    assert all(len(v) == 4 and np.all(np.isfinite(v)) for v in history.values())
    want = -np.asarray(history["wasserstein"]) + np.asarray(history["gradient_penalty"])  # L_C + GP
    np.testing.assert_allclose(history["critic_loss"], want, rtol=1e-5, atol=1e-6)
    assert any(not np.array_equal(a, b) for a, b in zip(g0, generator.get_weights()))
    assert any(not np.array_equal(a, b) for a, b in zip(c0, critic.get_weights()))


def test_resume_restores_the_wgan_exactly(tmp_path):
    trainer = WGANTrainer(*tiny_wgan(), LATENT_DIM, n_critic=2, gradient_penalty=10.0,
                          checkpoint_dir=str(tmp_path), verbose=0)
    trainer.train(X_REAL, 2, 16, checkpoint_every=2)
    trainer.train(X_REAL, 2, 16)
    resumed = WGANTrainer(*tiny_wgan(seed=9), LATENT_DIM, n_critic=2, gradient_penalty=10.0,
                          checkpoint_dir=str(tmp_path), verbose=0)
    assert resumed.restore() == 2
    resumed.train(X_REAL, 2, 16)
    for got, want in zip(resumed.critic.get_weights() + resumed.generator.get_weights(),
                         trainer.critic.get_weights() + trainer.generator.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_a_nan_loss_raises_and_puts_the_wgan_back_to_its_last_finite_state():
    generator, critic = tiny_wgan()
    trainer = WGANTrainer(generator, critic, LATENT_DIM, n_critic=2, gradient_penalty=10.0, verbose=0)
    trainer.good_state_every = 2  # an in-memory copy every 2 steps (100 by default)
    kept = {}

    def record(trainer, step):
        kept[step] = (generator.get_weights(), critic.get_weights())

    real_step = trainer.train_step

    def exploding_step(batch_size):  # at step 3 the critic's weights blow up and its loss is NaN
        logs = real_step(batch_size)
        if trainer.step == 2:
            kernel = critic.layers[0].kernel
            kernel.assign(np.full(kernel.shape, np.inf, dtype="float32"))
            logs = {**logs, "critic_loss": np.float32("nan")}
        return logs

    trainer.train_step = exploding_step
    with pytest.raises(FloatingPointError, match=r"NaN or inf at step 3 \(critic_loss=nan, wasserstein="):
        trainer.train(X_REAL, steps=5, batch_size=16, sample_every=1, on_sample=record)
    assert trainer.step == 2 and len(trainer.history["wasserstein"]) == 2
    for got, want in zip(generator.get_weights() + critic.get_weights(), kept[2][0] + kept[2][1]):
        np.testing.assert_array_equal(got, want)


def test_bad_configurations_are_clear_errors():
    generator, critic = tiny_wgan()
    with pytest.raises(ValueError, match="not both"):
        WGANTrainer(generator, critic, LATENT_DIM, clip_value=0.01, gradient_penalty=10.0)
    with pytest.raises(ValueError, match="n_critic"):
        WGANTrainer(generator, critic, LATENT_DIM, n_critic=0)
    with pytest.raises(ValueError, match="clip_value must be > 0"):
        WGANTrainer(generator, critic, LATENT_DIM, clip_value=-0.01)
    sigmoid_critic = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, activation="sigmoid")])
    with pytest.raises(ValueError, match="linear output"):
        WGANTrainer(generator, sigmoid_critic, LATENT_DIM)


def test_wgan_keeps_a_moving_average_of_the_generator():
    generator, critic = tiny_wgan()
    trainer = WGANTrainer(generator, critic, LATENT_DIM, n_critic=2, ema_decay=0.5, verbose=0)
    start = [w.copy() for w in trainer.ema_generator.get_weights()]
    trainer.train(X_REAL, steps=12, batch_size=16)  # d_t = 0.5 from t = 9 on
    before_last = [w.copy() for w in trainer.ema_generator.get_weights()]
    trainer.g_step(16)
    for old, new, w in zip(before_last, trainer.ema_generator.get_weights(), generator.get_weights()):
        np.testing.assert_allclose(new, 0.5 * old + 0.5 * w, rtol=1e-5, atol=1e-6)
    assert any(not np.allclose(a, b) for a, b in zip(start, trainer.ema_generator.get_weights()))


def test_the_trainer_hands_its_critic_loss_to_the_critic_update():
    def doubled(c_real, c_fake):
        return 2.0 * (ops.mean(c_fake) - ops.mean(c_real))

    trainer = WGANTrainer(*tiny_wgan(), n_critic=1, gradient_penalty=10.0, critic_loss=doubled, verbose=0)
    history = trainer.train(X_REAL, 2, 16)
    want = -2.0 * np.asarray(history["wasserstein"]) + np.asarray(history["gradient_penalty"])  # 2 L_C + GP
    np.testing.assert_allclose(history["critic_loss"], want, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="critic_loss must be a function"):
        WGANTrainer(*tiny_wgan(), critic_loss=0.5)
