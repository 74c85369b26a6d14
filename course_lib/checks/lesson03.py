"""Checks for lesson 03: the dense autoencoder's encoder and decoder, and the context autoencoder's
loss on the masked region."""
import numpy as np

from course_lib.checks.core import CheckFailed, call_student, expect_close, passed
from course_lib.checks.models import build_student_model, expect_io_shapes, outputs_with_same_random_weights

HIDDEN = (32, 16)  # two sizes, so that a decoder that does not mirror the encoder shows


def check_encoder(build_encoder, bottleneck_dim=3):
    """build_encoder(bottleneck_dim, hidden) -> Model: x (N, 28, 28, 1) -> code (N, bottleneck_dim)."""
    from course_lib import autoencoders as ae

    encoder = build_student_model(build_encoder, bottleneck_dim, HIDDEN, exercise="Exercise 1 (build_encoder)")
    expect_io_shapes(encoder, (None, 28, 28, 1), (None, bottleneck_dim), "your encoder",
                     hint="Input keras.Input((28, 28, 1)), Flatten, the hidden Dense layers, Dense(bottleneck_dim).")
    _, reference, _ = ae.build_dense_autoencoder(bottleneck_dim, hidden=HIDDEN)
    x = np.random.default_rng(0).random((8, 28, 28, 1)).astype(np.float32)
    got, want = outputs_with_same_random_weights(
        encoder, reference, x, "your encoder",
        hint=f"With hidden={HIDDEN}: Flatten, Dense({HIDDEN[0]}, relu), Dense({HIDDEN[1]}, relu), "
             f"Dense({bottleneck_dim}).")
    if np.allclose(got, np.maximum(want, 0), atol=1e-4) and not np.allclose(got, want, atol=1e-4):
        raise CheckFailed("your code is never negative: the bottleneck layer has a relu. Leave the code layer "
                          "linear (no activation), so the code can use every direction of R^d.")
    expect_close(got, want, "your code for the same weights and input", atol=1e-4, rtol=1e-3,
                 hint="Hidden layers with relu, the bottleneck Dense(bottleneck_dim) without activation.")
    return passed("check_encoder", 2)


def check_decoder(build_decoder, bottleneck_dim=3):
    """build_decoder(bottleneck_dim, hidden) -> Model: code (N, bottleneck_dim) -> x_hat (N, 28, 28, 1) in (0, 1)."""
    from course_lib import autoencoders as ae

    decoder = build_student_model(build_decoder, bottleneck_dim, HIDDEN, exercise="Exercise 2 (build_decoder)")
    expect_io_shapes(decoder, (None, bottleneck_dim), (None, 28, 28, 1), "your decoder",
                     hint="Input keras.Input((bottleneck_dim,)); end with Dense(784, sigmoid) and "
                          "Reshape((28, 28, 1)).")
    _, _, reference = ae.build_dense_autoencoder(bottleneck_dim, hidden=HIDDEN)
    code = np.random.default_rng(1).normal(size=(8, bottleneck_dim)).astype(np.float32)
    got, want = outputs_with_same_random_weights(
        decoder, reference, code, "your decoder",
        hint=f"The decoder mirrors the encoder: with hidden={HIDDEN} it is Dense({HIDDEN[1]}, relu), "
             f"Dense({HIDDEN[0]}, relu), Dense(784, sigmoid), Reshape((28, 28, 1)).")
    if np.allclose(1 / (1 + np.exp(-got)), want, atol=1e-4):
        raise CheckFailed("your decoder's last layer has no sigmoid: its outputs are not in (0, 1). End with "
                          "Dense(784, activation='sigmoid'), since the pixels are grey levels in [0, 1] and the "
                          "loss is a binary cross-entropy on probabilities.")
    expect_close(got, want, "your reconstruction for the same weights and code", atol=1e-4, rtol=1e-3,
                 hint="Hidden layers with relu in reverse order, then Dense(784, sigmoid), then Reshape.")
    return passed("check_decoder", 2)


def _reference(x, x_hat, mask):
    bce = -(x * np.log(x_hat) + (1 - x) * np.log(1 - x_hat))  # per pixel
    return (mask * bce).reshape(len(x), -1).sum(axis=1) / mask.reshape(len(x), -1).sum(axis=1)


def _case(seed, n=3, patch=6):
    rng = np.random.default_rng(seed)
    x = (rng.random((n, 28, 28, 1)) > 0.5).astype(np.float32)
    x_hat = rng.uniform(0.05, 0.95, size=x.shape).astype(np.float32)
    mask = np.zeros_like(x)
    for m, (r, c) in zip(mask, rng.integers(0, 28 - patch, size=(n, 2))):
        m[r:r + patch, c:c + patch] = 1.0
    return x, x_hat, mask


def check_masked_reconstruction_loss(masked_reconstruction_loss):
    """masked_reconstruction_loss(x, x_hat, mask) -> (N,): mean BCE over the masked pixels of each image."""
    exercise = "Exercise 3 (masked_reconstruction_loss)"
    for seed in range(3):
        x, x_hat, mask = _case(seed)
        got = np.asarray(call_student(masked_reconstruction_loss, x, x_hat, mask, exercise=exercise), np.float64)
        want = _reference(x, x_hat, mask)
        if got.shape != want.shape:
            raise CheckFailed(f"your loss has shape {got.shape}; it should have shape {want.shape}: "
                              "one value per image (sum over that image's pixels, not over the batch).")
        everywhere = _reference(x, x_hat, np.ones_like(mask))
        if np.allclose(got, everywhere, rtol=1e-4):
            raise CheckFailed("your loss counts every pixel of the image; it should only count the masked "
                              "region (multiply the per-pixel cross-entropy by the mask).")
        over_all_pixels = want * mask.reshape(len(x), -1).sum(axis=1) / 784.0
        if np.allclose(got, over_all_pixels, rtol=1e-4):
            raise CheckFailed("you divided by all 784 pixels; divide by the number of masked pixels "
                              "(the sum of the mask) so the loss does not depend on the size of the hole.")
        expect_close(got, want, f"masked loss for test case {seed + 1}", atol=1e-4, rtol=1e-4,
                     hint="Use bce = -(x log x_hat + (1 - x) log(1 - x_hat)), keep it where mask = 1, "
                          "and average over the masked pixels of each image.")
    return passed("check_masked_reconstruction_loss", 3)
