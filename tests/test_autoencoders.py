"""Autoencoder builders, greedy stacking, noise and masks against hand computations."""
import keras
import numpy as np
import pytest

from course_lib import autoencoders as ae
from course_lib import data, training


@pytest.fixture(scope="module")
def digits():
    return data.load_data(n_train=1000, n_test=200, verbose=False)


@pytest.mark.parametrize("bottleneck_dim", [2, 5, 10])
def test_dense_autoencoder_is_encoder_then_decoder(bottleneck_dim):
    model, encoder, decoder = ae.build_dense_autoencoder(bottleneck_dim, hidden=(32,))
    x = np.random.default_rng(0).random((4, 28, 28, 1)).astype(np.float32)
    code = encoder.predict(x, verbose=0)
    assert code.shape == (4, bottleneck_dim)
    np.testing.assert_allclose(model.predict(x, verbose=0), decoder.predict(code, verbose=0), atol=1e-6)


def test_conv_autoencoder_shares_weights_and_outputs_pixels():
    model, encoder, decoder = ae.build_conv_autoencoder(2, filters=(4, 8))
    x = np.random.default_rng(0).random((3, 28, 28, 1)).astype(np.float32)
    out = model.predict(x, verbose=0)
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    np.testing.assert_allclose(out, decoder.predict(encoder.predict(x, verbose=0), verbose=0), atol=1e-6)
    assert len(model.weights) == len(encoder.weights) + len(decoder.weights)


def test_builders_reject_bad_arguments():
    with pytest.raises(ValueError, match="bottleneck_dim=0"):
        ae.build_dense_autoencoder(0)
    with pytest.raises(ValueError, match="filters"):
        ae.build_conv_autoencoder(2, filters=(4, 4, 4))
    with pytest.raises(ValueError, match="patch_size=30"):
        ae.random_square_masks(2, patch_size=30)
    with pytest.raises(ValueError, match="stddev=-1"):
        ae.add_noise(np.zeros(3), stddev=-1)


def test_short_training_reduces_reconstruction_error(digits):
    keras.utils.set_random_seed(0)
    model, _, _ = ae.build_dense_autoencoder(10, hidden=(64,))
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="binary_crossentropy")
    before = ae.reconstruction_error(model, digits.x_test)
    training.train(model, digits.x_train, digits.x_train, epochs=3, batch_size=50, verbose=False)
    after = ae.reconstruction_error(model, digits.x_test)
    assert after < 0.5 * before, (before, after)


def test_reconstruction_error_is_mean_squared_error():
    model, _, _ = ae.build_dense_autoencoder(2, hidden=(8,))
    x = np.random.default_rng(1).random((5, 28, 28, 1)).astype(np.float32)
    want = np.mean((model.predict(x, verbose=0) - x) ** 2)
    np.testing.assert_allclose(ae.reconstruction_error(model, x), want, rtol=1e-6)


def test_greedy_pretraining_then_stacking(digits):
    keras.utils.set_random_seed(0)
    x = digits.x_train.reshape(len(digits.x_train), -1)
    pairs, losses = ae.greedy_layerwise_pretrain(x, layer_sizes=(64, 16), epochs=3, batch_size=50)
    assert len(pairs) == 2 and len(losses) == 2
    stacked, encoder, _ = ae.build_dense_autoencoder(16, hidden=(64,))  # same shape, untrained
    model, stacked_encoder, _ = ae.stack_autoencoder(pairs)
    # the stacked encoder is exactly the pretrained layers applied in order
    h = pairs[1][0](pairs[0][0](x[:5]))
    np.testing.assert_allclose(stacked_encoder.predict(digits.x_train[:5], verbose=0),
                               keras.ops.convert_to_numpy(h), atol=1e-5)
    # before any fine-tuning, the greedily trained stack already reconstructs far better than chance
    pretrained = ae.reconstruction_error(model, digits.x_test)
    untrained = ae.reconstruction_error(stacked, digits.x_test)
    assert pretrained < 0.6 * untrained, (pretrained, untrained)


def test_add_noise_has_requested_spread_and_stays_in_range():
    x = np.full((200, 28, 28, 1), 0.5, np.float32)
    noisy = ae.add_noise(x, stddev=0.1, seed=0)
    np.testing.assert_allclose(np.std(noisy - x), 0.1, rtol=0.02)
    np.testing.assert_array_equal(noisy, ae.add_noise(x, stddev=0.1, seed=0))
    wide = ae.add_noise(x, stddev=2.0, seed=1)
    assert wide.min() == 0.0 and wide.max() == 1.0


def test_masks_are_one_square_each():
    masks = ae.random_square_masks(50, patch_size=7, seed=0)
    assert masks.shape == (50, 28, 28, 1)
    for mask in masks[..., 0]:
        rows, cols = np.nonzero(mask)
        assert len(rows) == 49
        assert rows.max() - rows.min() == 6 and cols.max() - cols.min() == 6
    corners = {tuple(np.argwhere(m[..., 0])[0]) for m in masks}
    assert len(corners) > 10  # the square moves from image to image


def test_apply_mask_blanks_only_the_region():
    x = np.random.default_rng(0).random((2, 28, 28, 1)).astype(np.float32)
    mask = ae.random_square_masks(2, patch_size=5, seed=1)
    out = ae.apply_mask(x, mask, fill=0.25)
    np.testing.assert_allclose(out[mask == 1], 0.25)
    np.testing.assert_allclose(out[mask == 0], x[mask == 0])


def test_context_loss_counts_only_the_masked_region():
    rng = np.random.default_rng(2)
    x = (rng.random((3, 28, 28, 1)) > 0.5).astype(np.float32)
    mask = ae.random_square_masks(3, patch_size=6, seed=3)
    pred = rng.uniform(0.05, 0.95, size=x.shape).astype(np.float32)
    target = ae.pack_target(x, mask)
    bce = -(x * np.log(pred) + (1 - x) * np.log(1 - pred))
    want = (bce * mask).reshape(3, -1).sum(axis=1) / 36.0
    got = keras.ops.convert_to_numpy(ae.context_loss(target, pred))
    np.testing.assert_allclose(got, want, rtol=1e-5)
    changed_outside = np.where(mask == 1, pred, 1 - pred)
    np.testing.assert_allclose(ae.context_loss(target, changed_outside), got, rtol=1e-6)
    changed_inside = np.where(mask == 1, 1 - pred, pred)
    assert not np.allclose(ae.context_loss(target, changed_inside), got)
