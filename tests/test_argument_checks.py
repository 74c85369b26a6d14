"""Loose arguments across course_lib: each one a clear ValueError naming it; non-square images built right."""
import math

import keras
import numpy as np
import pytest

from course_lib import autoencoders, data, gan_models, pixelcnn, validate, vae

NON_SQUARE = (28, 32, 1)  # height 28, width 32


# ----------------------------------------------------------------------------- non-square images
@pytest.mark.parametrize("build", [
    lambda: autoencoders.build_conv_autoencoder(2, input_shape=NON_SQUARE)[0],
    lambda: autoencoders.build_dense_autoencoder(2, hidden=(16,), input_shape=NON_SQUARE)[0],
    lambda: vae.build_conv_decoder(2, output_shape=NON_SQUARE),
    lambda: vae.build_dense_decoder(2, hidden=(16,), output_shape=NON_SQUARE),
    lambda: gan_models.build_conv_generator(4, image_shape=NON_SQUARE, initial_shape=(7, 8, 8), filters=(8, 1),
                                            kernel_sizes=(3, 3), upsample=(2, 2)),
    lambda: gan_models.build_dense_generator(4, hidden=(16,), image_shape=NON_SQUARE),
    lambda: gan_models.build_conditional_generator(4, num_classes=3, image_shape=NON_SQUARE, initial_shape=(7, 8, 8),
                                                   filters=(8, 1), kernel_sizes=(3, 3), upsample=(2, 2)),
], ids=["conv_autoencoder", "dense_autoencoder", "conv_decoder", "dense_decoder", "conv_generator",
        "dense_generator", "conditional_generator"])
def test_builders_make_images_of_the_requested_non_square_shape(build):
    model = build()
    assert tuple(model.output_shape[1:]) == NON_SQUARE
    inputs = [np.zeros((2,) + tuple(i.shape[1:]), i.dtype) for i in model.inputs]
    out = keras.ops.convert_to_numpy(model(inputs if len(inputs) > 1 else inputs[0]))
    assert out.shape == (2,) + NON_SQUARE and np.all(np.isfinite(out))


@pytest.mark.parametrize("build", [
    lambda: vae.build_conv_encoder(2, input_shape=NON_SQUARE),
    lambda: vae.build_dense_encoder(2, hidden=(16,), input_shape=NON_SQUARE),
    lambda: gan_models.build_conv_discriminator(NON_SQUARE, filters=(8, 8), kernel_sizes=(3, 3), strides=(2, 2)),
    lambda: gan_models.build_dense_discriminator(NON_SQUARE, hidden=(16,)),
    lambda: gan_models.build_conditional_discriminator(NON_SQUARE, num_classes=3, filters=(8, 8), kernel_sizes=(3, 3),
                                                       strides=(2, 2)),
    lambda: pixelcnn.build_pixelcnn(NON_SQUARE, filters=4, n_blocks=1),
], ids=["conv_encoder", "dense_encoder", "conv_discriminator", "dense_discriminator", "conditional_discriminator",
        "pixelcnn"])
def test_models_reading_images_take_the_requested_non_square_shape(build):
    model = build()
    assert tuple(model.inputs[0].shape[1:]) == NON_SQUARE
    inputs = [np.ones((2,) + tuple(i.shape[1:]), i.dtype) for i in model.inputs]
    outputs = model(inputs if len(inputs) > 1 else inputs[0])
    assert all(np.all(np.isfinite(keras.ops.convert_to_numpy(o))) for o in keras.tree.flatten(outputs))


@pytest.mark.parametrize("build, match", [
    (lambda: vae.build_conv_decoder(2, output_shape=(30, 28, 1)), r"output_shape=\(30, 28, 1\).*divisible by 4"),
    (lambda: vae.build_conv_encoder(2, input_shape=(28, 28)), r"input_shape=\(28, 28\) must be \(height, width"),
    (lambda: autoencoders.build_conv_autoencoder(2, input_shape=(28, 30, 1)), r"input_shape=.*28 x 30"),
    (lambda: autoencoders.build_dense_autoencoder(2, input_shape=(28, 28)), "input_shape"),
    (lambda: gan_models.build_conv_generator(4, image_shape=(28, 32, 1)), r"upsample=.*28x28.*28x32"),
])
def test_shapes_that_cannot_be_built_are_refused_at_build_time(build, match):
    with pytest.raises(ValueError, match=match):
        build()


