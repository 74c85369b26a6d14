"""InfoGAN (Chen et al. 2016): a GAN that keeps part of its input readable in its output.

The generator gets noise z and a code c = (c_cat, c_cont): a 10-way categorical code (one-hot)
and two continuous codes, uniform in [-1, 1]. Nothing tells G what the codes mean. An auxiliary
head Q(c | x), sharing the discriminator's body, tries to read c back from G(z, c); both players
are rewarded when it can, through the variational lower bound on the mutual information

    I(c; G(z, c)) >= L_I(G, Q) = E_{c ~ p(c), x ~ G(z, c)}[log Q(c | x)] + H(c).

For the categorical code, Q is a softmax and log Q(c | x) = sum_k c_k log q_k, so
H(c) - L_I is the cross-entropy of Q's softmax against the code (H(c) = log 10, a constant).
For the continuous codes, Q is a Gaussian with mean mu(x) and a fixed unit variance:
-log Q(c | x) = 0.5 ||c - mu(x)||^2 + const, a squared error.

The objective (minimised):  D and Q: L_D + lambda (H(c) - L_I);  G: L_G + lambda (H(c) - L_I).
`InfoGANTrainer` is lesson 06's `GANTrainer` with that term added to both updates: D's model has
three outputs [D(x), Q_cat(x), Q_cont(x)] and one optimizer; the combined model
[z, c] -> [D(G(z, c)), Q(G(z, c))] trains G with D and Q frozen (the trainable rule, set right
before every `train_on_batch`). With lambda = 0 it is a plain GAN whose G gets the same codes.
"""
import math

import keras
import numpy as np
from keras import layers, ops
from scipy.optimize import linear_sum_assignment

from course_lib import gan_models
from course_lib.gan_training import GANTrainer, latent_dim_of
from course_lib.validate import check_positive_int

NUM_CATEGORIES = 10  # one categorical code with 10 values (the paper's MNIST setting)
NUM_CONTINUOUS = 2  # two continuous codes, uniform in [-1, 1]
HISTORY_KEYS = ("d_loss_real", "d_loss_fake", "g_loss", "d_acc_real", "d_acc_fake",
                "category_loss", "continuous_loss")


# ----- the codes and the information terms ---------------------------------------
def sample_latent(batch_size, latent_dim, num_categories=NUM_CATEGORIES, num_continuous=NUM_CONTINUOUS, seed=None):
    """[z (N, latent_dim) ~ N(0, I), c_cat (N, K) one-hot uniform, c_cont (N, M) ~ U(-1, 1)]."""
    z = keras.random.normal((batch_size, latent_dim), seed=seed)
    category = keras.random.randint((batch_size,), 0, num_categories, seed=seed)
    c_cat = ops.one_hot(category, num_categories)  # (N, K)
    c_cont = keras.random.uniform((batch_size, num_continuous), -1.0, 1.0, seed=seed)  # (N, M)
    return [z, c_cat, c_cont]


def category_loss(c_cat, q_cat):
    """Per example -log Q(c | x) = -sum_k c_k log q_k: (N, K), (N, K) -> (N,). Equals H(c) - L_I on average."""
    q_cat = ops.clip(q_cat, keras.config.epsilon(), 1.0)
    return -ops.sum(c_cat * ops.log(q_cat), axis=-1)


def continuous_loss(c_cont, q_mean):
    """Per example -log N(c; mu, I) up to a constant = 0.5 ||c - mu||^2: (N, M), (N, M) -> (N,)."""
    return 0.5 * ops.sum(ops.square(c_cont - q_mean), axis=-1)


def mi_lower_bound(c_cat, q_cat):
    """L_I = E[log Q(c | x)] + H(c) for a uniform K-way code, H(c) = log K: a scalar in [-inf, log K]."""
    num_categories = ops.shape(c_cat)[-1]
    return math.log(num_categories) - ops.mean(category_loss(c_cat, q_cat))  # E[log Q] + log K


# ----- the networks ------------------------------------------------------------------
def build_info_generator(latent_dim=62, num_categories=NUM_CATEGORIES, num_continuous=NUM_CONTINUOUS,
                         architecture="conv", **body):
    """G(z, c): inputs [z (N, latent_dim), c_cat (N, K), c_cont (N, M)] -> image in [-1, 1].

    The three inputs are concatenated into one vector (N, latent_dim + K + M) and fed to
    lesson 07's conv generator (or lesson 06's dense one); `body` are its keyword arguments.
    """
    check_positive_int("latent_dim", latent_dim)
    check_positive_int("num_categories", num_categories, 2)
    check_positive_int("num_continuous", num_continuous, 0)
    build = gan_models.build_dense_generator if architecture == "dense" else gan_models.build_conv_generator
    body_net = build(latent_dim + num_categories + num_continuous, **body)
    z = keras.Input((latent_dim,), name="z")
    c_cat = keras.Input((num_categories,), name="c_cat")
    c_cont = keras.Input((num_continuous,), name="c_cont")
    h = layers.Concatenate(name="z_and_c")([z, c_cat, c_cont])  # (N, latent_dim + K + M)
    return keras.Model([z, c_cat, c_cont], body_net(h), name=f"info_{architecture}_generator")


