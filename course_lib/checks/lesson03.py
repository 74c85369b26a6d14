"""Checks for lesson 03: the context autoencoder's loss on the masked region."""
import numpy as np

from course_lib.checks.core import CheckFailed, call_student, expect_close, passed


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
    exercise = "Exercise 1 (masked_reconstruction_loss)"
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
