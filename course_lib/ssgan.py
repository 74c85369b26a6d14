"""The semi-supervised GAN of Salimans et al. (2016): the discriminator is also the classifier.

D outputs K logits l_1..l_K for the digit classes; a (K + 1)-th class, "fake", gets the fixed
logit 0 (adding the same number to all K + 1 logits does not change the softmax, so fixing one
loses nothing). With Z(x) = sum_k exp(l_k(x)):

    p(y = k | x) = exp(l_k) / (Z + 1),    p(fake | x) = 1 / (Z + 1),    D(x) = p(real | x) = Z / (Z + 1).

D's loss has two parts (Salimans et al., section 5):

    L_sup   = -E_{(x, y) labelled} log p(y | x, real) = E[logsumexp(l) - l_y]     (softmax over the K classes)
    L_unsup = -E_{x unlabelled} log D(x) - E_z log(1 - D(G(z)))
            =  E[softplus(-logsumexp(l(x)))] + E[softplus(logsumexp(l(G(z))))]

G is trained by **feature matching**: it minimises || mean_x f(x_real) - mean_z f(G(z)) ||^2, with f
an intermediate layer of D (here the features D's last Dense reads), instead of fooling D directly.

`SSGANTrainer` is lesson 06's loop: one `train_on_batch` of D on [labelled; unlabelled; fake] images
with the targets telling the parts apart (a class 0..K-1, UNLABELLED or FAKE), then one of G through
z -> f(G(z)) with D frozen (the trainable rule, set before every `train_on_batch`).
"""
import keras
import numpy as np
from keras import layers, ops

from course_lib import backend, gan_models
from course_lib.gan_training import GANTrainer

NUM_CLASSES = 10
HISTORY_KEYS = ("d_loss", "sup_loss", "d_loss_real", "d_loss_fake", "g_loss", "sup_accuracy")


def unlabelled_target(num_classes):
    return num_classes  # target value of an unlabelled real image


def fake_target(num_classes):
    return num_classes + 1  # target value of a generated image


# ----- the K + 1 class loss, split in its two parts ---------------------------------------
def supervised_loss(labels, logits):
    """-log p(y | x, real) per example = logsumexp(l) - l_y: labels (N,) ints, logits (N, K) -> (N,)."""
    chosen = ops.take_along_axis(logits, ops.expand_dims(ops.cast(labels, "int32"), -1), axis=-1)[:, 0]
    return ops.logsumexp(logits, axis=-1) - chosen


def real_loss(logits):
    """-log D(x) = -log(Z / (Z + 1)) = softplus(-logsumexp(l)) per example: (N, K) -> (N,)."""
    return ops.softplus(-ops.logsumexp(logits, axis=-1))


def fake_loss(logits):
    """-log(1 - D(x)) = log(Z + 1) = softplus(logsumexp(l)) per example: (N, K) -> (N,)."""
    return ops.softplus(ops.logsumexp(logits, axis=-1))


def _parts(targets, logits):
    """Masks of the three kinds of example in a D batch, from the targets (N,) or (N, 1)."""
    targets = ops.reshape(ops.cast(targets, "int32"), (-1,))
    num_classes = ops.shape(logits)[-1]
    labelled = ops.cast(targets < num_classes, logits.dtype)
    unlabelled = ops.cast(targets == num_classes, logits.dtype)
    fake = ops.cast(targets == num_classes + 1, logits.dtype)
    return targets, labelled, unlabelled, fake


def discriminator_loss(targets, logits):
    """Per example: L_sup on labelled images, -log D on unlabelled ones, -log(1 - D) on fakes."""
    targets, labelled, unlabelled, fake = _parts(targets, logits)
    labels = ops.where(labelled > 0, targets, 0)  # any valid index where the example has no label
    return (labelled * supervised_loss(labels, logits) + unlabelled * real_loss(logits)
            + fake * fake_loss(logits))


def _masked_mean(values, mask):
    return ops.sum(values * mask) / ops.maximum(ops.sum(mask), 1.0)


def sup_loss(targets, logits):
    """Metric: L_sup on the labelled part of D's batch."""
    targets, labelled, _, _ = _parts(targets, logits)
    return _masked_mean(supervised_loss(ops.where(labelled > 0, targets, 0), logits), labelled)


