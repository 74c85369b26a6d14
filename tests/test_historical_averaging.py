"""course_lib.historical_averaging: the penalty against NumPy, the pull against its closed form, a short run."""
import keras
import numpy as np
import pytest

from course_lib import ring
from course_lib.historical_averaging import HistoricalAveragingTrainer, historical_penalty


def numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x), dtype=np.float64)


def adam(lr=1e-3):
    return keras.optimizers.Adam(lr, beta_1=0.5)


def tiny_trainer(weight, seed=0):
    g, d = ring.build_ring_gan(8, seed)
    return HistoricalAveragingTrainer(g, d, history_weight=weight, history_decay=0.9, seed=seed, verbose=0,
                                      d_optimizer=adam(), g_optimizer=adam())


def test_penalty_is_the_squared_distance_summed_over_every_tensor():
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=(3, 2)), rng.normal(size=(2,))]
    averages = [rng.normal(size=(3, 2)), rng.normal(size=(2,))]
    want = sum(((w - a) ** 2).sum() for w, a in zip(weights, averages))
    assert float(numpy(historical_penalty(weights, averages))) == pytest.approx(want, rel=1e-6)


def test_the_pull_moves_each_weight_towards_its_average_by_2_lr_weight():
    trainer = tiny_trainer(weight=5.0)
    d, average = trainer.discriminator, trainer.averages["d"].model
    before = [numpy(w) for w in d.weights]
    means = [numpy(a) for a in average.weights]  # the average starts as a copy of the initial weights
    rng = np.random.default_rng(1)
    for w in d.weights:  # move D away from its average
        w.assign(numpy(w) + rng.normal(0, 0.1, w.shape))
    moved = [numpy(w) for w in d.weights]
    lr = 0.01
    penalty = float(numpy(trainer._pulls["d"]("d", keras.ops.convert_to_tensor(lr, "float32"))))
    assert penalty == pytest.approx(sum(((m - a) ** 2).sum() for m, a in zip(moved, means)), rel=1e-5)
    for w, m, a in zip(d.weights, moved, means):
        np.testing.assert_allclose(numpy(w), m - lr * 2 * 5.0 * (m - a), rtol=1e-5, atol=1e-6)
    assert any(np.abs(m - b).max() > 0 for m, b in zip(moved, before))


def test_training_logs_the_penalties_and_keeps_the_players_nearer_their_averages():
    x_ring = ring.ring_data(512, seed=0)
    distances = {}
    for weight in (0.0, 50.0):
        trainer = tiny_trainer(weight)
        trainer.train(x_ring, 30, batch_size=32)
        assert len(trainer.history["d_history"]) == len(trainer.history["g_history"]) == 30
        assert np.all(np.isfinite(trainer.history["d_history"]))
        distances[weight] = trainer.history["d_history"][-1]
    assert distances[50.0] < 0.5 * distances[0.0]


def test_the_average_follows_the_weights():
    trainer = tiny_trainer(weight=1.0)
    start = [numpy(a) for a in trainer.averages["g"].model.weights]
    trainer.train(ring.ring_data(256, seed=0), 5, batch_size=32)
    assert any(np.abs(numpy(a) - s).max() > 0 for a, s in zip(trainer.averages["g"].model.weights, start))


def test_a_checkpoint_keeps_the_averages(tmp_path):
    g, d = ring.build_ring_gan(8, 0)
    trainer = HistoricalAveragingTrainer(g, d, history_weight=1.0, history_decay=0.9, seed=0, verbose=0,
                                         d_optimizer=adam(), g_optimizer=adam(), checkpoint_dir=str(tmp_path))
    trainer.train(ring.ring_data(256, seed=0), 4, batch_size=32)
    trainer.save()
    saved = [numpy(a) for a in trainer.averages["d"].model.weights]
    g2, d2 = ring.build_ring_gan(8, 1)  # other initial weights, so other initial averages
    restored = HistoricalAveragingTrainer(g2, d2, history_weight=1.0, history_decay=0.9, seed=0, verbose=0,
                                          d_optimizer=adam(), g_optimizer=adam(), checkpoint_dir=str(tmp_path))
    assert restored.restore() == 4
    for a, want in zip(restored.averages["d"].model.weights, saved):
        np.testing.assert_allclose(numpy(a), want, rtol=1e-6)