def build_info_discriminator(num_categories=NUM_CATEGORIES, num_continuous=NUM_CONTINUOUS, q_hidden=128,
                             architecture="conv", **body):
    """x -> [D(x) (N, 1), Q_cat(x) (N, K) softmax, Q_cont(x) (N, M) Gaussian means].

    D is lesson 07's conv discriminator (or lesson 06's dense one; `body` are its keyword
    arguments); Q reads the features D's last layer reads, through one hidden layer of its own.
    """
    check_positive_int("q_hidden", q_hidden)
    build = gan_models.build_dense_discriminator if architecture == "dense" else gan_models.build_conv_discriminator
    base = build(**body)
    features = base.layers[-2].output  # the shared body's output, the input of D's last Dense
    h = layers.LeakyReLU(gan_models.LEAKY_SLOPE)(layers.Dense(q_hidden, name="q_hidden")(features))
    q_cat = layers.Dense(num_categories, activation="softmax", name="q_cat")(h)  # (N, K)
    q_cont = layers.Dense(num_continuous, name="q_cont")(h)  # (N, M): the means mu(x)
    d = layers.Identity(name="d")(base.output)  # (N, 1): D(x), named for the losses and logs
    return keras.Model(base.input, [d, q_cat, q_cont], name=f"info_{architecture}_discriminator")


# ----- training ----------------------------------------------------------------------
class InfoGANTrainer(GANTrainer):
    """GANTrainer for G([z, c_cat, c_cont]) and a discriminator x -> [D(x), Q_cat(x), Q_cont(x)].

    info_weight: lambda, the weight of the information term in both players' losses (0: a plain GAN
        whose G gets the same codes). continuous_weight: a further factor on the continuous codes' term.
    The other arguments are GANTrainer's (concat_batches is not offered: Q reads fakes only).
    """

    history_keys = HISTORY_KEYS
    progress_keys = ("d_loss_real", "d_loss_fake", "g_loss", "category_loss")

    def __init__(self, generator, discriminator, info_weight=1.0, continuous_weight=1.0, **kwargs):
        if kwargs.get("concat_batches"):
            raise ValueError("InfoGANTrainer updates D on separate real and fake batches: leave concat_batches out")
        for name, value in (("info_weight", info_weight), ("continuous_weight", continuous_weight)):
            if not float(value) >= 0:
                raise ValueError(f"{name} must be a number >= 0; got {value!r}")
        inputs = getattr(generator, "inputs", None) or []
        if len(inputs) != 3:
            raise ValueError(f"InfoGANTrainer needs a generator with three inputs [z, c_cat, c_cont] "
                             f"(build_info_generator); got inputs={inputs!r}")
        self.num_categories, self.num_continuous = int(inputs[1].shape[-1]), int(inputs[2].shape[-1])
        self.info_weight, self.continuous_weight = float(info_weight), float(continuous_weight)
        super().__init__(generator, discriminator, latent_dim_of(generator, kwargs.pop("latent_dim", None)),
                         **kwargs)

    def _compile(self):
        losses = ["binary_crossentropy", category_loss, continuous_loss]
        weights = [1.0, self.info_weight, self.info_weight * self.continuous_weight]  # L_adv + lambda (H(c) - L_I)
        self.discriminator.compile(optimizer=self.d_optimizer, loss=losses, loss_weights=weights,
                                   metrics=[["accuracy"], [], []])
        self.combined = self._build_combined()
        self.combined.compile(optimizer=self.g_optimizer, loss=losses, loss_weights=weights)

    def _build_combined(self):
        z = keras.Input((self.latent_dim,), name="z")
        c_cat = keras.Input((self.num_categories,), name="c_cat")
        c_cont = keras.Input((self.num_continuous,), name="c_cont")
        outputs = self.discriminator(self.generator([z, c_cat, c_cont]))  # [D, Q_cat, Q_cont](G(z, c))
        outputs = [layers.Identity(name=name)(out) for name, out in zip(("d", "q_cat", "q_cont"), outputs)]
        return keras.Model([z, c_cat, c_cont], outputs, name="combined")  # named like D's outputs, for the logs

    # ----- one step: lesson 06's step with the information term in both updates ---------
    def train_step(self, batch_size, update_d=True, update_g=True):
        """d_steps updates of D and Q, then one of G; returns the logs (the adversarial and the code losses)."""
        d_batches, (g_inputs, ones) = self._draw_batches(self._data, batch_size)
        logs = {}
        for x_real, (x_fake, c_cat, c_cont), y_real, y_fake in (d_batches if update_d else []):
            # D on real images: -mean log D(x_real); a real image has no code, so Q's terms get weight 0
            self.discriminator.trainable = True  # right before every update of D (the trainable rule)
            every, no_code = ops.ones((batch_size,)), ops.zeros((batch_size,))  # per-example weights
            real = self.discriminator.train_on_batch(x_real, [y_real, c_cat, c_cont], return_dict=True,
                                                     sample_weight=[every, no_code, no_code])
            # D and Q on fakes: -mean log(1 - D(G(z, c))) + lambda (H(c) - L_I): Q learns to read c back
            self.discriminator.trainable = True  # (weights given here too: one compiled function for both calls)
            fake = self.discriminator.train_on_batch(x_fake, [y_fake, c_cat, c_cont], return_dict=True,
                                                     sample_weight=[every, every, every])
            logs = {"d_loss_real": real["d_loss"], "d_loss_fake": fake["d_loss"],
                    "d_acc_real": real["d_accuracy"], "d_acc_fake": fake["d_accuracy"],
                    "category_loss": fake["q_cat_loss"], "continuous_loss": fake["q_cont_loss"]}
        if update_g:
            # G: -mean log D(G(z, c)) + lambda (H(c) - L_I), with D and Q frozen: G learns to write c legibly
            self.discriminator.trainable = False  # right before every update of G
            _, c_cat, c_cont = g_inputs
            g = self.combined.train_on_batch(g_inputs, [ones, c_cat, c_cont], return_dict=True)
            logs["g_loss"] = g["d_loss"]  # the adversarial part, as in GANTrainer (the collapse watch reads it)
            self._update_average()
        return logs

    def _generator_inputs(self, batch_size):
        return sample_latent(batch_size, self.latent_dim, self.num_categories, self.num_continuous,
                             seed=self.seed_generator)  # [z, c_cat, c_cont]

    def _fake_batch(self, g_inputs):
        return [self.generator(g_inputs, training=True), g_inputs[1], g_inputs[2]]  # the fake keeps its codes


