"""lesson08 checks: pass on the solution, fail on the stub and on plausible wrong answers."""
import numpy as np
import pytest

from course_lib.checks import CheckFailed, lesson08


def tile_solution(y_onehot, height, width):
    y = np.asarray(y_onehot)
    return np.broadcast_to(y[:, None, None, :], (y.shape[0], height, width, y.shape[1]))


def accuracy_solution(class_probs, labels):
    return np.mean(np.argmax(class_probs, axis=1) == labels)


def stub(*args):
    raise NotImplementedError("Exercise: not written yet")


def test_tile_labels_passes_on_the_solution(capsys):
    lesson08.check_tile_labels(tile_solution)
    assert "PASSED check_tile_labels" in capsys.readouterr().out


def test_tile_labels_passes_on_a_keras_ops_solution(capsys):
    import keras

    def tile_keras(y_onehot, height, width):
        y = keras.ops.convert_to_tensor(y_onehot, dtype="float32")
        return keras.ops.tile(y[:, None, None, :], (1, height, width, 1))

    lesson08.check_tile_labels(tile_keras)
    assert "PASSED" in capsys.readouterr().out


def test_tile_labels_fails_on_the_stub():
    with pytest.raises(CheckFailed, match="Exercise 1 is not implemented"):
        lesson08.check_tile_labels(stub)


def test_tile_labels_fails_on_channels_first():
    def channels_first(y_onehot, height, width):
        return np.transpose(tile_solution(y_onehot, height, width), (0, 3, 1, 2))

    with pytest.raises(CheckFailed, match=r"shape \(2, 10, 28, 28\); it should have shape \(2, 28, 28, 10\)"):
        lesson08.check_tile_labels(channels_first)


def test_tile_labels_fails_when_the_vector_is_spread_over_pixels():
    def wrong(y_onehot, height, width):  # right shape, but the labels land in the wrong examples
        return tile_solution(np.asarray(y_onehot)[::-1], height, width)

    with pytest.raises(CheckFailed, match="Every pixel"):
        lesson08.check_tile_labels(wrong)


def test_label_accuracy_passes_on_the_solution(capsys):
    lesson08.check_label_accuracy(accuracy_solution)
    assert "PASSED check_label_accuracy" in capsys.readouterr().out


def test_label_accuracy_fails_on_the_stub():
    with pytest.raises(CheckFailed, match="Exercise 2 is not implemented"):
        lesson08.check_label_accuracy(stub)


def test_label_accuracy_fails_on_the_mean_probability_of_the_label():
    def mean_probability(class_probs, labels):
        return np.mean(class_probs[np.arange(len(labels)), labels])

    with pytest.raises(CheckFailed, match=r"your label accuracy is 0.6; it should be 1.*argmax"):
        lesson08.check_label_accuracy(mean_probability)


def test_label_accuracy_fails_on_a_count_instead_of_a_fraction():
    def count(class_probs, labels):
        return np.sum(np.argmax(class_probs, axis=1) == labels)

    with pytest.raises(CheckFailed, match="your label accuracy is 4; it should be 1"):
        lesson08.check_label_accuracy(count)
