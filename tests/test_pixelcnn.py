"""PixelCNN: masks, causality by gradients, exact NLL, sampling and completion."""
import math

import keras
import numpy as np
import pytest
from keras import ops

from course_lib import backend, data, pixelcnn

H, W = 6, 7  # small and non-square, so rows and columns cannot be confused
# first pixel, end of row 0, start of row 1, end of row 1, a middle pixel, the last pixel
POSITIONS = [0, W - 1, W, 2 * W - 1, 3 * W + 3, H * W - 1]


def pixel_gradients(fn, x, i, extra=None):
    """|d out[:, r, c, :] / d x| summed over batch and channels, flattened in raster order (H*W,)."""
    r, c = divmod(i, x.shape[2])
    extra = None if extra is None else ops.convert_to_tensor(extra)
    grad = backend.gradient(lambda x: ops.sum(fn(x if extra is None else [x, extra])[:, r, c, :]), x)
    return np.abs(ops.convert_to_numpy(grad)).sum(axis=(0, 3)).reshape(-1)


def violations(fn, x, i, include_centre, extra=None):
    """Input positions that output pixel i must not see but does (at or after i; after i for B)."""
    grads = pixel_gradients(fn, x, i, extra)
    first_forbidden = i + 1 if include_centre else i
    return [j for j in range(first_forbidden, grads.size) if grads[j] != 0.0]


def random_input(channels=1, batch=2, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, H, W, channels)).astype("float32")


def masked_layer(mask_type, kernel_size=5, filters=3, channels=2):
    keras.utils.set_random_seed(1)
    layer = pixelcnn.MaskedConv2D(filters, kernel_size, mask_type, bias_initializer="random_normal")
    layer.build((None, H, W, channels))
    return layer


# ---------------------------------------------------------------- masks
def test_causal_mask_matches_hand_written_masks():
    want_a = np.array([[1, 1, 1], [1, 0, 0], [0, 0, 0]], dtype="float32")
    want_b = np.array([[1, 1, 1], [1, 1, 0], [0, 0, 0]], dtype="float32")
    np.testing.assert_array_equal(pixelcnn.causal_mask(3, "A"), want_a)
    np.testing.assert_array_equal(pixelcnn.causal_mask(3, "B"), want_b)
    mask7 = pixelcnn.causal_mask(7, "A")
    assert mask7.sum() == 3 * 7 + 3  # three full rows above, three pixels to the left
    assert pixelcnn.causal_mask(1, "A").sum() == 0 and pixelcnn.causal_mask(1, "B").sum() == 1


@pytest.mark.parametrize("kwargs, word", [
    ({"kernel_size": 4, "mask_type": "A"}, "kernel_size"),
    ({"kernel_size": 0, "mask_type": "A"}, "kernel_size"),
    ({"kernel_size": 3, "mask_type": "C"}, "mask_type"),
])
def test_causal_mask_rejects_bad_arguments(kwargs, word):
    with pytest.raises(ValueError, match=word):
        pixelcnn.causal_mask(**kwargs)


# ---------------------------------------------------------------- layer causality
@pytest.mark.parametrize("mask_type", ["A", "B"])
@pytest.mark.parametrize("i", POSITIONS)
def test_masked_conv_is_causal(mask_type, i):
    layer = masked_layer(mask_type)
    x = random_input(channels=2)
    assert violations(layer, x, i, include_centre=(mask_type == "B")) == []
    grads = pixel_gradients(layer, x, i)
    if i % W > 0:
        assert grads[i - 1] != 0.0  # the left neighbour is seen
    if i >= W:
        assert grads[i - W] != 0.0  # the pixel right above is seen
    assert (grads[i] != 0.0) == (mask_type == "B")  # only mask B sees the centre


def test_masked_conv_matches_plain_conv_with_masked_kernel():
    layer = masked_layer("B", kernel_size=3)
    x = random_input(channels=2)
    reference = keras.layers.Conv2D(3, 3, padding="same")
    reference.build(x.shape)
    mask = pixelcnn.causal_mask(3, "B")[:, :, None, None]
    reference.set_weights([ops.convert_to_numpy(layer.kernel) * mask, ops.convert_to_numpy(layer.bias)])
    np.testing.assert_allclose(ops.convert_to_numpy(layer(x)), ops.convert_to_numpy(reference(x)), atol=1e-6)


