"""Checks for lesson 05: conditioning the encoder and the decoder on the label."""
import numpy as np

from course_lib.checks.core import CheckFailed, call_student, expect_close, passed


def _to_numpy(value):
    if hasattr(value, "numpy"):
        value = value.numpy()
    return np.asarray(value, dtype=np.float64)


def check_conditioning(conditional_inputs):
    """conditional_inputs(x, z, labels, num_classes) -> (encoder_input, decoder_input).

    encoder_input = [flatten(x), one_hot(labels)] of shape (N, 784 + num_classes);
    decoder_input = [z, one_hot(labels)] of shape (N, latent_dim + num_classes).
    """
    exercise = "Exercise 1 (conditional_inputs)"
    rng = np.random.default_rng(0)
    cases = [(np.array([3, 0, 9]), 10, 2), (np.array([1, 4]), 5, 3)]
    for labels, num_classes, latent_dim in cases:
        x = rng.random((len(labels), 28, 28, 1)).astype(np.float32)
        z = rng.normal(size=(len(labels), latent_dim)).astype(np.float32)
        result = call_student(conditional_inputs, x, z, labels, num_classes, exercise=exercise)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise CheckFailed("return two arrays: (encoder_input, decoder_input).")
        encoder_input, decoder_input = (_to_numpy(r) for r in result)
        one_hot = np.eye(num_classes)[labels]
        want_enc = np.concatenate([x.reshape(len(x), -1), one_hot], axis=1)
        want_dec = np.concatenate([z, one_hot], axis=1)
        for what, got, want, data_dim in (("encoder input", encoder_input, want_enc, 784),
                                          ("decoder input", decoder_input, want_dec, latent_dim)):
            if got.shape == (want.shape[0], data_dim + 1):
                raise CheckFailed(f"your {what} has one column for the label; append a one-hot vector of "
                                  f"length num_classes={num_classes} instead of the integer label.")
            if got.shape == want.shape and np.allclose(got[:, :num_classes], one_hot):
                raise CheckFailed(f"your {what} puts the label first; put the data first and the one-hot "
                                  "label after it: concatenate([data, one_hot], axis=-1).")
            expect_close(got, want, f"for labels {labels.tolist()} your {what}", atol=1e-6,
                         hint="Flatten x to (N, 784), then concatenate the one-hot labels on the last axis.")
    return passed("check_conditioning", len(cases))
