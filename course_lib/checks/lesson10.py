"""Checks for lesson 10 (judging generators): the Inception score and the Fréchet distance."""
import numpy as np

from course_lib import metrics
from course_lib.checks.core import CheckFailed, call_student, expect_close, passed


def _softmax_rows(rng, n, c, scale=3.0):
    logits = rng.normal(size=(n, c)) * scale
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _as_float(value, what, hint=""):
    if hasattr(value, "numpy"):
        value = value.numpy()
    value = np.asarray(value)
    if np.iscomplexobj(value):
        raise CheckFailed(f"{what}: your result is complex ({value}). {hint}".strip())
    if value.size != 1:
        raise CheckFailed(f"{what}: return one number; you returned an array of shape {value.shape}.")
    return float(value.reshape(()))


# ----------------------------------------------------------------------------- Exercise 1

def check_inception_score(student_fn):
    """`student_fn(probs)` -> IS of one set of (N, C) class probabilities (no splits)."""
    rng = np.random.default_rng(0)
    one_hot = np.eye(10)[np.arange(50) % 10]
    cases = [
        ("identical predictions [0.5, 0.3, 0.2] for every image", np.tile([0.5, 0.3, 0.2], (20, 1))),
        ("random softmax predictions over 10 classes", _softmax_rows(rng, 60, 10)),
        ("confident (one-hot) predictions spread evenly over 10 classes", one_hot),
        ("confident predictions that are all class 3", np.eye(10)[np.full(30, 3)]),
    ]
    for what, probs in cases:
        want = metrics.inception_score(probs, splits=1)[0]
        got = call_student(student_fn, probs.copy(), exercise="Exercise 1 (Inception score)")
        got = _as_float(got, f"for {what}")
        if not np.isfinite(got):
            raise CheckFailed(
                f"for {what} your Inception score is {got}; it should be {want:.6g}. One-hot predictions "
                f"contain zeros and 0 * log 0 gives NaN in NumPy: treat p log p as 0 where p = 0 "
                f"(e.g. np.log(np.where(p > 0, p, 1.0))).")
        expect_close(got, want, f"for {what}, your Inception score", atol=1e-6, rtol=1e-6,
                     hint=_inception_hint(probs, got))
    return passed("check_inception_score", len(cases))


def _inception_hint(probs, got):
    p_y = probs.mean(axis=0)
    safe = lambda p: np.log(np.where(p > 0, p, 1.0))  # noqa: E731
    mean_kl = float(np.mean(np.sum(probs * (safe(probs) - safe(p_y)), axis=1)))
    if np.isclose(got, mean_kl, atol=1e-6):
        return "That is E_x KL(p(y|x) || p(y)) itself: the score is its exponential."
    reversed_kl = float(np.mean(np.sum(p_y * (safe(p_y) - np.log(np.maximum(probs, 1e-300))), axis=1)))
    if np.isfinite(reversed_kl) and np.isclose(got, np.exp(reversed_kl), rtol=1e-6):
        return "You computed KL(p(y) || p(y|x)); the KL goes the other way: KL(p(y|x) || p(y))."
    return ("IS = exp(mean over images of sum_y p(y|x) (log p(y|x) - log p(y))), "
            "with p(y) the mean of p(y|x) over images.")


# ----------------------------------------------------------------------------- Exercise 2

def check_frechet_distance(student_fn):
    """`student_fn(mu1, sigma1, mu2, sigma2)` -> the Fréchet distance between two Gaussians."""
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(5, 5)), rng.normal(size=(5, 5))
    full1, full2 = a @ a.T / 5 + 0.1 * np.eye(5), b @ b.T / 5 + 0.1 * np.eye(5)
    mu = rng.normal(size=5)
    cases = [
        ("two identical Gaussians", mu, full1, mu, full1),
        ("means 0 vs 1 in 4 dimensions, covariances diag(1, 4, 9, 16) vs diag(4, 4, 1, 1)",
         np.zeros(4), np.diag([1.0, 4, 9, 16]), np.ones(4), np.diag([4.0, 4, 1, 1])),
        ("equal full covariances and different means", mu, full1, mu + 1.5, full1),
        ("random full covariances in 5 dimensions", mu, full1, -mu, full2),
    ]
    for what, mu1, s1, mu2, s2 in cases:
        want = metrics.frechet_distance(mu1, s1, mu2, s2)
        got = call_student(student_fn, mu1.copy(), s1.copy(), mu2.copy(), s2.copy(),
                           exercise="Exercise 2 (Fréchet distance)")
        got = _as_float(got, f"for {what}", hint="Keep the real part of the matrix square root (covmean.real).")
        expect_close(got, want, f"for {what}, your distance", atol=1e-5, rtol=1e-5,
                     hint=_frechet_hint(got, mu1, s1, mu2, s2))
    return passed("check_frechet_distance", len(cases))


def _frechet_hint(got, mu1, s1, mu2, s2):
    mean_term = float(np.sum((mu1 - mu2) ** 2))
    trace_s = np.trace(s1) + np.trace(s2)
    root = np.real(np.trace(_matrix_sqrt(s1 @ s2)))
    if not np.isfinite(got):
        return ("np.sqrt of a matrix with negative entries gives NaN: use the matrix square root "
                "scipy.linalg.sqrtm, not the element-wise np.sqrt.")
    if np.isclose(got, mean_term, atol=1e-6):
        return "That is only ||mu1 - mu2||^2: add Tr(S1 + S2 - 2 (S1 S2)^(1/2))."
    if np.isclose(got, mean_term + trace_s - root, atol=1e-6):
        return "The square-root term comes with a factor 2: - 2 Tr((S1 S2)^(1/2))."
    if np.isclose(got, np.sqrt(max(mean_term, 0.0)) + trace_s - 2 * root, atol=1e-6):
        return "The mean term is the squared distance ||mu1 - mu2||^2, not the distance."
    if np.isclose(got, mean_term + trace_s - 2 * np.trace(np.sqrt(np.abs(s1 @ s2))), atol=1e-6):
        return "np.sqrt is element-wise; use the matrix square root scipy.linalg.sqrtm."
    return "d^2 = ||mu1 - mu2||^2 + Tr(S1) + Tr(S2) - 2 Tr(sqrtm(S1 @ S2)), with a matrix product and square root."


def _matrix_sqrt(m):
    import scipy.linalg

    return scipy.linalg.sqrtm(m)
