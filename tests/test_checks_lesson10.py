"""The lesson 10 checks pass the solutions and fail stubs and plausible mistakes with specific messages."""
import numpy as np
import pytest
import scipy.linalg

from course_lib.checks import CheckFailed, lesson10


def stub(*args):
    raise NotImplementedError("Exercise: not written yet")


def safe_log(p):
    return np.log(np.where(p > 0, p, 1.0))


def solution_inception_score(probs):
    p_y = probs.mean(axis=0)
    kl = np.sum(probs * (safe_log(probs) - safe_log(p_y)), axis=1)
    return np.exp(kl.mean())


def solution_frechet(mu1, sigma1, mu2, sigma2):
    covmean = scipy.linalg.sqrtm(sigma1 @ sigma2).real
    return np.sum((mu1 - mu2) ** 2) + np.trace(sigma1 + sigma2 - 2 * covmean)


def test_inception_score_check():
    lesson10.check_inception_score(solution_inception_score)
    with pytest.raises(CheckFailed, match="not implemented yet"):
        lesson10.check_inception_score(stub)


def test_inception_score_check_names_the_mistake():
    naive_log = lambda p: np.exp(np.mean(np.sum(p * (np.log(p) - np.log(p.mean(0))), axis=1)))  # noqa: E731
    with np.errstate(divide="ignore", invalid="ignore"), pytest.raises(CheckFailed, match="0 \\* log 0"):
        lesson10.check_inception_score(naive_log)
    with pytest.raises(CheckFailed, match="exponential"):
        lesson10.check_inception_score(lambda p: np.log(solution_inception_score(p)))
    with pytest.raises(CheckFailed, match="for identical predictions .* your Inception score: your result is 1.1; "
                                          "it should be 1"):
        lesson10.check_inception_score(lambda p: solution_inception_score(p) + 0.1)
    with pytest.raises(CheckFailed, match="one number"):
        lesson10.check_inception_score(lambda p: np.full(3, solution_inception_score(p)))


def test_frechet_check():
    lesson10.check_frechet_distance(solution_frechet)
    with pytest.raises(CheckFailed, match="not implemented yet"):
        lesson10.check_frechet_distance(stub)


def test_frechet_check_names_the_mistake():
    with pytest.raises(CheckFailed, match="only \\|\\|mu1 - mu2\\|\\|\\^2"):
        lesson10.check_frechet_distance(lambda m1, s1, m2, s2: np.sum((m1 - m2) ** 2))
    with pytest.raises(CheckFailed, match="factor 2"):
        lesson10.check_frechet_distance(
            lambda m1, s1, m2, s2: np.sum((m1 - m2) ** 2) + np.trace(s1 + s2 - scipy.linalg.sqrtm(s1 @ s2).real))
    with np.errstate(invalid="ignore"), pytest.raises(CheckFailed, match="element-wise"):
        lesson10.check_frechet_distance(
            lambda m1, s1, m2, s2: np.sum((m1 - m2) ** 2) + np.trace(s1 + s2 - 2 * np.sqrt(s1 @ s2)))
    with pytest.raises(CheckFailed, match="complex"):
        lesson10.check_frechet_distance(
            lambda m1, s1, m2, s2: solution_frechet(m1, s1, m2, s2) + 0j * scipy.linalg.sqrtm(-np.eye(2))[0, 0])
