"""Builders of course_lib.gan_models: shapes, value ranges, argument checks, labels used, C^T."""
import keras
import numpy as np
import pytest

from course_lib import gan_models as gm

SMALL_G = dict(initial_shape=(7, 7, 8), filters=(8, 1), kernel_sizes=(3, 3), upsample=(2, 2))
SMALL_D = dict(filters=(8, 8), kernel_sizes=(3, 3), strides=(2, 2), dropout=0.3)


def _z(n, latent_dim, scale=1.0, seed=0):
    return (scale * np.random.default_rng(seed).normal(size=(n, latent_dim))).astype("float32")


def _images(n, shape=(28, 28, 1), seed=1):
    return np.random.default_rng(seed).uniform(-1, 1, size=(n, *shape)).astype("float32")


def _expect_tanh_range(x):
    assert np.all(np.isfinite(x))
    assert x.min() >= -1 and x.max() <= 1
    # Large z saturates the tanh: values near both ends show the output really is a tanh.
    assert x.min() < -0.9 and x.max() > 0.9


# ---------------------------------------------------------------- dense
def test_dense_generator_shape_and_tanh_range():
    g = gm.build_dense_generator(latent_dim=16, hidden=(32, 64))
    x = np.asarray(g(_z(64, 16, scale=30.0)))
    assert x.shape == (64, 28, 28, 1)
    _expect_tanh_range(x)


def test_dense_discriminator_sigmoid_and_critic():
    d = gm.build_dense_discriminator(hidden=(32, 16))
    p = np.asarray(d(_images(32)))
    assert p.shape == (32, 1)
    assert np.all((p > 0) & (p < 1))
    critic = gm.build_dense_discriminator(hidden=(32, 16), output_activation=None)
    s = np.asarray(critic(50.0 * _images(32)))
    assert s.min() < 0 or s.max() > 1  # a linear score is not squashed into (0, 1)


# ---------------------------------------------------------------- conv
def test_lecture_configuration_has_the_lecture_parameter_counts():
    # deck 003's summary tables: 844,161 (generator) and 720,833 (discriminator) parameters
    for mode in gm.UPSAMPLE_MODES:
        g = gm.build_conv_generator(latent_dim=100, upsample_mode=mode)
        assert g.output_shape == (None, 28, 28, 1)
        assert g.count_params() == 844_161
    d = gm.build_conv_discriminator(activation="relu")
    assert d.output_shape == (None, 1)
    assert d.count_params() == 720_833


@pytest.mark.parametrize("mode", gm.UPSAMPLE_MODES)
@pytest.mark.parametrize("activation", gm.ACTIVATIONS)
def test_conv_generator_shape_and_tanh_range(mode, activation):
    g = gm.build_conv_generator(latent_dim=8, upsample_mode=mode, activation=activation,
                                batch_norm_momentum=None, **SMALL_G)
    x = np.asarray(g(_z(32, 8, scale=50.0)))
    assert x.shape == (32, 28, 28, 1)
    _expect_tanh_range(x)


def test_conv_generator_colour_image_with_three_upsamplings():
    g = gm.build_conv_generator(latent_dim=8, image_shape=(32, 32, 3), initial_shape=(4, 4, 8),
                                filters=(8, 8, 3), kernel_sizes=(3, 3, 3), upsample=(2, 2, 2))
    assert g.output_shape == (None, 32, 32, 3)
    d = gm.build_conv_discriminator(image_shape=(32, 32, 3), **SMALL_D)
    assert np.asarray(d(_images(4, (32, 32, 3)))).shape == (4, 1)


def test_conv_discriminator_sigmoid_and_critic():
    d = gm.build_conv_discriminator(**SMALL_D)
    p = np.asarray(d(_images(16)))
    assert p.shape == (16, 1) and np.all((p > 0) & (p < 1))
    critic = gm.build_conv_discriminator(output_activation=None, **SMALL_D)
    s = np.asarray(critic(50.0 * _images(16)))
    assert s.min() < 0 or s.max() > 1


def test_impossible_upsampling_plan_names_arguments_and_sizes():
    with pytest.raises(ValueError) as err:
        gm.build_conv_generator(initial_shape=(7, 7, 8), filters=(8, 8, 1), kernel_sizes=(3, 3, 3),
                                upsample=(2, 2, 2))
    msg = str(err.value)
    assert "upsample=[2, 2, 2]" in msg and "initial_shape=(7, 7, 8)" in msg
    assert "56x56" in msg and "28x28" in msg  # the size reached and the size needed


