"""Checks for lesson 12: the affine coupling's forward pass and log-determinant, its inverse,
and dequantization with its change in the likelihood."""
import math

import numpy as np

from course_lib.checks.core import CheckFailed, call_student, expect_close, passed


def _to_numpy(value):
    if hasattr(value, "numpy"):
        value = value.numpy()
    return np.asarray(value, dtype=np.float64)


def _pair(result, what, exercise):
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise CheckFailed(f"{exercise} should return two things, ({what}, log_det); you returned "
                          f"{type(result).__name__}. End with `return y, log_det`.")
    return _to_numpy(result[0]), _to_numpy(result[1])


def _coupling_cases():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(3, 4))
    images = rng.normal(size=(2, 4, 4, 1))
    board = ((np.add.outer(np.arange(4), np.arange(4)) % 2) == 0).astype(float)[None, :, :, None]
    return [
        ("2-D points, mask (1, 0)", rng.normal(size=(5, 2)), np.array([1.0, 0.0]),
         rng.normal(size=(5, 2)), rng.normal(size=(5, 2))),
        ("4-D vectors, mask (1, 1, 0, 0)", vectors, np.array([1.0, 1.0, 0.0, 0.0]),
         rng.normal(size=vectors.shape), rng.normal(size=vectors.shape)),
        ("4x4 images, checkerboard mask", images, board,
         rng.normal(size=images.shape), rng.normal(size=images.shape)),
    ]


def _forward(x, mask, s, t):
    free = 1 - mask
    y = mask * x + free * (x * np.exp(s) + t)
    return y, (free * s).reshape(len(x), -1).sum(axis=1)


def _f32(*arrays):
    return [np.asarray(a, np.float32) for a in arrays]


def check_coupling_forward(coupling_forward):
    """coupling_forward(x, mask, s, t) -> (y, log_det): y = mask x + (1 - mask)(x exp(s) + t), log_det (N,)."""
    exercise = "Exercise 1 (coupling_forward)"
    for name, x, mask, s, t in _coupling_cases():
        y, log_det = _pair(call_student(coupling_forward, *_f32(x, mask, s, t), exercise=exercise), "y", exercise)
        y_want, log_det_want = _forward(x, mask, s, t)
        free = 1 - mask
        if y.shape == y_want.shape and np.allclose(y, mask * x + free * (x * np.exp(-s) + t), atol=1e-4):
            raise CheckFailed(f"for {name} your y uses exp(-s): that is the inverse's factor. The forward pass "
                              "multiplies by exp(s): y_b = x_b * exp(s) + t, and then log_det = +sum(s).")
        if y.shape == y_want.shape and np.allclose(y, mask * x + free * (x + t) * np.exp(s), atol=1e-4):
            raise CheckFailed(f"for {name} you shift before you scale, (x + t) * exp(s); RealNVP scales first "
                              "and then shifts: y_b = x_b * exp(s) + t.")
        if y.shape == y_want.shape and np.allclose(y, x * np.exp(s) + t, atol=1e-4):
            raise CheckFailed(f"for {name} your y changes every dimension. Only the free part (mask = 0) is "
                              "scaled and shifted; the part where mask = 1 is copied: y = mask * x + "
                              "(1 - mask) * (x * exp(s) + t).")
        expect_close(y, y_want, f"for {name} your y", atol=1e-4, rtol=1e-4,
                     hint="y = mask * x + (1 - mask) * (x * exp(s) + t).")
        if log_det.shape != log_det_want.shape:
            raise CheckFailed(f"for {name} your log_det has shape {log_det.shape}; it should be "
                              f"{log_det_want.shape}: one number per example, the sum of (1 - mask) * s over "
                              "every axis but the first.")
        if np.allclose(log_det, 0.0):
            raise CheckFailed(f"for {name} your log_det is 0; it should be {log_det_want[0]:.4g} for the first "
                              "example. Scaling x_b by exp(s) stretches space by exp(sum(s)): log_det = sum of "
                              "(1 - mask) * s. Without it, log p(x) is wrong and training only squeezes z to 0.")
        if np.allclose(log_det, -log_det_want, atol=1e-4):
            raise CheckFailed(f"for {name} your log_det has the wrong sign ({log_det[0]:.4g}; it should be "
                              f"{log_det_want[0]:.4g}). Multiplying by exp(s) gives log|det| = +sum(s).")
        if np.allclose(log_det, s.reshape(len(s), -1).sum(axis=1), atol=1e-4):
            raise CheckFailed(f"for {name} your log_det sums s over every dimension; only the changed ones "
                              "count (the copied ones have derivative 1): sum of (1 - mask) * s.")
        expect_close(log_det, log_det_want, f"for {name} your log_det", atol=1e-4, rtol=1e-4,
                     hint="log_det = sum over all axes but the batch axis of (1 - mask) * s.")
    return passed("check_coupling_forward", 3)


