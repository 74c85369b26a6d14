"""Checks for lesson 13: the forward process q_sample, the epsilon loss and the DDIM update."""
import numpy as np

from course_lib.checks.core import CheckFailed, call_student, expect_close, passed


def _to_numpy(value):
    if hasattr(value, "numpy"):
        value = value.numpy()
    return np.asarray(value, dtype=np.float64)


def _call(fn, *args, exercise, hint):
    """call_student, and any other error of the student's code as a readable message."""
    try:
        return _to_numpy(call_student(fn, *args, exercise=exercise))
    except CheckFailed:
        raise
    except Exception as err:  # noqa: BLE001 - any backend's broadcasting error, shown to the student
        raise CheckFailed(f"{exercise} raised {type(err).__name__}: {str(err).splitlines()[0][:200]}. {hint}") from None


def _images(rng, n=3):
    return rng.uniform(-1, 1, (n, 4, 4, 1)).astype(np.float32), rng.standard_normal((n, 4, 4, 1)).astype(np.float32)


def check_q_sample(q_sample):
    """q_sample(x0, eps, abar_t) -> x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps, abar_t (N,) one per example."""
    exercise = "Exercise 1 (q_sample)"
    x0, eps = _images(np.random.default_rng(0))
    abar = np.array([0.9, 0.5, 0.04], np.float32)
    got = _call(q_sample, x0, eps, abar, exercise=exercise,
                hint="abar_t has one value per example, shape (N,): reshape it to (N, 1, 1, 1) before multiplying "
                     "with the images.")
    a = abar.reshape(-1, 1, 1, 1).astype(np.float64)
    want = np.sqrt(a) * x0 + np.sqrt(1 - a) * eps
    if got.shape != want.shape and got.shape[-1:] == abar.shape:
        raise CheckFailed(f"your x_t has shape {got.shape}; it should be {want.shape}: abar_t (one value per example, "
                          "shape (N,)) was broadcast along the images' last axis. Reshape it to (N, 1, 1, 1) first.")
    if got.shape == want.shape:
        if np.allclose(got, a * x0 + (1 - a) * eps, atol=1e-5):
            raise CheckFailed("your x_t is abar_t x0 + (1 - abar_t) eps: the square roots are missing. abar_t and "
                              "1 - abar_t are the *variances* of the two parts; scale x0 by sqrt(abar_t) and eps by "
                              "sqrt(1 - abar_t), so that the variances add up to 1.")
        if np.allclose(got, np.sqrt(1 - a) * x0 + np.sqrt(a) * eps, atol=1e-5):
            raise CheckFailed("your x_t is sqrt(1 - abar_t) x0 + sqrt(abar_t) eps: the two scales are swapped. abar_t "
                              "is the part of the signal that survives (near 1 at the first step), so x0 gets "
                              "sqrt(abar_t) and the noise gets sqrt(1 - abar_t).")
        if np.allclose(got, np.sqrt(a) * x0 + (1 - a) * eps, atol=1e-5):
            raise CheckFailed("your noise term is (1 - abar_t) eps; it should be sqrt(1 - abar_t) eps (the noise's "
                              "standard deviation, not its variance).")
    expect_close(got, want, "your x_t", atol=1e-5, rtol=1e-5,
                 hint="x_t = sqrt(abar_t) * x0 + sqrt(1 - abar_t) * eps, with abar_t reshaped to (N, 1, 1, 1).")
    return passed("check_q_sample", 3)


