"""The lesson 01 checks pass the solutions, and fail stubs and plausible mistakes with specific messages."""
import itertools

import numpy as np
import pytest

from course_lib import autoregressive as ar
from course_lib.checks import CheckFailed, lesson01


def stub(*args):
    raise NotImplementedError("Exercise: not written yet")


def test_joint_probability_check():
    lesson01.check_joint_probability(ar.sprinkler_joint)
    with pytest.raises(CheckFailed, match="not implemented yet"):
        lesson01.check_joint_probability(stub)

    def no_sprinkler_factor(rain, sprinkler, grass_wet):
        p_g = ar.P_WET_GIVEN[(sprinkler, rain)]
        return ar.bernoulli_prob(ar.P_RAIN, rain) * (p_g if grass_wet else 1 - p_g)
    with pytest.raises(CheckFailed, match="left out p\\(sprinkler \\| rain\\)"):
        lesson01.check_joint_probability(no_sprinkler_factor)

    def swapped_condition(rain, sprinkler, grass_wet):  # looks up p(g | r, s) with the key reversed
        p_g = ar.P_WET_GIVEN[(rain, sprinkler)]
        p_s = ar.bernoulli_prob(ar.P_SPRINKLER_GIVEN_RAIN[rain], sprinkler)
        return ar.bernoulli_prob(ar.P_RAIN, rain) * p_s * (p_g if grass_wet else 1 - p_g)
    with pytest.raises(CheckFailed, match="for rain=False, sprinkler=True, grass_wet=False"):
        lesson01.check_joint_probability(swapped_condition)


def solution_conditional(joint, query, evidence):
    return ar.enumerate_probability(joint, query, evidence)


def test_conditional_probability_check():
    lesson01.check_conditional_probability(solution_conditional)
    with pytest.raises(CheckFailed, match="not implemented yet"):
        lesson01.check_conditional_probability(stub)

    def unnormalised(joint, query, evidence):  # P(q, e) instead of P(q | e)
        names = ("rain", "sprinkler", "grass_wet")
        total = 0.0
        for values in itertools.product([False, True], repeat=3):
            world = dict(zip(names, values))
            if all(world[k] == v for k, v in {**query, **evidence}.items()):
                total += joint(*values)
        return total
    with pytest.raises(CheckFailed, match="divide it by P\\(evidence\\)"):
        lesson01.check_conditional_probability(unnormalised)
    with pytest.raises(CheckFailed, match="uniform joint"):  # hard-coded answers fail on another joint
        lesson01.check_conditional_probability(
            lambda joint, query, evidence: solution_conditional(ar.sprinkler_joint, query, evidence))


def test_autoregressive_mask_check():
    lesson01.check_autoregressive_mask(ar.autoregressive_mask)
    with pytest.raises(CheckFailed, match="not implemented yet"):
        lesson01.check_autoregressive_mask(stub)
    with pytest.raises(CheckFailed, match="diagonal must be 0"):
        lesson01.check_autoregressive_mask(lambda n: np.triu(np.ones((n, n))))
    with pytest.raises(CheckFailed, match="transpose"):
        lesson01.check_autoregressive_mask(lambda n: np.tril(np.ones((n, n)), k=-1))
    with pytest.raises(CheckFailed, match="shape"):
        lesson01.check_autoregressive_mask(lambda n: np.triu(np.ones((n, n + 1)), k=1))