def loss_real(targets, logits):
    """Metric: -mean log D(x) on the unlabelled real part of D's batch."""
    _, _, unlabelled, _ = _parts(targets, logits)
    return _masked_mean(real_loss(logits), unlabelled)


def loss_fake(targets, logits):
    """Metric: -mean log(1 - D(G(z))) on the generated part of D's batch."""
    _, _, _, fake = _parts(targets, logits)
    return _masked_mean(fake_loss(logits), fake)


def sup_accuracy(targets, logits):
    """Metric: how often argmax_k l_k is the label, on the labelled part of D's batch."""
    targets, labelled, _, _ = _parts(targets, logits)
    right = ops.cast(ops.argmax(logits, axis=-1) == targets, logits.dtype)
    return _masked_mean(right, labelled)


def feature_matching_loss(f_real, f_fake):
    """|| mean_i f(x_real)_i - mean_i f(G(z))_i ||^2: (N, F), (N, F) -> a scalar."""
    return ops.sum(ops.square(ops.mean(f_real, axis=0) - ops.mean(f_fake, axis=0)))


# ----- the networks ----------------------------------------------------------------------
def build_classifier_discriminator(num_classes=NUM_CLASSES, architecture="conv", **body):
    """x -> K class logits (N, K), the fake class's logit being a fixed 0; lesson 07's D body.

    The features its last Dense reads are the layer "features" (feature matching uses them).
    """
    build = gan_models.build_dense_discriminator if architecture == "dense" else gan_models.build_conv_discriminator
    base = build(**body)
    features = layers.Identity(name="features")(base.layers[-2].output)  # (N, F)
    logits = layers.Dense(num_classes, name="logits")(features)  # (N, K)
    return keras.Model(base.input, logits, name=f"ssgan_{architecture}_discriminator")


def feature_model(discriminator):
    """x -> f(x), D's intermediate features (sharing D's weights)."""
    return keras.Model(discriminator.input, discriminator.get_layer("features").output, name="features")


