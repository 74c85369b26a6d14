"""The course's "Inception network" for digits: a small CNN classifier of MNIST.

Inception score and FID were defined with an ImageNet classifier (InceptionV3).
For 28x28 digits the course uses its own judge instead: a small CNN trained on
the training split, cached on disk, and exposing

* `predict_proba(x)`: p(y | x), the class probabilities (for the Inception score
  and the label accuracy of a conditional generator);
* `features(x)`: the penultimate layer (for FID and KID, like InceptionV3's
  2048 pool features);
* `test_accuracy`: its accuracy on the held-out split, printed on load.

The weights are cached in `COURSE_CACHE_DIR` (default `~/.cache/course_lib`),
one file per dataset, mode, training-set size and epoch count, so fast-mode and
full-mode models never overwrite each other. Inputs are images in [0, 1]; data
in [-1, 1] (tanh generators) must say so with `value_range=(-1, 1)`.
"""
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from course_lib import config
from course_lib.checkpoint import atomic_write
from course_lib.validate import check_value_range

CACHE_ENV = "COURSE_CACHE_DIR"
IMAGE_SHAPE = (28, 28, 1)
NUM_CLASSES = 10
FEATURE_DIM = 128
FEATURE_LAYER = "features"
ARCHITECTURE = "cnn2"  # part of the cache file name: change it when build_classifier changes


def cache_dir():
    """Where trained evaluators are kept: `$COURSE_CACHE_DIR` or `~/.cache/course_lib`."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "course_lib")


def build_classifier(num_classes=NUM_CLASSES, feature_dim=FEATURE_DIM):
    """Two conv + pool blocks, a `features` layer and a softmax: ~99% on MNIST after a few epochs."""
    import keras
    from keras import layers

    inputs = keras.Input(IMAGE_SHAPE)  # (N, 28, 28, 1)
    h = layers.Conv2D(32, 3, padding="same", activation="relu")(inputs)
    h = layers.MaxPooling2D()(h)  # (N, 14, 14, 32)
    h = layers.Conv2D(64, 3, padding="same", activation="relu")(h)
    h = layers.MaxPooling2D()(h)  # (N, 7, 7, 64)
    h = layers.Flatten()(h)  # (N, 3136)
    h = layers.Dropout(0.25)(h)
    features = layers.Dense(feature_dim, activation="relu", name=FEATURE_LAYER)(h)  # (N, feature_dim)
    h = layers.Dropout(0.4)(features)
    probs = layers.Dense(num_classes, activation="softmax", name="probs")(h)  # (N, num_classes)
    return keras.Model(inputs, probs, name="mnist_evaluator")


class Evaluator:
    """A trained classifier used as the judge of generated digits."""

    def __init__(self, model, x_test, y_test, name="", verbose=True):
        import keras

        self.model = model
        self.name = name
        # one forward pass gives both the penultimate features and the probabilities
        self._both = keras.Model(model.input, [model.get_layer(FEATURE_LAYER).output, model.outputs[0]])
        self.test_accuracy = self.accuracy(x_test, y_test)
        if verbose:
            print(f"[course_lib.evaluator] {name}: test accuracy {self.test_accuracy:.2%} "
                  f"on {len(x_test):,} held-out images")

    def predict_proba(self, x, value_range=(0, 1), batch_size=500):
        """p(y | x) for images x: (N, 28, 28, 1), (N, 28, 28) or (N, 784) -> (N, 10) float64."""
        return self._run(x, value_range, batch_size)[1]

    def features(self, x, value_range=(0, 1), batch_size=500):
        """Penultimate-layer activations: (N, ...) images -> (N, 128) float64."""
        return self._run(x, value_range, batch_size)[0]

    def features_and_proba(self, x, value_range=(0, 1), batch_size=500):
        """Both at the cost of one pass: ((N, 128), (N, 10))."""
        return self._run(x, value_range, batch_size)

    def accuracy(self, x, y, value_range=(0, 1)):
        """Fraction of images whose most probable class is the label `y` (ints or one-hot)."""
        y = np.asarray(y)
        if y.ndim == 2:
            y = y.argmax(axis=1)
        predicted = self.predict_proba(x, value_range).argmax(axis=1)
        return float(np.mean(predicted == y))

    def _run(self, x, value_range, batch_size):
        import keras

        x = prepare_images(x, value_range)
        feats, probs = [], []
        for start in range(0, len(x), batch_size):
            f, p = self._both(x[start:start + batch_size], training=False)
            feats.append(keras.ops.convert_to_numpy(f))
            probs.append(keras.ops.convert_to_numpy(p))
        if not feats:
            return np.zeros((0, FEATURE_DIM)), np.zeros((0, NUM_CLASSES))
        return (np.concatenate(feats).astype(np.float64), np.concatenate(probs).astype(np.float64))


def prepare_images(x, value_range=(0, 1)):
    """Check the value range and reshape to (N, 28, 28, 1) float32 in [0, 1]."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 2 and x.shape[1] == 784:
        x = x.reshape(-1, 28, 28, 1)  # (N, 784) -> (N, 28, 28, 1)
    elif x.ndim == 3 and x.shape[1:] == (28, 28):
        x = x[..., None]  # (N, 28, 28) -> (N, 28, 28, 1)
    if x.ndim != 4 or x.shape[1:] != IMAGE_SHAPE:
        raise ValueError(f"the evaluator expects images of shape (N, 28, 28, 1), (N, 28, 28) or (N, 784); "
                         f"got {x.shape}.")
    value_range = check_value_range("value_range", value_range)
    if value_range == (-1, 1):
        x = (x + 1.0) / 2.0  # [-1, 1] -> [0, 1]
    if x.size and (x.min() < -1e-3 or x.max() > 1 + 1e-3):
        hint = (" It looks like [-1, 1] data (e.g. a tanh generator): pass value_range=(-1, 1)."
                if value_range == (0, 1) and x.min() < 0 else "")
        raise ValueError(f"the evaluator expects pixels in [0, 1] after value_range={value_range}; "
                         f"got values in [{x.min():.3g}, {x.max():.3g}].{hint}")
    return x


