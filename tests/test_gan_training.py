"""course_lib.gan_training: which weights each step updates, labels, resume, NaN stop, short runs."""
import os
import warnings

import keras
import numpy as np
import pytest

from course_lib import checkpoint, config
from course_lib.checks.updates import check_updates_isolated, record_updates
from course_lib.gan_training import ConditionalGANTrainer, GANTrainer

LATENT_DIM = 4
X_REAL = np.random.default_rng(0).normal(size=(256, 2)).astype("float32")


def tiny_gan(seed=0, batch_norm=False):
    config.set_seed(seed)
    g_layers = [keras.layers.Dense(8), keras.layers.LeakyReLU(0.2)]
    if batch_norm:
        g_layers.insert(1, keras.layers.BatchNormalization())
    generator = keras.Sequential([keras.Input((LATENT_DIM,)), *g_layers, keras.layers.Dense(2)])
    discriminator = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8), keras.layers.LeakyReLU(0.2),
                                      keras.layers.Dense(1, activation="sigmoid")])
    return generator, discriminator


def weights(model):
    return [np.array(keras.ops.convert_to_numpy(v)) for v in model.variables]


def assert_same(a, b):
    assert len(a) == len(b)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


class Keras2StyleGAN:
    """The Keras 2 idiom: compile D, set D.trainable = False once, compile the combined model."""

    def __init__(self, generator, discriminator):
        self.generator, self.discriminator = generator, discriminator
        discriminator.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy")
        discriminator.trainable = False
        z = keras.Input((LATENT_DIM,))
        self.combined = keras.Model(z, discriminator(generator(z)))
        self.combined.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy")

    def d_step(self):
        z = np.random.normal(size=(16, LATENT_DIM)).astype("float32")
        x = np.concatenate([X_REAL[:16], self.generator.predict(z, verbose=0)])
        self.discriminator.train_on_batch(x, np.r_[np.ones(16), np.zeros(16)][:, None])

    def g_step(self):
        z = np.random.normal(size=(16, LATENT_DIM)).astype("float32")
        self.combined.train_on_batch(z, np.ones((16, 1)))


@pytest.mark.parametrize("concat_batches", [False, True])
def test_d_step_updates_only_d_and_g_step_updates_only_g(concat_batches):
    generator, discriminator = tiny_gan()
    trainer = GANTrainer(generator, discriminator, LATENT_DIM, concat_batches=concat_batches, verbose=0)
    trainer.set_data(X_REAL)
    for _ in range(2):  # also after the train functions exist (Keras caches them)
        check_updates_isolated(lambda: trainer.d_step(16), lambda: trainer.g_step(16), generator, discriminator)


def test_the_same_check_catches_the_keras2_freeze_once_idiom():
    gan = Keras2StyleGAN(*tiny_gan())
    with pytest.raises(AssertionError, match="D's weights did not change in the D step"):
        check_updates_isolated(gan.d_step, gan.g_step, gan.generator, gan.discriminator)


def test_each_compiled_model_has_its_own_optimizer():
    generator, discriminator = tiny_gan()
    trainer = GANTrainer(generator, discriminator, LATENT_DIM, verbose=0)
    assert trainer.discriminator.optimizer is not trainer.combined.optimizer
    shared = keras.optimizers.Adam()
    with pytest.raises(ValueError, match="two different optimizer instances"):
        GANTrainer(*tiny_gan(), LATENT_DIM, d_optimizer=shared, g_optimizer=shared)


def _bce(target, p):
    eps = keras.config.epsilon()
    p = np.clip(p, eps, 1 - eps)
    return float(np.mean(-(target * np.log(p) + (1 - target) * np.log(1 - p))))


