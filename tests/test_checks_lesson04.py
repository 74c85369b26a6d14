"""The lesson 04 checks pass the solutions and fail stubs and plausible mistakes with specific messages."""
import keras
import pytest
from keras import ops

from course_lib import vae
from course_lib.checks import CheckFailed, lesson04


def stub(*args):
    raise NotImplementedError("Exercise: not written yet")


def solution_loss(x, logits, mu, log_var, beta=1.0):
    per_pixel = ops.binary_crossentropy(x, logits, from_logits=True)
    return ops.sum(per_pixel, axis=(1, 2, 3)) + beta * vae.kl_divergence(mu, log_var)


def test_kl_check():
    lesson04.check_kl(vae.kl_divergence)
    with pytest.raises(CheckFailed, match="not implemented yet"):
        lesson04.check_kl(stub)
    with pytest.raises(CheckFailed, match="sign is flipped"):
        lesson04.check_kl(lambda mu, lv: -vae.kl_divergence(mu, lv))
    with pytest.raises(CheckFailed, match="one value per example"):
        lesson04.check_kl(lambda mu, lv: ops.sum(vae.kl_divergence(mu, lv)))
    # forgetting the 1/2
    with pytest.raises(CheckFailed, match="for mu=1, log_var=0 your KL"):
        lesson04.check_kl(lambda mu, lv: 2 * vae.kl_divergence(mu, lv))


def test_reparameterize_check():
    lesson04.check_reparameterize(lambda mu, lv, eps: mu + ops.exp(0.5 * lv) * eps)
    with pytest.raises(CheckFailed, match="not implemented yet"):
        lesson04.check_reparameterize(stub)
    with pytest.raises(CheckFailed, match="standard deviation"):
        lesson04.check_reparameterize(lambda mu, lv, eps: mu + ops.exp(lv) * eps)
    with pytest.raises(CheckFailed, match="for mu=0, log_var=0, eps=1 your z"):
        lesson04.check_reparameterize(lambda mu, lv, eps: mu + lv * eps)


def test_vae_loss_check():
    lesson04.check_vae_loss(solution_loss)
    lesson04.check_vae_loss(
        lambda x, logits, mu, lv, beta: vae.reconstruction_bce(x, logits) + beta * vae.kl_divergence(mu, lv))
    with pytest.raises(CheckFailed, match="not implemented yet"):
        lesson04.check_vae_loss(stub)

    def mean_over_pixels(x, logits, mu, log_var, beta=1.0):
        per_pixel = ops.binary_crossentropy(x, logits, from_logits=True)
        return ops.mean(per_pixel, axis=(1, 2, 3)) + beta * vae.kl_divergence(mu, log_var)
    with pytest.raises(CheckFailed, match="mean over pixels"):
        lesson04.check_vae_loss(mean_over_pixels)

    with pytest.raises(CheckFailed, match="one value per example"):
        lesson04.check_vae_loss(lambda *args: ops.mean(solution_loss(*args)))
    with pytest.raises(CheckFailed, match="multiply the KL term by beta"):
        lesson04.check_vae_loss(lambda x, logits, mu, lv, beta: solution_loss(x, logits, mu, lv, 1.0))

    def logits_as_probabilities(x, logits, mu, log_var, beta=1.0):  # forgot from_logits=True
        per_pixel = ops.binary_crossentropy(x, logits)
        return ops.sum(per_pixel, axis=(1, 2, 3)) + beta * vae.kl_divergence(mu, log_var)
    with pytest.raises(CheckFailed, match="from_logits=True"):
        lesson04.check_vae_loss(logits_as_probabilities)


def test_vae_loss_check_names_a_subtracted_kl():
    # the old check answered this with a from_logits hint
    def kl_subtracted(x, logits, mu, log_var, beta=1.0):
        per_pixel = ops.binary_crossentropy(x, logits, from_logits=True)
        return ops.sum(per_pixel, axis=(1, 2, 3)) - beta * vae.kl_divergence(mu, log_var)
    with pytest.raises(CheckFailed, match="reconstruction - beta \\* KL.*adds it") as info:
        lesson04.check_vae_loss(kl_subtracted)
    assert "from_logits" not in str(info.value)