# ----- measuring the categorical code ------------------------------------------------
def code_to_digit_assignment(codes, labels, num_classes=NUM_CATEGORIES):
    """The one-to-one map code -> digit that agrees with the most labels (Hungarian matching).

    counts[k, d] = how many samples with code k carry label d; linear_sum_assignment picks one
    digit per code maximising the sum of the chosen counts. Returns an array: digit = mapping[code].
    """
    codes, labels = np.asarray(codes, dtype=int), np.asarray(labels, dtype=int)
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(counts, (codes, labels), 1)  # (K, K) contingency table
    rows, cols = linear_sum_assignment(-counts)  # maximise the matched counts
    mapping = np.empty(num_classes, dtype=int)
    mapping[rows] = cols
    return mapping


def categorical_accuracy_hungarian(codes, labels, num_classes=NUM_CATEGORIES):
    """Fraction of samples whose label is the digit their code is matched to (best one-to-one matching)."""
    mapping = code_to_digit_assignment(codes, labels, num_classes)
    return float(np.mean(mapping[np.asarray(codes, dtype=int)] == np.asarray(labels)))


def code_agreement(generator, judge, n_per_code, seed=0):
    """Generate n_per_code digits per categorical code, let `judge` read them; returns (accuracy, mapping, codes, digits)."""
    latent_dim, num_categories = latent_dim_of(generator), int(generator.inputs[1].shape[-1])
    num_continuous = int(generator.inputs[2].shape[-1])
    n = n_per_code * num_categories
    z, _, c_cont = sample_latent(n, latent_dim, num_categories, num_continuous, seed=keras.random.SeedGenerator(seed))
    codes = np.repeat(np.arange(num_categories), n_per_code)  # (n,): every code equally often
    c_cat = ops.one_hot(ops.convert_to_tensor(codes), num_categories)  # (n, K)
    x_fake = ops.convert_to_numpy(generator([z, c_cat, c_cont], training=False))  # (n, 28, 28, 1)
    digits = np.argmax(judge.predict_proba(x_fake, value_range=(-1, 1)), axis=1)  # (n,) what the judge reads
    mapping = code_to_digit_assignment(codes, digits, num_categories)
    return categorical_accuracy_hungarian(codes, digits, num_categories), mapping, codes, digits
