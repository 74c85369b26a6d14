"""The lesson 02 checks pass the solutions, and fail stubs and plausible mistakes with specific messages."""
import math

import numpy as np
import pytest

from course_lib import pixelcnn
from course_lib.checks import CheckFailed, lesson02


def stub(*args):
    raise NotImplementedError("Exercise: not written yet")


def test_causal_mask_check():
    lesson02.check_causal_mask(pixelcnn.causal_mask)
    with pytest.raises(CheckFailed, match="not implemented yet"):
        lesson02.check_causal_mask(stub)
    with pytest.raises(CheckFailed, match="The centre must be 0 in mask A"):
        lesson02.check_causal_mask(lambda k, t: pixelcnn.causal_mask(k, "B"))
    with pytest.raises(CheckFailed, match="The centre must be 1 in mask B"):
        lesson02.check_causal_mask(lambda k, t: pixelcnn.causal_mask(k, "A"))

    def sees_right_neighbour(k, mask_type):  # off by one in the centre row
        mask = pixelcnn.causal_mask(k, mask_type)
        if k > 1:
            mask[k // 2, k // 2 + 1] = 1.0
        return mask
    with pytest.raises(CheckFailed, match="right of the centre in the centre row must be 0"):
        lesson02.check_causal_mask(sees_right_neighbour)
    with pytest.raises(CheckFailed, match="row below the centre must be 0"):
        lesson02.check_causal_mask(lambda k, t: pixelcnn.causal_mask(k, t).T)  # column order


def test_bits_per_dim_check():
    lesson02.check_bits_per_dim(pixelcnn.nats_to_bits_per_dim)
    with pytest.raises(CheckFailed, match="not implemented yet"):
        lesson02.check_bits_per_dim(stub)
    with pytest.raises(CheckFailed, match="divide by ln 2 as well"):
        lesson02.check_bits_per_dim(lambda nats, n: nats / n)
    with pytest.raises(CheckFailed, match="bits per image"):
        lesson02.check_bits_per_dim(lambda nats, n: nats / math.log(2.0))
    with pytest.raises(CheckFailed, match="multiplied by ln 2"):
        lesson02.check_bits_per_dim(lambda nats, n: nats * math.log(2.0) / n)
    with pytest.raises(CheckFailed, match="ln 10"):
        lesson02.check_bits_per_dim(lambda nats, n: nats / (n * np.log(10.0)))