def off_by_one_masks(kernel_size, mask_type):
    """Plausible bugs: the centre let through in A, the right neighbour let through in B."""
    good = pixelcnn.causal_mask(kernel_size, mask_type)
    centre = kernel_size // 2
    shifted = good.copy()
    if mask_type == "A":
        shifted[centre, centre] = 1.0  # A that behaves like B
    else:
        shifted[centre, centre + 1] = 1.0  # B that sees one pixel too far
    transposed = good.T.copy()  # column order instead of raster order
    return [shifted, transposed]


@pytest.mark.parametrize("mask_type", ["A", "B"])
def test_causality_test_catches_off_by_one_masks(mask_type):
    x = random_input(channels=2)
    for bad in off_by_one_masks(5, mask_type):
        layer = masked_layer(mask_type)
        layer.mask = bad[:, :, None, None]
        caught = [violations(layer, x, i, include_centre=(mask_type == "B")) for i in POSITIONS]
        assert any(caught), f"an off-by-one mask passed the causality test:\n{bad}"


# ---------------------------------------------------------------- model causality
def tiny_model(num_classes=None):
    keras.utils.set_random_seed(2)
    return pixelcnn.build_pixelcnn((H, W, 1), filters=8, n_blocks=2, first_kernel=5,
                                   block_kernel=3, num_classes=num_classes)


@pytest.mark.parametrize("i", POSITIONS)
def test_pixelcnn_is_causal(i):
    model = tiny_model()
    x = random_input()
    assert violations(model, x, i, include_centre=False) == []
    if i % W > 0:
        assert pixel_gradients(model, x, i)[i - 1] != 0.0  # the left neighbour is seen


def test_conditional_pixelcnn_is_causal_and_uses_the_label():
    model = tiny_model(num_classes=3)
    x = random_input()
    y = keras.utils.to_categorical([0, 2], 3).astype("float32")
    for i in POSITIONS:
        assert violations(model, x, i, include_centre=False, extra=y) == []
    x = ops.convert_to_tensor(x)
    d_first_pixel_d_y = backend.gradient(lambda y: ops.sum(model([x, y])[:, 0, 0, 0]), y)
    assert np.abs(ops.convert_to_numpy(d_first_pixel_d_y)).sum() > 0  # even pixel 0 depends on the class


def test_whole_model_check_catches_a_wrong_first_mask():
    model = tiny_model()
    model.get_layer("masked_a").mask = pixelcnn.causal_mask(5, "B")[:, :, None, None]
    x = random_input()
    assert any(violations(model, x, i, include_centre=False) for i in POSITIONS)


# ---------------------------------------------------------------- builder arguments
@pytest.mark.parametrize("kwargs, word", [
    ({"image_shape": (28, 28, 3)}, "image_shape"),
    ({"image_shape": (28, 28)}, "image_shape"),
    ({"filters": 0}, "filters"),
    ({"n_blocks": -1}, "n_blocks"),
    ({"first_kernel": 4}, "first_kernel"),
    ({"block_kernel": 2}, "block_kernel"),
    ({"num_classes": 1}, "num_classes"),
])
def test_build_pixelcnn_rejects_bad_arguments(kwargs, word):
    with pytest.raises(ValueError, match=word):
        pixelcnn.build_pixelcnn(**kwargs)


def test_masked_conv_rejects_padding_argument():
    with pytest.raises(ValueError, match="padding"):
        pixelcnn.MaskedConv2D(4, 3, "A", padding="valid")


def test_model_config_round_trip_keeps_the_masks():
    model = tiny_model()
    clone = keras.Model.from_config(model.get_config(),
                                    custom_objects={"MaskedConv2D": pixelcnn.MaskedConv2D})
    clone.set_weights(model.get_weights())
    x = random_input()
    np.testing.assert_allclose(ops.convert_to_numpy(clone(x)), ops.convert_to_numpy(model(x)), atol=1e-6)
    assert clone.get_layer("masked_a").mask_type == "A"