def test_d_losses_and_accuracies_match_hand_computation_with_label_smoothing():
    generator, discriminator = tiny_gan()
    trainer = GANTrainer(generator, discriminator, LATENT_DIM, label_smoothing=0.1, verbose=0)
    x_real, z = X_REAL[:32], np.random.default_rng(1).normal(size=(32, LATENT_DIM)).astype("float32")
    trainer.set_data(X_REAL)
    trainer._real_batch = lambda data, batch_size: x_real
    trainer._generator_inputs = lambda batch_size: z
    x_fake = keras.ops.convert_to_numpy(generator(z))
    seen = []  # D's predictions on each batch right before the update on it
    train_on_batch, fed = discriminator.train_on_batch, []

    def spy(x, y):
        fed.append(keras.ops.convert_to_numpy(x))
        seen.append((keras.ops.convert_to_numpy(discriminator(x))[:, 0], keras.ops.convert_to_numpy(y)[:, 0]))
        return train_on_batch(x, y)

    discriminator.train_on_batch = spy
    logs = trainer.d_step(32)
    l_real, l_fake, a_real, a_fake = (logs[k] for k in ("d_loss_real", "d_loss_fake", "d_acc_real", "d_acc_fake"))
    (p_real, y_real), (p_fake, y_fake) = seen
    np.testing.assert_allclose(y_real, 0.9)
    np.testing.assert_array_equal(y_fake, 0.0)
    np.testing.assert_allclose(fed[0], x_real)
    np.testing.assert_allclose(fed[1], x_fake, rtol=1e-6)  # the fakes are G(z)
    assert l_real == pytest.approx(_bce(0.9, p_real), rel=1e-4)  # smoothed real target 0.9
    assert l_fake == pytest.approx(_bce(0.0, p_fake), rel=1e-4)
    assert a_real == pytest.approx(np.mean(p_real > 0.5))
    assert a_fake == pytest.approx(np.mean(p_fake <= 0.5))


def test_noisy_labels_flip_about_the_requested_fraction():
    trainer = GANTrainer(*tiny_gan(), LATENT_DIM, label_noise=0.2, verbose=0)
    targets = keras.ops.convert_to_numpy(trainer._targets(20000, 1.0))
    assert set(np.unique(targets)) == {0.0, 1.0}
    assert np.mean(targets == 0.0) == pytest.approx(0.2, abs=0.015)


@pytest.mark.parametrize("option", [dict(), dict(concat_batches=True, label_noise=0.1), dict(d_steps=2)])
def test_short_run_changes_both_networks_with_finite_losses(option):
    generator, discriminator = tiny_gan(batch_norm=True)
    g0, d0 = weights(generator), weights(discriminator)
    trainer = GANTrainer(generator, discriminator, LATENT_DIM, verbose=0, **option)
    history = trainer.train(X_REAL, steps=5, batch_size=16)
    assert trainer.step == 5 and trainer.stopped_at is None
    assert set(history) == {"d_loss_real", "d_loss_fake", "g_loss", "d_acc_real", "d_acc_fake"}
    assert all(len(values) == 5 and np.all(np.isfinite(values)) for values in history.values())
    assert all(0.0 <= a <= 1.0 for a in history["d_acc_real"] + history["d_acc_fake"])
    assert any(not np.array_equal(a, b) for a, b in zip(g0, weights(generator)))
    assert any(not np.array_equal(a, b) for a, b in zip(d0, weights(discriminator)))


def tiny_conditional_gan(num_classes=3):
    config.set_seed(0)
    z, y = keras.Input((LATENT_DIM,)), keras.Input((), dtype="int32")
    h = keras.layers.Concatenate()([z, keras.layers.Embedding(num_classes, 3)(y)])
    generator = keras.Model([z, y], keras.layers.Dense(2)(keras.layers.Dense(8, activation="relu")(h)))
    x, y2 = keras.Input((2,)), keras.Input((), dtype="int32")
    h = keras.layers.Concatenate()([x, keras.layers.Embedding(num_classes, 3)(y2)])
    discriminator = keras.Model([x, y2], keras.layers.Dense(1, activation="sigmoid")(keras.layers.Dense(8)(h)))
    return generator, discriminator


def test_conditional_trainer_isolates_updates_and_runs():
    generator, discriminator = tiny_conditional_gan()
    labels = np.arange(len(X_REAL)) % 3
    trainer = ConditionalGANTrainer(generator, discriminator, LATENT_DIM, num_classes=3, verbose=0)
    trainer.set_data(X_REAL, labels)
    check_updates_isolated(lambda: trainer.d_step(16), lambda: trainer.g_step(16), generator, discriminator)
    history = trainer.train(X_REAL, labels, steps=4, batch_size=16)
    assert all(len(v) == 4 and np.all(np.isfinite(v)) for v in history.values())
    sampled = keras.ops.convert_to_numpy(trainer.sample_labels(3000))
    assert set(np.unique(sampled)) == {0, 1, 2}


