"""lesson11 checks: pass on the solution, fail on the stub and on plausible wrong answers."""
import math

import keras
import numpy as np
import pytest

from course_lib import infogan
from course_lib.checks import CheckFailed, lesson11


def sample_codes_solution(batch_size, num_categories, num_continuous, rng):
    c_cat = np.eye(num_categories)[rng.integers(0, num_categories, batch_size)]
    return c_cat, rng.uniform(-1, 1, (batch_size, num_continuous))


def bound_solution(c_cat, q_cat):
    return np.mean(np.log(np.sum(c_cat * q_cat, axis=1))) + np.log(c_cat.shape[1])


def stub(*args):
    raise NotImplementedError("Exercise: not written yet")


# ----- Exercise 1: the codes -------------------------------------------------------------
def test_sample_codes_passes_on_the_solution(capsys):
    lesson11.check_sample_codes(sample_codes_solution)
    assert "PASSED check_sample_codes" in capsys.readouterr().out


def test_sample_codes_fails_on_the_stub():
    with pytest.raises(CheckFailed, match="Exercise 1 is not implemented"):
        lesson11.check_sample_codes(stub)


def test_sample_codes_fails_on_integer_categories():
    def integers(batch_size, num_categories, num_continuous, rng):
        return rng.integers(0, num_categories, batch_size), rng.uniform(-1, 1, (batch_size, num_continuous))

    with pytest.raises(CheckFailed, match="category numbers: turn them into one-hot rows"):
        lesson11.check_sample_codes(integers)


def test_sample_codes_fails_on_continuous_codes_in_zero_one():
    def zero_one(batch_size, num_categories, num_continuous, rng):
        c_cat, _ = sample_codes_solution(batch_size, num_categories, num_continuous, rng)
        return c_cat, rng.uniform(0, 1, (batch_size, num_continuous))

    with pytest.raises(CheckFailed, match=r"all >= 0 \(uniform on \[0, 1\]\?\)"):
        lesson11.check_sample_codes(zero_one)


def test_sample_codes_fails_on_normal_continuous_codes():
    def normal(batch_size, num_categories, num_continuous, rng):
        c_cat, _ = sample_codes_solution(batch_size, num_categories, num_continuous, rng)
        return c_cat, rng.normal(size=(batch_size, num_continuous))

    with pytest.raises(CheckFailed, match=r"leave \[-1, 1\] \(a normal distribution\?\)"):
        lesson11.check_sample_codes(normal)


def test_sample_codes_fails_when_one_category_is_never_drawn():
    def nine_of_ten(batch_size, num_categories, num_continuous, rng):
        c_cat = np.eye(num_categories)[rng.integers(0, num_categories - 1, batch_size)]
        return c_cat, rng.uniform(-1, 1, (batch_size, num_continuous))

    with pytest.raises(CheckFailed, match="uniform, each of the 10 categories"):
        lesson11.check_sample_codes(nine_of_ten)


def test_the_librarys_codes_pass_the_check():
    def library(batch_size, num_categories, num_continuous, rng):
        seed = keras.random.SeedGenerator(int(rng.integers(1000)))
        _, c_cat, c_cont = infogan.sample_latent(batch_size, 1, num_categories, num_continuous, seed=seed)
        return keras.ops.convert_to_numpy(c_cat), keras.ops.convert_to_numpy(c_cont)

    lesson11.check_sample_codes(library)


# ----- Exercise 2: the lower bound ----------------------------------------------------------
def test_mi_lower_bound_passes_on_the_solution_and_on_the_library(capsys):
    lesson11.check_mi_lower_bound(bound_solution)
    lesson11.check_mi_lower_bound(infogan.mi_lower_bound)
    assert capsys.readouterr().out.count("PASSED check_mi_lower_bound") == 2


def test_mi_lower_bound_fails_on_the_stub():
    with pytest.raises(CheckFailed, match="Exercise 2 is not implemented"):
        lesson11.check_mi_lower_bound(stub)


def test_mi_lower_bound_fails_without_the_entropy():
    def no_entropy(c_cat, q_cat):
        return np.mean(np.log(np.sum(c_cat * q_cat, axis=1)))

    with pytest.raises(CheckFailed, match=r"E\[log Q\(c \| x\)\] alone: add the entropy"):
        lesson11.check_mi_lower_bound(no_entropy)


