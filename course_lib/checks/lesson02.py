"""Checks for lesson 02: the PixelCNN mask and nats -> bits per dimension."""
import math

import numpy as np

from course_lib.checks.core import CheckFailed, call_student, expect_close, passed


def _reference_mask(kernel_size, mask_type):
    k, c = kernel_size, kernel_size // 2
    mask = np.zeros((k, k))
    mask[:c, :] = 1.0  # rows above the centre
    mask[c, :c] = 1.0  # the centre row, left of the centre
    if mask_type == "B":
        mask[c, c] = 1.0  # the centre itself
    return mask


def _diagnose(got, kernel_size, mask_type):
    c = kernel_size // 2
    if got[c, c] != (1.0 if mask_type == "B" else 0.0):
        if mask_type == "A":
            return "The centre must be 0 in mask A: the first layer may not see the pixel it predicts."
        return "The centre must be 1 in mask B: later layers may use the feature at the same position."
    if np.any(got[c + 1:, :] != 0):
        return "Every row below the centre must be 0: those pixels come later in raster order."
    if np.any(got[c, c + 1:] != 0):
        return "Pixels right of the centre in the centre row must be 0: they come later in raster order."
    if np.any(got[:c, :] != 1) or np.any(got[c, :c] != 1):
        return "Rows above the centre, and pixels left of it, must be 1: they come earlier and may be used."
    return ""


def check_causal_mask(causal_mask):
    """causal_mask(kernel_size, mask_type) must return the (k, k) raster-order mask of type A or B."""
    cases = [(3, "A"), (3, "B"), (5, "A"), (5, "B"), (7, "A"), (1, "A"), (1, "B")]
    for kernel_size, mask_type in cases:
        got = call_student(causal_mask, kernel_size, mask_type, exercise="Exercise 1 (causal_mask)")
        got = np.asarray(got, dtype=float)
        want = _reference_mask(kernel_size, mask_type)
        if got.shape != want.shape:
            raise CheckFailed(f"for kernel_size={kernel_size}, mask_type={mask_type!r} your mask has shape "
                              f"{got.shape}; it should be {want.shape}.")
        if not np.array_equal(got, want):
            raise CheckFailed(f"for kernel_size={kernel_size}, mask_type={mask_type!r} your mask is\n{got}\n"
                              f"{_diagnose(got, kernel_size, mask_type)} It should be\n{want}")
    return passed("check_causal_mask", len(cases))


def check_bits_per_dim(bits_per_dim):
    """bits_per_dim(nats_per_image, n_dims) must return nats / (n_dims * ln 2)."""
    cases = [(784 * math.log(2.0), 784), (81.30, 784), (100.0, 100), (3000.0, 3072)]
    for nats, n_dims in cases:
        got = call_student(bits_per_dim, nats, n_dims, exercise="Exercise 2 (bits_per_dim)")
        want = nats / (n_dims * math.log(2.0))
        hint = ""
        if np.isclose(float(got), nats / n_dims):
            hint = "That is nats per dimension; one bit is ln 2 nats, so divide by ln 2 as well."
        elif np.isclose(float(got), nats / math.log(2.0)):
            hint = "That is bits per image; divide by the number of dimensions too."
        elif np.isclose(float(got), nats * math.log(2.0) / n_dims):
            hint = "You multiplied by ln 2; a bit is larger than a nat, so divide by ln 2."
        elif np.isclose(float(got), nats / (n_dims * math.log(10.0))):
            hint = "That divides by ln 10 (decimal digits); bits need ln 2."
        expect_close(got, want, f"for {nats:.4g} nats per image and n_dims={n_dims}", hint=hint)
    return passed("check_bits_per_dim", len(cases))
