"""lesson06 checks: pass on the solution, fail on the stub and on plausible wrong answers."""
import keras
import numpy as np
import pytest
from keras import ops

from course_lib.checks import CheckFailed, lesson06


def optimal_discriminator(p_data, p_g):
    return p_data / (p_data + p_g)


def discriminator_loss(d_real, d_fake):
    eps = keras.config.epsilon()
    d_real, d_fake = ops.clip(d_real, eps, 1 - eps), ops.clip(d_fake, eps, 1 - eps)
    return -ops.mean(ops.log(d_real)) - ops.mean(ops.log(1 - d_fake))


def generator_loss(d_fake, non_saturating=True):
    d_fake = ops.clip(d_fake, keras.config.epsilon(), 1 - keras.config.epsilon())
    if non_saturating:
        return -ops.mean(ops.log(d_fake))
    return ops.mean(ops.log(1 - d_fake))


def count_modes(samples, centers, std, min_fraction=0.01):
    distances = np.linalg.norm(samples[:, None, :] - centers[None, :, :], axis=2)
    near = distances.min(axis=1) < 3 * std
    counts = np.bincount(distances.argmin(axis=1)[near], minlength=len(centers))
    return int(np.sum(counts >= min_fraction * len(samples))), float(np.mean(near))


def stub(*args, **kwargs):
    raise NotImplementedError("Exercise: not written yet")


@pytest.mark.parametrize("check, solution", [
    (lesson06.check_optimal_discriminator, optimal_discriminator),
    (lesson06.check_discriminator_loss, discriminator_loss),
    (lesson06.check_generator_loss, generator_loss),
    (lesson06.check_count_modes, count_modes),
])
def test_passes_on_the_solution_and_fails_on_the_stub(check, solution, capsys):
    check(solution)
    assert f"PASSED {check.__name__}" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match="is not implemented yet"):
        check(stub)


def test_numpy_solutions_pass_too():
    lesson06.check_discriminator_loss(lambda r, f: -np.mean(np.log(r)) - np.mean(np.log(1 - f)))


def test_optimal_discriminator_with_the_fractions_swapped_fails():
    with pytest.raises(CheckFailed, match=r"for p_data=0.3, p_g=0.1 your D\* is 0.25; it should be 0.75"):
        lesson06.check_optimal_discriminator(lambda p_data, p_g: p_g / (p_data + p_g))


def test_discriminator_loss_with_a_flipped_sign_or_one_term_fails():
    with pytest.raises(CheckFailed, match="sign is flipped"):
        lesson06.check_discriminator_loss(lambda r, f: -discriminator_loss(r, f))
    with pytest.raises(CheckFailed, match="only one of the two terms"):
        lesson06.check_discriminator_loss(lambda r, f: -ops.mean(ops.log(r)))


def test_generator_loss_swapped_or_sign_flipped_fails():
    with pytest.raises(CheckFailed, match="That is the other loss"):
        lesson06.check_generator_loss(lambda d, non_saturating=True: generator_loss(d, not non_saturating))
    with pytest.raises(CheckFailed, match="non_saturating=True .* sign is flipped"):
        lesson06.check_generator_loss(lambda d, non_saturating=True: ops.mean(ops.log(d)) if non_saturating
                                      else generator_loss(d, False))


def test_count_modes_that_counts_a_single_stray_sample_fails():
    def any_sample_counts(samples, centers, std, min_fraction=0.01):
        return count_modes(samples, centers, std, min_fraction=1e-9)

    with pytest.raises(CheckFailed, match="modes covered for one mode plus a single stray sample.*you gave 2"):
        lesson06.check_count_modes(any_sample_counts)


def test_count_modes_with_a_one_std_radius_fails():
    def tight(samples, centers, std, min_fraction=0.01):
        distances = np.linalg.norm(samples[:, None, :] - centers[None, :, :], axis=2)
        return count_modes(samples, centers, std / 3, min_fraction)[0], float(np.mean(distances.min(1) < std))

    with pytest.raises(CheckFailed, match="within 3 std"):
        lesson06.check_count_modes(tight)


# --- the GAN step exercise: the reference, the stub and one wrong answer per failure the check names ---
def gan_step(generator, discriminator, combined, x_real, latent_dim, *, before_d=True, before_g=False,
             y_real=1.0, y_fake=0.0, y_g=1.0):
    n = len(x_real)
    z = np.random.normal(size=(n, latent_dim)).astype("float32")
    x_fake = generator.predict(z, verbose=0)
    if before_d is not None:
        discriminator.trainable = before_d
    d_loss_real = discriminator.train_on_batch(x_real, np.full((n, 1), y_real))
    d_loss_fake = discriminator.train_on_batch(x_fake, np.full((n, 1), y_fake))
    z = np.random.normal(size=(n, latent_dim)).astype("float32")
    if before_g is not None:
        discriminator.trainable = before_g
    g_loss = combined.train_on_batch(z, np.full((n, 1), y_g))
    return d_loss_real, d_loss_fake, g_loss


