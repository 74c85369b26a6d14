"""Checks for lesson 06 (the vanilla GAN): optimal D, the GAN losses, counting covered modes."""
import numpy as np

from course_lib.checks.core import CheckFailed, call_student, expect_close, expect_equal, passed

EPS = 1e-7  # Keras' epsilon: probabilities are clipped to [eps, 1 - eps] before the log


def _bce(target, p):
    """Keras' binary cross-entropy, the independent reference: mean of -[t log p + (1 - t) log(1 - p)]."""
    import keras

    p = np.asarray(p, dtype="float32").reshape(-1, 1)
    t = np.full_like(p, target)
    return float(np.mean(keras.ops.convert_to_numpy(keras.losses.binary_crossentropy(t, p))))


def _number(value, what):
    try:
        return float(np.asarray(value.numpy() if hasattr(value, "numpy") else value))
    except (TypeError, ValueError):
        raise CheckFailed(f"{what} should be one number (a scalar); you returned {value!r}") from None


def check_optimal_discriminator(optimal_discriminator):
    """D*(x) = p_data(x) / (p_data(x) + p_g(x)), elementwise."""
    cases = [(0.3, 0.1), (0.2, 0.2), (0.0, 0.5), (1.5, 0.5)]
    p_data = np.array([c[0] for c in cases])
    p_g = np.array([c[1] for c in cases])
    got = np.asarray(call_student(optimal_discriminator, p_data, p_g, exercise="Exercise 1"), dtype=float)
    want = p_data / (p_data + p_g)
    if got.shape != want.shape:
        raise CheckFailed(f"optimal_discriminator should return one value per x (shape {want.shape}); "
                          f"yours has shape {got.shape}")
    for i, (a, b) in enumerate(cases):
        if not np.isclose(got[i], want[i], atol=1e-6):
            raise CheckFailed(f"for p_data={a}, p_g={b} your D* is {got[i]:.4g}; it should be {want[i]:.4g} "
                              "(D* is the probability that x came from the data)")
    return passed("check_optimal_discriminator", len(cases))


def check_discriminator_loss(discriminator_loss):
    """-mean(log D(x_real)) - mean(log(1 - D(G(z)))), equal to BCE(1, d_real) + BCE(0, d_fake)."""
    rng = np.random.default_rng(6)
    cases = [(np.full(4, 0.5), np.full(4, 0.5)), (rng.uniform(0.05, 0.95, 8), rng.uniform(0.05, 0.95, 8)),
             (np.array([0.9, 0.99]), np.array([0.2, 0.01, 0.4]))]
    for d_real, d_fake in cases:
        d_real, d_fake = d_real.astype("float32"), d_fake.astype("float32")
        got = _number(call_student(discriminator_loss, d_real, d_fake, exercise="Exercise 2"), "the D loss")
        want = _bce(1.0, d_real) + _bce(0.0, d_fake)
        if not np.isclose(got, want, rtol=1e-4, atol=1e-5):
            hint = ""
            if np.isclose(got, -want, rtol=1e-4):
                hint = " Your sign is flipped: D *maximises* log D(x) + log(1 - D(G(z))), so its loss is minus that."
            elif np.isclose(got, _bce(1.0, d_real), rtol=1e-4) or np.isclose(got, _bce(0.0, d_fake), rtol=1e-4):
                hint = " You have only one of the two terms: the loss sums the real term and the fake term."
            raise CheckFailed(f"for D(x_real)={np.round(d_real, 3)}, D(G(z))={np.round(d_fake, 3)} your loss is "
                              f"{got:.5g}; it should be {want:.5g}.{hint}")
    return passed("check_discriminator_loss", len(cases))


def check_generator_loss(generator_loss):
    """non-saturating: -mean(log D(G(z))); saturating (minimax): mean(log(1 - D(G(z))))."""
    d_fake_cases = [np.array([0.01, 0.1, 0.3, 0.7]), np.full(3, 0.5), np.array([0.999, 0.9])]
    for d_fake in d_fake_cases:
        d_fake = d_fake.astype("float32")
        want = {True: _bce(1.0, d_fake), False: -_bce(0.0, d_fake)}
        for non_saturating in (True, False):
            got = _number(call_student(generator_loss, d_fake, non_saturating=non_saturating, exercise="Exercise 3"),
                          "the G loss")
            if not np.isclose(got, want[non_saturating], rtol=1e-4, atol=1e-5):
                name = "non-saturating -mean(log D(G(z)))" if non_saturating else "minimax mean(log(1 - D(G(z))))"
                hint = ""
                if np.isclose(got, want[not non_saturating], rtol=1e-4):
                    hint = " That is the other loss: check which one non_saturating selects."
                elif np.isclose(got, -want[non_saturating], rtol=1e-4):
                    hint = " The sign is flipped: G *minimises* this loss."
                raise CheckFailed(f"for D(G(z))={np.round(d_fake, 3)} and non_saturating={non_saturating} your "
                                  f"loss is {got:.5g}; the {name} is {want[non_saturating]:.5g}.{hint}")
    return passed("check_generator_loss", 2 * len(d_fake_cases))


def check_count_modes(count_modes):
    """count_modes(samples, centers, std) -> (modes covered, fraction of samples within 3 std of a centre)."""
    centers = np.array([[2.0, 0.0], [0.0, 2.0], [-2.0, 0.0], [0.0, -2.0]])
    rng = np.random.default_rng(0)
    near = lambda k, n: centers[k] + 0.5 * 0.1 * rng.standard_normal((n, 2))  # noqa: E731
    cases = [
        ("every mode", np.concatenate([near(k, 50) for k in range(4)]), 4, 1.0),
        ("two modes and some far-away samples", np.concatenate([near(0, 90), near(2, 90), np.zeros((20, 2))]), 2, 0.9),
        ("one mode plus a single stray sample near another", np.concatenate([near(1, 199), near(3, 1)]), 1, 1.0),
    ]
    for name, samples, modes, quality in cases:
        result = call_student(count_modes, samples, centers, 0.1, exercise="Exercise 4")
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise CheckFailed(f"count_modes should return a pair (modes covered, fraction near a mode); got {result!r}")
        expect_equal(int(result[0]), modes, f"modes covered for {name}",
                     hint="A mode counts as covered when at least min_fraction of the samples fall within 3 std "
                          "of its centre (one stray sample is not enough).")
        expect_close(float(result[1]), quality, f"fraction of samples within 3 std of a centre for {name}", atol=1e-6)
    return passed("check_count_modes", len(cases))
