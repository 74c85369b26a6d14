"""lesson11b checks: pass on the solution, fail on the stub and on plausible wrong answers."""
import numpy as np
import pytest
from keras import ops
from scipy import ndimage

from course_lib import cyclegan
from course_lib.checks import CheckFailed, lesson11b


def stub(*args):
    raise NotImplementedError("Exercise: not written yet")


# ----- Exercise 1: thick strokes -----------------------------------------------------------------
def thicken_solution(images, size=3):
    r = size // 2
    padded = np.pad(images, ((0, 0), (r, r), (r, r), (0, 0)), constant_values=-np.inf)
    h, w = images.shape[1:3]
    return np.max([padded[:, i:i + h, j:j + w] for i in range(size) for j in range(size)], axis=0)


def shifts(images, size, pad_value):
    r = size // 2
    padded = np.pad(images, ((0, 0), (r, r), (r, r), (0, 0)), constant_values=pad_value)
    h, w = images.shape[1:3]
    return [padded[:, i:i + h, j:j + w] for i in range(size) for j in range(size)]


def test_thicken_passes_on_the_solution_and_on_the_library(capsys):
    lesson11b.check_thicken(thicken_solution)
    lesson11b.check_thicken(cyclegan.thicken)
    assert capsys.readouterr().out.count("PASSED check_thicken") == 2


def test_thicken_fails_on_the_stub():
    with pytest.raises(CheckFailed, match="Exercise 1 is not implemented"):
        lesson11b.check_thicken(stub)


def test_thicken_fails_on_erosion():
    with pytest.raises(CheckFailed, match="that erodes"):
        lesson11b.check_thicken(lambda x, size=3: np.min(shifts(x, size, np.inf), axis=0))


def test_thicken_fails_on_np_roll():
    def rolled(x, size=3):
        r = size // 2
        return np.max([np.roll(x, (i, j), axis=(1, 2)) for i in range(-r, r + 1) for j in range(-r, r + 1)], axis=0)

    with pytest.raises(CheckFailed, match="np.roll wraps around"):
        lesson11b.check_thicken(rolled)


def test_thicken_fails_on_zero_padding():
    with pytest.raises(CheckFailed, match="padding 0, brighter than the background"):
        lesson11b.check_thicken(lambda x, size=3: np.max(shifts(x, size, 0.0), axis=0))


def test_thicken_fails_on_a_window_across_the_batch():
    with pytest.raises(CheckFailed, match="spans neighbouring images"):
        lesson11b.check_thicken(lambda x, size=3: ndimage.maximum_filter(x, size=(size, size, size, 1)))


def test_thicken_fails_on_valid_windows_only():
    with pytest.raises(CheckFailed, match="thickening keeps the shape"):
        lesson11b.check_thicken(lambda x, size=3: thicken_solution(x, size)[:, 1:-1, 1:-1])


# ----- Exercise 2: the cycle-consistency loss ------------------------------------------------------
def cycle_solution(x, x_back):
    return ops.mean(ops.abs(x_back - x))


def test_cycle_loss_passes_on_the_solution_and_on_the_library(capsys):
    lesson11b.check_cycle_consistency_loss(cycle_solution)
    lesson11b.check_cycle_consistency_loss(cyclegan.cycle_loss)
    assert capsys.readouterr().out.count("PASSED check_cycle_consistency_loss") == 2


def test_cycle_loss_fails_on_the_stub():
    with pytest.raises(CheckFailed, match="Exercise 2 is not implemented"):
        lesson11b.check_cycle_consistency_loss(stub)


def test_cycle_loss_fails_on_l2():
    with pytest.raises(CheckFailed, match=r"squared the differences \(L2\)"):
        lesson11b.check_cycle_consistency_loss(lambda x, x_back: ops.mean(ops.square(x_back - x)))


def test_cycle_loss_fails_on_a_sum_over_the_pixels():
    def summed(x, x_back):
        return ops.mean(ops.sum(ops.abs(x_back - x), axis=(1, 2, 3)))

    with pytest.raises(CheckFailed, match="summed over the 36 values of each image"):
        lesson11b.check_cycle_consistency_loss(summed)


