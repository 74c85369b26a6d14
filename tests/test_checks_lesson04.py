"""The lesson 04 checks pass the solutions and fail stubs and plausible mistakes with specific messages."""
import pytest
from keras import ops

from course_lib import vae
from course_lib.checks import CheckFailed, lesson04


def stub(*args):
    raise NotImplementedError("Exercise: not written yet")


def solution_loss(x, logits, mu, log_var, beta=1.0):
    per_pixel = ops.binary_crossentropy(x, logits, from_logits=True)
    return ops.sum(per_pixel, axis=(1, 2, 3)) + beta * vae.kl_divergence(mu, log_var)


def test_kl_check():
    lesson04.check_kl(vae.kl_divergence)
    with pytest.raises(CheckFailed, match="not implemented yet"):
        lesson04.check_kl(stub)
    with pytest.raises(CheckFailed, match="sign is flipped"):
        lesson04.check_kl(lambda mu, lv: -vae.kl_divergence(mu, lv))
    with pytest.raises(CheckFailed, match="one value per example"):
        lesson04.check_kl(lambda mu, lv: ops.sum(vae.kl_divergence(mu, lv)))
    # forgetting the 1/2
    with pytest.raises(CheckFailed, match="for mu=1, log_var=0 your KL"):
        lesson04.check_kl(lambda mu, lv: 2 * vae.kl_divergence(mu, lv))


def test_reparameterize_check():
    lesson04.check_reparameterize(lambda mu, lv, eps: mu + ops.exp(0.5 * lv) * eps)
    with pytest.raises(CheckFailed, match="not implemented yet"):
        lesson04.check_reparameterize(stub)
    with pytest.raises(CheckFailed, match="standard deviation"):
        lesson04.check_reparameterize(lambda mu, lv, eps: mu + ops.exp(lv) * eps)
    with pytest.raises(CheckFailed, match="for mu=0, log_var=0, eps=1 your z"):
        lesson04.check_reparameterize(lambda mu, lv, eps: mu + lv * eps)


def test_vae_loss_check():
    lesson04.check_vae_loss(solution_loss)
    lesson04.check_vae_loss(
        lambda x, logits, mu, lv, beta: vae.reconstruction_bce(x, logits) + beta * vae.kl_divergence(mu, lv))
    with pytest.raises(CheckFailed, match="not implemented yet"):
        lesson04.check_vae_loss(stub)

    def mean_over_pixels(x, logits, mu, log_var, beta=1.0):
        per_pixel = ops.binary_crossentropy(x, logits, from_logits=True)
        return ops.mean(per_pixel, axis=(1, 2, 3)) + beta * vae.kl_divergence(mu, log_var)
    with pytest.raises(CheckFailed, match="mean over pixels"):
        lesson04.check_vae_loss(mean_over_pixels)

    with pytest.raises(CheckFailed, match="one value per example"):
        lesson04.check_vae_loss(lambda *args: ops.mean(solution_loss(*args)))
    with pytest.raises(CheckFailed, match="multiply the KL term by beta"):
        lesson04.check_vae_loss(lambda x, logits, mu, lv, beta: solution_loss(x, logits, mu, lv, 1.0))

    def logits_as_probabilities(x, logits, mu, log_var, beta=1.0):  # forgot from_logits=True
        per_pixel = ops.binary_crossentropy(x, logits)
        return ops.sum(per_pixel, axis=(1, 2, 3)) + beta * vae.kl_divergence(mu, log_var)
    with pytest.raises(CheckFailed, match="from_logits=True"):
        lesson04.check_vae_loss(logits_as_probabilities)