def check_coupling_inverse(coupling_inverse):
    """coupling_inverse(y, mask, s, t) -> x, undoing the forward pass: x_b = (y_b - t) exp(-s)."""
    exercise = "Exercise 2 (coupling_inverse)"
    for name, x, mask, s, t in _coupling_cases():
        y, _ = _forward(x, mask, s, t)
        got = _to_numpy(call_student(coupling_inverse, *_f32(y, mask, s, t), exercise=exercise))
        free = 1 - mask
        if got.shape == x.shape and np.allclose(got, mask * y + free * (y - t) * np.exp(s), atol=1e-4):
            raise CheckFailed(f"for {name} your x multiplies by exp(s); undoing y_b = x_b * exp(s) + t "
                              "divides by exp(s): x_b = (y_b - t) * exp(-s).")
        if got.shape == x.shape and np.allclose(got, mask * y + free * (y * np.exp(-s) - t), atol=1e-4):
            raise CheckFailed(f"for {name} you undo the steps in the wrong order, y * exp(-s) - t. The "
                              "forward pass scaled and then shifted, so the inverse unshifts first and then "
                              "unscales: x_b = (y_b - t) * exp(-s).")
        if got.shape == x.shape and np.allclose(got, (y - t) * np.exp(-s), atol=1e-4):
            raise CheckFailed(f"for {name} your x changes the copied part too: where mask = 1, x = y. "
                              "x = mask * y + (1 - mask) * (y - t) * exp(-s).")
        expect_close(got, x, f"for {name} your x", atol=1e-4, rtol=1e-4,
                     hint="x = mask * y + (1 - mask) * (y - t) * exp(-s).")
    return passed("check_coupling_inverse", 3)


def check_dequantize(dequantize):
    """dequantize(x_int, u) -> (y, log_det): y = (x_int + u) / 256, log_det = -D log 256 per example."""
    exercise = "Exercise 3 (dequantize)"
    rng = np.random.default_rng(1)
    cases = [
        ("two 2x2 images", rng.integers(0, 256, size=(2, 2, 2, 1)), rng.uniform(size=(2, 2, 2, 1))),
        ("three 28x28 digits", rng.integers(0, 256, size=(3, 28, 28, 1)), rng.uniform(size=(3, 28, 28, 1))),
    ]
    for name, x_int, u in cases:
        y, log_det = _pair(call_student(dequantize, *_f32(x_int, u), exercise=exercise), "y", exercise)
        y_want = (x_int + u) / 256
        num_dims = int(np.prod(x_int.shape[1:]))
        want = np.full(len(x_int), -num_dims * math.log(256))
        if y.shape == y_want.shape and np.allclose(y, (x_int + u) / 255, atol=1e-5):
            raise CheckFailed(f"for {name} you divide by 255. x_int + u lies in [0, 256): divide by 256 so that "
                              "the 256 bins of width 1/256 fill [0, 1) exactly.")
        expect_close(y, y_want, f"for {name} your y", atol=1e-5, rtol=1e-5, hint="y = (x_int + u) / 256.")
        if log_det.shape != want.shape:
            raise CheckFailed(f"for {name} your log_det has shape {log_det.shape}; it should be {want.shape}: "
                              "one number per image, the sum over its D pixels of -log 256.")
        if np.allclose(log_det, 0.0):
            raise CheckFailed(f"for {name} your log_det is 0; it should be {want[0]:.6g}. Dividing by 256 "
                              "shrinks every pixel's bin to width 1/256, so the density of y is 256 times higher "
                              "per pixel than a probability: log P(x) >= log p(y) - D log 256.")
        if np.allclose(log_det, -want, rtol=1e-5):
            raise CheckFailed(f"for {name} your log_det is +D log 256 = {log_det[0]:.6g}; the sign is wrong. "
                              "y = (x + u) / 256 has dy/dx = 1/256 per pixel, so log_det = -D log 256.")
        if np.allclose(log_det, -num_dims * math.log(255), rtol=1e-5):
            raise CheckFailed(f"for {name} your log_det is -D log 255 = {log_det[0]:.6g}; there are 256 grey "
                              "levels (0 to 255), so the bins have width 1/256: log_det = -D log 256.")
        if np.allclose(log_det, -math.log(256), rtol=1e-5):
            raise CheckFailed(f"for {name} your log_det is -log 256 once per image; it is -log 256 per pixel, "
                              f"D = {num_dims} times: -D log 256 = {want[0]:.6g}.")
        expect_close(log_det, want, f"for {name} your log_det", atol=1e-3, rtol=1e-5,
                     hint="log_det = -D * log(256), D = the number of pixels of one image, one value per image.")
    return passed("check_dequantize", len(cases))
