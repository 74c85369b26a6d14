"""The lesson 03 check passes the solution and fails stubs and plausible mistakes with specific messages."""
import pytest

from course_lib import autoencoders as ae
from course_lib.checks import CheckFailed, lesson03
from keras import ops


def stub(*args):
    raise NotImplementedError("Exercise 1: not written yet")


def solution(x, x_hat, mask):
    bce = -(x * ops.log(x_hat) + (1 - x) * ops.log(1 - x_hat))
    return ops.sum(mask * bce, axis=(1, 2, 3)) / ops.sum(mask, axis=(1, 2, 3))


def test_check_passes_the_solution_and_the_library():
    lesson03.check_masked_reconstruction_loss(solution)
    lesson03.check_masked_reconstruction_loss(lambda x, x_hat, m: ae.context_loss(ae.pack_target(x, m), x_hat))


def test_check_fails_the_stub():
    with pytest.raises(CheckFailed, match="not implemented yet"):
        lesson03.check_masked_reconstruction_loss(stub)


def test_check_names_plausible_mistakes():
    def whole_image(x, x_hat, mask):
        return solution(x, x_hat, ops.ones_like(mask))
    with pytest.raises(CheckFailed, match="only count the masked region"):
        lesson03.check_masked_reconstruction_loss(whole_image)

    def divided_by_784(x, x_hat, mask):
        return solution(x, x_hat, mask) * ops.sum(mask, axis=(1, 2, 3)) / 784.0
    with pytest.raises(CheckFailed, match="number of masked pixels"):
        lesson03.check_masked_reconstruction_loss(divided_by_784)

    def batch_mean(x, x_hat, mask):
        return ops.mean(solution(x, x_hat, mask))
    with pytest.raises(CheckFailed, match="one value per image"):
        lesson03.check_masked_reconstruction_loss(batch_mean)

    def mse(x, x_hat, mask):
        return ops.sum(mask * (x - x_hat) ** 2, axis=(1, 2, 3)) / ops.sum(mask, axis=(1, 2, 3))
    with pytest.raises(CheckFailed, match="masked loss for test case 1"):
        lesson03.check_masked_reconstruction_loss(mse)


# ---- the dense encoder and decoder (exercises 1 and 2) -------------------------------------------
import keras  # noqa: E402


def make_encoder(code_activation=None):
    def build(bottleneck_dim, hidden):
        x = keras.Input((28, 28, 1))
        h = keras.layers.Flatten()(x)
        for units in hidden:
            h = keras.layers.Dense(units, activation="relu")(h)
        return keras.Model(x, keras.layers.Dense(bottleneck_dim, activation=code_activation)(h))
    return build


def make_decoder(last="sigmoid", mirror=True, reshape=True):
    def build(bottleneck_dim, hidden):
        z = keras.Input((bottleneck_dim,))
        h = z
        for units in (reversed(hidden) if mirror else hidden):
            h = keras.layers.Dense(units, activation="relu")(h)
        h = keras.layers.Dense(784, activation=last)(h)
        return keras.Model(z, keras.layers.Reshape((28, 28, 1))(h) if reshape else h)
    return build


def test_encoder_check():
    lesson03.check_encoder(make_encoder())
    lesson03.check_encoder(lambda d, hidden: ae.build_dense_autoencoder(d, hidden=hidden)[1])
    with pytest.raises(CheckFailed, match="not implemented yet"):
        lesson03.check_encoder(stub)
    with pytest.raises(CheckFailed, match="never negative.*relu"):
        lesson03.check_encoder(make_encoder(code_activation="relu"))
    with pytest.raises(CheckFailed, match="your code for the same weights"):
        lesson03.check_encoder(make_encoder(code_activation="sigmoid"))
    with pytest.raises(CheckFailed, match="returned tuple"):  # the three models of the library builder
        lesson03.check_encoder(lambda d, hidden: ae.build_dense_autoencoder(d, hidden=hidden))


def test_decoder_check():
    lesson03.check_decoder(make_decoder())
    with pytest.raises(CheckFailed, match="not implemented yet"):
        lesson03.check_decoder(stub)
    with pytest.raises(CheckFailed, match="no sigmoid"):
        lesson03.check_decoder(make_decoder(last=None))
    with pytest.raises(CheckFailed, match="mirrors the encoder"):
        lesson03.check_decoder(make_decoder(mirror=False))
    with pytest.raises(CheckFailed, match="should have \\(None, 28, 28, 1\\)"):
        lesson03.check_decoder(make_decoder(reshape=False))
