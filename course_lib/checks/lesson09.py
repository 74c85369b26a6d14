"""Checks for lesson 09 (WGAN): W1 in 1-D, the critic loss, interpolates, the gradient penalty."""
import numpy as np

from course_lib.checks.core import CheckFailed, as_array, as_number, call_student, expect_close, passed


def check_wasserstein_1d(wasserstein_1d):
    """W1 between two equal-size 1-D samples: the mean of |sorted(a) - sorted(b)| (scipy is the reference)."""
    from scipy.stats import wasserstein_distance

    rng = np.random.default_rng(9)
    cases = [("two point masses 3 apart", np.zeros(5), np.full(5, 3.0)),
             ("N(0, 1) against N(2, 1)", rng.normal(0, 1, 400), rng.normal(2, 1, 400)),
             ("shuffled copies of one sample", np.arange(6.0), np.arange(6.0)[::-1]),
             ("uniform against exponential", rng.uniform(0, 1, 300), rng.exponential(1.0, 300))]
    for name, a, b in cases:
        got = as_number(call_student(wasserstein_1d, a.copy(), b.copy(), exercise="Exercise 1"), "W1")
        want = wasserstein_distance(a, b)
        if not np.isclose(got, want, rtol=1e-6, atol=1e-9):
            hint = ""
            if np.isclose(got, np.mean(np.abs(a - b)), rtol=1e-6):
                hint = (" You paired the samples in the order given: the optimal transport plan in 1-D pairs the "
                        "smallest with the smallest, i.e. compare the sorted samples.")
            raise CheckFailed(f"for {name} your W1 is {got:.5g}; it should be {want:.5g}.{hint}")
    return passed("check_wasserstein_1d", len(cases))


def check_critic_loss(critic_loss):
    """L_C = mean(C(x_fake)) - mean(C(x_real)): the negative of the critic's W1 estimate."""
    rng = np.random.default_rng(4)
    cases = [(np.array([1.0, 2.0, 3.0]), np.array([0.5, -0.5])), (rng.normal(3, 1, 16), rng.normal(-1, 2, 16)),
             (np.zeros(4), np.zeros(4))]
    for c_real, c_fake in cases:
        got = as_number(call_student(critic_loss, c_real.astype("float32"), c_fake.astype("float32"),
                                     exercise="Exercise 2"), "the critic loss")
        want = c_fake.mean() - c_real.mean()
        if not np.isclose(got, want, rtol=1e-5, atol=1e-6):
            hint = ""
            if np.isclose(got, -want, rtol=1e-5):
                hint = (" The sign is flipped: the critic *maximises* E[C(real)] - E[C(fake)], so its loss is "
                        "E[C(fake)] - E[C(real)].")
            raise CheckFailed(f"for C(x_real)={np.round(c_real[:4], 3)}..., C(x_fake)={np.round(c_fake[:4], 3)}... "
                              f"your loss is {got:.5g}; it should be {want:.5g}.{hint}")
    return passed("check_critic_loss", len(cases))


def check_interpolates(interpolates):
    """x_hat = alpha x_real + (1 - alpha) x_fake, one alpha per sample, for any sample shape."""
    rng = np.random.default_rng(5)
    for shape in [(3, 2), (4, 5, 5, 1)]:
        x_real, x_fake = rng.normal(size=shape).astype("float32"), rng.normal(size=shape).astype("float32")
        alpha = rng.uniform(size=shape[0]).astype("float32")
        got = as_array(call_student(interpolates, x_real, x_fake, alpha, exercise="Exercise 3"))
        a = alpha.reshape((-1,) + (1,) * (len(shape) - 1))
        want = a * x_real + (1 - a) * x_fake
        if got.shape == want.shape and np.allclose(got, (1 - a) * x_real + a * x_fake, atol=1e-5):
            raise CheckFailed("your interpolates weight x_real by (1 - alpha): x_hat should be "
                              "alpha * x_real + (1 - alpha) * x_fake")
        expect_close(got, want, f"interpolates of samples of shape {shape[1:]}", atol=1e-5,
                     hint="Reshape alpha (N,) to (N, 1, ..., 1) so that each sample gets its own alpha.")
    return passed("check_interpolates", 2)


def check_penalty_from_gradients(penalty_from_gradients):
    """lambda * mean over samples of (||g_i||_2 - 1)^2, the norm taken over all of a sample's entries."""
    rng = np.random.default_rng(8)
    cases = [("gradients of norm 5 (3-4-5)", np.array([[3.0, 4.0], [0.0, 5.0]]), 10.0),
             ("unit-norm gradients", np.eye(3), 10.0),
             ("gradients of norm 0.5 and 0.2", np.array([[0.3, 0.4], [0.0, 0.2]]), 10.0),
             ("image-shaped gradients", rng.normal(size=(4, 3, 3, 1)), 2.0)]
    for name, grads, weight in cases:
        got = as_number(call_student(penalty_from_gradients, grads.astype("float32"), weight, exercise="Exercise 4"),
                        "the penalty")
        norms = np.sqrt((grads.reshape(len(grads), -1) ** 2).sum(axis=1))
        want = weight * np.mean((norms - 1.0) ** 2)
        if not np.isclose(got, want, rtol=1e-4, atol=1e-6):
            hint = ""
            if np.isclose(got, weight * np.mean((norms ** 2 - 1.0) ** 2), rtol=1e-4):
                hint = " You used the squared norm: take the square root of the sum of squares."
            elif np.isclose(got, weight * np.mean(np.maximum(norms - 1.0, 0.0) ** 2), rtol=1e-4, atol=1e-6):
                hint = (" You penalised only norms above 1 (a one-sided max(0, ||g|| - 1)^2): WGAN-GP's penalty is "
                        "two-sided, (||g|| - 1)^2, so it also pulls gradient norms below 1 up towards 1.")
            elif np.isclose(got, weight * (np.sqrt((grads ** 2).sum()) - 1.0) ** 2, rtol=1e-4):
                hint = " You took one norm over the whole batch: each sample needs its own norm."
            raise CheckFailed(f"for {name} and lambda={weight} your penalty is {got:.5g}; it should be "
                              f"{want:.5g}.{hint}")
    return passed("check_penalty_from_gradients", len(cases))
