"""lesson07 checks: pass on the solution, fail on the stub and on plausible wrong answers."""
import keras
import numpy as np
import pytest
from keras import layers

from course_lib import gan_models
from course_lib.checks import CheckFailed, lesson07


def slerp_solution(z0, z1, ts):
    omega = np.arccos(np.dot(z0, z1) / (np.linalg.norm(z0) * np.linalg.norm(z1)))
    ts = np.asarray(ts)[:, None]
    return (np.sin((1 - ts) * omega) * z0 + np.sin(ts * omega) * z1) / np.sin(omega)


def stub(*args):
    raise NotImplementedError("Exercise: not written yet")


def test_conv_matrix_passes_on_the_solution(capsys):
    lesson07.check_conv_matrix(gan_models.conv_matrix)
    assert "PASSED check_conv_matrix" in capsys.readouterr().out


def test_conv_matrix_fails_on_the_stub():
    with pytest.raises(CheckFailed, match="Exercise 3 is not implemented"):
        lesson07.check_conv_matrix(stub)


def test_conv_matrix_fails_on_a_flipped_kernel():
    # true convolution (kernel flipped) instead of Keras' cross-correlation
    def flipped(kernel, input_shape, stride):
        return gan_models.conv_matrix(np.asarray(kernel)[::-1, ::-1], input_shape, stride)

    with pytest.raises(CheckFailed, match=r"C @ x for a 3x3 kernel on a 4x4 input with stride 1.*no kernel flip"):
        lesson07.check_conv_matrix(flipped)


def test_conv_matrix_fails_on_the_transposed_shape():
    def transposed(kernel, input_shape, stride):
        return gan_models.conv_matrix(kernel, input_shape, stride).T

    with pytest.raises(CheckFailed, match=r"your C has shape \(16, 4\); it should have shape \(4, 16\)"):
        lesson07.check_conv_matrix(transposed)


def test_conv_matrix_fails_when_the_stride_is_ignored_in_the_window():
    def no_stride(kernel, input_shape, stride):
        c = gan_models.conv_matrix(kernel, input_shape, 1)
        out_w = gan_models.conv_output_size(input_shape[1], np.shape(kernel)[1], 1)
        keep_w = gan_models.conv_output_size(input_shape[1], np.shape(kernel)[1], stride)
        keep_h = gan_models.conv_output_size(input_shape[0], np.shape(kernel)[0], stride)
        rows = [i * out_w + j for i in range(keep_h) for j in range(keep_w)]  # right count, wrong windows
        return c[rows]

    with pytest.raises(CheckFailed, match="with stride 2"):
        lesson07.check_conv_matrix(no_stride)


def test_slerp_passes_on_the_solution(capsys):
    lesson07.check_slerp(slerp_solution)
    assert "PASSED check_slerp" in capsys.readouterr().out


def test_slerp_fails_on_the_stub():
    with pytest.raises(CheckFailed, match="Exercise 4 is not implemented"):
        lesson07.check_slerp(stub)


def test_slerp_fails_on_linear_interpolation_with_a_hint():
    def lerp(z0, z1, ts):
        ts = np.asarray(ts)[:, None]
        return (1 - ts) * z0 + ts * z1

    with pytest.raises(CheckFailed, match=r"your result is 0.5 at index \(1, 0\); it should be 0.707.*straight line"):
        lesson07.check_slerp(lerp)


def test_slerp_names_the_cosine_used_as_the_angle():
    # the old check said only "contains NaN or inf" for this mistake
    def cosine_as_angle(z0, z1, ts):
        omega = np.dot(z0, z1) / (np.linalg.norm(z0) * np.linalg.norm(z1))  # forgot arccos
        ts = np.asarray(ts)[:, None]
        return (np.sin((1 - ts) * omega) * z0 + np.sin(ts * omega) * z1) / np.sin(omega)

    with pytest.raises(CheckFailed, match=r"cos\(omega\).*as the angle omega itself.*arccos"):
        lesson07.check_slerp(cosine_as_angle)