# ---------------------------------------------------------------- likelihood
def test_bernoulli_nll_hand_example():
    # p(x=1) = sigmoid(0) = 1/2 and p(x=0) = 1 - sigmoid(ln 3) = 1/4: -log(1/2 * 1/4) = ln 8
    x = np.array([[1.0, 0.0]], dtype="float32")
    logits = np.array([[0.0, math.log(3.0)]], dtype="float32")
    assert float(pixelcnn.bernoulli_nll(x, logits)[0]) == pytest.approx(math.log(8.0), rel=1e-6)


def test_dataset_nll_matches_sum_of_bernoulli_log_probabilities():
    model = tiny_model()
    x = (np.random.default_rng(3).random((5, H, W, 1)) < 0.3).astype("float32")
    logits = ops.convert_to_numpy(model(x)).astype("float64")
    p = 1.0 / (1.0 + np.exp(-logits))
    log_p = np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=(1, 2, 3))  # per image
    np.testing.assert_allclose(ops.convert_to_numpy(pixelcnn.bernoulli_nll(x, logits)), -log_p, rtol=1e-5)
    assert pixelcnn.dataset_nll(model, x, batch_size=2) == pytest.approx(-log_p.mean(), rel=1e-5)
    keras_bce = keras.losses.BinaryCrossentropy(from_logits=True)(x, logits)  # mean over pixels
    assert float(keras_bce) * H * W == pytest.approx(-log_p.mean(), rel=1e-4)


def test_bits_per_dim():
    assert pixelcnn.nats_to_bits_per_dim(784 * math.log(2.0), 784) == pytest.approx(1.0)
    assert pixelcnn.nats_to_bits_per_dim(81.30, 784) == pytest.approx(0.1496, abs=1e-4)


# ---------------------------------------------------------------- sampling
def test_sample_is_binary_with_the_requested_shape_and_seeded():
    model = tiny_model()
    a = pixelcnn.sample(model, 3, seed=5, verbose=0)
    b = pixelcnn.sample(model, 3, seed=5, verbose=0)
    assert a.shape == (3, H, W, 1)
    assert set(np.unique(a)) <= {0.0, 1.0}
    np.testing.assert_array_equal(a, b)
    assert 0.0 < a.mean() < 1.0  # an untrained model gives a mix of zeros and ones


def test_conditional_sample_shape():
    model = tiny_model(num_classes=3)
    y = keras.utils.to_categorical([0, 1, 2, 2], 3)
    out = pixelcnn.sample(model, 4, labels=y, verbose=0)
    assert out.shape == (4, H, W, 1) and set(np.unique(out)) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="labels"):
        pixelcnn.sample(model, 3, labels=y, verbose=0)


def test_completion_keeps_the_given_rows():
    model = tiny_model()
    x = (np.random.default_rng(4).random((4, H, W, 1)) < 0.5).astype("float32")
    out = pixelcnn.complete(model, x, known_rows=3, verbose=0)
    np.testing.assert_array_equal(out[:, :3], x[:, :3])
    assert set(np.unique(out)) <= {0.0, 1.0} and out.shape == x.shape
    with pytest.raises(ValueError, match="known_rows"):
        pixelcnn.complete(model, x, known_rows=H + 1, verbose=0)


def test_fit_lowers_the_nll():
    model = tiny_model()
    x_gray = np.random.default_rng(6).random((64, H, W, 1)).astype("float32") * 0.2  # mostly zeros
    x_test = data.binarize(x_gray, "stochastic", seed=99)  # pixels are 1 with probability ~0.1
    before = pixelcnn.dataset_nll(model, x_test)
    history = pixelcnn.fit(model, x_gray, epochs=3, batch_size=16, learning_rate=1e-2, verbose=0)
    assert len(history["loss"]) == 3
    assert pixelcnn.dataset_nll(model, x_test) < before


def test_dependency_map_agrees_with_the_raster_order():
    model = tiny_model()
    x = random_input()
    seen = pixelcnn.dependency_map(model, 2, 3, x)
    np.testing.assert_array_equal(seen.reshape(-1), pixel_gradients(model, x, 2 * W + 3))
    assert np.all(seen.reshape(-1)[2 * W + 3:] == 0.0) and seen[2, 2] > 0