def check_epsilon_loss(epsilon_loss):
    """epsilon_loss(eps, eps_pred) -> (N,): the mean over each example's pixels of (eps - eps_pred)^2."""
    exercise = "Exercise 2 (epsilon_loss)"
    rng = np.random.default_rng(1)
    eps = rng.standard_normal((4, 28, 28, 1)).astype(np.float32)
    cases = [("eps_pred = 0 (an untrained network)", np.zeros_like(eps)),
             ("a random eps_pred", rng.standard_normal(eps.shape).astype(np.float32))]
    for name, eps_pred in cases:
        got = _call(epsilon_loss, eps, eps_pred, exercise=exercise, hint="Use keras.ops on the two arrays.")
        diff = eps.astype(np.float64) - eps_pred
        want = np.mean(diff ** 2, axis=(1, 2, 3))
        if got.shape != want.shape:
            raise CheckFailed(f"for {name} your loss has shape {got.shape}; it should be {want.shape}: one value per "
                              "example, the mean over its pixels (axis=(1, 2, 3)). The model averages over the batch.")
        if np.allclose(got, np.sum(diff ** 2, axis=(1, 2, 3)), rtol=1e-4):
            raise CheckFailed(f"for {name} your loss is the sum over the 784 pixels ({got[0]:.4g} for the first "
                              f"example; it should be {want[0]:.4g}). Take the mean: then an untrained network that "
                              "predicts 0 scores about 1, the variance of the noise.")
        if np.allclose(got, np.mean(np.abs(diff), axis=(1, 2, 3)), rtol=1e-4):
            raise CheckFailed(f"for {name} your loss is the mean absolute error; it should be the mean *squared* "
                              "error (eps - eps_pred)^2, the term of the ELBO for Gaussian steps.")
        expect_close(got, want, f"for {name} your loss", atol=1e-5, rtol=1e-4,
                     hint="loss = mean over (H, W, C) of (eps - eps_pred)^2.")
    return passed("check_epsilon_loss", len(cases))


def check_ddim_step(ddim_step):
    """ddim_step(x_t, eps_pred, abar_t, abar_prev) -> sqrt(abar_prev) x0_hat + sqrt(1 - abar_prev) eps_pred."""
    exercise = "Exercise 3 (ddim_step)"
    x0, eps = _images(np.random.default_rng(2))
    hint = ("x0_hat = (x_t - sqrt(1 - abar_t) eps_pred) / sqrt(abar_t); "
            "x_prev = sqrt(abar_prev) x0_hat + sqrt(1 - abar_prev) eps_pred.")
    for abar_t, abar_prev in ((0.3, 1.0), (0.05, 0.6), (0.5, 0.8)):
        x_t = (np.sqrt(abar_t) * x0 + np.sqrt(1 - abar_t) * eps).astype(np.float32)  # built with the true eps
        got = _call(ddim_step, x_t, eps, np.float32(abar_t), np.float32(abar_prev), exercise=exercise, hint=hint)
        want = np.sqrt(abar_prev) * x0 + np.sqrt(1 - abar_prev) * eps  # the true eps takes x_t to the same path
        name = f"abar_t={abar_t}, abar_prev={abar_prev}"
        if got.shape == want.shape:
            x0_no_sqrt = (x_t - np.sqrt(1 - abar_t) * eps) / abar_t
            if np.allclose(got, np.sqrt(abar_prev) * x0_no_sqrt + np.sqrt(1 - abar_prev) * eps, atol=1e-4):
                raise CheckFailed(f"for {name} your x0_hat divides by abar_t; it should divide by sqrt(abar_t): "
                                  "invert x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps for x0.")
            if abar_prev < 1 and np.allclose(got, np.sqrt(abar_prev) * x0, atol=1e-4):
                raise CheckFailed(f"for {name} your step returns sqrt(abar_prev) x0_hat only: the term "
                                  "sqrt(1 - abar_prev) eps_pred is missing. DDIM (eta = 0) puts back the same "
                                  "predicted noise at the earlier step's level, so x_prev lies on x0_hat's noise path.")
            swapped = np.sqrt(abar_t) * ((x_t - np.sqrt(1 - abar_prev) * eps) / np.sqrt(abar_prev)) \
                + np.sqrt(1 - abar_t) * eps
            if np.allclose(got, swapped, atol=1e-4):
                raise CheckFailed(f"for {name} abar_t and abar_prev are swapped: remove the noise of step t "
                                  "(abar_t) to get x0_hat, then add the noise of the earlier step (abar_prev).")
        expect_close(got, want, f"for {name}, with the true noise, your x_prev", atol=1e-4, rtol=1e-4, hint=hint)
    return passed("check_ddim_step", 3)