def test_resume_continues_with_identical_weights_optimizer_state_and_step(tmp_path):
    generator, discriminator = tiny_gan(batch_norm=True)
    trainer = GANTrainer(generator, discriminator, LATENT_DIM, checkpoint_dir=str(tmp_path), verbose=0)
    trainer.train(X_REAL, steps=3, batch_size=16, checkpoint_every=3)
    saved_g, saved_d = weights(generator), weights(discriminator)
    saved_opt = [weights_of(trainer.d_optimizer), weights_of(trainer.g_optimizer)]
    trainer.train(X_REAL, steps=3, batch_size=16)  # the uninterrupted run goes on to step 6

    resumed = GANTrainer(*tiny_gan(seed=5, batch_norm=True), LATENT_DIM, checkpoint_dir=str(tmp_path), verbose=0)
    assert resumed.restore() == 3 == resumed.step
    assert_same(weights(resumed.generator), saved_g)
    assert_same(weights(resumed.discriminator), saved_d)
    assert_same(weights_of(resumed.d_optimizer), saved_opt[0])
    assert_same(weights_of(resumed.g_optimizer), saved_opt[1])
    resumed.train(X_REAL, steps=3, batch_size=16)
    assert resumed.step == 6
    for got, want in zip(weights(resumed.generator) + weights(resumed.discriminator),
                         weights(generator) + weights(discriminator)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)  # same batches, same z, same updates


def weights_of(optimizer):
    return [np.array(keras.ops.convert_to_numpy(v)) for v in optimizer.variables]


def test_nan_loss_raises_and_restores_the_state_of_the_last_checkpoint(tmp_path):
    generator, discriminator = tiny_gan()
    trainer = GANTrainer(generator, discriminator, LATENT_DIM, checkpoint_dir=str(tmp_path), verbose=0)
    at_step_4 = {}

    def poison_at_step_4(trainer, step):
        if step == 4:
            at_step_4["g"], at_step_4["d"] = weights(generator), weights(discriminator)
            kernel = trainer.generator.layers[0].kernel
            kernel.assign(np.full(kernel.shape, np.nan, dtype="float32"))

    path = os.path.join(str(tmp_path), "gan_checkpoint.npz")
    losses = r"NaN or inf at step 5 \(d_loss_real=[\d.]+, d_loss_fake=nan, .*g_loss=nan\)"  # the fakes went NaN
    with pytest.raises(FloatingPointError, match=losses) as error:
        trainer.train(X_REAL, steps=10, batch_size=16, sample_every=1, on_sample=poison_at_step_4, checkpoint_every=2)
    assert "put back to step 4" in str(error.value)
    assert f"The checkpoint {path} (step 4) is unchanged" in str(error.value)
    assert trainer.stopped_at == 5 and trainer.step == 4
    assert len(trainer.history["g_loss"]) == 4
    assert checkpoint.checkpoint_step(path) == 4
    assert_same(weights(generator), at_step_4["g"])  # the live weights are the last finite ones, not NaN
    assert_same(weights(discriminator), at_step_4["d"])


@pytest.mark.parametrize("with_checkpoint_dir", [False, True])
def test_nan_at_the_first_step_without_checkpoint_puts_back_the_initial_state(tmp_path, with_checkpoint_dir):
    generator, discriminator = tiny_gan()
    trainer = GANTrainer(generator, discriminator, LATENT_DIM, verbose=0,
                         checkpoint_dir=str(tmp_path) if with_checkpoint_dir else None)
    g0, d0 = weights(generator), weights(discriminator)
    real_step = trainer.train_step

    def exploding_step(batch_size):  # a step whose update blows up G's weights and whose loss is NaN
        logs = real_step(batch_size)
        kernel = generator.layers[0].kernel
        kernel.assign(np.full(kernel.shape, np.nan, dtype="float32"))
        return {**logs, "g_loss": np.float32("nan")}

    trainer.train_step = exploding_step
    with pytest.raises(FloatingPointError, match=r"NaN or inf at step 1 \(.*g_loss=nan") as error:
        trainer.train(X_REAL, steps=3, batch_size=16)
    message = str(error.value)
    assert "put back to step 0" in message
    assert ("No checkpoint has been written yet" in message) == with_checkpoint_dir
    assert "checkpoint" not in message.lower() or with_checkpoint_dir  # never a checkpoint that does not exist
    assert trainer.step == 0 and trainer.history["g_loss"] == []
    assert_same(weights(generator), g0)
    assert_same(weights(discriminator), d0)
    assert int(keras.ops.convert_to_numpy(trainer.d_optimizer.iterations)) == 0  # the optimizers too
    assert int(keras.ops.convert_to_numpy(trainer.g_optimizer.iterations)) == 0
    assert all(np.all(np.isfinite(w)) for w in weights_of(trainer.g_optimizer))


