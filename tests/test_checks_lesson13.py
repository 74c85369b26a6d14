"""The lesson 13 checks pass the solutions and fail stubs and plausible mistakes with specific messages."""
import pytest
from keras import ops

from course_lib import diffusion
from course_lib.checks import CheckFailed, lesson13


def stub(*args):
    raise NotImplementedError("Exercise: not written yet")


def test_q_sample_check():
    lesson13.check_q_sample(diffusion.q_sample)
    with pytest.raises(CheckFailed, match="not implemented yet"):
        lesson13.check_q_sample(stub)

    def per_example(abar_t):
        return ops.reshape(abar_t, (-1, 1, 1, 1))
    with pytest.raises(CheckFailed, match="square roots are missing"):  # abar instead of sqrt(abar)
        lesson13.check_q_sample(lambda x0, eps, a: per_example(a) * x0 + (1 - per_example(a)) * eps)
    with pytest.raises(CheckFailed, match="swapped"):
        lesson13.check_q_sample(
            lambda x0, eps, a: ops.sqrt(1 - per_example(a)) * x0 + ops.sqrt(per_example(a)) * eps)
    with pytest.raises(CheckFailed, match="should be sqrt\\(1 - abar_t\\) eps"):
        lesson13.check_q_sample(lambda x0, eps, a: ops.sqrt(per_example(a)) * x0 + (1 - per_example(a)) * eps)
    with pytest.raises(CheckFailed, match="broadcast along the images' last axis"):  # (N,) against (N, 4, 4, 1)
        lesson13.check_q_sample(lambda x0, eps, a: ops.sqrt(a) * x0 + ops.sqrt(1 - a) * eps)


def test_epsilon_loss_check():
    lesson13.check_epsilon_loss(diffusion.epsilon_loss)
    with pytest.raises(CheckFailed, match="not implemented yet"):
        lesson13.check_epsilon_loss(stub)
    with pytest.raises(CheckFailed, match="sum over the 784 pixels"):
        lesson13.check_epsilon_loss(lambda eps, pred: ops.sum(ops.square(eps - pred), axis=(1, 2, 3)))
    with pytest.raises(CheckFailed, match="one value per example"):
        lesson13.check_epsilon_loss(lambda eps, pred: ops.mean(ops.square(eps - pred)))
    with pytest.raises(CheckFailed, match="mean absolute error"):
        lesson13.check_epsilon_loss(lambda eps, pred: ops.mean(ops.abs(eps - pred), axis=(1, 2, 3)))


def test_ddim_step_check():
    lesson13.check_ddim_step(diffusion.ddim_step)
    with pytest.raises(CheckFailed, match="not implemented yet"):
        lesson13.check_ddim_step(stub)

    def no_sqrt(x_t, eps, abar_t, abar_prev):
        x0 = (x_t - ops.sqrt(1 - abar_t) * eps) / abar_t
        return ops.sqrt(abar_prev) * x0 + ops.sqrt(1 - abar_prev) * eps
    with pytest.raises(CheckFailed, match="divides by abar_t"):
        lesson13.check_ddim_step(no_sqrt)

    def no_renoise(x_t, eps, abar_t, abar_prev):
        return ops.sqrt(abar_prev) * (x_t - ops.sqrt(1 - abar_t) * eps) / ops.sqrt(abar_t)
    with pytest.raises(CheckFailed, match="sqrt\\(1 - abar_prev\\) eps_pred is missing"):
        lesson13.check_ddim_step(no_renoise)

    with pytest.raises(CheckFailed, match="swapped"):
        lesson13.check_ddim_step(lambda x_t, eps, abar_t, abar_prev: diffusion.ddim_step(x_t, eps, abar_prev, abar_t))

    def alpha_not_abar(x_t, eps, abar_t, abar_prev):  # one step's alpha_t = abar_t / abar_prev in place of abar_t
        return diffusion.ddim_step(x_t, eps, abar_t / abar_prev, abar_prev)
    with pytest.raises(CheckFailed, match="your x_prev"):
        lesson13.check_ddim_step(alpha_not_abar)