def test_mi_lower_bound_fails_on_the_cross_entropy():
    def cross_entropy(c_cat, q_cat):
        return -np.mean(np.sum(c_cat * np.log(q_cat), axis=1))

    with pytest.raises(CheckFailed, match="The sign is flipped"):
        lesson11.check_mi_lower_bound(cross_entropy)


def test_mi_lower_bound_fails_on_a_sum_over_the_batch():
    def summed(c_cat, q_cat):
        return np.sum(np.log(np.sum(c_cat * q_cat, axis=1))) + math.log(c_cat.shape[1])

    with pytest.raises(CheckFailed, match="summed log Q over the batch"):
        lesson11.check_mi_lower_bound(summed)


def test_mi_lower_bound_fails_on_per_example_values():
    def per_example(c_cat, q_cat):
        return np.log(np.sum(c_cat * q_cat, axis=1)) + math.log(c_cat.shape[1])

    with pytest.raises(CheckFailed, match="should be one number"):
        lesson11.check_mi_lower_bound(per_example)


# ----- Exercise 3: the semi-supervised GAN's two losses ------------------------------------
def lse(logits):
    return np.logaddexp.reduce(logits, axis=1)


def ssgan_solution(logits_labelled, labels, logits_unlabelled, logits_fake):
    sup = np.mean(lse(logits_labelled) - logits_labelled[np.arange(len(labels)), labels])
    unsup = np.mean(np.logaddexp(0, -lse(logits_unlabelled))) + np.mean(np.logaddexp(0, lse(logits_fake)))
    return sup, unsup


def test_ssgan_losses_passes_on_the_solution_and_on_the_library(capsys):
    from course_lib import ssgan

    def library(logits_labelled, labels, logits_unlabelled, logits_fake):
        return (keras.ops.mean(ssgan.supervised_loss(labels, logits_labelled)),
                keras.ops.mean(ssgan.real_loss(logits_unlabelled)) + keras.ops.mean(ssgan.fake_loss(logits_fake)))

    lesson11.check_ssgan_losses(ssgan_solution)
    lesson11.check_ssgan_losses(library)
    assert capsys.readouterr().out.count("PASSED check_ssgan_losses") == 2


def test_ssgan_losses_fails_on_the_stub():
    with pytest.raises(CheckFailed, match="Exercise 3 is not implemented"):
        lesson11.check_ssgan_losses(stub)


def test_ssgan_losses_fails_on_a_k_plus_1_softmax_in_the_supervised_part():
    def k_plus_1(logits_labelled, labels, logits_unlabelled, logits_fake):
        extended = np.concatenate([logits_labelled, np.zeros((len(labels), 1))], axis=1)
        sup = np.mean(lse(extended) - logits_labelled[np.arange(len(labels)), labels])
        return sup, ssgan_solution(logits_labelled, labels, logits_unlabelled, logits_fake)[1]

    with pytest.raises(CheckFailed, match="softmax over the K class logits alone"):
        lesson11.check_ssgan_losses(k_plus_1)


def test_ssgan_losses_fails_on_a_flipped_fake_term():
    def flipped(logits_labelled, labels, logits_unlabelled, logits_fake):
        sup, _ = ssgan_solution(logits_labelled, labels, logits_unlabelled, logits_fake)
        return sup, np.mean(np.logaddexp(0, -lse(logits_unlabelled))) + np.mean(np.logaddexp(0, -lse(logits_fake)))

    with pytest.raises(CheckFailed, match=r"Your fake term is -log D\(G\(z\)\)"):
        lesson11.check_ssgan_losses(flipped)


def test_ssgan_losses_fails_without_the_fake_term():
    def real_only(logits_labelled, labels, logits_unlabelled, logits_fake):
        sup, _ = ssgan_solution(logits_labelled, labels, logits_unlabelled, logits_fake)
        return sup, np.mean(np.logaddexp(0, -lse(logits_unlabelled)))

    with pytest.raises(CheckFailed, match="misses the generated images' term"):
        lesson11.check_ssgan_losses(real_only)