def image_gan():
    from course_lib import gan_models

    config.set_seed(0)
    generator = gan_models.build_dense_generator(latent_dim=4, hidden=(8,))  # a tanh output
    return generator, gan_models.build_dense_discriminator(hidden=(8,))


@pytest.mark.parametrize("x_real, match", [
    (np.zeros((32, 28, 28), "float32"), r"x_real has shape \(32, 28, 28\), .* \(28, 28, 1\).*x_real\[\.\.\., None\]"),
    (np.full((32, 28, 28, 1), 255, "uint8"), r"x_real has dtype uint8 \(values 255 to 255\)"),
    (np.full((32, 28, 28, 1), 255.0, "float32"), r"x_real has values in \[255, 255\], but the generator's tanh"),
    (np.full((32, 28, 28, 1), np.nan, "float32"), "x_real contains NaN or inf"),
])
def test_training_data_unlike_the_generators_samples_is_a_clear_error(x_real, match):
    trainer = GANTrainer(*image_gan(), 4, verbose=0)
    with pytest.raises(ValueError, match=match):
        trainer.train(x_real, steps=1, batch_size=8)


def test_conditional_labels_must_fit_the_images_and_the_classes():
    trainer = ConditionalGANTrainer(*tiny_conditional_gan(3), LATENT_DIM, num_classes=3, verbose=0)
    with pytest.raises(ValueError, match=r"y_real must hold integer labels in \[0, 2\].*values 0 to 4"):
        trainer.train(X_REAL, np.arange(len(X_REAL)) % 5, steps=1, batch_size=8)
    with pytest.raises(ValueError, match="y_real has 10 labels for 256 images"):
        trainer.train(X_REAL, np.zeros(10, "int64"), steps=1, batch_size=8)


def test_restore_without_checkpoint_dir_is_an_error():
    with pytest.raises(ValueError, match="no checkpoint_dir"):
        GANTrainer(*tiny_gan(), LATENT_DIM, verbose=0).restore()


def test_collapse_warnings_fire_after_patience_steps():
    trainer = GANTrainer(*tiny_gan(), LATENT_DIM, collapse_patience=3, verbose=0)
    collapsed = {"d_loss_real": 1e-5, "d_loss_fake": 1e-5, "g_loss": 16.0}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(2):
            trainer._watch_for_collapse(collapsed)
        assert not caught
        trainer._watch_for_collapse(collapsed)
    messages = " ".join(str(w.message) for w in caught)
    assert "collapsed towards 0" in messages and "stays at its maximum" in messages


@pytest.mark.parametrize("bad, match", [(dict(d_steps=0), "d_steps"), (dict(label_smoothing=0.7), "label_smoothing"),
                                        (dict(label_noise=-0.1), "label_noise"),
                                        (dict(ema_decay=1.0), "ema_decay"), (dict(ema_decay=0), "ema_decay")])
def test_bad_arguments_are_clear_errors(bad, match):
    with pytest.raises(ValueError, match=match):
        GANTrainer(*tiny_gan(), LATENT_DIM, **bad)


def test_ema_generator_follows_the_moving_average_recursion():
    # Replay w_ema <- d_t w_ema + (1 - d_t) w_t with d_t = min(decay, (1 + t) / (10 + t)) in numpy from G's
    # weights after each G update; batch-norm statistics are copied, not averaged.
    generator, discriminator = tiny_gan(batch_norm=True)
    decay = 0.9
    trainer = GANTrainer(generator, discriminator, LATENT_DIM, ema_decay=decay, verbose=0)
    trainer.set_data(X_REAL)
    averaged = [any(v is w for w in generator.trainable_weights) for v in generator.weights]
    assert averaged.count(False) == 2  # the moving mean and variance
    expected = [np.array(keras.ops.convert_to_numpy(v)) for v in generator.weights]
    for t in range(1, 31):  # the warm-up: (1 + t) / (10 + t) stays below 0.9 until t = 80
        trainer.train_step(16)
        d_t = min(decay, (1 + t) / (10 + t))
        current = [np.array(keras.ops.convert_to_numpy(v)) for v in generator.weights]
        expected = [d_t * e + (1 - d_t) * w if avg else w for e, w, avg in zip(expected, current, averaged)]
    got = [np.array(keras.ops.convert_to_numpy(v)) for v in trainer.ema_generator.weights]
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)
    assert any(not np.allclose(g, w) for g, w, avg in zip(got, current, averaged) if avg)  # an average, not a copy


