"""The ring of eight Gaussians (lesson 06): the standard 2-D test of mode collapse.

    data: 8 Gaussians of standard deviation 0.05 centred on a circle of radius 2
    a mode is covered when at least 1% of the generated samples lie within 3 std of its centre;
    the samples within 3 std of some centre are the "high-quality" fraction

`build_ring_gan` makes lesson 06's small dense G (z (N, 2) -> x (N, 2)) and D (x -> probability of
real), with an optional batch-feature layer (course_lib.minibatch) after D's first hidden layer;
`train_method` trains it with one of lesson 11c's remedies for mode collapse (METHODS).
"""
import keras
import numpy as np
from keras import layers, ops

from course_lib import config, minibatch
from course_lib.gan_training import GANTrainer
from course_lib.historical_averaging import HistoricalAveragingTrainer

NUM_MODES, RADIUS, STD = 8, 2.0, 0.05


def ring_centers(num_modes=NUM_MODES, radius=RADIUS):
    """The modes' centres (num_modes, 2), evenly spaced on the circle."""
    angles = 2 * np.pi * np.arange(num_modes) / num_modes
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def ring_data(n=20000, seed=0, std=STD):
    """n points (n, 2) float32: a centre drawn uniformly, plus N(0, std^2 I) noise."""
    centers = ring_centers()
    rng = np.random.default_rng(seed)
    return (centers[rng.integers(0, len(centers), n)] + std * rng.normal(size=(n, 2))).astype("float32")


def count_modes(samples, centers, std, min_fraction=0.01):
    """(modes with >= min_fraction of the samples within 3 std, fraction of samples within 3 std of a centre)."""
    distances = np.linalg.norm(samples[:, None, :] - centers[None, :, :], axis=2)  # (N, n_modes)
    near = distances.min(axis=1) < 3 * std
    counts = np.bincount(distances.argmin(axis=1)[near], minlength=len(centers))
    return int(np.sum(counts >= min_fraction * len(samples))), float(np.mean(near))


def build_ring_gan(units, seed, feature_layer=None):
    """Lesson 06's G (2 -> units -> units -> 2) and D (2 -> units [-> feature_layer] -> units -> 1)."""
    config.set_seed(seed)
    g = keras.Sequential([keras.Input((2,)), layers.Dense(units, activation="relu"),
                          layers.Dense(units, activation="relu"), layers.Dense(2)])
    x = keras.Input((2,))
    h = layers.LeakyReLU(0.2)(layers.Dense(units)(x))
    if feature_layer is not None:
        h = feature_layer(h)  # a feature of the whole batch, e.g. minibatch.MinibatchStd()
    h = layers.LeakyReLU(0.2)(layers.Dense(units)(h))
    return g, keras.Model(x, layers.Dense(1, activation="sigmoid")(h))


def generate(generator, n=2000, seed=2):
    """n samples (n, 2) of G as a NumPy array, from z ~ N(0, I) drawn with `seed`."""
    return ops.convert_to_numpy(generator(keras.random.normal((n, 2), seed=seed)))


METHODS = ("neither", "minibatch std", "minibatch discrimination", "historical averaging")


def train_method(method, seed, x_real, steps, units, learning_rate, batch_size=128, num_kernels=5, kernel_dim=3,
                 history_weight=1.0, history_decay=0.99, **trainer_options):
    """Train the ring GAN with one of METHODS (Adam(learning_rate, beta_1=0.5) for both players).

    "minibatch std" / "minibatch discrimination" (num_kernels B, kernel_dim C): the layer after D's first
    hidden layer; "historical averaging": HistoricalAveragingTrainer(history_weight, history_decay), both
    players. trainer_options go to the trainer (e.g. d_steps=5). Returns (generator, discriminator, trainer).
    """
    layer = {"minibatch std": minibatch.MinibatchStd,
             "minibatch discrimination": lambda: minibatch.MinibatchDiscrimination(num_kernels, kernel_dim)}
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    g, d = build_ring_gan(units, seed, feature_layer=layer[method]() if method in layer else None)
    options = dict(d_optimizer=keras.optimizers.Adam(learning_rate, beta_1=0.5),
                   g_optimizer=keras.optimizers.Adam(learning_rate, beta_1=0.5), seed=seed, verbose=0,
                   **trainer_options)
    if method == "historical averaging":
        trainer = HistoricalAveragingTrainer(g, d, history_weight=history_weight, history_decay=history_decay,
                                             **options)
    else:
        trainer = GANTrainer(g, d, **options)
    trainer.train(x_real, steps, batch_size=batch_size)
    return g, d, trainer
