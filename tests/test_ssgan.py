"""course_lib.ssgan: the K + 1 class loss against an explicit (K + 1)-way softmax, feature matching
against NumPy, which network each update moves, and a short run on a toy problem with 15 labels."""
import keras
import numpy as np
import pytest
from scipy.special import log_softmax

from course_lib import config, gan_models, ssgan
from course_lib.checks.updates import check_updates_isolated

IMAGE_SHAPE = (4, 4, 1)
RNG = np.random.default_rng(0)
PROTOTYPES = RNG.uniform(-0.8, 0.8, (3, *IMAGE_SHAPE))


def toy_digits(n, rng):
    """Three classes of 4x4 'images': a prototype per class plus noise."""
    y = rng.integers(0, 3, n)
    return np.clip(PROTOTYPES[y] + 0.3 * rng.normal(size=(n, *IMAGE_SHAPE)), -1, 1).astype("float32"), y


def numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def explicit_k_plus_1(logits):
    """log-probabilities of the K + 1 classes, the fake class's logit appended as 0."""
    extended = np.concatenate([logits, np.zeros((len(logits), 1))], axis=1)  # (N, K + 1)
    return log_softmax(extended, axis=1)


def tiny_ssgan(seed=0):
    config.set_seed(seed)
    generator = gan_models.build_dense_generator(4, hidden=(32,), image_shape=IMAGE_SHAPE)
    discriminator = ssgan.build_classifier_discriminator(3, architecture="dense", hidden=(32,),
                                                         image_shape=IMAGE_SHAPE, dropout=0.0)
    trainer = ssgan.SSGANTrainer(generator, discriminator, num_classes=3, verbose=0, seed=seed,
                                 d_optimizer=keras.optimizers.Adam(2e-3, beta_1=0.5),
                                 g_optimizer=keras.optimizers.Adam(2e-3, beta_1=0.5))
    return generator, discriminator, trainer


# ----- the loss parts --------------------------------------------------------------------
def test_the_three_parts_match_an_explicit_k_plus_1_softmax():
    logits = np.random.default_rng(1).normal(0, 3, (6, 4))
    labels = np.array([0, 3, 1, 2, 2, 0])
    log_p = explicit_k_plus_1(logits)  # (6, 5); column 4 is "fake"
    p_fake = np.exp(log_p[:, -1])
    want_sup = -(log_p[np.arange(6), labels] - np.log(1 - p_fake))  # -log p(y | x, real)
    np.testing.assert_allclose(numpy(ssgan.supervised_loss(labels, logits)), want_sup, rtol=1e-5)
    np.testing.assert_allclose(numpy(ssgan.real_loss(logits)), -np.log(1 - p_fake), rtol=1e-5)  # -log D(x)
    np.testing.assert_allclose(numpy(ssgan.fake_loss(logits)), -log_p[:, -1], rtol=1e-5)  # -log p(fake | x)


def test_discriminator_loss_uses_the_part_each_target_names():
    logits = np.random.default_rng(2).normal(0, 2, (3, 4)).astype("float32")
    targets = np.array([[2], [ssgan.unlabelled_target(4)], [ssgan.fake_target(4)]])
    log_p = explicit_k_plus_1(logits)
    want = [-(log_p[0, 2] - np.log(1 - np.exp(log_p[0, -1]))), -np.log(1 - np.exp(log_p[1, -1])), -log_p[2, -1]]
    np.testing.assert_allclose(numpy(ssgan.discriminator_loss(targets, logits)), want, rtol=1e-5)


def test_confident_real_logits_give_a_small_real_loss_and_a_large_fake_loss():
    logits = np.array([[12.0, 0.0, 0.0]], dtype="float32")  # Z = e^12: D(x) close to 1
    assert float(numpy(ssgan.real_loss(logits))[0]) < 1e-4
    assert float(numpy(ssgan.fake_loss(logits))[0]) == pytest.approx(12.0, abs=1e-3)


def test_feature_matching_loss_against_numpy():
    rng = np.random.default_rng(3)
    f_real, f_fake = rng.normal(size=(8, 5)).astype("float32"), rng.normal(1, 1, (8, 5)).astype("float32")
    want = np.sum((f_real.mean(axis=0) - f_fake.mean(axis=0)) ** 2)
    assert float(numpy(ssgan.feature_matching_loss(f_real, f_fake))) == pytest.approx(want, rel=1e-5)
    assert float(numpy(ssgan.feature_matching_loss(f_real, f_real[::-1]))) == pytest.approx(0.0, abs=1e-10)


# ----- training ------------------------------------------------------------------------------
def test_each_update_moves_only_its_own_network():
    generator, discriminator, trainer = tiny_ssgan()
    rng = np.random.default_rng(4)
    (xu, _), (xl, yl) = toy_digits(128, rng), toy_digits(15, rng)
    trainer.set_data(xu, xl, yl)
    check_updates_isolated(lambda: trainer.d_step(16), lambda: trainer.g_step(16), generator, discriminator)


def test_feature_matching_updates_bring_the_fake_features_to_the_real_ones():
    generator, discriminator, trainer = tiny_ssgan()
    rng = np.random.default_rng(5)
    (xu, _), (xl, yl) = toy_digits(512, rng), toy_digits(15, rng)
    trainer.set_data(xu, xl, yl)
    z = numpy(keras.random.normal((512, 4), seed=7))

    def mismatch():  # on large batches, with D fixed: only G moves in g_step
        f_real, f_fake = numpy(trainer.features(xu)), numpy(trainer.features(generator(z)))
        return np.sum((f_real.mean(axis=0) - f_fake.mean(axis=0)) ** 2)

    before = mismatch()
    for _ in range(30):
        trainer.g_step(64)
    assert mismatch() < 0.5 * before


def test_a_short_run_learns_to_classify_from_15_labels():
    _, _, trainer = tiny_ssgan()
    rng = np.random.default_rng(6)
    (xu, _), (xl, yl), (x_test, y_test) = toy_digits(512, rng), toy_digits(15, rng), toy_digits(300, rng)
    history = trainer.train(xu, xl, yl, 100, batch_size=16)
    assert np.mean(trainer.predict_classes(x_test) == y_test) > 0.8  # chance is 1/3
    assert set(history) >= {"sup_loss", "d_loss_real", "d_loss_fake", "g_loss"}
