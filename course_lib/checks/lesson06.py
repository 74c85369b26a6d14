"""Checks for lesson 06 (the vanilla GAN): optimal D, the GAN losses, counting covered modes."""
import numpy as np

from course_lib.checks.core import CheckFailed, as_number, call_student, expect_close, expect_equal, passed

EPS = 1e-7  # Keras' epsilon: probabilities are clipped to [eps, 1 - eps] before the log


def _bce(target, p):
    """Keras' binary cross-entropy, the independent reference: mean of -[t log p + (1 - t) log(1 - p)]."""
    import keras

    p = np.asarray(p, dtype="float32").reshape(-1, 1)
    t = np.full_like(p, target)
    return float(np.mean(keras.ops.convert_to_numpy(keras.losses.binary_crossentropy(t, p))))


def _bce_of_concatenation(d_real, d_fake):
    """One BCE mean over [real; fake] with targets [1; 0]: the deck's single D update on a concatenation."""
    n_real, n_fake = len(d_real), len(d_fake)
    return (n_real * _bce(1.0, d_real) + n_fake * _bce(0.0, d_fake)) / (n_real + n_fake)


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
    cases = [(rng.uniform(0.05, 0.95, 8), rng.uniform(0.05, 0.95, 8)),  # unequal terms first: the hints tell apart
             (np.array([0.9, 0.99]), np.array([0.2, 0.01, 0.4])), (np.full(4, 0.5), np.full(4, 0.5))]
    for d_real, d_fake in cases:
        d_real, d_fake = d_real.astype("float32"), d_fake.astype("float32")
        got = as_number(call_student(discriminator_loss, d_real, d_fake, exercise="Exercise 2"), "the D loss")
        want = _bce(1.0, d_real) + _bce(0.0, d_fake)
        if not np.isclose(got, want, rtol=1e-4, atol=1e-5):
            hint = ""
            if np.isclose(got, -want, rtol=1e-4):
                hint = " Your sign is flipped: D *maximises* log D(x) + log(1 - D(G(z))), so its loss is minus that."
            elif np.isclose(got, _bce_of_concatenation(d_real, d_fake), rtol=1e-4):
                hint = (" You averaged over the concatenated batch [real; fake]: both terms are there, but one mean "
                        "over both batches weighs each by its share of the 2-batch total (half of L_D for equal "
                        "batches). Take the mean of each term over its own batch, then add the two.")
            elif np.isclose(got, len(d_real) * _bce(1.0, d_real) + len(d_fake) * _bce(0.0, d_fake), rtol=1e-4):
                hint = (" You summed over the samples: each term of L_D is a mean over its batch (1/m sum), so the "
                        "loss does not grow with the batch size.")
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
            got = as_number(call_student(generator_loss, d_fake, non_saturating=non_saturating, exercise="Exercise 3"),
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
        result = call_student(count_modes, samples, centers, 0.1, exercise="Exercise 5")
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise CheckFailed(f"count_modes should return a pair (modes covered, fraction near a mode); got {result!r}")
        expect_equal(int(result[0]), modes, f"modes covered for {name}",
                     hint="A mode counts as covered when at least min_fraction of the samples fall within 3 std "
                          "of its centre (one stray sample is not enough).")
        expect_close(float(result[1]), quality, f"fraction of samples within 3 std of a centre for {name}", atol=1e-6)
    return passed("check_count_modes", len(cases))


# ---------------------------------------------------------------------------------------------
# Exercise: one GAN training step with train_on_batch
# ---------------------------------------------------------------------------------------------
STEP_LATENT_DIM = 1  # G(z) = w z + b: every fake lies on one line, so the check can tell G's output apart
STEP_BATCH = 16


def _tiny_step_models(seed):
    """G (z -> x, linear), D (x -> probability) compiled, and combined z -> D(G(z)) compiled with D frozen."""
    import keras

    from course_lib import config

    config.set_seed(seed)
    generator = keras.Sequential([keras.Input((STEP_LATENT_DIM,)), keras.layers.Dense(2)])
    discriminator = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8, activation="tanh"),
                                      keras.layers.Dense(1, activation="sigmoid")])
    discriminator.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy")
    discriminator.trainable = False  # as the deck: frozen while the combined model is built
    z = keras.Input((STEP_LATENT_DIM,))
    combined = keras.Model(z, discriminator(generator(z)))
    combined.compile(optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy")
    return generator, discriminator, combined


def _on_generators_line(x, generator_weights):
    """True if every row of x is w z + b for G's weights (w, b): the batch came out of G."""
    w, b = (np.asarray(v, dtype=np.float64) for v in generator_weights)
    offset = np.asarray(x, dtype=np.float64).reshape(-1, 2) - b
    cross = offset[:, 0] * w[0, 1] - offset[:, 1] * w[0, 0]  # 0 when the offset is parallel to w
    return bool(np.allclose(cross, 0.0, atol=1e-4 * (1 + np.abs(offset).max())))


def _step_problem(records, result, x_real, generator_before):
    """The first thing wrong with one run of the student's step, or None."""
    d_calls = [r for r in records if r["name"] == "D"]
    g_calls = [r for r in records if r["name"] == "combined"]
    if not d_calls:
        return "your step never calls discriminator.train_on_batch: D is never updated."
    is_real = [np.shape(r["x"]) == x_real.shape and np.allclose(r["x"], x_real) for r in d_calls]
    real = [r for r, flag in zip(d_calls, is_real) if flag]
    fake = [r for r, flag in zip(d_calls, is_real) if not flag]
    if not real or not fake:
        return ("update D twice: discriminator.train_on_batch(x_real, ones) on the real batch as given, then "
                "discriminator.train_on_batch(x_fake, zeros) on the fakes G just made (the deck's single update "
                "on the concatenation [x_real; x_fake] also trains D, but this step returns the two losses apart).")
    for which, r in (("real", real[0]), ("fake", fake[0])):
        if not r["d_moved"]:
            return (f"D did not move in its update on the {which} batch (D.trainable was {r['d_trainable']} "
                    "at that call). Set discriminator.trainable = True right before each "
                    "discriminator.train_on_batch: the combined model's setup left D frozen.")
    if np.mean(real[0]["y"]) < 0.5 or np.mean(fake[0]["y"]) > 0.5:
        return (f"the targets are swapped: D was trained towards {np.mean(real[0]['y']):g} on the real batch and "
                f"{np.mean(fake[0]['y']):g} on the fakes. D says 'real' with 1: ones for x_real, zeros for x_fake.")
    if not _on_generators_line(fake[0]["x"], generator_before):
        return ("the batch D sees with target 0 is not G's output: make the fakes with "
                "generator.predict(z) (or generator(z)) from z ~ N(0, I).")
    if not g_calls:
        return ("your step never calls combined.train_on_batch, so G does not move: G learns only through the "
                "combined model z -> D(G(z)).")
    g = g_calls[-1]
    if g["d_moved"]:
        return (f"D moved in G's update (D.trainable was {g['d_trainable']} at combined.train_on_batch). Set "
                "discriminator.trainable = False right before combined.train_on_batch, at every step.")
    if not g["g_moved"]:
        return "G did not move in its update through the combined model."
    if np.shape(g["x"]) != (len(x_real), STEP_LATENT_DIM):
        return (f"G's update got inputs of shape {np.shape(g['x'])}; it needs a batch of noise z of shape "
                f"(N, latent_dim) = {(len(x_real), STEP_LATENT_DIM)}.")
    d_of_fake = np.clip(np.asarray(g["output"], np.float64).reshape(-1), EPS, 1 - EPS)
    if np.mean(g["y"]) < 0.5:
        return ("you trained G towards label 0: that makes G's fakes *easier* to reject. G wants "
                "D(G(z)) = 1: train the combined model towards ones (the non-saturating loss -log D(G(z))).")
    if np.isclose(float(np.asarray(g["loss"])), np.mean(np.log(1 - d_of_fake)), rtol=1e-3):
        return ("G's update minimised log(1 - D(G(z))), the saturating minimax loss, whose gradient vanishes "
                "while D rejects the fakes. Use BCE with target 1, i.e. -log D(G(z)).")
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        return f"return the three losses (d_loss_real, d_loss_fake, g_loss); you returned {result!r}."
    want = (real[0]["loss"], fake[0]["loss"], g["loss"])
    got = [as_number(v, "each returned loss") for v in result]
    if not np.allclose(got, [float(np.asarray(w)) for w in want], rtol=1e-5, atol=1e-7):
        return ("return what the three train_on_batch calls returned, in the order (d_loss_real, d_loss_fake, "
                f"g_loss) = {tuple(round(float(np.asarray(w)), 4) for w in want)}; you returned "
                f"{tuple(round(v, 4) for v in got)}.")
    return None


def check_gan_step(gan_step):
    """Run the student's gan_step twice on tiny networks and read what each train_on_batch did.

    gan_step(generator, discriminator, combined, x_real, latent_dim) -> (d_loss_real, d_loss_fake, g_loss).
    Two steps, because TensorFlow fixes `trainable` into a model's train function at its first call.
    """
    from course_lib.checks.updates import record_updates

    generator, discriminator, combined = _tiny_step_models(seed=6)
    x_real = (np.random.default_rng(6).normal(size=(STEP_BATCH, 2)) * 0.3 + 2.0).astype("float32")
    for run in (1, 2):
        generator_before = [w.copy() for w in generator.get_weights()]
        d_trainable = discriminator.trainable
        try:
            result, records = record_updates(
                lambda: call_student(gan_step, generator, discriminator, combined, x_real, STEP_LATENT_DIM,
                                     exercise="Exercise 4"),
                generator, discriminator, {"D": discriminator, "combined": combined})
        except CheckFailed:
            raise
        except ValueError as err:
            if "optimizer was built with" in str(err):
                raise CheckFailed(f"in step {run} Keras raised: {err}. On JAX the set of trainable weights must not "
                                  "change after a model's optimizer was built: set discriminator.trainable = True "
                                  "right before each D update and False right before each G update.") from None
            raise
        problem = _step_problem(records, result, x_real, generator_before)
        if problem:
            raise CheckFailed(f"in step {run} (D.trainable was {d_trainable} when your step started): {problem}")
    return passed("check_gan_step", 2)
