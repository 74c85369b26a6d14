"""course_lib.infogan: the information terms against hand computations, the Hungarian matching
against a brute force, the codes reaching G's output, and short runs in which Q learns to read
the categorical code back only when the information term is on."""
import itertools
import math

import keras
import numpy as np
import pytest
from scipy import stats

from course_lib import config, infogan
from course_lib.checks.updates import changed, check_updates_isolated, snapshot

LATENT_DIM = 4
IMAGE_SHAPE = (4, 4, 1)
X_REAL = np.random.default_rng(0).uniform(-1, 1, (512, *IMAGE_SHAPE)).astype("float32")


def numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def tiny_infogan(info_weight=1.0, seed=0, learning_rate=2e-3):
    config.set_seed(seed)
    generator = infogan.build_info_generator(LATENT_DIM, architecture="dense", hidden=(32,), image_shape=IMAGE_SHAPE)
    discriminator = infogan.build_info_discriminator(architecture="dense", hidden=(32,), image_shape=IMAGE_SHAPE,
                                                     q_hidden=16, dropout=0.0)
    trainer = infogan.InfoGANTrainer(generator, discriminator, info_weight=info_weight, verbose=0, seed=seed,
                                     d_optimizer=keras.optimizers.Adam(learning_rate, beta_1=0.5),
                                     g_optimizer=keras.optimizers.Adam(learning_rate, beta_1=0.5))
    return generator, discriminator, trainer


# ----- the information terms -----------------------------------------------------------
def test_mi_lower_bound_is_log_k_when_q_reads_the_code_exactly():
    c = np.eye(10, dtype="float32")[[0, 3, 3, 9, 5]]
    assert float(infogan.mi_lower_bound(c, c)) == pytest.approx(math.log(10), abs=1e-5)  # H(c) = log 10


def test_mi_lower_bound_is_zero_for_a_uniform_q():
    c = np.eye(10, dtype="float32")[[1, 2, 7]]
    q = np.full((3, 10), 0.1, dtype="float32")
    assert float(infogan.mi_lower_bound(c, q)) == pytest.approx(0.0, abs=1e-6)


def test_mi_lower_bound_by_hand_for_two_categories():
    c = np.array([[1, 0], [0, 1]], dtype="float32")
    q = np.array([[0.8, 0.2], [0.4, 0.6]], dtype="float32")
    want = math.log(2) + (math.log(0.8) + math.log(0.6)) / 2  # E[log Q(c | x)] + H(c)
    assert float(infogan.mi_lower_bound(c, q)) == pytest.approx(want, abs=1e-6)


def test_category_loss_is_keras_cross_entropy():
    rng = np.random.default_rng(1)
    c = np.eye(10, dtype="float32")[rng.integers(0, 10, 6)]
    q = rng.dirichlet(np.ones(10), 6).astype("float32")
    want = numpy(keras.losses.categorical_crossentropy(c, q))
    np.testing.assert_allclose(numpy(infogan.category_loss(c, q)), want, rtol=1e-5)


def test_continuous_loss_is_the_unit_gaussian_negative_log_likelihood_without_its_constant():
    rng = np.random.default_rng(2)
    c, mu = rng.uniform(-1, 1, (5, 2)).astype("float32"), rng.normal(size=(5, 2)).astype("float32")
    nll = -stats.norm.logpdf(c, loc=mu, scale=1.0).sum(axis=1)  # -log N(c; mu, I)
    np.testing.assert_allclose(numpy(infogan.continuous_loss(c, mu)), nll - math.log(2 * math.pi), rtol=1e-5)


# ----- the codes ---------------------------------------------------------------------------
def test_sample_latent_draws_one_hot_uniform_codes_and_normal_z():
    z, c_cat, c_cont = (numpy(v) for v in infogan.sample_latent(20000, 3, seed=keras.random.SeedGenerator(0)))
    assert z.shape == (20000, 3) and c_cat.shape == (20000, 10) and c_cont.shape == (20000, 2)
    assert set(np.unique(c_cat)) == {0.0, 1.0} and np.all(c_cat.sum(axis=1) == 1)
    np.testing.assert_allclose(c_cat.mean(axis=0), 0.1, atol=0.01)  # every category equally often
    assert c_cont.min() >= -1 and c_cont.max() <= 1
    np.testing.assert_allclose(c_cont.var(axis=0), 1 / 3, atol=0.02)  # U(-1, 1): variance 1/3
    np.testing.assert_allclose(z.var(axis=0), 1.0, atol=0.05)