def get_evaluator(dataset="mnist", epochs=None, verbose=True, retrain=False, n_train=None, seed=0):
    """Load the cached evaluator for `dataset`, training it first if needed.

    Fast mode trains on 3,000 images for 3 epochs (a few seconds, ~94% accuracy); full mode on the
    whole training split for 8 epochs (>= 99% on the real MNIST test set). Training re-seeds
    the global random generators with `seed`. When the cache folder is not writable, this is
    found out before training; the trained model is then kept in memory only, with a warning.
    """
    from course_lib.data import load_data

    epochs = config.choose(full=8, fast=3) if epochs is None else int(epochs)
    if epochs < 1:
        raise ValueError(f"epochs={epochs} must be at least 1.")
    n_train = config.choose(full=None, fast=3000) if n_train is None else n_train
    data = load_data(dataset, n_train=n_train, verbose=verbose)
    name = f"evaluator_{ARCHITECTURE}_{dataset}_{config.mode_name()}_n{len(data.x_train)}_e{epochs}_s{seed}"
    path = cache_dir() / f"{name}.weights.h5"
    config.set_seed(seed)  # before building: the initial weights, hence the cached judge, depend on it
    model = build_classifier(num_classes=len(data.class_names))
    if path.exists() and not retrain:
        model.load_weights(path)
        if verbose:
            print(f"[course_lib.evaluator] loaded cached weights {path}")
        return Evaluator(model, data.x_test, data.y_test, name=name, verbose=verbose)
    problem = _not_writable(path.parent)  # found out before training, not after
    if problem:
        _warn_memory_only(path.parent, problem)
    _train(model, data, epochs, verbose)
    if not problem:
        try:
            atomic_write(path, model.save_weights, suffix=".weights.h5")
            if verbose:
                print(f"[course_lib.evaluator] saved weights to {path}")
        except OSError as err:  # the folder changed while the model trained
            _warn_memory_only(path.parent, _reason(err))
    return Evaluator(model, data.x_test, data.y_test, name=name, verbose=verbose)


def _not_writable(folder):
    """Why no file can be written in `folder` (created if missing), or None when one can."""
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        return _reason(err)
    return None


def _reason(err):
    return f"{type(err).__name__}: {err.strerror or err}"


def _warn_memory_only(folder, problem):
    warnings.warn(f"the evaluator cache folder {folder} ({CACHE_ENV}) is not writable ({problem}): the "
                  f"evaluator trained now is kept in memory only and will be trained again in every new "
                  f"session. Set {CACHE_ENV} to a writable folder to keep it.", RuntimeWarning, stacklevel=3)


def _train(model, data, epochs, verbose):
    import keras

    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(data.x_train, data.y_train, batch_size=128, epochs=epochs, shuffle=True,
              verbose=1 if verbose else 0)