def test_upsampling_plan_with_a_fractional_factor_is_rejected():
    with pytest.raises(ValueError, match="product is 5.6"):
        gm.build_conv_generator(initial_shape=(5, 5, 8), filters=(8, 1), kernel_sizes=(3, 3), upsample=(2, 2))


@pytest.mark.parametrize("kwargs, words", [
    (dict(kernel_sizes=(5, 5, 5)), ["kernel_sizes has 3", "filters has 4"]),
    (dict(upsample=(2, 2)), ["upsample has 2"]),
    (dict(filters=(128, 64, 64, 3)), ["filters=[128, 64, 64, 3]", "image channels (1)"]),
    (dict(upsample_mode="deconv"), ["upsample_mode='deconv'", "transpose"]),
    (dict(activation="tanh"), ["activation='tanh'"]),
    (dict(batch_norm_momentum=1.5), ["batch_norm_momentum=1.5"]),
    (dict(filters=(), kernel_sizes=(), upsample=()), ["at least one conv layer"]),
])
def test_conv_generator_rejects_bad_arguments(kwargs, words):
    with pytest.raises(ValueError) as err:
        gm.build_conv_generator(**kwargs)
    for word in words:
        assert word in str(err.value)


@pytest.mark.parametrize("kwargs, words", [
    (dict(strides=(2, 2)), ["strides has 2", "filters has 4"]),
    (dict(dropout=1.0), ["dropout=1.0"]),
    (dict(image_shape=(28, 28)), ["image_shape=(28, 28)"]),
])
def test_conv_discriminator_rejects_bad_arguments(kwargs, words):
    with pytest.raises(ValueError) as err:
        gm.build_conv_discriminator(**kwargs)
    for word in words:
        assert word in str(err.value)


# ---------------------------------------------------------------- conditional
COMBOS = [(mode, arch) for mode in gm.LABEL_MODES for arch in gm.ARCHITECTURES]


def _conditional_pair(label_mode, architecture):
    g_body = SMALL_G if architecture == "conv" else dict(hidden=(32,))
    d_body = SMALL_D if architecture == "conv" else dict(hidden=(32,))
    g = gm.build_conditional_generator(latent_dim=8, label_mode=label_mode, embedding_dim=4,
                                       architecture=architecture, **g_body)
    d = gm.build_conditional_discriminator(label_mode=label_mode, embedding_dim=4,
                                           architecture=architecture, **d_body)
    return g, d


@pytest.mark.parametrize("label_mode, architecture", COMBOS)
def test_conditional_models_use_the_label(label_mode, architecture):
    keras.utils.set_random_seed(0)
    g, d = _conditional_pair(label_mode, architecture)
    z = _z(10, 8, scale=3.0)
    y = np.arange(10)
    x = np.asarray(g([z, y]))
    assert x.shape == (10, 28, 28, 1) and x.min() >= -1 and x.max() <= 1
    x_other = np.asarray(g([z, (y + 3) % 10]))  # same z, other labels
    assert np.abs(x - x_other).max() > 1e-3
    p = np.asarray(d([x, y]))
    assert p.shape == (10, 1) and np.all((p > 0) & (p < 1))
    p_other = np.asarray(d([x, (y + 3) % 10]))  # same images, other labels
    assert np.abs(p - p_other).max() > 1e-5


def test_one_hot_label_map_tiles_the_one_hot_vector_over_every_pixel():
    d = gm.build_conditional_discriminator(label_mode="one_hot", **SMALL_D)
    tiles = keras.Model(d.inputs[1], d.get_layer("label_map").output)  # y -> (N, 28, 28, 10)
    y = np.array([3, 7])
    got = np.asarray(tiles(y))
    want = np.broadcast_to(np.eye(10)[y][:, None, None, :], (2, 28, 28, 10))  # numpy tiling
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("kwargs, words", [
    (dict(label_mode="onehot"), ["label_mode='onehot'", "one_hot"]),
    (dict(architecture="mlp"), ["architecture='mlp'"]),
    (dict(num_classes=0), ["num_classes"]),
    (dict(upsample=(2, 2, 2, 1)), ["56x56", "28x28"]),
    (dict(strides=(2, 2)), ["unknown argument", "strides"]),
])
def test_conditional_generator_rejects_bad_arguments(kwargs, words):
    with pytest.raises(ValueError) as err:
        gm.build_conditional_generator(**kwargs)
    for word in words:
        assert word in str(err.value)