# ---- the sampling layer, the encoder and the decoder (exercises 3, 5 and 6) -----------------------
def make_sampling(stddev=1.0, fixed=False, variance=False):
    class Sampling(keras.layers.Layer):
        def __init__(self, seed=None, **kwargs):
            super().__init__(**kwargs)
            self.seed_generator = keras.random.SeedGenerator(seed)

        def call(self, inputs):
            mu, log_var = inputs
            eps = (ops.ones_like(mu) if fixed
                   else keras.random.normal(ops.shape(mu), stddev=stddev, seed=self.seed_generator))
            scale = ops.exp(log_var) if variance else ops.exp(0.5 * log_var)
            return mu + scale * eps
    return Sampling


def test_sampling_layer_check():
    lesson04.check_sampling_layer(make_sampling())
    lesson04.check_sampling_layer(vae.Sampling)
    class StubSampling(keras.layers.Layer):  # what the lesson hands out: call() not written
        def __init__(self, seed=None, **kwargs):
            super().__init__(**kwargs)
            self.seed_generator = keras.random.SeedGenerator(seed)

        def call(self, inputs):
            raise NotImplementedError("Exercise 3: `call` is not written yet")
    with pytest.raises(CheckFailed, match="not implemented yet"):
        lesson04.check_sampling_layer(StubSampling)
    with pytest.raises(CheckFailed, match="standard deviation 0.1.*stddev=0.1"):
        lesson04.check_sampling_layer(make_sampling(stddev=0.1))
    with pytest.raises(CheckFailed, match="return the same z"):
        lesson04.check_sampling_layer(make_sampling(fixed=True))
    with pytest.raises(CheckFailed, match="should be about \\(2, -1\\) and \\(0.5, 2\\)"):
        lesson04.check_sampling_layer(make_sampling(variance=True))


def make_encoder(log_var_activation=None, outputs=3, sampling=None):
    def build(latent_dim, hidden):
        x = keras.Input((28, 28, 1))
        h = keras.layers.Flatten()(x)
        for units in hidden:
            h = keras.layers.Dense(units, activation="relu")(h)
        mu = keras.layers.Dense(latent_dim)(h)
        log_var = keras.layers.Dense(latent_dim, activation=log_var_activation)(h)
        z = (sampling or vae.Sampling)(seed=0)([mu, log_var])
        return keras.Model(x, [mu, log_var, z][:outputs])
    return build


def make_decoder(last_activation=None, reshape=True):
    def build(latent_dim, hidden):
        z = keras.Input((latent_dim,))
        h = z
        for units in reversed(hidden):
            h = keras.layers.Dense(units, activation="relu")(h)
        h = keras.layers.Dense(784, activation=last_activation)(h)
        return keras.Model(z, keras.layers.Reshape((28, 28, 1))(h) if reshape else h)
    return build


def test_vae_encoder_check():
    lesson04.check_vae_encoder(make_encoder())
    with pytest.raises(CheckFailed, match="not implemented yet"):
        lesson04.check_vae_encoder(stub)
    with pytest.raises(CheckFailed, match="log_var is never negative.*relu"):
        lesson04.check_vae_encoder(make_encoder(log_var_activation="relu"))
    with pytest.raises(CheckFailed, match="three tensors"):
        lesson04.check_vae_encoder(make_encoder(outputs=2))
    with pytest.raises(CheckFailed, match="z is not mu \\+ sigma \\* eps"):  # the deck's stddev=0.1 noise
        lesson04.check_vae_encoder(make_encoder(sampling=make_sampling(stddev=0.1)))


def test_vae_decoder_check():
    lesson04.check_vae_decoder(make_decoder())
    with pytest.raises(CheckFailed, match="not implemented yet"):
        lesson04.check_vae_decoder(stub)
    with pytest.raises(CheckFailed, match="ends in a sigmoid.*logits"):  # the deck's decoder
        lesson04.check_vae_decoder(make_decoder(last_activation="sigmoid"))
    with pytest.raises(CheckFailed, match="should have \\(None, 28, 28, 1\\)"):
        lesson04.check_vae_decoder(make_decoder(reshape=False))
