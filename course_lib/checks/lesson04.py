"""Checks for lesson 04: the KL term, the reparameterization and the VAE loss."""
import numpy as np

from course_lib.checks.core import CheckFailed, call_student, expect_close, passed

N_PIXELS = 784


def _to_numpy(value):
    if hasattr(value, "numpy"):
        value = value.numpy()
    return np.asarray(value, dtype=np.float64)


def _kl(mu, log_var):
    # sum_j of -log sigma_j + (sigma_j^2 + mu_j^2 - 1) / 2, the 1-D closed form
    sigma = np.exp(0.5 * log_var)
    return np.sum(-np.log(sigma) + (sigma ** 2 + mu ** 2 - 1) / 2, axis=-1)


def check_kl(kl_divergence):
    """kl_divergence(mu, log_var) -> (batch,): KL(N(mu, exp(log_var)) || N(0, I)) per example."""
    exercise = "Exercise 1 (kl_divergence)"
    rng = np.random.default_rng(0)
    cases = [
        ("mu=0, log_var=0", np.zeros((2, 3)), np.zeros((2, 3))),
        ("mu=1, log_var=0", np.ones((2, 3)), np.zeros((2, 3))),
        ("mu=0, log_var=log 4", np.zeros((2, 3)), np.full((2, 3), np.log(4.0))),
        ("random mu and log_var", rng.normal(size=(4, 5)), rng.normal(size=(4, 5))),
    ]
    for name, mu, log_var in cases:
        got = _to_numpy(call_student(kl_divergence, mu.astype(np.float32), log_var.astype(np.float32),
                                     exercise=exercise))
        want = _kl(mu, log_var)
        if got.shape != want.shape:
            raise CheckFailed(f"for {name} your KL has shape {got.shape}; it should be {want.shape}: one value "
                              "per example, summing over the latent dimensions only (axis=-1).")
        if np.allclose(got, -want, atol=1e-4) and not np.allclose(want, 0):
            raise CheckFailed(f"for {name} your KL is {got[0]:.4g}; it should be {want[0]:.4g}. The sign is "
                              "flipped: KL = -0.5 * sum(1 + log_var - mu^2 - exp(log_var)) is never negative.")
        expect_close(got, want, f"for {name} your KL", atol=1e-4, rtol=1e-4,
                     hint="KL = -0.5 * sum_j (1 + log_var_j - mu_j^2 - exp(log_var_j)).")
    return passed("check_kl", len(cases))


def check_reparameterize(reparameterize):
    """reparameterize(mu, log_var, eps) -> z = mu + exp(0.5 log_var) * eps."""
    exercise = "Exercise 2 (reparameterize)"
    rng = np.random.default_rng(1)
    cases = [
        ("mu=0, log_var=0, eps=1", np.zeros((2, 2)), np.zeros((2, 2)), np.ones((2, 2))),
        ("mu=3, log_var=log 4, eps=1", np.full((2, 2), 3.0), np.full((2, 2), np.log(4.0)), np.ones((2, 2))),
        ("random values", rng.normal(size=(3, 4)), rng.normal(size=(3, 4)), rng.normal(size=(3, 4))),
    ]
    for name, mu, log_var, eps in cases:
        args = [a.astype(np.float32) for a in (mu, log_var, eps)]
        got = _to_numpy(call_student(reparameterize, *args, exercise=exercise))
        want = mu + np.exp(0.5 * log_var) * eps
        if got.shape == want.shape and np.allclose(got, mu + np.exp(log_var) * eps, atol=1e-4) \
                and not np.allclose(want, mu + np.exp(log_var) * eps):
            raise CheckFailed(f"for {name} your z is {got.flat[0]:.4g}; it should be {want.flat[0]:.4g}. You "
                              "multiplied eps by the variance exp(log_var); use the standard deviation "
                              "sigma = exp(0.5 * log_var).")
        expect_close(got, want, f"for {name} your z", atol=1e-4, rtol=1e-4,
                     hint="z = mu + exp(0.5 * log_var) * eps.")
    return passed("check_reparameterize", len(cases))


def _bce(x, logits):
    p = 1 / (1 + np.exp(-logits))
    return -(x * np.log(p) + (1 - x) * np.log(1 - p))


def check_vae_loss(vae_loss):
    """vae_loss(x, logits, mu, log_var, beta) -> (batch,): sum over pixels of BCE + beta * KL."""
    exercise = "Exercise 3 (vae_loss)"
    rng = np.random.default_rng(2)
    x = (rng.random((3, 28, 28, 1)) > 0.5).astype(np.float32)
    logits = rng.normal(size=x.shape).astype(np.float32)
    mu, log_var = rng.normal(size=(3, 4)).astype(np.float32), rng.normal(size=(3, 4)).astype(np.float32)
    reconstruction = _bce(x.astype(np.float64), logits.astype(np.float64)).reshape(3, -1).sum(axis=1)
    kl = _kl(mu.astype(np.float64), log_var.astype(np.float64))
    for beta in (1.0, 4.0, 0.0):
        got = _to_numpy(call_student(vae_loss, x, logits, mu, log_var, beta, exercise=exercise))
        want = reconstruction + beta * kl
        if got.shape != want.shape:
            raise CheckFailed(f"your loss has shape {got.shape}; it should be {want.shape}: one value per example. "
                              "Sum over the pixels of each image, and do not average over the batch here.")
        if np.allclose(got, reconstruction / N_PIXELS + beta * kl, rtol=1e-3):
            raise CheckFailed(f"your reconstruction term is a mean over pixels ({got[0]:.4g} for the first "
                              f"example; it should be {want[0]:.4g}). Sum the cross-entropy over all 784 pixels: "
                              "-log p(x|z) is a sum of one term per pixel.")
        if beta != 1.0 and np.allclose(got, reconstruction + kl, rtol=1e-4):
            raise CheckFailed(f"with beta={beta} your loss is the same as with beta=1: multiply the KL term by beta.")
        expect_close(got, want, f"with beta={beta} your loss", atol=1e-3, rtol=1e-4,
                     hint="loss = sum_pixels bce(x, sigmoid(logits)) + beta * KL; the decoder gives logits, "
                          "so use from_logits=True (or apply the sigmoid first).")
    return passed("check_vae_loss", 3)