# ----------------------------------------------------------------------------- loose arguments
@pytest.mark.parametrize("kwargs, match", [
    (dict(value_range=1), r"value_range=1 is not supported: use \(0, 1\) or \(-1, 1\)"),
    (dict(value_range=(0, 255)), r"value_range=\(0, 255\)"),
    (dict(n_train=True), "n_train=True"),
    (dict(n_test=0), "n_test=0"),
    (dict(one_hot="no"), "one_hot='no' is not allowed: use True or False"),
    (dict(flat=1), "flat=1"),
])
def test_load_data_refuses_loose_arguments_before_reading_anything(kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.load_data(**kwargs)


@pytest.mark.parametrize("build", [
    lambda: autoencoders.build_dense_autoencoder(2, hidden=256),
    lambda: vae.build_dense_encoder(2, hidden=256),
    lambda: vae.build_dense_decoder(2, hidden=256),
    lambda: gan_models.build_dense_generator(hidden=256),
    lambda: gan_models.build_dense_discriminator(hidden=256),
])
def test_one_int_where_a_list_of_layer_sizes_belongs_says_so(build):
    with pytest.raises(ValueError, match=r"hidden=256 is not allowed: give a list or tuple.*hidden=\(256,\)"):
        build()


@pytest.mark.parametrize("build", [gan_models.build_conditional_generator, gan_models.build_conditional_discriminator])
def test_a_conditional_model_needs_two_classes_at_least(build):
    with pytest.raises(ValueError, match=r"num_classes=1 is not allowed: it must be an integer >= 2"):
        build(num_classes=1)


@pytest.mark.parametrize("beta", [math.inf, math.nan, "1", -0.5, True])
def test_vae_beta_must_be_a_finite_number_at_least_zero(beta):
    encoder, decoder = vae.build_dense_encoder(2, hidden=(8,)), vae.build_dense_decoder(2, hidden=(8,))
    with pytest.raises(ValueError, match=r"beta="):
        vae.VAE(encoder, decoder, beta=beta)


def test_masked_conv_takes_a_numpy_integer_kernel_size_like_an_int():
    x = np.random.default_rng(0).uniform(size=(2, 6, 6, 1)).astype("float32")
    with_int = pixelcnn.MaskedConv2D(3, 5, "A")
    with_numpy = pixelcnn.MaskedConv2D(3, np.int64(5), "A")
    with_int.build(x.shape)
    with_numpy.build(x.shape)
    with_numpy.set_weights(with_int.get_weights())
    assert with_numpy.kernel_size == (5, 5)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(with_numpy(x)), keras.ops.convert_to_numpy(with_int(x)))
    np.testing.assert_array_equal(with_numpy.mask[:, :, 0, 0], pixelcnn.causal_mask(5, "A"))


@pytest.mark.parametrize("stride", [0, -1, 1.5, True])
def test_conv_matrix_refuses_a_stride_that_is_not_a_positive_integer(stride):
    with pytest.raises(ValueError, match=f"stride={stride!r}"):
        gan_models.conv_matrix(np.ones((2, 2)), (4, 4), stride=stride)


def test_shared_checks_name_the_argument():
    with pytest.raises(ValueError, match=r"units=\[3, 0\]"):
        validate.check_positive_ints("units", [3, 0])
    with pytest.raises(ValueError, match="rate='0.1' is not allowed: it must be a finite number"):
        validate.check_number("rate", "0.1")
    assert validate.check_number("rate", np.float32(0.5), minimum=0, maximum=1) == 0.5
    assert validate.check_positive_ints("filters", np.array([8, 16])) == (8, 16)
