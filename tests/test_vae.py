"""The VAE's formulas against independent references, and short training runs."""
import keras
import numpy as np
import pytest
from scipy import integrate, stats

from course_lib import backend, data, training, vae

LN2 = np.log(2.0)


def kl_closed_form(mu, log_var):
    """Sum over dimensions of KL(N(m, s^2) || N(0, 1)) = -log s + (s^2 + m^2 - 1) / 2."""
    s = np.exp(0.5 * np.asarray(log_var, dtype=np.float64))
    return np.sum(-np.log(s) + (s ** 2 + np.asarray(mu) ** 2 - 1.0) / 2.0, axis=-1)


# ----------------------------------------------------------------------------
# KL term
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("latent_dim", [1, 2, 20])
def test_kl_is_zero_for_the_prior(latent_dim):
    zeros = np.zeros((3, latent_dim), dtype=np.float32)
    np.testing.assert_allclose(vae.kl_divergence(zeros, zeros), np.zeros(3), atol=1e-7)


def test_kl_matches_closed_form_per_dimension():
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(5, 4)).astype(np.float32)
    log_var = rng.normal(size=(5, 4)).astype(np.float32)
    np.testing.assert_allclose(vae.kl_divergence(mu, log_var), kl_closed_form(mu, log_var), rtol=1e-5)
    # one dimension at a time: KL of a diagonal Gaussian is the sum of the per-dimension KLs
    for j in range(4):
        got = vae.kl_divergence(mu[:, j:j + 1], log_var[:, j:j + 1])
        np.testing.assert_allclose(got, kl_closed_form(mu[:, j:j + 1], log_var[:, j:j + 1]), rtol=1e-5)


def test_kl_matches_numerical_integration():
    m, s = 0.7, 0.4
    q, p = stats.norm(m, s), stats.norm(0, 1)
    reference, _ = integrate.quad(lambda z: q.pdf(z) * (q.logpdf(z) - p.logpdf(z)), -10, 10)
    got = vae.kl_divergence(np.array([[m]], np.float32), np.array([[2 * np.log(s)]], np.float32))
    np.testing.assert_allclose(got, [reference], rtol=1e-5)


def test_kl_agrees_with_monte_carlo():
    rng = np.random.default_rng(1)
    mu = rng.normal(size=3)
    log_var = rng.uniform(-1.5, 1.0, size=3)
    sigma = np.exp(0.5 * log_var)
    z = mu + sigma * rng.standard_normal((400_000, 3))
    log_ratio = (stats.norm(mu, sigma).logpdf(z) - stats.norm(0, 1).logpdf(z)).sum(axis=1)  # log q - log p
    estimate, stderr = log_ratio.mean(), log_ratio.std() / np.sqrt(len(z))
    got = float(vae.kl_divergence(mu[None].astype(np.float32), log_var[None].astype(np.float32))[0])
    assert abs(got - estimate) < 4 * stderr + 1e-4, (got, estimate, stderr)


# ----------------------------------------------------------------------------
# Reparameterization
# ----------------------------------------------------------------------------
def test_sampling_has_requested_mean_and_variance():
    n = 100_000
    mu = np.tile(np.array([[2.0, -1.0, 0.0]], np.float32), (n, 1))
    var = np.array([0.25, 4.0, 1.0], np.float32)
    log_var = np.tile(np.log(var)[None], (n, 1))
    z = keras.ops.convert_to_numpy(vae.Sampling(seed=3)([mu, log_var]))
    assert np.all(np.abs(z.mean(axis=0) - mu[0]) < 4 * np.sqrt(var / n)), z.mean(axis=0)
    np.testing.assert_allclose(z.var(axis=0), var, rtol=0.03)


