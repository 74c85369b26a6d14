"""Checks for lesson 14: the flow-matching path and target, the Euler step, the guidance combination."""
import numpy as np

from course_lib.checks.core import CheckFailed, call_student, expect_close, passed
from course_lib.checks.lesson13 import _call


def check_path_and_target(path_and_target):
    """path_and_target(x0, x1, t) -> (x_t, v): x_t = (1 - t) x0 + t x1 (x0 noise, x1 data), v = x1 - x0."""
    exercise = "Exercise 1 (path_and_target)"
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal((3, 4, 4, 1)).astype(np.float32)
    x1 = rng.uniform(-1, 1, (3, 4, 4, 1)).astype(np.float32)
    t = np.array([0.0, 1.0, 0.3], np.float32)
    hint = "t has one value per example, shape (N,): reshape it to (N, 1, 1, 1) before mixing the images."
    result = call_pair(path_and_target, x0, x1, t, exercise, hint)
    x_t, v = result
    tt = t.reshape(-1, 1, 1, 1).astype(np.float64)
    want_x, want_v = (1 - tt) * x0 + tt * x1, x1.astype(np.float64) - x0
    if x_t.shape == want_x.shape and np.allclose(x_t, tt * x0 + (1 - tt) * x1, atol=1e-5):
        raise CheckFailed("your x_t is t x0 + (1 - t) x1: it runs from data to noise. In this lesson t = 0 is the "
                          "noise x0 and t = 1 the data x1: x_t = (1 - t) x0 + t x1.")
    expect_close(x_t, want_x, "your x_t", atol=1e-5, hint="x_t = (1 - t) x0 + t x1, t reshaped to (N, 1, 1, 1).")
    if v.shape == want_v.shape and np.allclose(v, -want_v, atol=1e-5):
        raise CheckFailed("your velocity is x0 - x1: the sign is flipped. x_t moves from x0 (t = 0) to x1 (t = 1), "
                          "so dx_t/dt = x1 - x0.")
    if v.shape == want_v.shape and np.allclose(v, x1, atol=1e-5):
        raise CheckFailed("your velocity is x1, the data itself; it should be the derivative of the path, "
                          "dx_t/dt = x1 - x0.")
    expect_close(v, want_v, "your velocity target", atol=1e-5, hint="v = d/dt [(1 - t) x0 + t x1] = x1 - x0.")
    return passed("check_path_and_target", 3)


def call_pair(fn, x0, x1, t, exercise, hint):
    """The student's (x_t, v) as two NumPy arrays, with readable messages for the usual failures."""
    try:
        result = call_student(fn, x0, x1, t, exercise=exercise)
    except CheckFailed:
        raise
    except Exception as err:  # noqa: BLE001
        raise CheckFailed(f"{exercise} raised {type(err).__name__}: {str(err).splitlines()[0][:200]}. {hint}") from None
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise CheckFailed(f"{exercise} should return two arrays, (x_t, v); it returned {type(result).__name__}.")
    x_t, v = (np.asarray(r.numpy() if hasattr(r, "numpy") else r, dtype=np.float64) for r in result)
    if x_t.shape[-1:] == t.shape and x_t.shape != x0.shape:
        raise CheckFailed(f"your x_t has shape {x_t.shape}; it should be {x0.shape}: t (one value per example, shape "
                          "(N,)) was broadcast along the images' last axis. Reshape it to (N, 1, 1, 1) first.")
    return x_t, v


def check_euler_step(euler_step):
    """euler_step(x, v, dt) -> x + dt v."""
    exercise = "Exercise 2 (euler_step)"
    rng = np.random.default_rng(1)
    x, v = rng.standard_normal((2, 4, 4, 1)).astype(np.float32), rng.standard_normal((2, 4, 4, 1)).astype(np.float32)
    for dt in (0.1, 0.5):
        got = _call(euler_step, x, v, np.float32(dt), exercise=exercise, hint="x_next = x + dt * v.")
        want = x + dt * v.astype(np.float64)
        if got.shape == want.shape and np.allclose(got, x - dt * v, atol=1e-5):
            raise CheckFailed(f"for dt={dt} your step is x - dt v: it walks backwards. Sampling runs from t = 0 "
                              "(noise) to t = 1 (data), along the velocity: x + dt v.")
        if got.shape == want.shape and np.allclose(got, x + v, atol=1e-5):
            raise CheckFailed(f"for dt={dt} your step is x + v: multiply the velocity by the step size dt "
                              "(1 / num_steps), or the sample overshoots by a factor num_steps.")
        expect_close(got, want, f"for dt={dt} your x_next", atol=1e-5, hint="x_next = x + dt * v.")
    return passed("check_euler_step", 2)


def check_guidance(guidance):
    """guidance(v_uncond, v_cond, w) -> v_uncond + w (v_cond - v_uncond)."""
    exercise = "Exercise 3 (guidance)"
    rng = np.random.default_rng(2)
    v_uncond, v_cond = (rng.standard_normal((2, 4, 4, 1)).astype(np.float32) for _ in range(2))
    for w in (3.0, 1.0, 0.0):  # w = 3 first: there the usual mistakes all differ
        got = _call(guidance, v_uncond, v_cond, np.float32(w), exercise=exercise,
                    hint="v = v_uncond + w * (v_cond - v_uncond).")
        want = v_uncond + w * (v_cond.astype(np.float64) - v_uncond)
        if got.shape == want.shape and np.allclose(got, v_cond + w * (v_cond - v_uncond), atol=1e-5) \
                and not np.allclose(want, got, atol=1e-5):
            raise CheckFailed(f"for w={w} your velocity is v_cond + w (v_cond - v_uncond), the (1 + w) convention "
                              "of Ho and Salimans' paper. This lesson writes v = v_uncond + w (v_cond - v_uncond), so "
                              "that w = 0 is the unconditional model and w = 1 the conditional one.")
        if got.shape == want.shape and np.allclose(got, v_cond + w * (v_uncond - v_cond), atol=1e-5) \
                and not np.allclose(want, got, atol=1e-5):
            raise CheckFailed(f"for w={w} v_cond and v_uncond are swapped: start from the unconditional velocity and "
                              "move w times the difference towards the conditional one.")
        if got.shape == want.shape and np.allclose(got, w * v_cond, atol=1e-5) \
                and not np.allclose(want, got, atol=1e-5):
            raise CheckFailed(f"for w={w} your velocity is w * v_cond: the unconditional velocity is missing. Start "
                              "from v_uncond and add w times the difference (v_cond - v_uncond); with w = 0 the "
                              "result must be v_uncond (ignore the label), not 0.")
        expect_close(got, want, f"for w={w} your velocity", atol=1e-5, hint="v = v_uncond + w * (v_cond - v_uncond).")
    return passed("check_guidance", 3)
