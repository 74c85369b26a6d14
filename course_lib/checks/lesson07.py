"""Checks for lesson 07 (DCGAN): the convolution matrix C and spherical interpolation."""
import numpy as np

from course_lib.checks.core import CheckFailed, call_student, expect_close, passed

# (input_shape, kernel_shape, stride)
CONV_CASES = [((4, 4), (3, 3), 1), ((5, 5), (3, 3), 2), ((3, 4), (2, 2), 1), ((6, 7), (2, 3), 2)]


def _reference_conv(x, kernel, stride):
    """'valid' cross-correlation computed directly with Keras (the independent reference)."""
    import keras

    y = keras.ops.conv(x[None, :, :, None].astype("float32"), kernel[:, :, None, None].astype("float32"),
                       strides=stride, padding="valid")
    return keras.ops.convert_to_numpy(y)[0, :, :, 0]


def _reference_conv_transpose(small, kernel, stride, input_shape):
    """Conv2DTranspose(padding='valid') with `kernel`, cut or padded to `input_shape`."""
    import keras

    layer = keras.layers.Conv2DTranspose(1, kernel.shape, strides=stride, padding="valid", use_bias=False)
    layer.build((None, *small.shape, 1))
    layer.kernel.assign(kernel[:, :, None, None].astype("float32"))
    big = keras.ops.convert_to_numpy(layer(small[None, :, :, None].astype("float32")))[0, :, :, 0]
    out = np.zeros(input_shape)
    h, w = min(big.shape[0], input_shape[0]), min(big.shape[1], input_shape[1])
    out[:h, :w] = big[:h, :w]  # rows a strided conv never looks at stay 0
    return out


def check_conv_matrix(conv_matrix):
    """conv_matrix(kernel, input_shape, stride) -> C with C @ x.ravel() == conv(x).ravel()."""
    rng = np.random.default_rng(7)
    for input_shape, kernel_shape, stride in CONV_CASES:
        kernel = rng.normal(size=kernel_shape)
        x = rng.normal(size=input_shape)
        want = _reference_conv(x, kernel, stride)
        where = f"for a {kernel_shape[0]}x{kernel_shape[1]} kernel on a {input_shape[0]}x{input_shape[1]} input with stride {stride}"
        c = np.asarray(call_student(conv_matrix, kernel, input_shape, stride, exercise="Exercise 1"), dtype=float)
        if c.shape != (want.size, x.size):
            raise CheckFailed(
                f"{where} your C has shape {c.shape}; it should have shape {(want.size, x.size)}: one row per "
                f"output pixel ({want.shape[0]}x{want.shape[1]}) and one column per input pixel."
            )
        expect_close(c @ x.ravel(), want.ravel(), f"C @ x {where}", atol=1e-4, rtol=1e-4,
                     hint="Row i*out_w + j of C holds the kernel at the window that output pixel (i, j) "
                          "sees, which starts at input row i*stride and column j*stride (no kernel flip).")
        small = rng.normal(size=want.shape)
        expect_close(c.T @ small.ravel(), _reference_conv_transpose(small, kernel, stride, input_shape).ravel(),
                     f"C.T @ y {where} (compared with Conv2DTranspose)", atol=1e-4, rtol=1e-4)
    return passed("check_conv_matrix", len(CONV_CASES))


def _reference_slerp(z0, z1, ts):
    """slerp(z0, z1; t) = sin((1-t) w) / sin w * z0 + sin(t w) / sin w * z1, cos w = z0.z1 / (|z0||z1|)."""
    omega = np.arccos(np.clip(z0 @ z1 / (np.linalg.norm(z0) * np.linalg.norm(z1)), -1, 1))
    ts = np.asarray(ts, dtype=float)[:, None]
    return (np.sin((1 - ts) * omega) * z0 + np.sin(ts * omega) * z1) / np.sin(omega)


def check_slerp(slerp):
    """slerp(z0, z1, ts) -> (len(ts), latent_dim): the great-circle path from z0 to z1."""
    rng = np.random.default_rng(3)
    cases = [
        (np.array([1.0, 0.0]), np.array([0.0, 1.0]), [0.0, 0.5, 1.0]),
        (np.array([2.0, 0.0, 0.0]), np.array([0.0, 0.0, 2.0]), [0.0, 0.25, 0.5, 0.75, 1.0]),
        (rng.normal(size=16), rng.normal(size=16), np.linspace(0, 1, 7)),
    ]
    for z0, z1, ts in cases:
        got = np.asarray(call_student(slerp, z0, z1, np.asarray(ts), exercise="Exercise 2"), dtype=float)
        want = _reference_slerp(z0, z1, ts)
        what = f"slerp between z0={_fmt(z0)} and z1={_fmt(z1)} at t={_fmt(np.asarray(ts))}"
        hint = ""
        if got.shape == want.shape and np.allclose(got, (1 - np.asarray(ts)[:, None]) * z0 + np.asarray(ts)[:, None] * z1):
            hint = ("That is the straight line (1 - t) z0 + t z1; slerp follows the arc, so its norm stays "
                    "near the norm of z0 and z1 instead of dipping in the middle.")
        expect_close(got, want, what, atol=1e-5, rtol=1e-5, hint=hint)
    return passed("check_slerp", len(cases))


def _fmt(v):
    return np.array2string(np.asarray(v), precision=3, threshold=6)