def test_ema_decay_reaches_its_cap_and_is_saved_with_the_checkpoint(tmp_path):
    trainer = GANTrainer(*tiny_gan(), LATENT_DIM, ema_decay=0.5, checkpoint_dir=str(tmp_path), verbose=0)
    trainer.train(X_REAL, steps=10, batch_size=16, checkpoint_every=10)  # (1 + t) / (10 + t) > 0.5 from t = 9
    saved = weights(trainer.ema_generator)
    trainer.g_step(16)  # t = 11: d_t is the cap, 0.5
    for old, new, w in zip(saved, weights(trainer.ema_generator), weights(trainer.generator)):
        np.testing.assert_allclose(new, 0.5 * old + 0.5 * w, rtol=1e-6, atol=1e-7)
    resumed = GANTrainer(*tiny_gan(seed=3), LATENT_DIM, ema_decay=0.5, checkpoint_dir=str(tmp_path), verbose=0)
    assert resumed.restore() == 10
    assert_same(weights(resumed.ema_generator), saved)


def test_ema_does_not_change_which_network_each_step_updates():
    generator, discriminator = tiny_gan()
    trainer = GANTrainer(generator, discriminator, LATENT_DIM, ema_decay=0.99, verbose=0)
    trainer.set_data(X_REAL)
    check_updates_isolated(lambda: trainer.d_step(16), lambda: trainer.g_step(16), generator, discriminator)
    ema_before = weights(trainer.ema_generator)
    trainer.d_step(16)
    assert_same(weights(trainer.ema_generator), ema_before)  # only G updates move the average


def test_the_average_keeps_its_own_copy_of_batch_norm_statistics():
    # On JAX, G's train_on_batch and predict hand G's arrays to a compiled step that deletes them. An average
    # that shared G's batch-norm arrays lost them there (lesson 07: "Array has been deleted" in its predict).
    generator, discriminator = tiny_gan(batch_norm=True)
    trainer = GANTrainer(generator, discriminator, LATENT_DIM, ema_decay=0.9, verbose=0)
    trainer.train(X_REAL, steps=2, batch_size=16)
    trainer.ema.assign_average(keras.ops.convert_to_tensor(2.0))  # the update itself, uncompiled, as an eager run would
    moving = [i for i, v in enumerate(generator.weights) if not v.trainable]  # the average holds them at i too
    statistics = [np.array(keras.ops.convert_to_numpy(generator.weights[i])) for i in moving]
    z = np.zeros((3, LATENT_DIM), "float32")
    generator.predict(z, verbose=0)
    copied = [np.array(keras.ops.convert_to_numpy(trainer.ema_generator.weights[i])) for i in moving]
    assert len(copied) == 2 and all(np.abs(s).sum() > 0 for s in statistics)  # the moving mean and variance
    assert_same(copied, statistics)
    assert np.all(np.isfinite(trainer.ema_generator.predict(z, verbose=0)))


@pytest.mark.parametrize("concat_batches", [False, True])
def test_each_train_on_batch_of_train_step_moves_only_its_network(concat_batches):
    generator, discriminator = tiny_gan()
    trainer = GANTrainer(generator, discriminator, concat_batches=concat_batches, d_steps=2, verbose=0)
    trainer.set_data(X_REAL)
    for _ in range(2):  # the second step runs the train functions Keras built at the first
        _, records = record_updates(lambda: trainer.train_step(16), generator, discriminator,
                                    {"D": discriminator, "combined": trainer.combined})
        d_calls = records[:-1]
        assert [r["name"] for r in records] == ["D"] * (2 if concat_batches else 4) + ["combined"]
        assert all(r["d_moved"] and not r["g_moved"] and r["d_trainable"] for r in d_calls)
        assert records[-1]["g_moved"] and not records[-1]["d_moved"] and not records[-1]["d_trainable"]
        np.testing.assert_array_equal(records[-1]["y"], 1.0)  # G's target: the non-saturating loss


def test_latent_dim_is_read_from_the_generator_and_a_mismatch_is_a_clear_error():
    assert GANTrainer(*tiny_gan(), verbose=0).latent_dim == LATENT_DIM
    assert GANTrainer(*tiny_gan(), LATENT_DIM, verbose=0).latent_dim == LATENT_DIM
    with pytest.raises(ValueError, match=r"latent_dim=7, but the generator's input z has shape \(None, 4\)"):
        GANTrainer(*tiny_gan(), 7, verbose=0)
    generator, discriminator = tiny_conditional_gan()
    assert ConditionalGANTrainer(generator, discriminator, num_classes=3, verbose=0).latent_dim == LATENT_DIM