def test_generator_input_is_z_and_c_concatenated_and_the_output_depends_on_c():
    generator, _, _ = tiny_infogan()
    z = np.random.default_rng(3).normal(size=(2, LATENT_DIM)).astype("float32")
    c_cat, c_cont = np.eye(10, dtype="float32")[[4, 4]], np.array([[0.5, -0.5], [0.5, -0.5]], "float32")
    joined = keras.Model(generator.inputs, generator.get_layer("z_and_c").output)
    np.testing.assert_array_equal(numpy(joined([z, c_cat, c_cont])), np.concatenate([z, c_cat, c_cont], axis=1))
    x = numpy(generator([z, c_cat, c_cont]))
    x_other_cat = numpy(generator([z, np.eye(10, dtype="float32")[[7, 7]], c_cont]))
    x_other_cont = numpy(generator([z, c_cat, -c_cont]))
    assert np.abs(x - x_other_cat).max() > 1e-3 and np.abs(x - x_other_cont).max() > 1e-3


def test_discriminator_outputs_a_probability_a_softmax_and_two_means():
    _, discriminator, _ = tiny_infogan()
    d, q_cat, q_cont = (numpy(v) for v in discriminator(X_REAL[:5]))
    assert d.shape == (5, 1) and np.all((d > 0) & (d < 1))
    np.testing.assert_allclose(q_cat.sum(axis=1), 1.0, rtol=1e-5)
    assert q_cont.shape == (5, 2)


# ----- Hungarian matching ------------------------------------------------------------------
def brute_force_agreement(codes, labels, k):
    return max(np.mean(np.array(perm)[codes] == labels) for perm in itertools.permutations(range(k)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hungarian_agreement_matches_a_brute_force_over_permutations(seed):
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 5, 60)
    labels = np.where(rng.uniform(size=60) < 0.6, (codes * 2 + 1) % 5, rng.integers(0, 5, 60))
    got = infogan.categorical_accuracy_hungarian(codes, labels, num_classes=5)
    assert got == pytest.approx(brute_force_agreement(codes, labels, 5))


def test_hungarian_agreement_is_one_for_permuted_labels():
    codes = np.repeat(np.arange(10), 3)
    permutation = np.array([3, 7, 0, 9, 1, 2, 8, 5, 4, 6])
    assert infogan.categorical_accuracy_hungarian(codes, permutation[codes]) == 1.0
    np.testing.assert_array_equal(infogan.code_to_digit_assignment(codes, permutation[codes]), permutation)


# ----- training ------------------------------------------------------------------------------
def q_reads_the_code(generator, discriminator, n=500):
    z, c_cat, c_cont = infogan.sample_latent(n, LATENT_DIM, seed=keras.random.SeedGenerator(1))
    q_cat = discriminator(generator([z, c_cat, c_cont]))[1]
    return float(np.mean(np.argmax(numpy(q_cat), 1) == np.argmax(numpy(c_cat), 1)))


def test_the_information_term_teaches_g_and_q_to_agree_on_the_code():
    generator, discriminator, trainer = tiny_infogan(info_weight=1.0)
    history = trainer.train(X_REAL, 100, batch_size=32)
    assert q_reads_the_code(generator, discriminator) > 0.6  # chance is 0.1
    assert history["category_loss"][-1] < 0.5 * math.log(10)  # H(c) - L_I well below H(c)


def test_without_the_information_term_q_reads_nothing():
    generator, discriminator, trainer = tiny_infogan(info_weight=0.0)
    trainer.train(X_REAL, 100, batch_size=32)
    assert q_reads_the_code(generator, discriminator) < 0.25


def test_each_update_moves_only_its_own_network():
    generator, discriminator, trainer = tiny_infogan()
    trainer.set_data(X_REAL)
    q_layers = [discriminator.get_layer(name) for name in ("q_hidden", "q_cat", "q_cont")]
    q_before = [snapshot(layer) for layer in q_layers]
    check_updates_isolated(lambda: trainer.d_step(32), lambda: trainer.g_step(32), generator, discriminator)
    assert all(changed(before, snapshot(layer)) for before, layer in zip(q_before, q_layers))  # Q trained with D


def test_a_nan_loss_stops_training_and_restores_the_last_finite_weights():
    generator, discriminator, trainer = tiny_infogan()
    trainer.train(X_REAL, 3, batch_size=32)
    finite = snapshot(generator)
    original = trainer.train_step

    def poisoned_step(batch_size, **kwargs):
        logs = original(batch_size, **kwargs)
        generator.layers[-1].weights[0].assign(np.full(generator.layers[-1].weights[0].shape, np.nan))
        return dict(logs, g_loss=float("nan"))

    trainer.train_step = poisoned_step
    with pytest.raises(FloatingPointError, match="step 4"):
        trainer.train(X_REAL, 2, batch_size=32)
    assert not changed(finite, snapshot(generator))


def test_the_trainer_refuses_a_generator_without_codes():
    generator = keras.Sequential([keras.Input((LATENT_DIM,)), keras.layers.Dense(16), keras.layers.Reshape(IMAGE_SHAPE)])
    _, discriminator, _ = tiny_infogan()
    with pytest.raises(ValueError, match=r"three inputs \[z, c_cat, c_cont\]"):
        infogan.InfoGANTrainer(generator, discriminator)
