"""CycleGAN: the domains, the losses, the trainer (all four networks learn; a NaN rolls back) and the measurement."""
import keras
import numpy as np
import pytest
from keras import ops
from scipy import ndimage

from course_lib import config, cyclegan


def tiny_networks(seed=0):
    config.set_seed(seed)
    g_ab = cyclegan.build_translator(filters=4, num_residual=1, name="g_ab")
    g_ba = cyclegan.build_translator(filters=4, num_residual=1, name="g_ba")
    d_a = cyclegan.build_patch_discriminator(filters=4, name="d_a")
    d_b = cyclegan.build_patch_discriminator(filters=4, name="d_b")
    return g_ab, g_ba, d_a, d_b


def digits(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = -np.ones((n, 28, 28, 1), "float32")
    for i in range(n):  # a vertical bar at a random column: something to thicken
        col = rng.integers(4, 24)
        x[i, 6:22, col, 0] = 1.0
    return x


# ----- the domains --------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [3, 5])
def test_thicken_is_scipys_grey_dilation(size):
    x = np.random.default_rng(size).uniform(-1, 1, (3, 11, 9, 2)).astype("float32")
    want = ndimage.grey_dilation(x, size=(1, size, size, 1))
    np.testing.assert_allclose(cyclegan.thicken(x, size), want, atol=1e-7)


def test_thicken_widens_a_one_pixel_stroke_to_three():
    x = digits(1)
    thick = cyclegan.thicken(x)
    assert (x[0, 10] > 0).sum() == 1 and (thick[0, 10] > 0).sum() == 3
    assert (thick[0, :, :, 0] > 0).sum(axis=0).max() == 18  # 16 rows of bar + one row above and below


def test_the_two_domains_come_from_disjoint_halves():
    x = digits(50)
    x_a, x_b, index_a, index_b = cyclegan.make_domains(x, seed=1)
    assert len(index_a) == 25 and len(index_b) == 25
    assert set(index_a).isdisjoint(index_b) and set(index_a) | set(index_b) == set(range(50))
    np.testing.assert_array_equal(x_a, x[index_a])  # A: the digits as they are
    np.testing.assert_array_equal(x_b, ndimage.grey_dilation(x[index_b], size=(1, 3, 3, 1)))  # B: thickened


# ----- the losses --------------------------------------------------------------------------------
def test_cycle_loss_by_hand():
    x = np.array([[[[0.0], [1.0]], [[-1.0], [0.5]]]], "float32")  # (1, 2, 2, 1)
    x_back = np.array([[[[0.5], [1.0]], [[0.0], [0.0]]]], "float32")
    # |0.5 - 0| + |1 - 1| + |0 + 1| + |0 - 0.5| = 2.0 over 4 pixels
    assert float(cyclegan.cycle_loss(x, x_back)) == pytest.approx(0.5)


def test_least_squares_loss_by_hand():
    scores = np.array([[0.0, 2.0], [1.0, -1.0]], "float32")
    assert float(cyclegan.least_squares_loss(scores, 1.0)) == pytest.approx((1 + 1 + 0 + 4) / 4)
    assert float(cyclegan.least_squares_loss(scores, 0.0)) == pytest.approx((0 + 4 + 1 + 1) / 4)


def identity_model():
    x = keras.Input((28, 28, 1))
    return keras.Model(x, keras.layers.Identity()(x))


class Judge:  # reads the column of the bar as the "digit": a stand-in for the evaluator
    def predict_proba(self, x, value_range):
        cols = np.argmax(np.asarray(x)[:, 14, :, 0], axis=1) % 10
        return np.eye(10)[cols]


def test_identity_generators_have_zero_cycle_loss_and_keep_every_digit():
    x = digits(20)
    g = identity_model()
    assert float(cyclegan.cycle_loss(x, g(g(x)))) == 0.0
    labels = np.argmax(x[:, 14, :, 0], axis=1) % 10
    kept = cyclegan.content_kept(g, g, Judge(), x, labels)
    assert kept == {"translated": 1.0, "round_trip": 1.0, "cycle_error": 0.0}
    kept = cyclegan.content_kept(g, g, Judge(), x, (labels + 1) % 10)  # every label wrong
    assert kept["translated"] == 0.0 and kept["round_trip"] == 0.0


# ----- the trainer ------------------------------------------------------------------------------
def weights_of(model):
    return [np.array(w) for w in model.get_weights()]


def test_a_few_steps_move_all_four_networks():
    networks = tiny_networks()
    before = [weights_of(m) for m in networks]
    trainer = cyclegan.CycleGANTrainer(*networks, learning_rate=1e-3, verbose=0)
    x = digits(64)
    history = trainer.train(x[:32], cyclegan.thicken(x[32:]), steps=3, batch_size=8)
    assert len(history["g_loss"]) == 3 and trainer.step == 3
    for name, model, old in zip(("G_AB", "G_BA", "D_A", "D_B"), networks, before):
        moved = max(np.abs(new - w).max() for new, w in zip(weights_of(model), old))
        assert moved > 0, f"{name} did not change"
    assert all(np.isfinite(v).all() for v in history.values())


def test_the_generators_loss_is_the_lessons_formula():
    g_ab, g_ba, d_a, d_b = tiny_networks(1)
    trainer = cyclegan.CycleGANTrainer(g_ab, g_ba, d_a, d_b, cycle_weight=3.0, verbose=0)
    x = digits(16)
    a, b = x[:8], cyclegan.thicken(x[8:])
    ones = np.ones((8, 7, 7, 1), "float32")
    got = trainer.combined.test_on_batch([a, b], [ones, ones, a, b], return_dict=True)["loss"]
    f = lambda m, v: ops.convert_to_numpy(m(v, training=False))  # noqa: E731
    fake_b, fake_a = f(g_ab, a), f(g_ba, b)
    want = (np.mean((f(d_b, fake_b) - 1) ** 2) + np.mean((f(d_a, fake_a) - 1) ** 2)
            + 3.0 * (np.mean(np.abs(f(g_ba, fake_b) - a)) + np.mean(np.abs(f(g_ab, fake_a) - b))))
    assert float(got) == pytest.approx(want, rel=1e-4)


def test_identity_loss_adds_two_outputs_with_their_weight():
    networks = tiny_networks(2)
    trainer = cyclegan.CycleGANTrainer(*networks, identity_weight=5.0, verbose=0)
    assert len(trainer.combined.outputs) == 6
    x = digits(32)
    history = trainer.train(x[:16], cyclegan.thicken(x[16:]), steps=2, batch_size=8)
    assert min(history["identity_loss"]) > 0


def test_a_nan_raises_with_the_step_and_keeps_the_last_finite_weights():
    networks = tiny_networks(3)
    trainer = cyclegan.CycleGANTrainer(*networks, verbose=0)
    trainer.good_state_every = 2
    x = digits(32)
    x_a, x_b = x[:16], cyclegan.thicken(x[16:])
    trainer.train(x_a, x_b, steps=2, batch_size=8)  # a finite state is kept at step 2
    kept = [weights_of(m) for m in networks]
    g_ab = networks[0]
    kernel = g_ab.layers[-1].kernel
    kernel.assign(np.full(kernel.shape, np.nan, "float32"))  # G_AB breaks: every loss that sees it is NaN
    with pytest.raises(FloatingPointError, match="at step 3"):
        trainer.train(x_a, x_b, steps=3, batch_size=8)
    assert trainer.step == 2 and len(trainer.history["g_loss"]) == 2
    for model, old in zip(networks, kept):
        for new, w in zip(weights_of(model), old):
            np.testing.assert_array_equal(new, w)


def test_bad_data_is_refused():
    trainer = cyclegan.CycleGANTrainer(*tiny_networks(4), verbose=0)
    x = digits(8)
    with pytest.raises(ValueError, match=r"in \[-1, 1\]"):
        trainer.train((x + 1) * 127.5, x, steps=1)


def test_translate_in_padded_batches_returns_every_image_once():
    x = np.random.default_rng(5).uniform(-1, 1, (7, 28, 28, 1)).astype("float32")
    doubled = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Rescaling(2.0)])
    np.testing.assert_allclose(cyclegan.translate(doubled, x, batch_size=3), 2 * x, rtol=1e-6)


def test_the_generators_hidden_layers_are_instance_normalised():
    g = tiny_networks(6)[0]
    norm = next(layer for layer in g.layers if isinstance(layer, keras.layers.LayerNormalization))
    x = np.random.default_rng(6).uniform(-1, 1, (3, 28, 28, 1)).astype("float32")
    h = ops.convert_to_numpy(keras.Model(g.input, norm.output)(x))  # (3, 28, 28, 4)
    np.testing.assert_allclose(h.mean(axis=(1, 2)), 0.0, atol=1e-4)  # per image and channel, over the pixels
    np.testing.assert_allclose(h.var(axis=(1, 2)), 1.0, atol=1e-2)