def test_sampling_is_seeded():
    mu = np.zeros((4, 2), np.float32)
    a = keras.ops.convert_to_numpy(vae.Sampling(seed=5)([mu, mu]))
    b = keras.ops.convert_to_numpy(vae.Sampling(seed=5)([mu, mu]))
    c = keras.ops.convert_to_numpy(vae.Sampling(seed=6)([mu, mu]))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_gradients_reach_mu_and_log_var():
    mu = np.array([[0.5, -0.3]], np.float32)
    log_var = np.array([[0.2, -1.0]], np.float32)
    # A fresh layer with the same seed draws the same eps, so z is the sample the gradients are taken at.
    z = keras.ops.convert_to_numpy(vae.Sampling(seed=0)([mu, log_var]))
    total = lambda mu, log_var: keras.ops.sum(vae.Sampling(seed=0)([mu, log_var]))  # noqa: E731
    d_mu = keras.ops.convert_to_numpy(backend.gradient(lambda m: total(m, log_var), mu))
    d_log_var = keras.ops.convert_to_numpy(backend.gradient(lambda v: total(mu, v), log_var))
    np.testing.assert_allclose(d_mu, np.ones((1, 2)))  # dz/dmu = 1
    # dz/dlog_var = 0.5 * exp(0.5 log_var) * eps = 0.5 * (z - mu)
    np.testing.assert_allclose(d_log_var, 0.5 * (z - mu), rtol=1e-5)
    assert np.all(np.abs(d_log_var) > 0)


# ----------------------------------------------------------------------------
# Reconstruction term and the model's loss
# ----------------------------------------------------------------------------
def test_reconstruction_is_summed_over_pixels_per_example():
    rng = np.random.default_rng(2)
    x = (rng.random((3, 28, 28, 1)) > 0.5).astype(np.float32)
    # with logits 0 every pixel costs ln 2: a sum gives 784 ln 2, a mean over pixels only ln 2. The sum runs
    # in float32, whose rounding over 784 terms depends on the backend's reduction order (JAX on a CPU: 1.4e-6
    # relative), hence the same tolerance as the random-logit case below.
    np.testing.assert_allclose(vae.reconstruction_bce(x, np.zeros_like(x)), np.full(3, 784 * LN2), rtol=1e-5)
    logits = rng.normal(size=x.shape).astype(np.float32)
    p = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
    reference = -(x * np.log(p) + (1 - x) * np.log(1 - p)).reshape(3, -1).sum(axis=1)
    np.testing.assert_allclose(vae.reconstruction_bce(x, logits), reference, rtol=1e-5)


def test_reconstruction_matches_keras_bce_on_grey_levels():
    rng = np.random.default_rng(3)
    x = rng.random((2, 784)).astype(np.float32)
    logits = (5 * rng.normal(size=(2, 784))).astype(np.float32)
    keras_mean = keras.losses.binary_crossentropy(x, logits, from_logits=True)  # mean over pixels
    np.testing.assert_allclose(vae.reconstruction_bce(x, logits), 784 * np.asarray(keras_mean), rtol=1e-4)


@pytest.mark.parametrize("beta", [0.0, 1.0, 4.0])
def test_model_loss_is_mean_of_reconstruction_plus_beta_kl(beta):
    keras.utils.set_random_seed(0)
    model = vae.build_vae(3, kind="dense", hidden=(16,), beta=beta, seed=0)
    x = (np.random.default_rng(0).random((4, 28, 28, 1)) > 0.5).astype(np.float32)
    out = model(x)
    loss = model.compute_loss(x=x, y_pred=out)
    rec = vae.reconstruction_bce(x, out["logits"])
    kl = kl_closed_form(out["mu"], out["log_var"])
    np.testing.assert_allclose(float(loss), np.mean(np.asarray(rec) + beta * kl), rtol=1e-5)


def test_train_step_logs_reconstruction_and_kl_separately():
    keras.utils.set_random_seed(0)
    model = vae.build_vae(2, kind="conv", filters=(4, 8), dense_units=16, beta=2.0, seed=0)
    model.compile(optimizer="adam")
    x = (np.random.default_rng(1).random((8, 28, 28, 1)) > 0.5).astype(np.float32)
    logs = model.test_on_batch(x, return_dict=True)
    assert {"loss", "reconstruction", "kl"} <= set(logs)
    np.testing.assert_allclose(logs["loss"], logs["reconstruction"] + 2.0 * logs["kl"], rtol=1e-5)
    assert 400 < logs["reconstruction"] < 700  # untrained: about 784 ln 2 = 543 nats per image, not ln 2


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_conditional_builders_take_labels(kind):
    sizes = {"hidden": (8,)} if kind == "dense" else {"filters": (4, 8), "dense_units": 8}
    model = vae.build_vae(2, kind=kind, num_classes=10, seed=0, **sizes)
    x = np.zeros((3, 28, 28, 1), np.float32)
    y = keras.utils.to_categorical([0, 1, 2], 10)
    out = model([x, y])
    assert out["logits"].shape == (3, 28, 28, 1) and out["mu"].shape == (3, 2)
    # the decoder really uses the label: same z, different labels, different images
    z = np.zeros((2, 2), np.float32)
    images = vae.decode_images(model, z, keras.utils.to_categorical([3, 7], 10))
    assert not np.allclose(images[0], images[1])
    with pytest.raises(ValueError, match="y_onehot"):
        vae.negative_elbo(model, x)


