"""CycleGAN (Zhu et al. 2017): translation between two image domains without paired examples.

Two domains, A and B, are two piles of images; nobody says which image of B belongs to which image
of A. Two generators translate, G_AB: A -> B and G_BA: B -> A, and two discriminators judge,
D_A (is this a real image of A?) and D_B (of B?). Each generator plays a GAN game against the
discriminator of the domain it writes into, and the pair is tied together by the cycle-consistency
loss: a translation followed by the translation back must give the image we started from,

    L_cyc = E_a ||G_BA(G_AB(a)) - a||_1 + E_b ||G_AB(G_BA(b)) - b||_1.

Adversarial losses are least-squares (LSGAN, as in the CycleGAN paper): D scores a patch with a
number, real patches should score 1 and translated ones 0,

    D_B minimises  1/2 [E_b (D_B(b) - 1)^2 + E_a D_B(G_AB(a))^2]     (D_A likewise)
    G_AB, G_BA minimise  E_a (D_B(G_AB(a)) - 1)^2 + E_b (D_A(G_BA(b)) - 1)^2
                         + lambda L_cyc [+ lambda_id (E_a ||G_BA(a) - a||_1 + E_b ||G_AB(b) - b||_1)].

As in the paper's code, every ||.||_1 is averaged over the pixels (not summed), so lambda = 10 is
the paper's value. `CycleGANTrainer.train_step` is the whole algorithm in one function: the two
discriminator updates, then one update of both generators through a combined model with D_A and D_B
frozen (the course's trainable rule: `trainable` set right before every `train_on_batch`).

The two domains of the lesson are made from MNIST: A is plain digits, B is digits with thickened
strokes (a grey dilation, `thicken`). They are built from two disjoint halves of the training digits,
so that no image of A has its thick twin in B: the pairing is hidden, as it is for horses and zebras.
"""
import math

import keras
import numpy as np
from keras import layers, ops

from course_lib import backend
from course_lib.training import finite_snapshot, restore, state_variables
from course_lib.validate import check_positive_int

LEAKY_SLOPE = 0.2  # LeakyReLU in every hidden layer
HISTORY_KEYS = ("d_a_loss", "d_b_loss", "adversarial_loss", "cycle_loss", "identity_loss", "g_loss")


# ----- the two domains -----------------------------------------------------------------
def thicken(images, size=3):
    """Grey dilation: each pixel becomes the largest value in the size x size square around it.

    images: (N, H, W, C) -> (N, H, W, C). The window stays inside its own image and channel; outside
    the border counts as -inf (so the border adds no ink). size is odd; strokes grow by size - 1 pixels.
    """
    check_positive_int("size", size)
    if size % 2 == 0:
        raise ValueError(f"size={size} must be odd: the square is centred on the pixel")
    images = np.asarray(images, dtype=np.result_type(np.asarray(images).dtype, np.float32))  # floats, for -inf
    r = size // 2
    padded = np.pad(images, ((0, 0), (r, r), (r, r), (0, 0)), constant_values=-np.inf)  # (N, H + 2r, W + 2r, C)
    height, width = images.shape[1:3]
    thick = padded[:, :height, :width]
    for i in range(size):
        for j in range(size):  # max over the size^2 shifted copies, one at a time (little memory)
            thick = np.maximum(thick, padded[:, i:i + height, j:j + width])
    return thick  # (N, H, W, C)


