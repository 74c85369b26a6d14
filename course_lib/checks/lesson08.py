"""Checks for lesson 08 (conditional GAN): label maps for D(x | y) and the label accuracy."""
import numpy as np

from course_lib.checks.core import CheckFailed, call_student, expect_close, passed


def check_tile_labels(tile_labels):
    """tile_labels(y_onehot (N, K), height, width) -> (N, height, width, K), the vector at every pixel."""
    cases = [(np.eye(10)[[3, 7]], 28, 28), (np.eye(3)[[0, 1, 2, 2]], 4, 5), (np.array([[0.2, 0.8]]), 1, 3)]
    for y_onehot, height, width in cases:
        got = np.asarray(call_student(tile_labels, y_onehot, height, width, exercise="Exercise 1"), dtype=float)
        n, k = y_onehot.shape
        want = np.broadcast_to(y_onehot[:, None, None, :], (n, height, width, k))
        if got.shape != want.shape:
            raise CheckFailed(
                f"for {n} labels of {k} classes and a {height}x{width} image your result has shape {got.shape}; "
                f"it should have shape {want.shape} (N, height, width, classes: channels last, so it can be "
                f"concatenated to the images along the last axis)."
            )
        expect_close(got, want, f"tile_labels for {n} labels of {k} classes on {height}x{width}",
                     hint="Every pixel (i, j) of example n must hold the whole vector y_onehot[n].")
    return passed("check_tile_labels", len(cases))


def check_label_accuracy(label_accuracy):
    """label_accuracy(class_probs (N, K), labels (N,)) -> fraction whose most probable class is the label."""
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.4, 0.5, 0.1], [0.2, 0.2, 0.6]])
    cases = [
        (probs, np.array([0, 2, 1, 2]), 1.0),
        (probs, np.array([0, 1, 1, 0]), 0.5),
        (probs, np.array([1, 0, 0, 1]), 0.0),
        # the label's own probability is high but another class is higher: still wrong
        (np.array([[0.45, 0.55], [0.9, 0.1], [0.2, 0.8]]), np.array([0, 0, 1]), 2 / 3),
    ]
    for p, y, want in cases:
        got = call_student(label_accuracy, p, y, exercise="Exercise 2")
        got = float(np.asarray(got))
        if not np.isclose(got, want, atol=1e-6):
            hint = ""
            if np.isclose(got, float(np.mean(p[np.arange(len(y)), y]))):
                hint = (" You averaged the probability of the label; count instead how often the most probable "
                        "class (argmax) equals the label.")
            raise CheckFailed(f"for probabilities {np.array2string(p, precision=2)} and labels {y.tolist()} "
                              f"your label accuracy is {got:.4g}; it should be {want:.4g}.{hint}")
    return passed("check_label_accuracy", len(cases))
