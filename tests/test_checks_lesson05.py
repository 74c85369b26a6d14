"""The lesson 05 check passes the solution and fails stubs and plausible mistakes with specific messages."""
import pytest
from keras import ops

from course_lib.checks import CheckFailed, lesson05


def stub(*args):
    raise NotImplementedError("Exercise 1: not written yet")


def solution(x, z, labels, num_classes):
    one_hot = ops.one_hot(labels, num_classes)
    x_flat = ops.reshape(x, (ops.shape(x)[0], -1))
    return ops.concatenate([x_flat, one_hot], axis=-1), ops.concatenate([z, one_hot], axis=-1)


def test_check_passes_the_solution():
    lesson05.check_conditioning(solution)


def test_check_fails_the_stub():
    with pytest.raises(CheckFailed, match="not implemented yet"):
        lesson05.check_conditioning(stub)


def test_check_names_plausible_mistakes():
    def integer_label(x, z, labels, num_classes):
        column = ops.cast(ops.reshape(labels, (-1, 1)), "float32")
        return (ops.concatenate([ops.reshape(x, (ops.shape(x)[0], -1)), column], axis=-1),
                ops.concatenate([z, column], axis=-1))
    with pytest.raises(CheckFailed, match="one-hot vector"):
        lesson05.check_conditioning(integer_label)

    def label_first(x, z, labels, num_classes):
        one_hot = ops.one_hot(labels, num_classes)
        return (ops.concatenate([one_hot, ops.reshape(x, (ops.shape(x)[0], -1))], axis=-1),
                ops.concatenate([one_hot, z], axis=-1))
    with pytest.raises(CheckFailed, match="puts the label first"):
        lesson05.check_conditioning(label_first)

    def decoder_without_label(x, z, labels, num_classes):
        return solution(x, z, labels, num_classes)[0], z
    with pytest.raises(CheckFailed, match="decoder input"):
        lesson05.check_conditioning(decoder_without_label)

    def one_element(x, z, labels, num_classes):
        return solution(x, z, labels, num_classes)[0]
    with pytest.raises(CheckFailed, match="two arrays"):
        lesson05.check_conditioning(one_element)