# ---- the lecture's generator and discriminator (exercises 1 and 2) -------------------------------
def lecture_generator(upsample=True, batch_norm=True, last="tanh"):
    """The lecture's G written by hand with keras.layers (as a student would), with optional mistakes."""
    def build():
        z = keras.Input((100,))
        h = layers.Dense(7 * 7 * 64)(z)
        if batch_norm:
            h = layers.BatchNormalization(momentum=0.9)(h)
        h = layers.Activation("relu")(h)
        h = layers.Reshape((7, 7, 64))(h)  # (N, 7, 7, 64)
        for filters, factor in [(128, 2), (64, 2), (64, 1)]:
            if upsample:
                if factor > 1:
                    h = layers.UpSampling2D(factor)(h)
                h = layers.Conv2D(filters, 5, padding="same")(h)
            else:
                h = layers.Conv2DTranspose(filters, 5, strides=factor, padding="same")(h)
            if batch_norm:
                h = layers.BatchNormalization(momentum=0.9)(h)
            h = layers.Activation("relu")(h)
        h = layers.Conv2D(1, 5, padding="same")(h)  # (N, 28, 28, 1)
        return keras.Model(z, layers.Activation(last)(h))
    return build


def lecture_discriminator(activation="relu", strides=(2, 2, 2, 1), dropout=0.4):
    def build():
        x = keras.Input((28, 28, 1))
        h = x
        for filters, stride in zip([64, 64, 128, 128], strides):
            h = layers.Conv2D(filters, 5, strides=stride, padding="same")(h)
            h = layers.Activation(activation)(h)
            h = layers.Dropout(dropout)(h)
        h = layers.Flatten()(h)
        return keras.Model(x, layers.Dense(1, activation="sigmoid")(h))
    return build


def test_lecture_generator_check_passes_a_hand_written_generator_and_the_library(capsys):
    lesson07.check_lecture_generator(lecture_generator())
    lesson07.check_lecture_generator(lambda: gan_models.build_conv_generator(**lesson07.LECTURE_G))
    assert capsys.readouterr().out.count("PASSED check_lecture_generator") == 2


def test_lecture_generator_check_fails_the_stub():
    with pytest.raises(CheckFailed, match="Exercise 1 .* is not implemented"):
        lesson07.check_lecture_generator(stub)


def test_lecture_generator_check_names_missing_batch_norm():
    with pytest.raises(CheckFailed, match="830,593 parameters.*without its batch normalization"):
        lesson07.check_lecture_generator(lecture_generator(batch_norm=False))


def test_lecture_generator_check_catches_conv_transpose_by_the_forward_pass():
    # Conv2DTranspose(f, 5) has exactly the parameters of UpSampling2D + Conv2D(f, 5): only the output differs
    with pytest.raises(CheckFailed, match="uses Conv2DTranspose.*UpSampling2D"):
        lesson07.check_lecture_generator(lecture_generator(upsample=False))


def test_lecture_generator_check_names_a_missing_tanh():
    with pytest.raises(CheckFailed, match="before its tanh: end the generator with a tanh"):
        lesson07.check_lecture_generator(lecture_generator(last="linear"))


def test_lecture_discriminator_check_passes_and_fails():
    lesson07.check_lecture_discriminator(lecture_discriminator())
    with pytest.raises(CheckFailed, match="Exercise 2 .* is not implemented"):
        lesson07.check_lecture_discriminator(stub)
    with pytest.raises(CheckFailed, match="719,297 parameters.*720,833"):  # stride 2 in the last layer too
        lesson07.check_lecture_discriminator(lecture_discriminator(strides=(2, 2, 2, 2)))
    with pytest.raises(CheckFailed, match="dropout rates are \\[0.3, 0.3, 0.3, 0.3\\]"):
        lesson07.check_lecture_discriminator(lecture_discriminator(dropout=0.3))
    with pytest.raises(CheckFailed, match="same weights and input.*ReLU"):
        lesson07.check_lecture_discriminator(lecture_discriminator(activation="tanh"))


def test_lecture_generator_check_catches_a_layer_order_mistake():
    # batch norm after the activation instead of before it: same parameters, different function
    def build():
        z = keras.Input((100,))
        h = layers.Activation("relu")(layers.Dense(7 * 7 * 64)(z))
        h = layers.Reshape((7, 7, 64))(layers.BatchNormalization(momentum=0.9)(h))
        for filters, factor in [(128, 2), (64, 2), (64, 1)]:
            if factor > 1:
                h = layers.UpSampling2D(factor)(h)
            h = layers.Activation("relu")(layers.Conv2D(filters, 5, padding="same")(h))
            h = layers.BatchNormalization(momentum=0.9)(h)
        return keras.Model(z, layers.Activation("tanh")(layers.Conv2D(1, 5, padding="same")(h)))
    with pytest.raises(CheckFailed, match="same weights and input"):
        lesson07.check_lecture_generator(build)