def test_cycle_loss_fails_on_the_absolute_value_of_the_mean():
    with pytest.raises(CheckFailed, match="must not cancel"):
        lesson11b.check_cycle_consistency_loss(lambda x, x_back: ops.abs(ops.mean(x_back - x)))


def test_cycle_loss_fails_on_a_per_example_loss():
    with pytest.raises(CheckFailed, match="should be one number"):
        lesson11b.check_cycle_consistency_loss(lambda x, x_back: ops.mean(ops.abs(x_back - x), axis=(1, 2, 3)))


def test_cycle_loss_fails_when_written_with_numpy():
    with pytest.raises(CheckFailed, match="fails inside a compiled training step"):
        lesson11b.check_cycle_consistency_loss(lambda x, x_back: np.mean(np.abs(x_back - x)))


# ----- Exercise 3: the generators' loss ------------------------------------------------------------
def l1(x, x_back):
    return np.mean(np.abs(x_back - x))


def generator_solution(d_b_fake, d_a_fake, a, a_back, b, b_back, cycle_weight):
    adversarial = np.mean((d_b_fake - 1) ** 2) + np.mean((d_a_fake - 1) ** 2)
    return adversarial + cycle_weight * (l1(a, a_back) + l1(b, b_back))


def test_generator_loss_passes_on_the_solution_and_on_the_library(capsys):
    def library(d_b_fake, d_a_fake, a, a_back, b, b_back, cycle_weight):
        adversarial = cyclegan.least_squares_loss(d_b_fake, 1.0) + cyclegan.least_squares_loss(d_a_fake, 1.0)
        return adversarial + cycle_weight * (cyclegan.cycle_loss(a, a_back) + cyclegan.cycle_loss(b, b_back))

    lesson11b.check_generator_loss(generator_solution)
    lesson11b.check_generator_loss(library)
    assert capsys.readouterr().out.count("PASSED check_generator_loss") == 2


def test_generator_loss_fails_on_the_stub():
    with pytest.raises(CheckFailed, match="Exercise 3 is not implemented"):
        lesson11b.check_generator_loss(stub)


def test_generator_loss_fails_with_lambda_on_the_adversarial_terms():
    def swapped(d_b_fake, d_a_fake, a, a_back, b, b_back, cycle_weight):
        adversarial = np.mean((d_b_fake - 1) ** 2) + np.mean((d_a_fake - 1) ** 2)
        return cycle_weight * adversarial + l1(a, a_back) + l1(b, b_back)

    with pytest.raises(CheckFailed, match="lambda multiplies the cycle terms"):
        lesson11b.check_generator_loss(swapped)


def test_generator_loss_fails_without_the_b_to_a_direction():
    def one_way(d_b_fake, d_a_fake, a, a_back, b, b_back, cycle_weight):
        return np.mean((d_b_fake - 1) ** 2) + cycle_weight * (l1(a, a_back) + l1(b, b_back))

    with pytest.raises(CheckFailed, match=r"B -> A needs its adversarial term"):
        lesson11b.check_generator_loss(one_way)


def test_generator_loss_fails_with_one_cycle_only():
    def one_cycle(d_b_fake, d_a_fake, a, a_back, b, b_back, cycle_weight):
        return np.mean((d_b_fake - 1) ** 2) + np.mean((d_a_fake - 1) ** 2) + cycle_weight * l1(a, a_back)

    with pytest.raises(CheckFailed, match="Both cycles count"):
        lesson11b.check_generator_loss(one_cycle)


def test_generator_loss_fails_with_the_discriminators_target():
    def target_zero(d_b_fake, d_a_fake, a, a_back, b, b_back, cycle_weight):
        return np.mean(d_b_fake ** 2) + np.mean(d_a_fake ** 2) + cycle_weight * (l1(a, a_back) + l1(b, b_back))

    with pytest.raises(CheckFailed, match="target 1"):
        lesson11b.check_generator_loss(target_zero)
