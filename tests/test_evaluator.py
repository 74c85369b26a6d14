"""The MNIST evaluator: accuracy, outputs against Keras itself, value ranges and the cache."""
import warnings

import numpy as np
import pytest

from course_lib import evaluator as evaluator_module
from course_lib import metrics
from course_lib.data import load_data


@pytest.fixture(scope="module")
def evaluator():
    return evaluator_module.get_evaluator(verbose=False)


@pytest.fixture(scope="module")
def held_out():
    data = load_data("mnist", verbose=False)
    return data.x_test[:300], data.y_test[:300]


def test_fast_evaluator_reads_held_out_digits(evaluator, held_out):
    # fast mode: 3,000 images, 3 epochs (~94%); full mode (bench/evaluator.py) reaches >= 99% on real MNIST
    assert evaluator.test_accuracy > 0.85
    x, y = held_out
    assert evaluator.accuracy(x, y) > 0.85
    assert evaluator.accuracy(x, np.eye(10)[y]) == evaluator.accuracy(x, y)  # one-hot labels too


def test_probabilities_and_features_match_keras(evaluator, held_out):
    import keras

    x, _ = held_out
    probs, features = evaluator.predict_proba(x), evaluator.features(x)
    assert probs.shape == (300, 10) and features.shape == (300, evaluator_module.FEATURE_DIM)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(probs, evaluator.model.predict(x, verbose=0), rtol=1e-4, atol=1e-6)
    feature_model = keras.Model(evaluator.model.input, evaluator.model.get_layer("features").output)
    np.testing.assert_allclose(features, feature_model.predict(x, verbose=0), rtol=1e-4, atol=1e-5)


def test_flat_and_minus_one_to_one_inputs(evaluator, held_out):
    x, _ = held_out
    probs = evaluator.predict_proba(x)
    np.testing.assert_allclose(evaluator.predict_proba(x.reshape(len(x), 784)), probs, atol=1e-6)
    np.testing.assert_allclose(evaluator.predict_proba(x * 2 - 1, value_range=(-1, 1)), probs, atol=1e-5)
    with pytest.raises(ValueError, match=r"value_range=\(-1, 1\)"):
        evaluator.predict_proba(x * 2 - 1)
    with pytest.raises(ValueError, match="0, 1"):
        evaluator.features(x * 255)
    with pytest.raises(ValueError, match="shape"):
        evaluator.predict_proba(np.zeros((2, 32, 32, 3)))


def test_label_accuracy_of_real_digits_and_of_shuffled_labels(evaluator, held_out):
    x, y = held_out
    assert metrics.label_accuracy(x, y, evaluator) == pytest.approx(evaluator.accuracy(x, y))
    wrong = (y + 1) % 10
    assert metrics.label_accuracy(x, wrong, evaluator) < 0.1


def test_inception_score_of_real_digits_is_high(evaluator, held_out):
    x, _ = held_out
    mean, _ = metrics.inception_score(evaluator.predict_proba(x), splits=3)
    assert 6.0 < mean <= 10.0  # ~7 with the fast evaluator (less confident), ~9.5 in full mode


def test_weights_are_cached_per_mode_and_reloaded(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv(evaluator_module.CACHE_ENV, str(tmp_path))
    first = evaluator_module.get_evaluator(n_train=256, epochs=1, verbose=True)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["evaluator_cnn2_mnist_fast_n256_e1_s0.weights.h5"]  # no temporary file left behind
    capsys.readouterr()
    second = evaluator_module.get_evaluator(n_train=256, epochs=1, verbose=True)
    assert "loaded cached weights" in capsys.readouterr().out
    x = np.random.default_rng(0).uniform(size=(8, 28, 28, 1))
    np.testing.assert_allclose(second.predict_proba(x), first.predict_proba(x), atol=1e-6)
    assert second.test_accuracy == first.test_accuracy


def test_invalid_epochs_raise():
    with pytest.raises(ValueError, match="epochs"):
        evaluator_module.get_evaluator(epochs=0, verbose=False)


def test_generator_report_and_table(evaluator, held_out):
    x, _ = held_out
    real_features = evaluator.features(x)
    row = metrics.generator_report(evaluator, x * 2 - 1, real_features, value_range=(-1, 1), splits=3,
                                   x_train=x[:100], near_copy_threshold=0.5)
    assert row["n"] == 300 and abs(row["fid"]) < 1e-6  # the same images, passed in [-1, 1]
    want_is = metrics.inception_score(evaluator.predict_proba(x), splits=3)
    assert (row["is_mean"], row["is_std"]) == pytest.approx(want_is)
    assert row["near_copies"] == 100  # the first 100 are the training set itself
    table = metrics.markdown_table({"real": row})
    assert table.splitlines()[0].startswith("| samples | n | IS") and "| real | 300 |" in table


def test_training_the_judge_twice_from_fresh_state_gives_the_same_weights(tmp_path, monkeypatch):
    """The cached judge must not depend on what ran before it (issue 11, item 4): the global random
    state is disturbed differently before each run, and the weights must still agree exactly."""
    import keras

    monkeypatch.setenv(evaluator_module.CACHE_ENV, str(tmp_path))
    weights = []
    for disturbance in (1, 2):
        keras.utils.set_random_seed(100 + disturbance)
        keras.random.normal((disturbance * 7,))  # draws that a lesson may have made earlier
        np.random.default_rng(disturbance).random()
        keras.layers.Dense(3).build((None, 4))  # a model built earlier moves the initializers' stream
        judge = evaluator_module.get_evaluator(epochs=1, n_train=256, verbose=False, retrain=True)
        weights.append([w.copy() for w in judge.model.get_weights()])
    for first, second in zip(*weights):
        np.testing.assert_array_equal(first, second)


def test_an_unwritable_cache_is_found_before_training_and_the_model_is_kept_in_memory(monkeypatch, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    folder = blocker / "cache"  # no folder can be made here, not even by root
    monkeypatch.setenv("COURSE_CACHE_DIR", str(folder))
    warned_before_training = []
    real_train = evaluator_module._train

    def train(*args):
        warned_before_training.append(len(caught))
        real_train(*args)

    monkeypatch.setattr(evaluator_module, "_train", train)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        judge = evaluator_module.get_evaluator(n_train=256, epochs=1, verbose=False)
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert warned_before_training == [1] and len(messages) == 1
    assert f"{folder} (COURSE_CACHE_DIR) is not writable" in messages[0] and "kept in memory only" in messages[0]
    assert not folder.exists()
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "writable"))  # the same judge, trained and saved
    saved = evaluator_module.get_evaluator(n_train=256, epochs=1, verbose=False)
    assert len(list((tmp_path / "writable").iterdir())) == 1
    x = np.random.default_rng(0).uniform(size=(16, 28, 28, 1))
    np.testing.assert_allclose(judge.predict_proba(x), saved.predict_proba(x), atol=1e-6)  # trained, kept in memory