def test_gan_step_check_passes_the_reference_and_fails_the_stub(capsys):
    lesson06.check_gan_step(gan_step)
    assert "PASSED check_gan_step" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match="is not implemented yet"):
        lesson06.check_gan_step(stub)


def saturating_step(generator, discriminator, combined, x_real, latent_dim):
    """G minimises log(1 - D(G(z))) as the minimax game writes it: the combined model recompiled with that loss."""
    if not getattr(combined, "saturating", False):
        combined.compile(optimizer=keras.optimizers.Adam(1e-2), loss=lambda y, p: ops.mean(ops.log(1.0 - p)))
        combined.saturating = True
    return gan_step(generator, discriminator, combined, x_real, latent_dim)


def d_trains_on_fakes_as_real(generator, discriminator, combined, x_real, latent_dim):
    """G 'trained' by telling D the fakes are real: D's weights move, G's never do."""
    n = len(x_real)
    z = np.random.normal(size=(n, latent_dim)).astype("float32")
    x_fake = generator.predict(z, verbose=0)
    discriminator.trainable = True
    d_loss_real = discriminator.train_on_batch(x_real, np.ones((n, 1)))
    d_loss_fake = discriminator.train_on_batch(x_fake, np.zeros((n, 1)))
    g_loss = discriminator.train_on_batch(generator.predict(z, verbose=0), np.ones((n, 1)))
    return d_loss_real, d_loss_fake, g_loss


def noise_as_fakes(generator, discriminator, combined, x_real, latent_dim):
    n = len(x_real)
    discriminator.trainable = True
    d_loss_real = discriminator.train_on_batch(x_real, np.ones((n, 1)))
    d_loss_fake = discriminator.train_on_batch(np.random.normal(size=(n, 2)), np.zeros((n, 1)))
    discriminator.trainable = False
    return d_loss_real, d_loss_fake, combined.train_on_batch(np.random.normal(size=(n, latent_dim)), np.ones((n, 1)))


def concatenated_d_update(generator, discriminator, combined, x_real, latent_dim):
    """The deck's single D update on [x_real; x_fake]: it trains D, but the step must return the two losses."""
    n = len(x_real)
    x_fake = generator.predict(np.random.normal(size=(n, latent_dim)).astype("float32"), verbose=0)
    discriminator.trainable = True
    d_loss = discriminator.train_on_batch(np.concatenate([x_real, x_fake]), np.r_[np.ones(n), np.zeros(n)][:, None])
    discriminator.trainable = False
    return d_loss, d_loss, combined.train_on_batch(np.random.normal(size=(n, latent_dim)), np.ones((n, 1)))


@pytest.mark.parametrize("wrong, match", [
    (concatenated_d_update, r"update D twice: .*the deck's single update on the concatenation"),
    # the Keras 2 idiom: D frozen once (by the setup) and never switched back on
    (lambda *a: gan_step(*a, before_d=None, before_g=None), r"step 1 .*D did not move in its update on the real"),
    # D switched on for its own update and never frozen for G's
    (lambda *a: gan_step(*a, before_g=None), r"step 1 .*D moved in G's update \(D.trainable was True"),
    (lambda *a: gan_step(*a, y_real=0.0, y_fake=1.0), "the targets are swapped"),
    (lambda *a: gan_step(*a, y_g=0.0), "you trained G towards label 0"),
    (saturating_step, "minimised log\\(1 - D\\(G\\(z\\)\\)\\), the saturating minimax loss"),
    (d_trains_on_fakes_as_real, "never calls combined.train_on_batch, so G does not move"),
    (noise_as_fakes, "the batch D sees with target 0 is not G's output"),
    (lambda *a: gan_step(*a)[::-1], r"return what the three train_on_batch calls returned"),
])
def test_gan_step_check_names_each_wrong_step(wrong, match):
    with pytest.raises(CheckFailed, match=match):
        lesson06.check_gan_step(wrong)


def test_discriminator_loss_over_the_concatenated_batch_or_a_sum_gets_its_own_hint():
    def concatenated_mean(d_real, d_fake):
        d = ops.concatenate([ops.convert_to_tensor(d_real), ops.convert_to_tensor(d_fake)])
        t = ops.concatenate([ops.ones_like(d_real), ops.zeros_like(d_fake)])
        return ops.mean(keras.losses.binary_crossentropy(t[:, None], d[:, None]))

    with pytest.raises(CheckFailed, match="averaged over the concatenated batch.*both terms are there"):
        lesson06.check_discriminator_loss(concatenated_mean)
    with pytest.raises(CheckFailed, match="You summed over the samples"):
        lesson06.check_discriminator_loss(lambda r, f: -ops.sum(ops.log(r)) - ops.sum(ops.log(1 - f)))
