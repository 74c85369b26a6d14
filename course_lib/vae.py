"""The variational autoencoder (lesson 04) and its conditional version (lesson 05).

Pieces, in the order the lesson builds them:

- `Sampling`: the reparameterization z = mu + exp(0.5 * log_var) * eps.
- `kl_divergence`: analytic KL(N(mu, diag(exp(log_var))) || N(0, I)) per example.
- `reconstruction_bce`: -log p(x | z) for a Bernoulli decoder, summed over pixels.
- encoder / decoder builders (dense and convolutional, optionally conditioned on
  a one-hot label), and the `VAE` model whose loss is reconstruction + beta * KL,
  with both terms tracked separately.
- `negative_elbo`: the test-set negative ELBO in nats per image.

Every loss here is *per example* (shape (N,)): the sum over pixels and
latent dimensions, averaged over the batch only at the very end.
"""
import keras
import numpy as np
from keras import layers, ops

from course_lib.losses import bernoulli_nll
from course_lib.validate import (check_bool, check_halves_exactly, check_image_shape, check_number,
                                 check_output_shape, check_positive_int, check_positive_ints)

IMAGE_SHAPE = (28, 28, 1)


# ----------------------------------------------------------------------------
# The three formulas
# ----------------------------------------------------------------------------
class Sampling(layers.Layer):
    """Draw z ~ N(mu, exp(log_var)) so that gradients flow to mu and log_var."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
        mu, log_var = inputs  # (N, latent_dim) each
        eps = keras.random.normal(ops.shape(mu), seed=self.seed_generator)
        # z = mu + sigma * eps,  sigma = exp(0.5 * log_var)
        return mu + ops.exp(0.5 * log_var) * eps


def kl_divergence(mu, log_var):
    """KL(q(z|x) || N(0, I)) per example, shape (N,)."""
    # KL = -1/2 * sum_j (1 + log_var_j - mu_j^2 - exp(log_var_j))
    return -0.5 * ops.sum(1.0 + log_var - ops.square(mu) - ops.exp(log_var), axis=-1)


def reconstruction_bce(x, logits):
    """-log p(x | z) for a Bernoulli decoder with the given logits, summed over pixels: shape (N,).

    The same likelihood as PixelCNN's (course_lib.losses.bernoulli_nll); `x` may be grey levels in [0, 1].
    """
    return bernoulli_nll(x, logits)


# ----------------------------------------------------------------------------
# Encoders and decoders
# ----------------------------------------------------------------------------
def _label_input(num_classes):
    if num_classes is None:
        return None
    check_positive_int("num_classes", num_classes)
    return keras.Input(shape=(num_classes,), name="label")


def _encoder_head(h, latent_dim, inputs, name):
    mu = layers.Dense(latent_dim, name="mu")(h)
    log_var = layers.Dense(latent_dim, name="log_var")(h)
    return keras.Model(inputs, [mu, log_var], name=name)


def build_dense_encoder(latent_dim, hidden=(512,), num_classes=None, input_shape=IMAGE_SHAPE):
    """Images (N, 28, 28, 1) [+ one-hot labels] -> [mu, log_var], each (N, latent_dim)."""
    check_positive_int("latent_dim", latent_dim)
    hidden = check_positive_ints("hidden", hidden, allow_empty=False)
    input_shape = check_image_shape("input_shape", input_shape)
    x_in = keras.Input(shape=input_shape, name="x")
    label = _label_input(num_classes)
    h = layers.Flatten()(x_in)  # (N, 784)
    if label is not None:
        h = layers.Concatenate()([h, label])  # (N, 784 + num_classes)
    for units in hidden:
        h = layers.Dense(units, activation="relu")(h)
    inputs = x_in if label is None else [x_in, label]
    return _encoder_head(h, latent_dim, inputs, "dense_encoder")


def build_dense_decoder(latent_dim, hidden=(512,), num_classes=None, output_shape=IMAGE_SHAPE):
    """z (N, latent_dim) [+ one-hot labels] -> Bernoulli logits (N, 28, 28, 1)."""
    check_positive_int("latent_dim", latent_dim)
    hidden = check_positive_ints("hidden", hidden, allow_empty=False)
    output_shape = check_image_shape("output_shape", output_shape)
    z_in = keras.Input(shape=(latent_dim,), name="z")
    label = _label_input(num_classes)
    h = z_in if label is None else layers.Concatenate()([z_in, label])
    for units in reversed(hidden):
        h = layers.Dense(units, activation="relu")(h)
    h = layers.Dense(int(np.prod(output_shape)), name="logits")(h)
    logits = layers.Reshape(output_shape)(h)  # (N, 28, 28, 1)
    inputs = z_in if label is None else [z_in, label]
    return keras.Model(inputs, logits, name="dense_decoder")


def build_conv_encoder(latent_dim, filters=(32, 64), dense_units=256, num_classes=None,
                       input_shape=IMAGE_SHAPE):
    """Strided convolutions (28 -> 14 -> 7) then dense layers to [mu, log_var]."""
    check_positive_int("latent_dim", latent_dim)
    filters = check_positive_ints("filters", filters, allow_empty=False)
    check_positive_int("dense_units", dense_units)
    input_shape = check_image_shape("input_shape", input_shape)
    x_in = keras.Input(shape=input_shape, name="x")
    label = _label_input(num_classes)
    h = x_in
    for f in filters:
        h = layers.Conv2D(f, 3, strides=2, padding="same", activation="relu")(h)  # size halves
    h = layers.Flatten()(h)
    if label is not None:
        h = layers.Concatenate()([h, label])
    h = layers.Dense(dense_units, activation="relu")(h)
    inputs = x_in if label is None else [x_in, label]
    return _encoder_head(h, latent_dim, inputs, "conv_encoder")


def build_conv_decoder(latent_dim, filters=(32, 64), dense_units=256, num_classes=None,
                       output_shape=IMAGE_SHAPE):
    """z [+ label] -> dense -> transposed convolutions (7 -> 14 -> 28) -> logits."""
    check_positive_int("latent_dim", latent_dim)
    filters = check_positive_ints("filters", filters, allow_empty=False)
    check_positive_int("dense_units", dense_units)
    output_shape = check_image_shape("output_shape", output_shape)
    height, width = check_halves_exactly("output_shape", output_shape, len(filters), f"filters={filters!r}")
    z_in = keras.Input(shape=(latent_dim,), name="z")
    label = _label_input(num_classes)
    h = z_in if label is None else layers.Concatenate()([z_in, label])
    h = layers.Dense(dense_units, activation="relu")(h)
    h = layers.Dense(height * width * filters[-1], activation="relu")(h)
    h = layers.Reshape((height, width, filters[-1]))(h)  # (N, 7, 7, 64)
    for f in reversed(filters):
        h = layers.Conv2DTranspose(f, 3, strides=2, padding="same", activation="relu")(h)  # size doubles
    logits = layers.Conv2D(output_shape[-1], 3, padding="same", name="logits")(h)  # (N, 28, 28, 1)
    inputs = z_in if label is None else [z_in, label]
    return check_output_shape(keras.Model(inputs, logits, name="conv_decoder"), output_shape, "output_shape")


# ----------------------------------------------------------------------------
# The model
# ----------------------------------------------------------------------------
class VAE(keras.Model):
    """Encoder -> Sampling -> decoder, trained on reconstruction + beta * KL.

    Call it with images `x` (or `[x, y_onehot]` when `conditional=True`); it
    returns a dict with "logits", "mu", "log_var" and "z". The encoder returns
    [mu, log_var] (the model's own `Sampling` layer then draws z) or, like the
    practice deck's Keras VAE, [mu, log_var, z] with its own sampling layer inside. Compile with just an
    optimizer: the loss is built in. Training logs "loss" (mean of
    reconstruction + beta * KL), "reconstruction" and "kl" (means per image).
    """

    def __init__(self, encoder, decoder, beta=1.0, conditional=False, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.beta = check_number("beta", beta, minimum=0)
        self.encoder = encoder
        self.decoder = decoder
        self.conditional = check_bool("conditional", conditional)
        self.sampling = Sampling(seed=seed)
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")

    def _split(self, inputs):
        if self.conditional:
            if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
                raise ValueError("a conditional VAE takes [x, y_onehot] as its input.")
            return inputs[0], inputs[1]
        return inputs, None

    def encode(self, inputs):
        """[mu, log_var] of q(z | x), each (N, latent_dim)."""
        return self.encode_and_sample(inputs)[:2]

    def encode_and_sample(self, inputs):
        """[mu, log_var, z] with a fresh z ~ q(z | x): the encoder's own z when it returns one."""
        x, label = self._split(inputs)
        outputs = self.encoder(x if label is None else [x, label])
        if len(outputs) == 3:
            return list(outputs)
        mu, log_var = outputs
        return [mu, log_var, self.sampling([mu, log_var])]

    def decode(self, z, label=None):
        """Bernoulli logits for latent codes z (and one-hot labels for a CVAE)."""
        return self.decoder(z if label is None else [z, label])

    def call(self, inputs):
        x, label = self._split(inputs)
        mu, log_var, z = self.encode_and_sample(inputs)
        return {"logits": self.decode(z, label), "mu": mu, "log_var": log_var, "z": z}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        x_target, _ = self._split(x)
        reconstruction = reconstruction_bce(x_target, y_pred["logits"])  # (N,)
        kl = kl_divergence(y_pred["mu"], y_pred["log_var"])  # (N,)
        self.reconstruction_tracker.update_state(reconstruction)
        self.kl_tracker.update_state(kl)
        # loss = mean over the batch of [ -log p(x|z) + beta * KL ]
        loss = ops.mean(reconstruction + self.beta * kl)
        if self.losses:
            loss = loss + ops.sum(self.losses)
        return loss


def build_vae(latent_dim, kind="dense", beta=1.0, num_classes=None, seed=None, **sizes):
    """A VAE (or a CVAE when num_classes is given) with matching encoder and decoder.

    kind: "dense" (sizes: hidden=(512,)) or "conv" (sizes: filters=(32, 64), dense_units=256).
    """
    builders = {"dense": (build_dense_encoder, build_dense_decoder),
                "conv": (build_conv_encoder, build_conv_decoder)}
    if kind not in builders:
        raise ValueError(f"kind={kind!r} is not allowed: use one of {sorted(builders)}.")
    make_encoder, make_decoder = builders[kind]
    encoder = make_encoder(latent_dim, num_classes=num_classes, **sizes)
    decoder = make_decoder(latent_dim, num_classes=num_classes, **sizes)
    return VAE(encoder, decoder, beta=beta, conditional=num_classes is not None, seed=seed,
               name=f"{kind}_{'c' if num_classes else ''}vae")


# ----------------------------------------------------------------------------
# Evaluation and generation
# ----------------------------------------------------------------------------
def negative_elbo(model, x, y_onehot=None, batch_size=500, n_samples=1):
    """Mean over images of -ELBO = E_q[-log p(x|z)] + KL(q(z|x) || p(z)), in nats per image.

    The expectation is estimated with `n_samples` draws of z per image. Returns
    a dict with "negative_elbo", "reconstruction" and "kl" (all nats per image).
    """
    check_positive_int("batch_size", batch_size)
    check_positive_int("n_samples", n_samples)
    if model.conditional and y_onehot is None:
        raise ValueError("y_onehot is required to evaluate a conditional VAE.")
    totals = np.zeros(2)
    for start in range(0, len(x), batch_size):
        xb = ops.convert_to_tensor(x[start:start + batch_size], "float32")
        inputs = xb
        if y_onehot is not None:
            inputs = [xb, ops.convert_to_tensor(y_onehot[start:start + batch_size], "float32")]
        rec = 0.0
        for _ in range(n_samples):
            mu, log_var, z = model.encode_and_sample(inputs)  # (N, latent_dim) each
            label = None if y_onehot is None else inputs[1]
            rec = rec + ops.sum(reconstruction_bce(xb, model.decode(z, label)))
        kl = ops.sum(kl_divergence(mu, log_var))
        totals += [float(ops.convert_to_numpy(rec)) / n_samples, float(ops.convert_to_numpy(kl))]
    reconstruction, kl = totals / len(x)
    return {"negative_elbo": reconstruction + kl, "reconstruction": reconstruction, "kl": kl}


def decode_images(model, z, y_onehot=None, batch_size=1000):
    """Pixel probabilities sigmoid(logits) for latent codes z, as a NumPy array in [0, 1]."""
    outputs = []
    for start in range(0, len(z), batch_size):
        label = None
        if y_onehot is not None:
            label = ops.convert_to_tensor(y_onehot[start:start + batch_size], "float32")
        logits = model.decode(ops.convert_to_tensor(z[start:start + batch_size], "float32"), label)
        outputs.append(ops.convert_to_numpy(ops.sigmoid(logits)))
    return np.concatenate(outputs)


def encode_means(model, x, y_onehot=None, batch_size=1000):
    """The posterior means mu(x) as a NumPy array (N, latent_dim)."""
    means = []
    for start in range(0, len(x), batch_size):
        xb = ops.convert_to_tensor(x[start:start + batch_size], "float32")
        inputs = xb
        if y_onehot is not None:
            inputs = [xb, ops.convert_to_tensor(y_onehot[start:start + batch_size], "float32")]
        means.append(ops.convert_to_numpy(model.encode(inputs)[0]))
    return np.concatenate(means)