def test_invalid_arguments_are_explained():
    with pytest.raises(ValueError, match="latent_dim=0"):
        vae.build_dense_encoder(0)
    with pytest.raises(ValueError, match="kind='mlp'"):
        vae.build_vae(2, kind="mlp")
    with pytest.raises(ValueError, match="beta=-1"):
        vae.VAE(vae.build_dense_encoder(2), vae.build_dense_decoder(2), beta=-1)
    with pytest.raises(ValueError, match="filters"):
        vae.build_conv_decoder(2, filters=(8, 8, 8))


# ----------------------------------------------------------------------------
# Short training runs
# ----------------------------------------------------------------------------
def test_short_training_lowers_held_out_negative_elbo():
    d = data.load_data(binarize="threshold", n_train=2000, n_test=500, verbose=False)
    keras.utils.set_random_seed(0)
    model = vae.build_vae(8, kind="dense", hidden=(128,), seed=0)
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    before = vae.negative_elbo(model, d.x_test)["negative_elbo"]
    training.train(model, d.x_train, epochs=2, batch_size=100, verbose=False)
    after = vae.negative_elbo(model, d.x_test)
    assert before > 500  # an untrained Bernoulli decoder costs about 784 ln 2 = 543 nats
    assert after["negative_elbo"] < 0.6 * before, (before, after)
    np.testing.assert_allclose(after["negative_elbo"], after["reconstruction"] + after["kl"])


@pytest.fixture(scope="module")
def judge():
    from course_lib.evaluator import get_evaluator

    return get_evaluator(verbose=False)


def test_cvae_generates_the_requested_digit(judge):
    d = data.load_data(one_hot=True, verbose=False)
    keras.utils.set_random_seed(0)
    model = vae.build_vae(2, kind="dense", hidden=(256,), num_classes=10, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    training.train(model, [d.x_train, d.y_train], epochs=4, batch_size=100, verbose=False)
    labels = np.repeat(np.arange(10), 20)
    z = np.random.default_rng(0).standard_normal((len(labels), 2)).astype(np.float32)
    images = vae.decode_images(model, z, keras.utils.to_categorical(labels, 10))
    accuracy = np.mean(judge.predict_proba(images).argmax(axis=1) == labels)
    # the judge is right on ~93% of real digits in fast mode; a decoder ignoring the label scores ~10%
    assert accuracy > 0.75, accuracy


def test_a_deck_style_encoder_supplies_z_and_negative_elbo_uses_it():
    """An encoder that returns [mu, log_var, z] (the practice deck's form): the VAE takes its z."""
    latent_dim = 2
    x_in = keras.Input((28, 28, 1))
    h = keras.layers.Flatten()(x_in)
    mu = keras.layers.Dense(latent_dim)(h)
    log_var = keras.layers.Dense(latent_dim)(h)
    encoder = keras.Model(x_in, [mu, log_var, mu])  # z = mu: deterministic, so the test can predict it
    decoder = vae.build_dense_decoder(latent_dim, hidden=(8,))
    model = vae.VAE(encoder, decoder, seed=0)
    x = (np.random.default_rng(0).random((5, 28, 28, 1)) > 0.5).astype("float32")
    out = model(x)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(out["z"]), keras.ops.convert_to_numpy(out["mu"]))
    # -ELBO by hand (NumPy): Bernoulli NLL of x under sigmoid(decoder(mu)) + closed-form KL
    mu_np, lv_np = (keras.ops.convert_to_numpy(t) for t in encoder(x)[:2])
    logits = keras.ops.convert_to_numpy(decoder(mu_np)).astype(np.float64)
    p = 1 / (1 + np.exp(-logits))
    rec = -(x * np.log(p) + (1 - x) * np.log(1 - p)).reshape(5, -1).sum(axis=1).mean()
    kl = (-0.5 * (1 + lv_np - mu_np ** 2 - np.exp(lv_np)).sum(axis=1)).mean()
    scores = vae.negative_elbo(model, x, n_samples=3)
    assert scores["reconstruction"] == pytest.approx(rec, rel=1e-4)
    assert scores["kl"] == pytest.approx(kl, rel=1e-4)