# ----- lesson 11c, Exercise 1: minibatch-discrimination features -----------------------------
def minibatch_solution(h, T):
    m = np.einsum("na,abc->nbc", h, T)  # (N, B, C)
    return np.exp(-np.abs(m[:, None] - m[None, :]).sum(axis=-1)).sum(axis=1)  # (N, B)


def test_minibatch_features_passes_on_the_solution_and_on_the_library(capsys):
    from course_lib import minibatch

    lesson11.check_minibatch_features(minibatch_solution)
    lesson11.check_minibatch_features(minibatch.minibatch_features)
    assert capsys.readouterr().out.count("PASSED check_minibatch_features") == 2


def test_minibatch_features_matches_the_hand_computation():
    # h = 0, 1, 3 with T = 1: o_0 = 1 + e^-1 + e^-3, o_1 = e^-1 + 1 + e^-2, o_2 = e^-3 + e^-2 + 1
    want = [[1 + math.exp(-1) + math.exp(-3)], [math.exp(-1) + 1 + math.exp(-2)], [math.exp(-3) + math.exp(-2) + 1]]
    np.testing.assert_allclose(minibatch_solution(np.array([[0.0], [1.0], [3.0]]), np.ones((1, 1, 1))), want)


def test_minibatch_features_fails_on_the_stub():
    with pytest.raises(CheckFailed, match="Exercise 1 is not implemented"):
        lesson11.check_minibatch_features(stub)


def test_minibatch_features_fails_on_the_l2_distance():
    def l2(h, T):
        m = np.einsum("na,abc->nbc", h, T)
        return np.exp(-np.sqrt(((m[:, None] - m[None, :]) ** 2).sum(axis=-1))).sum(axis=1)

    with pytest.raises(CheckFailed, match=r"Euclidean \(L2\) distance"):
        lesson11.check_minibatch_features(l2)


def test_minibatch_features_fails_without_the_example_itself():
    def no_self(h, T):
        return minibatch_solution(h, T) - 1.0

    with pytest.raises(CheckFailed, match="j = i included"):
        lesson11.check_minibatch_features(no_self)


def test_minibatch_features_fails_on_a_mean_over_the_batch():
    def mean(h, T):
        return minibatch_solution(h, T) / len(h)

    with pytest.raises(CheckFailed, match="You averaged over j"):
        lesson11.check_minibatch_features(mean)


def test_minibatch_features_fails_on_a_distance_over_the_kernels_too():
    def over_kernels(h, T):
        m = np.einsum("na,abc->nbc", h, T)
        return np.exp(-np.abs(m[:, None] - m[None, :]).sum(axis=(-2, -1))).sum(axis=1)  # (N,)

    with pytest.raises(CheckFailed, match=r"one number per example and per kernel b, \(N, B\)"):
        lesson11.check_minibatch_features(over_kernels)


# ----- lesson 11c, Exercise 2: the historical-averaging penalty ------------------------------
def penalty_solution(weights, averages):
    return sum(np.sum((w - a) ** 2) for w, a in zip(weights, averages))


def test_historical_penalty_passes_on_the_solution_and_on_the_library(capsys):
    from course_lib import historical_averaging

    lesson11.check_historical_penalty(penalty_solution)
    lesson11.check_historical_penalty(historical_averaging.historical_penalty)
    assert capsys.readouterr().out.count("PASSED check_historical_penalty") == 2


def test_historical_penalty_fails_on_the_stub():
    with pytest.raises(CheckFailed, match="Exercise 2 is not implemented"):
        lesson11.check_historical_penalty(stub)


def test_historical_penalty_fails_on_the_norm_without_its_square():
    def norm(weights, averages):
        return np.sqrt(penalty_solution(weights, averages))

    with pytest.raises(CheckFailed, match=r"its \*square\*"):
        lesson11.check_historical_penalty(norm)


def test_historical_penalty_fails_on_a_mean():
    def mean(weights, averages):
        return np.mean([np.mean((w - a) ** 2) for w, a in zip(weights, averages)])

    with pytest.raises(CheckFailed, match="You averaged"):
        lesson11.check_historical_penalty(mean)


def test_historical_penalty_fails_on_the_first_tensor_only():
    def first(weights, averages):
        return np.sum((weights[0] - averages[0]) ** 2)

    with pytest.raises(CheckFailed, match="Only the first tensor counts"):
        lesson11.check_historical_penalty(first)
