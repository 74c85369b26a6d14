"""Checks for lesson 01: the Bayes-net factorization, enumeration, and the autoregressive mask."""
import itertools

import numpy as np

from course_lib.checks.core import CheckFailed, call_student, expect_equal, passed

# The lecture's tables, written out once more so the check does not trust the library.
P_RAIN = {True: 0.2, False: 0.8}
P_SPRINKLER_TRUE = {False: 0.4, True: 0.01}  # given rain
P_WET_TRUE = {(False, False): 0.0, (False, True): 0.8, (True, False): 0.9, (True, True): 0.99}  # given (s, r)


def _reference_joint(rain, sprinkler, grass_wet):
    p_s = P_SPRINKLER_TRUE[rain] if sprinkler else 1 - P_SPRINKLER_TRUE[rain]
    p_g = P_WET_TRUE[(sprinkler, rain)] if grass_wet else 1 - P_WET_TRUE[(sprinkler, rain)]
    return P_RAIN[rain] * p_s * p_g


def _uniform_joint(rain, sprinkler, grass_wet):
    return 1.0 / 8.0


def check_joint_probability(joint_probability):
    """joint_probability(rain, sprinkler, grass_wet) must equal p(r) p(s | r) p(g | s, r)."""
    worlds = list(itertools.product([False, True], repeat=3))
    for rain, sprinkler, grass_wet in worlds:
        got = call_student(joint_probability, rain, sprinkler, grass_wet, exercise="Exercise 1 (joint_probability)")
        want = _reference_joint(rain, sprinkler, grass_wet)
        if not np.isclose(float(got), want, atol=1e-9):
            hint = ""
            p_wet = P_WET_TRUE[(sprinkler, rain)]
            without_sprinkler = P_RAIN[rain] * (p_wet if grass_wet else 1 - p_wet)
            if np.isclose(float(got), without_sprinkler):
                hint = " You left out p(sprinkler | rain)."
            raise CheckFailed(
                f"for rain={rain}, sprinkler={sprinkler}, grass_wet={grass_wet} your joint is {float(got):.6g}; "
                f"it should be {want:.6g} = p(rain) p(sprinkler | rain) p(grass_wet | sprinkler, rain).{hint}")
    total = sum(float(joint_probability(*w)) for w in worlds)
    if not np.isclose(total, 1.0):
        raise CheckFailed(f"your joint sums to {total:.6g} over the 8 worlds; it must sum to 1.")
    return passed("check_joint_probability", len(worlds))


def check_conditional_probability(conditional_probability):
    """conditional_probability(joint, query, evidence) must return P(query | evidence) by enumeration."""
    cases = [  # (joint, query, evidence, answer): hand-computed from the tables
        (_reference_joint, {"rain": True}, {"grass_wet": True}, 0.16038 / 0.44838),
        (_reference_joint, {"sprinkler": True}, {"grass_wet": True}, 0.28998 / 0.44838),
        (_reference_joint, {"rain": True}, {"grass_wet": True, "sprinkler": True}, 0.00198 / 0.28998),
        (_reference_joint, {"grass_wet": True}, {}, 0.44838),
        (_uniform_joint, {"rain": True}, {"grass_wet": True}, 0.5),
    ]
    for joint, query, evidence, want in cases:
        got = call_student(conditional_probability, joint, query, evidence,
                           exercise="Exercise 2 (conditional_probability)")
        if not np.isclose(float(got), want, atol=1e-6):
            which = "the lecture's joint" if joint is _reference_joint else "a uniform joint (1/8 per world)"
            hint = ""
            p_evidence = sum(joint(*w) for w in itertools.product([False, True], repeat=3)
                             if all(dict(zip(("rain", "sprinkler", "grass_wet"), w))[k] == v
                                    for k, v in evidence.items()))
            if evidence and np.isclose(float(got), want * p_evidence):
                hint = " That is P(query, evidence); divide it by P(evidence)."
            raise CheckFailed(f"with {which}, P({query} | {evidence}) from your function is {float(got):.6g}; "
                              f"it should be {want:.6g}.{hint}")
    return passed("check_conditional_probability", len(cases))


def check_autoregressive_mask(autoregressive_mask):
    """autoregressive_mask(n) must be the (n, n) matrix with M[j, i] = 1 exactly when j < i."""
    for n in (1, 2, 3, 5, 8):
        got = np.asarray(call_student(autoregressive_mask, n, exercise="Exercise 3 (autoregressive_mask)"))
        want = np.triu(np.ones((n, n)), k=1)
        if got.shape != want.shape:
            raise CheckFailed(f"for n_dims={n} your mask has shape {got.shape}; it should be ({n}, {n}).")
        hint = ""
        if np.array_equal(got, np.triu(np.ones((n, n)))):
            hint = "The diagonal must be 0: output i may not see input i itself, or it learns to copy it."
        elif np.array_equal(got, want.T):
            hint = ("Your mask is the transpose: with logits = x @ (W * M), M[j, i] connects input j to "
                    "output i, so the ones belong above the diagonal (j < i).")
        elif np.array_equal(got, np.tril(np.ones((n, n)))):
            hint = "That lets each output see itself and every later input; keep only j < i (above the diagonal)."
        expect_equal(got.astype(float), want, f"for n_dims={n}", hint=hint)
    return passed("check_autoregressive_mask", 5)