# ----- training ------------------------------------------------------------------------------
class SSGANTrainer(GANTrainer):
    """Semi-supervised GAN: D a (K + 1)-way classifier, G trained by feature matching.

    Train with `train(x_unlabelled, x_labelled, y_labelled, steps, ...)`. Each D update sees
    batch_size labelled, batch_size unlabelled and batch_size generated images; its loss, the mean
    over the 3 * batch_size examples, is (L_sup + L_unsup) / 3.
    """

    history_keys = HISTORY_KEYS
    progress_keys = ("sup_loss", "d_loss_real", "d_loss_fake", "g_loss")

    def __init__(self, generator, discriminator, num_classes=NUM_CLASSES, **kwargs):
        for option in ("concat_batches", "label_smoothing", "label_noise"):
            if kwargs.get(option):
                raise ValueError(f"SSGANTrainer does not offer {option}: D's targets are classes")
        self.num_classes = num_classes
        self.features = feature_model(discriminator)
        super().__init__(generator, discriminator, **kwargs)
        # G's target, the mean features of a real batch, is computed with D's weights as well
        self._draw_batches = backend.compile(
            self._batches, lambda: ([self.seed_generator.state] + list(self.generator.variables)
                                    + list(self.discriminator.variables)))

    def _compile(self):
        self.discriminator.compile(optimizer=self.d_optimizer, loss=discriminator_loss,
                                   metrics=[sup_loss, loss_real, loss_fake, sup_accuracy])
        self.combined = keras.Model(self.generator.inputs, self.features(self.generator.outputs[0]),
                                    name="combined")  # z -> f(G(z))
        self.combined.compile(optimizer=self.g_optimizer, loss=feature_matching_loss)

    # ----- one step ---------------------------------------------------------------------------
    def train_step(self, batch_size, update_d=True, update_g=True):
        """d_steps updates of D on [labelled; unlabelled; fake], then one feature-matching update of G."""
        d_batches, (z, f_real) = self._draw_batches(self._data, batch_size)
        logs = {}
        for x, targets in (d_batches if update_d else []):
            # D: minimise L_sup + L_unsup (a mean over the 3N examples: a third of their sum)
            self.discriminator.trainable = True  # right before every update of D (the trainable rule)
            d = self.discriminator.train_on_batch(x, targets, return_dict=True)  # x: (3N, ...), targets: (3N, 1)
            logs = {"d_loss": d["loss"], "sup_loss": d["sup_loss"], "d_loss_real": d["loss_real"],
                    "d_loss_fake": d["loss_fake"], "sup_accuracy": d["sup_accuracy"]}
        if update_g:
            # G: minimise || mean f(x_real) - mean f(G(z)) ||^2 through z -> f(G(z)), D frozen
            self.discriminator.trainable = False  # right before every update of G
            logs["g_loss"] = self.combined.train_on_batch(z, f_real)  # z: (N, latent_dim), f_real: (N, F)
            self._update_average()
        return logs

    def _batches(self, data, batch_size):
        """d_steps of ([x_labelled; x_unlabelled; x_fake], targets), then (z, f(x_real)) for G."""
        x_unlabelled, x_labelled, y_labelled = data
        d_batches = []
        for _ in range(self.d_steps):
            index = keras.random.randint((batch_size,), 0, ops.shape(x_labelled)[0], seed=self.seed_generator)
            x_lab, y_lab = ops.take(x_labelled, index, axis=0), ops.take(y_labelled, index, axis=0)
            x_unl = self._real_batch((x_unlabelled,), batch_size)
            x_fake = self._fake_batch(self.sample_z(batch_size))
            targets = ops.concatenate([ops.cast(y_lab, "int32"),
                                       ops.full((batch_size,), unlabelled_target(self.num_classes), "int32"),
                                       ops.full((batch_size,), fake_target(self.num_classes), "int32")])
            d_batches.append((ops.concatenate([x_lab, x_unl, x_fake]), ops.reshape(targets, (-1, 1))))
        f_real = self.features(self._real_batch((x_unlabelled,), batch_size), training=False)  # (N, F)
        return d_batches, (self.sample_z(batch_size), f_real)

    def _watch_for_collapse(self, logs):
        d_loss = (logs["d_loss_real"] + logs["d_loss_fake"]) / 2  # feature matching has no ceiling to watch
        self._streak("d_collapse", d_loss < 1e-3,
                     "D's unsupervised loss has collapsed towards 0: D tells real from fake too easily")

    def set_data(self, x_unlabelled, x_labelled, y_labelled):
        """Hold the unlabelled images, the labelled ones and their integer labels as device tensors."""
        super().set_data(x_unlabelled, x_labelled, y_labelled)
        self._data = (self._data[0], ops.cast(self._data[1], "float32"), ops.cast(self._data[2], "int32"))

    def train(self, x_unlabelled, x_labelled, y_labelled, steps, **kwargs):
        """Like GANTrainer.train, with the few labelled images and their labels next to the unlabelled ones."""
        self.set_data(x_unlabelled, x_labelled, y_labelled)
        return self._run(steps, **kwargs)

    def predict_classes(self, x, batch_size=500):
        """D as a classifier: argmax_k of the K class logits."""
        return ops.convert_to_numpy(ops.argmax(self.discriminator.predict(x, batch_size=batch_size, verbose=0),
                                               axis=-1))


# ----- the few labels and the baseline -----------------------------------------------------------
def pick_labelled(labels, per_class, seed=0):
    """Indices of `per_class` examples of every class (e.g. 10 per digit: 100 labelled images)."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    return np.concatenate([rng.choice(np.flatnonzero(labels == k), per_class, replace=False)
                           for k in np.unique(labels)])


def train_supervised_baseline(x_labelled, y_labelled, epochs, num_classes=NUM_CLASSES, learning_rate=1e-3, **body):
    """The same classifier (build_classifier_discriminator(**body)) trained on the labelled images alone."""
    classifier = build_classifier_discriminator(num_classes, **body)
    classifier.compile(optimizer=keras.optimizers.Adam(learning_rate),
                       loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))  # softmax over K
    classifier.fit(x_labelled, y_labelled, epochs=epochs, batch_size=32, verbose=0)
    return classifier
