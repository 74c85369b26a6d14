import numpy as np
import pytest

from course_lib.checks import CheckFailed
from course_lib.checks import lesson00


def stub(*args):
    raise NotImplementedError("Exercise 1: `f` is not written yet")


def test_sample_normal_check():
    lesson00.check_sample_normal(lambda mu, sigma, eps: mu + sigma * eps)
    with pytest.raises(CheckFailed, match="not implemented yet"):
        lesson00.check_sample_normal(stub)
    with pytest.raises(CheckFailed, match="variance sigma\\*\\*2"):
        lesson00.check_sample_normal(lambda mu, sigma, eps: mu + sigma**2 * eps)
    with pytest.raises(CheckFailed, match="for mu=3.0, sigma=1.0"):
        lesson00.check_sample_normal(lambda mu, sigma, eps: sigma * eps)  # forgot the shift


def test_ring_map_check():
    lesson00.check_ring_map(lambda z: z / 10 + z / np.linalg.norm(z, axis=1, keepdims=True))
    with pytest.raises(CheckFailed, match="not implemented yet"):
        lesson00.check_ring_map(stub)
    with pytest.raises(CheckFailed, match="norm of the whole array"):
        lesson00.check_ring_map(lambda z: z / 10 + z / np.linalg.norm(z))
    with pytest.raises(CheckFailed, match="squared norm"):
        lesson00.check_ring_map(lambda z: z / 10 + z / np.sum(z**2, axis=1, keepdims=True))


def test_a_passing_check_prints_one_line_and_returns_nothing(capsys):
    # A check cell should show "PASSED ..." and nothing else: a returned True would be echoed as Out[n].
    result = lesson00.check_sample_normal(lambda mu, sigma, eps: mu + sigma * eps)
    assert result is None
    assert capsys.readouterr().out.startswith("PASSED check_sample_normal")
