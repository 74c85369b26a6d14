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
