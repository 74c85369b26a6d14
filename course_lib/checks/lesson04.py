"""Checks for lesson 04: the KL term, the reparameterization, the sampling layer, the VAE loss,
and the encoder and decoder of the practice deck's Keras VAE."""
import numpy as np

from course_lib.checks.core import CheckFailed, call_student, expect_close, passed
from course_lib.checks.models import build_student_model, expect_io_shapes, outputs_with_same_random_weights

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
    """kl_divergence(mu, log_var) -> (N,): KL(N(mu, exp(log_var)) || N(0, I)) per example."""
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
    """vae_loss(x, logits, mu, log_var, beta) -> (N,): sum over pixels of BCE + beta * KL."""
    exercise = "Exercise 4 (vae_loss)"
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
        if beta != 0.0 and np.allclose(got, reconstruction - beta * kl, rtol=1e-4, atol=1e-3):
            raise CheckFailed(f"with beta={beta} your loss is reconstruction - beta * KL ({got[0]:.4g} for the "
                              f"first example; it should be {want[0]:.4g}). The loss is the negative ELBO: the "
                              "ELBO subtracts the KL, so its negative adds it: reconstruction + beta * KL.")
        expect_close(got, want, f"with beta={beta} your loss", atol=1e-3, rtol=1e-4,
                     hint="loss = sum_pixels bce(x, sigmoid(logits)) + beta * KL; the decoder gives logits, "
                          "so use from_logits=True (or apply the sigmoid first).")
    return passed("check_vae_loss", 3)


def check_sampling_layer(Sampling):
    """Sampling(seed=...)([mu, log_var]) -> z ~ N(mu, exp(log_var)), a fresh draw at every call."""
    exercise = "Exercise 3 (Sampling.call)"
    n = 20_000
    mu = np.full((n, 2), [2.0, -1.0], np.float32)
    log_var = np.full((n, 2), np.log([0.25, 4.0]), np.float32)  # sigma = 0.5 and 2
    layer = call_student(Sampling, seed=0, exercise=exercise)
    first = _to_numpy(call_student(layer, [mu, log_var], exercise=exercise))
    if first.shape != mu.shape:
        raise CheckFailed(f"your layer returns shape {first.shape} for mu of shape {mu.shape}; z has the shape of "
                          "mu: draw eps with keras.random.normal(ops.shape(mu), seed=self.seed_generator).")
    second = _to_numpy(layer([mu, log_var]))
    if np.allclose(first, second):
        raise CheckFailed("two calls of your layer return the same z: draw a new eps at every call, with "
                          "keras.random.normal(..., seed=self.seed_generator) inside `call`.")
    eps = (first - mu) / np.exp(0.5 * log_var)  # what the layer's noise must have been
    mean, std = eps.mean(axis=0), eps.std(axis=0)
    # 20,000 draws: the sample mean of N(0, 1) is within 0.03 and its std within 0.02 with near certainty
    if np.all(np.abs(mean) < 0.03) and np.all(np.abs(std - 0.1) < 0.01):
        raise CheckFailed("your eps has standard deviation 0.1 (the practice deck's `stddev=0.1`); the "
                          "reparameterization needs eps ~ N(0, I), standard deviation 1.")
    if np.any(np.abs(mean) > 0.03) or np.any(np.abs(std - 1) > 0.02):
        raise CheckFailed(f"with mu = (2, -1) and sigma = (0.5, 2) your z has mean {_fmt(first.mean(axis=0))} "
                          f"and standard deviation {_fmt(first.std(axis=0))}; they should be about (2, -1) and "
                          "(0.5, 2). Draw eps ~ N(0, I) and return your reparameterize(mu, log_var, eps).")
    return passed("check_sampling_layer", 3)


