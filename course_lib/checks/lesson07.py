"""Checks for lesson 07 (DCGAN): the lecture's G and D, the convolution matrix C and spherical interpolation."""
import numpy as np

from course_lib.checks.core import CheckFailed, call_student, expect_close, passed
from course_lib.checks.models import build_student_model, outputs_with_same_random_weights

# The lecture's GAN(...) configuration (deck 003) and the parameter counts of its model summaries.
LECTURE_G = dict(latent_dim=100, initial_shape=(7, 7, 64), filters=[128, 64, 64, 1], kernel_sizes=[5, 5, 5, 5],
                 upsample=[2, 2, 1, 1], upsample_mode="upsampling", batch_norm_momentum=0.9, activation="relu")
LECTURE_D = dict(filters=[64, 64, 128, 128], kernel_sizes=[5, 5, 5, 5], strides=[2, 2, 2, 1], dropout=0.4,
                 activation="relu")
G_PARAMS, G_TRAINABLE = 844_161, 837_377
D_PARAMS = 720_833
BATCH_NORM_PARAMS = 12_544 + 512 + 256 + 256  # the four BatchNormalization layers of the lecture's G


def _build_model(build, exercise):
    return build_student_model(build, exercise=exercise)


def _trainable_count(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def _same_function(student, reference, inputs, what, hint):
    """Same random weights in both models, then the same outputs on the same input."""
    got, want = outputs_with_same_random_weights(student, reference, inputs, what, hint)
    if got.shape == want.shape and not np.allclose(got, want, atol=1e-4, rtol=1e-3):
        if np.allclose(np.tanh(got), want, atol=1e-4, rtol=1e-3):
            raise CheckFailed(f"{what}: your output is the lecture's model's output before its tanh: end the "
                              "generator with a tanh, so that pixels lie in [-1, 1] like the scaled real images.")
        if np.allclose(1 / (1 + np.exp(-got)), want, atol=1e-4, rtol=1e-3):
            raise CheckFailed(f"{what}: your output is the lecture's model's output before its sigmoid: "
                              "end with Dense(1, activation='sigmoid') so that D(x) is a probability.")
    expect_close(got, want, f"{what}: the output of your model for the same weights and input", atol=1e-4,
                 rtol=1e-3, hint=hint)


def check_lecture_generator(build_generator):
    """build_generator() -> the lecture's generator: 100 -> 28x28x1, 844,161 parameters, the lecture's layers."""
    import keras

    from course_lib import gan_models

    exercise = "Exercise 1 (build_lecture_generator)"
    generator = _build_model(build_generator, exercise)
    if tuple(generator.input_shape) != (None, 100):
        raise CheckFailed(f"your generator takes inputs of shape {generator.input_shape}; it should take "
                          "z of shape (None, 100): keras.Input((100,)).")
    if tuple(generator.output_shape) != (None, 28, 28, 1):
        raise CheckFailed(f"your generator outputs shape {generator.output_shape}; it should output "
                          "(None, 28, 28, 1). Follow the sizes 7 -> 14 -> 28 -> 28 -> 28: UpSampling2D(2) "
                          "before the first two convolutions only, and 'same' padding everywhere.")
    total = generator.count_params()
    if total == G_PARAMS - BATCH_NORM_PARAMS:
        raise CheckFailed(f"your generator has {total:,} parameters, exactly the lecture's {G_PARAMS:,} without "
                          "its batch normalization: add BatchNormalization(momentum=0.9) after the dense layer "
                          "and after every convolution except the last.")
    if total != G_PARAMS:
        raise CheckFailed(f"your generator has {total:,} parameters; the lecture's summary says {G_PARAMS:,}. "
                          "Compare layer by layer: Dense(7*7*64) = 316,736, Conv2D(128, 5) = 204,928, "
                          "Conv2D(64, 5) = 204,864, Conv2D(64, 5) = 102,464, Conv2D(1, 5) = 1,601, and the "
                          "batch norms 12,544 + 512 + 256 + 256.")
    if _trainable_count(generator) != G_TRAINABLE:
        raise CheckFailed(f"your generator has {_trainable_count(generator):,} trainable parameters; it should "
                          f"have {G_TRAINABLE:,} (a batch norm's moving mean and variance are not trained).")
    if any(isinstance(layer, keras.layers.Conv2DTranspose) for layer in generator.layers):
        raise CheckFailed("your generator uses Conv2DTranspose; the lecture's generator upsamples with "
                          "UpSampling2D(2) followed by an ordinary Conv2D (generator_upsample = [2, 2, 1, 1]). "
                          "It has the same parameter count, but it computes a different function.")
    z = keras.random.normal((4, 100), seed=0)
    reference = gan_models.build_conv_generator(**LECTURE_G)
    _same_function(generator, reference, z, "your generator",
                   "Order per block: UpSampling2D (first two blocks only), Conv2D(padding='same'), "
                   "BatchNormalization(momentum=0.9), ReLU; the last Conv2D(1, 5) is followed by tanh only. "
                   "The lecture upsamples with UpSampling2D + Conv2D, not Conv2DTranspose.")
    return passed("check_lecture_generator", 4)


def check_lecture_discriminator(build_discriminator):
    """build_discriminator() -> the lecture's discriminator: 28x28x1 -> (N, 1), 720,833 parameters."""
    import keras

    from course_lib import gan_models

    exercise = "Exercise 2 (build_lecture_discriminator)"
    discriminator = _build_model(build_discriminator, exercise)
    if tuple(discriminator.input_shape) != (None, 28, 28, 1):
        raise CheckFailed(f"your discriminator takes inputs of shape {discriminator.input_shape}; it should take "
                          "images of shape (None, 28, 28, 1).")
    if tuple(discriminator.output_shape) != (None, 1):
        raise CheckFailed(f"your discriminator outputs shape {discriminator.output_shape}; it should output "
                          "(None, 1): flatten, then Dense(1, activation='sigmoid').")
    total = discriminator.count_params()
    if total != D_PARAMS:
        raise CheckFailed(f"your discriminator has {total:,} parameters; the lecture's summary says {D_PARAMS:,}. "
                          "Compare layer by layer: Conv2D 1,664 + 102,464 + 204,928 + 409,728 with strides "
                          "2, 2, 2, 1 and 'same' padding (28 -> 14 -> 7 -> 4 -> 4), then Dense(1) on 2,048 "
                          "features = 2,049.")
    rates = [layer.rate for layer in discriminator.layers if isinstance(layer, keras.layers.Dropout)]
    if rates != [0.4] * 4:
        raise CheckFailed(f"your discriminator's dropout rates are {rates}; the lecture puts Dropout(0.4) after "
                          "each of the four convolutions' activations.")
    x = keras.random.uniform((4, 28, 28, 1), minval=-1, maxval=1, seed=0)
    reference = gan_models.build_conv_discriminator(**LECTURE_D)
    _same_function(discriminator, reference, x, "your discriminator",
                   "Per block: Conv2D(padding='same', strides as listed), ReLU (the lecture's activation), "
                   "Dropout(0.4); then Flatten and Dense(1, activation='sigmoid').")
    return passed("check_lecture_discriminator", 4)

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
        c = np.asarray(call_student(conv_matrix, kernel, input_shape, stride, exercise="Exercise 3"), dtype=float)
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
        got = np.asarray(call_student(slerp, z0, z1, np.asarray(ts), exercise="Exercise 4"), dtype=float)
        want = _reference_slerp(z0, z1, ts)
        what = f"slerp between z0={_fmt(z0)} and z1={_fmt(z1)} at t={_fmt(np.asarray(ts))}"
        hint = ""
        if got.shape == want.shape and np.allclose(got, (1 - np.asarray(ts)[:, None]) * z0 + np.asarray(ts)[:, None] * z1):
            hint = ("That is the straight line (1 - t) z0 + t z1; slerp follows the arc, so its norm stays "
                    "near the norm of z0 and z1 instead of dipping in the middle.")
        if got.shape == want.shape and np.allclose(got, _slerp_with_cosine_as_angle(z0, z1, ts), equal_nan=True):
            raise CheckFailed(
                f"{what}: you used cos(omega) = z0.z1 / (|z0| |z1|) as the angle omega itself. Take the "
                "angle with omega = arccos(cos omega) (clip the cosine to [-1, 1] first); for perpendicular "
                "z0 and z1 the cosine is 0, so sin(omega) = 0 and the division gives NaN.")
        expect_close(got, want, what, atol=1e-5, rtol=1e-5, hint=hint)
    return passed("check_slerp", len(cases))


def _slerp_with_cosine_as_angle(z0, z1, ts):
    """The mistake: the cosine of the angle used in place of the angle."""
    cosine = z0 @ z1 / (np.linalg.norm(z0) * np.linalg.norm(z1))
    ts = np.asarray(ts, dtype=float)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        return (np.sin((1 - ts) * cosine) * z0 + np.sin(ts * cosine) * z1) / np.sin(cosine)


def _fmt(v):
    return np.array2string(np.asarray(v), precision=3, threshold=6)