def test_conditional_discriminator_rejects_mismatched_lists():
    with pytest.raises(ValueError, match="strides has 3"):
        gm.build_conditional_discriminator(filters=(8, 8), kernel_sizes=(3, 3), strides=(2, 2, 2))


# ---------------------------------------------------------------- C and C^T
CASES = [((4, 4), (3, 3), 1), ((5, 5), (3, 3), 2), ((6, 7), (2, 3), 2), ((7, 7), (3, 3), 3)]


@pytest.mark.parametrize("input_shape, kernel_shape, stride", CASES)
def test_conv_matrix_matches_keras_convolution(input_shape, kernel_shape, stride):
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=kernel_shape)
    x = rng.normal(size=input_shape)
    c = gm.conv_matrix(kernel, input_shape, stride)
    want = keras.ops.conv(x[None, :, :, None], kernel[:, :, None, None], strides=stride, padding="valid")
    want = np.asarray(want)[0, :, :, 0]
    assert c.shape == (want.size, x.size)
    np.testing.assert_allclose(c @ x.ravel(), want.ravel(), atol=1e-5)


@pytest.mark.parametrize("input_shape, kernel_shape, stride", CASES)
def test_conv_matrix_transpose_matches_keras_conv2d_transpose(input_shape, kernel_shape, stride):
    rng = np.random.default_rng(1)
    kernel = rng.normal(size=kernel_shape)
    c = gm.conv_matrix(kernel, input_shape, stride)
    out_h = gm.conv_output_size(input_shape[0], kernel_shape[0], stride)
    out_w = gm.conv_output_size(input_shape[1], kernel_shape[1], stride)
    small = rng.normal(size=(out_h, out_w)).astype("float32")
    layer = keras.layers.Conv2DTranspose(1, kernel_shape, strides=stride, padding="valid", use_bias=False)
    layer.build((None, out_h, out_w, 1))
    layer.kernel.assign(kernel[:, :, None, None])
    want = np.asarray(layer(small[None, :, :, None]))[0, :, :, 0]
    # The shapes differ by the rows a strided conv skips ((size - k) % stride of them): Keras
    # drops them, C^T keeps them as zeros (no output pixel looks there). Compare the overlap.
    got = (c.T @ small.ravel()).reshape(input_shape)
    h, w = min(got.shape[0], want.shape[0]), min(got.shape[1], want.shape[1])
    np.testing.assert_allclose(got[:h, :w], want[:h, :w], atol=1e-5)
    assert np.allclose(got[h:, :], 0) and np.allclose(got[:, w:], 0)
    assert np.allclose(want[h:, :], 0) and np.allclose(want[:, w:], 0)


def test_conv_matrix_rejects_a_kernel_larger_than_the_input():
    with pytest.raises(ValueError, match="does not fit"):
        gm.conv_matrix(np.ones((5, 5)), (3, 3))


@pytest.mark.parametrize("fast", ["0", "1"])
def test_dcgan_config_builds_the_course_dcgan_in_both_modes(monkeypatch, fast):
    monkeypatch.setenv("COURSE_FAST", fast)
    g_config, d_config = gm.dcgan_config()
    for mode in gm.UPSAMPLE_MODES:
        g = gm.build_conv_generator(16, upsample_mode=mode, **g_config)
        assert tuple(g.output_shape) == (None, 28, 28, 1)
    d = gm.build_conv_discriminator(**d_config)
    critic = gm.build_conv_discriminator(output_activation=None, **dict(d_config, dropout=0.0))
    assert tuple(d.output_shape) == tuple(critic.output_shape) == (None, 1)
    # the full-mode sizes are the ones bench/results were measured with
    want_filters = [128, 64, 1] if fast == "0" else [32, 1]
    assert g_config["filters"] == want_filters and d_config["dropout"] == 0.3


def test_dcgan_config_is_the_only_copy():
    """Lessons 07, 08, 10 and the metrics bench read the DCGAN sizes from gan_models.dcgan_config."""
    import pathlib
    root = pathlib.Path(__file__).resolve().parents[1]
    files = [*(root / "solutions").glob("0[78]_*.ipynb"), *(root / "solutions").glob("10_*.ipynb"),
             root / "bench" / "metrics_table.py"]
    assert len(files) == 4
    for path in files:
        text = path.read_text()
        assert "dcgan_config()" in text, path
        assert "fast=(7, 7, 32)" not in text, f"{path} still holds its own copy of the DCGAN sizes"
