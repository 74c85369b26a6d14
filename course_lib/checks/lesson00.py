"""Checks for lesson 00: sampling by transforming N(0, 1), and the ring mapping."""
import numpy as np

from course_lib.checks.core import CheckFailed, call_student, expect_close, passed


def check_sample_normal(sample_normal):
    """sample_normal(mu, sigma, eps) must return mu + sigma * eps."""
    eps = np.array([-1.0, 0.0, 0.5, 2.0])
    for mu, sigma in ((0.0, 1.0), (3.0, 1.0), (0.0, 2.0), (-1.0, 0.5)):
        got = call_student(sample_normal, mu, sigma, eps, exercise="Exercise 1 (sample_normal)")
        hint = ""
        if np.allclose(np.asarray(got, float), mu + sigma**2 * eps):
            hint = "You scaled by the variance sigma**2; the standard deviation sigma is what stretches eps."
        elif np.allclose(np.asarray(got, float), (eps - mu) / sigma):
            hint = "That is standardisation (x - mu) / sigma, the inverse map: go from eps to x, not from x to eps."
        expect_close(got, mu + sigma * eps, f"for mu={mu}, sigma={sigma}, eps={eps.tolist()}", hint=hint)
    big = call_student(sample_normal, 2.0, 3.0, np.random.default_rng(0).standard_normal(200_000),
                       exercise="Exercise 1 (sample_normal)")
    if abs(np.mean(big) - 2.0) > 0.05 or abs(np.std(big) - 3.0) > 0.05:
        raise CheckFailed(f"200,000 samples with mu=2, sigma=3 have mean {np.mean(big):.3f} and std "
                          f"{np.std(big):.3f}; they should be close to 2 and 3.")
    return passed("check_sample_normal", 5)


def check_ring_map(ring_map):
    """ring_map(z) must return z / 10 + z / ||z|| with the norm taken per row."""
    z = np.array([[3.0, 4.0], [0.0, -2.0], [0.1, 0.0]])
    norms = np.linalg.norm(z, axis=1, keepdims=True)  # (N, 1): one norm per sample
    want = z / 10 + z / norms
    got = call_student(ring_map, z, exercise="Exercise 2 (ring_map)")
    got_a = np.asarray(got, dtype=float)
    hint = ""
    if got_a.shape == want.shape and np.allclose(got_a, z / 10 + z / np.linalg.norm(z)):
        hint = ("You divided by the norm of the whole array; each sample z_i needs its own norm "
                "(np.linalg.norm(z, axis=1, keepdims=True)).")
    elif got_a.shape == want.shape and np.allclose(got_a, z / 10 + z / np.sum(z**2, axis=1, keepdims=True)):
        hint = "You divided by the squared norm ||z||^2; divide by ||z|| itself."
    expect_close(got, want, "for z = [[3, 4], [0, -2], [0.1, 0]]", hint=hint)
    radii = np.linalg.norm(np.asarray(ring_map(np.random.default_rng(1).standard_normal((1000, 2))), float), axis=1)
    if radii.min() < 1.0:
        raise CheckFailed(f"some mapped points have radius {radii.min():.3f} < 1; every g(z) should lie outside "
                          f"the unit circle, since ||g(z)|| = ||z||/10 + 1.")
    return passed("check_ring_map", 4)
