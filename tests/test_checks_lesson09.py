"""lesson09 checks: pass on the solution, fail on the stub and on plausible wrong answers."""
import numpy as np
import pytest
from keras import ops

from course_lib.checks import CheckFailed, lesson09


def wasserstein_1d(a, b):
    return float(np.mean(np.abs(np.sort(a) - np.sort(b))))


def critic_loss(c_real, c_fake):
    return ops.mean(c_fake) - ops.mean(c_real)


def interpolates(x_real, x_fake, alpha):
    alpha = ops.reshape(alpha, (-1,) + (1,) * (len(x_real.shape) - 1))
    return alpha * x_real + (1 - alpha) * x_fake


def penalty_from_gradients(grads, weight):
    norms = ops.sqrt(ops.sum(ops.square(grads), axis=tuple(range(1, len(grads.shape)))))
    return weight * ops.mean(ops.square(norms - 1.0))


def stub(*args, **kwargs):
    raise NotImplementedError("Exercise: not written yet")


@pytest.mark.parametrize("check, solution", [
    (lesson09.check_wasserstein_1d, wasserstein_1d),
    (lesson09.check_critic_loss, critic_loss),
    (lesson09.check_interpolates, interpolates),
    (lesson09.check_penalty_from_gradients, penalty_from_gradients),
])
def test_passes_on_the_solution_and_fails_on_the_stub(check, solution, capsys):
    check(solution)
    assert f"PASSED {check.__name__}" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match="is not implemented yet"):
        check(stub)


def test_w1_without_sorting_fails_with_a_hint():
    with pytest.raises(CheckFailed, match="N\\(0, 1\\) against N\\(2, 1\\).*sorted samples"):
        lesson09.check_wasserstein_1d(lambda a, b: float(np.mean(np.abs(a - b))))


def test_critic_loss_with_the_gan_sign_fails():
    with pytest.raises(CheckFailed, match="sign is flipped"):
        lesson09.check_critic_loss(lambda c_real, c_fake: ops.mean(c_real) - ops.mean(c_fake))


def test_interpolates_with_swapped_weights_or_one_alpha_fail():
    with pytest.raises(CheckFailed, match="weight x_real by \\(1 - alpha\\)"):
        lesson09.check_interpolates(lambda r, f, a: interpolates(f, r, a))
    with pytest.raises(CheckFailed, match="Reshape alpha"):
        lesson09.check_interpolates(lambda r, f, a: a[0] * r + (1 - a[0]) * f)


def test_penalty_with_squared_norm_or_one_batch_norm_fails():
    with pytest.raises(CheckFailed, match="squared norm"):
        lesson09.check_penalty_from_gradients(
            lambda g, w: w * ops.mean(ops.square(ops.sum(ops.square(g), axis=tuple(range(1, len(g.shape)))) - 1)))
    with pytest.raises(CheckFailed, match="whole batch"):
        lesson09.check_penalty_from_gradients(lambda g, w: w * (ops.sqrt(ops.sum(ops.square(g))) - 1) ** 2)


def test_a_one_sided_penalty_fails_on_gradients_with_norm_below_one():
    def one_sided(g, w):
        norms = ops.sqrt(ops.sum(ops.square(g), axis=tuple(range(1, len(g.shape)))))
        return w * ops.mean(ops.square(ops.maximum(norms - 1.0, 0.0)))

    with pytest.raises(CheckFailed, match=r"norm 0.5 and 0.2 .*your penalty is 0; it should be 4.45\. You penalised "
                                          r"only norms above 1"):
        lesson09.check_penalty_from_gradients(one_sided)