def check_vae_encoder(build_encoder, latent_dim=3, hidden=(16,)):
    """build_encoder(latent_dim, hidden) -> Model: x (N, 28, 28, 1) -> [mu, log_var, z], each (N, latent_dim)."""
    from course_lib import vae

    exercise = "Exercise 5 (build_encoder)"
    encoder = build_student_model(build_encoder, latent_dim, hidden, exercise=exercise)
    if not isinstance(encoder.output_shape, list) or len(encoder.output_shape) != 3:
        raise CheckFailed(f"your encoder has output shape(s) {encoder.output_shape}; like the practice deck's "
                          "encoder it should return three tensors: keras.Model(x, [mu, log_var, z]).")
    expect_io_shapes(encoder, (None, 28, 28, 1), [(None, latent_dim)] * 3, "your encoder",
                     hint="Input: keras.Input((28, 28, 1)), flattened; outputs: two Dense(latent_dim) heads "
                          "and the Sampling layer's z.")
    reference = vae.build_dense_encoder(latent_dim, hidden=hidden)
    n = 4000
    x = np.repeat(np.random.default_rng(0).random((2, 28, 28, 1)).astype(np.float32), n // 2, axis=0)
    (mu, log_var, z), (mu_ref, log_var_ref) = outputs_with_same_random_weights(
        encoder, reference, x, "your encoder",
        hint="Build the layers in this order: the hidden Dense layers (relu), then Dense(latent_dim) for mu, "
             "then Dense(latent_dim) for log_var.")
    if np.allclose(log_var, np.maximum(log_var_ref, 0), atol=1e-4) and not np.allclose(log_var, log_var_ref):
        raise CheckFailed("your log_var is never negative: its Dense layer has a relu. mu and log_var are "
                          "linear outputs (no activation): a log-variance can be any real number.")
    expect_close(mu, mu_ref, "your mu for the same weights and input", atol=1e-4, rtol=1e-3,
                 hint="mu = Dense(latent_dim)(h), no activation, on top of the hidden relu layers.")
    expect_close(log_var, log_var_ref, "your log_var for the same weights and input", atol=1e-4, rtol=1e-3,
                 hint="log_var = Dense(latent_dim)(h), no activation, built after mu's layer.")
    eps = (z - mu) / np.exp(0.5 * log_var)  # must be N(0, 1) noise
    if np.abs(eps.mean()) > 0.05 or abs(eps.std() - 1) > 0.03:
        raise CheckFailed(f"your z is not mu + sigma * eps with eps ~ N(0, 1): (z - mu) / sigma has mean "
                          f"{eps.mean():.3g} and standard deviation {eps.std():.3g}. Compute z with your "
                          "Sampling layer: z = Sampling()([mu, log_var]).")
    return passed("check_vae_encoder", 3)


def check_vae_decoder(build_decoder, latent_dim=3, hidden=(16,)):
    """build_decoder(latent_dim, hidden) -> Model: z (N, latent_dim) -> Bernoulli logits (N, 28, 28, 1)."""
    from course_lib import vae

    exercise = "Exercise 6 (build_decoder)"
    decoder = build_student_model(build_decoder, latent_dim, hidden, exercise=exercise)
    expect_io_shapes(decoder, (None, latent_dim), (None, 28, 28, 1), "your decoder",
                     hint="Input keras.Input((latent_dim,)); end with Dense(784) and Reshape((28, 28, 1)).")
    reference = vae.build_dense_decoder(latent_dim, hidden=hidden)
    z = np.random.default_rng(1).normal(size=(8, latent_dim)).astype(np.float32)
    got, want = outputs_with_same_random_weights(decoder, reference, z, "your decoder",
                                                 hint="Hidden Dense layers (relu), then Dense(784), then Reshape.")
    if np.allclose(got, 1 / (1 + np.exp(-want)), atol=1e-4):
        raise CheckFailed("your decoder ends in a sigmoid and returns probabilities. This lesson's decoder returns "
                          "the logits (no activation on the last Dense): the loss applies the sigmoid itself "
                          "(from_logits=True), which is more accurate, and decode_images applies it for pictures.")
    expect_close(got, want, "your decoder's logits for the same weights and input", atol=1e-4, rtol=1e-3,
                 hint="z -> Dense(units, relu) for each hidden size -> Dense(784) -> Reshape((28, 28, 1)).")
    return passed("check_vae_decoder", 2)


def _fmt(v):
    return np.array2string(np.asarray(v), precision=3)