def make_domains(x, transform=thicken, seed=0):
    """Two unpaired domains from one set of digits: (x_a, x_b, index_a, index_b).

    The digits are shuffled and split into two disjoint halves; A keeps the first half as it is,
    B is transform(second half) (thickened strokes by default). index_a, index_b say which rows of x
    each domain came from: no digit is in both, so no image of A has its twin in B.
    """
    order = np.random.default_rng(seed).permutation(len(x))
    index_a, index_b = np.sort(order[:len(x) // 2]), np.sort(order[len(x) // 2:])
    return x[index_a], transform(x[index_b]), index_a, index_b


# ----- the losses ------------------------------------------------------------------------
def cycle_loss(x, x_back):
    """Mean absolute error ||x_back - x||_1 / (pixels), averaged over the batch: one number."""
    return ops.mean(ops.abs(x_back - x))  # mean_i mean_pixels |x_back - x|


def least_squares_loss(scores, target):
    """LSGAN: mean over the batch and the patches of (D(x) - target)^2."""
    return ops.mean(ops.square(scores - target))


# ----- the networks -------------------------------------------------------------------------
def _conv_norm(h, filters, kernel_size, strides=1, activate=True):
    """conv -> instance norm [-> LeakyReLU]: (N, H, W, c) -> (N, H / strides, W / strides, filters).

    Instance norm, as in the CycleGAN paper: each channel of each image is normalised over its pixels,
    (h - mean) / std over height and width, with no learned scale or shift (PyTorch's default, which the
    paper's code uses); the conv needs no bias before it.
    """
    h = layers.Conv2D(filters, kernel_size, strides=strides, padding="same", use_bias=False)(h)
    h = layers.LayerNormalization(axis=(1, 2), epsilon=1e-5, center=False, scale=False)(h)  # over (H, W)
    return layers.LeakyReLU(LEAKY_SLOPE)(h) if activate else h


def _residual_block(h, filters):
    """h + norm(conv(act(norm(conv(h))))): (N, H, W, filters) -> the same shape."""
    y = _conv_norm(h, filters, 3)
    y = _conv_norm(y, filters, 3, activate=False)
    return layers.Add()([h, y])


def build_translator(image_shape=(28, 28, 1), filters=32, num_residual=2, name="translator"):
    """Image-to-image generator: x (N, 28, 28, C) -> image of the same shape in [-1, 1].

    conv (full size) -> stride-2 conv (half size) -> residual blocks -> upsample + conv -> tanh,
    each hidden conv followed by instance norm: a small version of the CycleGAN paper's ResNet generator.
    """
    check_positive_int("filters", filters)
    check_positive_int("num_residual", num_residual, 0)
    x = keras.Input(tuple(image_shape), name="x")
    h = _conv_norm(x, filters, 5)  # (N, 28, 28, f)
    h = _conv_norm(h, 2 * filters, 3, strides=2)  # (N, 14, 14, 2f)
    for _ in range(num_residual):
        h = _residual_block(h, 2 * filters)  # (N, 14, 14, 2f)
    h = _conv_norm(layers.UpSampling2D(2)(h), filters, 3)  # (N, 28, 28, f)
    out = layers.Conv2D(image_shape[-1], 5, padding="same", activation="tanh", name="image")(h)  # (N, 28, 28, C)
    return keras.Model(x, out, name=name)


def build_patch_discriminator(image_shape=(28, 28, 1), filters=32, name="patch_discriminator"):
    """x (N, 28, 28, C) -> (N, 7, 7, 1): one least-squares score per patch (PatchGAN), no sigmoid."""
    check_positive_int("filters", filters)
    x = keras.Input(tuple(image_shape), name="x")
    # no bias in the first conv: with one, TF's CPU graph optimizer logs "remapper failed" errors when it
    # fuses Conv2D + BiasAdd + LeakyRelu in the generators' update, where D is frozen
    h = layers.Conv2D(filters, 4, strides=2, padding="same", use_bias=False)(x)  # (N, 14, 14, f), no norm here
    h = _conv_norm(layers.LeakyReLU(LEAKY_SLOPE)(h), 2 * filters, 4, strides=2)  # (N, 7, 7, 2f)
    out = layers.Conv2D(1, 3, padding="same", name="patch_scores")(h)  # (N, 7, 7, 1)
    return keras.Model(x, out, name=name)


# ----- training ---------------------------------------------------------------------------------
class CycleGANTrainer:
    """Train G_AB, G_BA against D_A, D_B on unpaired images x_a, x_b (both in [-1, 1]).

    cycle_weight: lambda (10 in the paper). identity_weight: lambda_id (0: no identity loss; the
    paper used 0.5 lambda for some tasks). cycle_loss: the function (x, x_back) -> one number used
    for the cycle and identity terms (the lesson passes the student's). Each compiled model (D_A, D_B,
    the combined generators' model) gets its own Adam optimizer.
    A NaN or infinite loss raises FloatingPointError naming the step, after putting every variable
    back to the last finite state (kept in memory every `good_state_every` steps and before the first).
    """

    history_keys = HISTORY_KEYS
    good_state_every = 100

    def __init__(self, g_ab, g_ba, d_a, d_b, cycle_weight=10.0, identity_weight=0.0, cycle_loss=cycle_loss,
                 learning_rate=2e-4, seed=0, verbose=1):
        for name, value in (("cycle_weight", cycle_weight), ("identity_weight", identity_weight)):
            if not float(value) >= 0:
                raise ValueError(f"{name} must be a number >= 0; got {value!r}")
        self.g_ab, self.g_ba, self.d_a, self.d_b = g_ab, g_ba, d_a, d_b
        self.cycle_weight, self.identity_weight = float(cycle_weight), float(identity_weight)
        self.verbose, self.step = verbose, 0
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.history = {key: [] for key in self.history_keys}
        self._compile(cycle_loss, learning_rate)
        self._draw_batches = backend.compile(
            self._batches, lambda: [self.seed_generator.state] + list(g_ab.variables) + list(g_ba.variables))
        self._good_state = None

    def _adam(self, learning_rate):
        return keras.optimizers.Adam(learning_rate, beta_1=0.5)  # the paper's Adam settings

    def _compile(self, cycle_loss_fn, learning_rate):
        self.d_a.compile(optimizer=self._adam(learning_rate), loss="mse")  # LSGAN: mean (D(x) - target)^2
        self.d_b.compile(optimizer=self._adam(learning_rate), loss="mse")
        self.combined = self._build_combined()
        losses = ["mse", "mse", cycle_loss_fn, cycle_loss_fn]  # adversarial both ways, then the two cycles
        weights = [1.0, 1.0, self.cycle_weight, self.cycle_weight]
        if self.identity_weight > 0:
            losses += [cycle_loss_fn, cycle_loss_fn]
            weights += [self.identity_weight, self.identity_weight]
        self.combined.compile(optimizer=self._adam(learning_rate), loss=losses, loss_weights=weights)

    def _build_combined(self):
        """[a, b] -> [D_B(G_AB(a)), D_A(G_BA(b)), G_BA(G_AB(a)), G_AB(G_BA(b)) (, G_BA(a), G_AB(b))]."""
        a = keras.Input(self.g_ab.input.shape[1:], name="a")
        b = keras.Input(self.g_ba.input.shape[1:], name="b")
        fake_b, fake_a = self.g_ab(a), self.g_ba(b)  # translations: (N, 28, 28, 1) each
        outputs = {"adv_b": self.d_b(fake_b), "adv_a": self.d_a(fake_a),  # patch scores (N, 7, 7, 1)
                   "cycle_a": self.g_ba(fake_b), "cycle_b": self.g_ab(fake_a)}  # round trips
        if self.identity_weight > 0:
            outputs.update(identity_a=self.g_ba(a), identity_b=self.g_ab(b))  # G_BA should leave an a alone
        named = [layers.Identity(name=name)(out) for name, out in outputs.items()]
        return keras.Model([a, b], named, name="cyclegan_generators")

    # ----- one step: both discriminators, then both generators -----------------------------------------
    def train_step(self, batch_size):
        """One update of D_A, one of D_B, one of G_AB and G_BA together; returns the losses."""
        a, b, fake_a, fake_b, ones, zeros = self._draw_batches(self._data, batch_size)
        # D_A: minimise 1/2 [mean (D_A(a) - 1)^2 + mean D_A(G_BA(b))^2]  (one batch [a; fake_a], targets [1; 0])
        self.d_a.trainable = True  # right before every update of D (the trainable rule)
        d_a_loss = self.d_a.train_on_batch(ops.concatenate([a, fake_a]), ops.concatenate([ones, zeros]))
        # D_B: minimise 1/2 [mean (D_B(b) - 1)^2 + mean D_B(G_AB(a))^2]
        self.d_b.trainable = True
        d_b_loss = self.d_b.train_on_batch(ops.concatenate([b, fake_b]), ops.concatenate([ones, zeros]))
        # G_AB and G_BA: adversarial both ways (target 1) + lambda (cycle a + cycle b) [+ lambda_id identity]
        self.d_a.trainable = False  # both D frozen, right before the generators' update
        self.d_b.trainable = False
        targets = [ones, ones, a, b] + ([a, b] if self.identity_weight > 0 else [])
        g = self.combined.train_on_batch([a, b], targets, return_dict=True)
        return {"d_a_loss": d_a_loss, "d_b_loss": d_b_loss, "adversarial_loss": g["adv_a_loss"] + g["adv_b_loss"],
                "cycle_loss": g["cycle_a_loss"] + g["cycle_b_loss"],
                "identity_loss": g.get("identity_a_loss", 0.0) + g.get("identity_b_loss", 0.0), "g_loss": g["loss"]}

    def _batches(self, data, batch_size):
        """A batch of each domain, both translations (G in inference mode) and the patch targets."""
        x_a, x_b = data
        a = ops.take(x_a, keras.random.randint((batch_size,), 0, ops.shape(x_a)[0], seed=self.seed_generator), axis=0)
        b = ops.take(x_b, keras.random.randint((batch_size,), 0, ops.shape(x_b)[0], seed=self.seed_generator), axis=0)
        fake_a, fake_b = self.g_ba(b, training=False), self.g_ab(a, training=False)  # (N, 28, 28, 1) each
        ones = ops.ones((batch_size,) + tuple(self.d_a.output.shape[1:]))  # (N, 7, 7, 1): "real" for every patch
        return a, b, fake_a, fake_b, ones, ops.zeros_like(ones)

    # ----- the loop -------------------------------------------------------------------------------
    def train(self, x_a, x_b, steps, batch_size=32, on_step=None):
        """Run `steps` steps on the unpaired images x_a, x_b (N, 28, 28, 1) in [-1, 1]; returns the history.

        on_step(trainer, step), if given, is called after every step (e.g. to time or to sample).
        """
        check_positive_int("steps", steps, 0)
        check_positive_int("batch_size", batch_size, 1)
        for name, x in (("x_a", x_a), ("x_b", x_b)):
            x = np.asarray(x)
            if x.ndim != 4 or not np.all(np.isfinite(x)) or x.min() < -1.001 or x.max() > 1.001:
                raise ValueError(f"{name} must be finite images (N, H, W, C) in [-1, 1] (the generators' tanh "
                                 f"range); got shape {x.shape}.")
        self._data = tuple(ops.convert_to_tensor(np.asarray(x, "float32")) for x in (x_a, x_b))
        progbar = keras.utils.Progbar(steps, verbose=self.verbose, stateful_metrics=self.history_keys)
        self._keep_good_state()
        for i in range(steps):
            logs = {key: float(value) for key, value in self.train_step(batch_size).items()}
            if not all(math.isfinite(value) for value in logs.values()):
                self._stop_on_nan(logs)
            self.step += 1
            for key, value in logs.items():
                self.history[key].append(value)
            progbar.update(i + 1, [(key, logs[key]) for key in ("d_a_loss", "d_b_loss", "cycle_loss", "g_loss")])
            if self.step % self.good_state_every == 0:
                self._keep_good_state()
            if on_step:
                on_step(self, self.step)
        return self.history

    def _variables(self):
        """Every variable of the run, once each: the four networks, the three optimizers, the random state."""
        self.d_a.trainable, self.d_b.trainable = True, True  # (set again before every update)
        found = {}
        for model in (self.d_a, self.d_b, self.combined):
            if model is self.combined:  # its optimizer updates the generators only: build it with both D frozen
                self.d_a.trainable, self.d_b.trainable = False, False
            for v in state_variables(model):
                found.setdefault(id(v), v)
        found.setdefault(id(self.seed_generator.state), self.seed_generator.state)
        return list(found.values())

    def _keep_good_state(self):
        values = finite_snapshot(self._variables())
        if values is not None:
            self._good_state = (self.step, values, {key: len(h) for key, h in self.history.items()})

    def _stop_on_nan(self, logs):
        stopped_at, kept = self.step + 1, "no finite state was kept, so the networks are left as they are"
        if self._good_state is not None:
            step, values, lengths = self._good_state
            restore(self._variables(), values)
            for key, length in lengths.items():
                del self.history[key][length:]  # the history ends where the weights are
            self.step = step
            kept = f"the four networks, their optimizers and the random state were put back to step {step}"
        losses = ", ".join(f"{key}={value:.4g}" for key, value in logs.items())
        raise FloatingPointError(f"training stopped: a loss became NaN or inf at step {stopped_at} ({losses}); "
                                 f"{kept}. Lower the learning rate or look at trainer.history just before.")


# ----- measuring the translation -------------------------------------------------------------------
def translate(model, x, batch_size=500):
    """model(x) in inference mode, as a NumPy array, in batches of one shape (the last one padded).

    One shape: a backend that compiles each operation per input shape (JAX, run eagerly) compiles once.
    """
    x, out = np.asarray(x, "float32"), []
    for start in range(0, len(x), batch_size):
        chunk = x[start:start + batch_size]
        padded = np.concatenate([chunk, np.zeros((batch_size - len(chunk),) + chunk.shape[1:], "float32")])
        out.append(ops.convert_to_numpy(model(padded, training=False))[:len(chunk)])  # (len(chunk), ...)
    return np.concatenate(out)


def content_kept(g_forward, g_back, judge, x, y, cycle_loss=cycle_loss):
    """Does a translation keep the digit? For images x (N, 28, 28, 1) in [-1, 1] with labels y:

    "translated": fraction the judge reads as y after g_forward; "round_trip": after g_back(g_forward(x));
    "cycle_error": cycle_loss(x, g_back(g_forward(x))), by default the mean |x_back - x| over pixels and images.
    """
    x_fake = translate(g_forward, x)  # (N, 28, 28, 1) in the other domain
    x_back = translate(g_back, x_fake)  # (N, 28, 28, 1) back where it started
    read = lambda images: np.argmax(judge.predict_proba(images, value_range=(-1, 1)), axis=1)  # noqa: E731
    return {"translated": float(np.mean(read(x_fake) == y)), "round_trip": float(np.mean(read(x_back) == y)),
            "cycle_error": float(cycle_loss(x, x_back))}
