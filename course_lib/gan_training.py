"""GAN training loops built on `train_on_batch`, the way the practice deck trains a GAN.

Two compiled models share the discriminator D:

    discriminator            x -> D(x)            compiled on its own (its own optimizer)
    combined                 z -> D(G(z))         trained with D frozen (another optimizer)

One training step = `d_steps` discriminator updates, then one generator update:

    D step: maximise  log D(x_real) + log(1 - D(G(z)))   (BCE with targets 1 and 0)
    G step: maximise  log D(G(z))                         (BCE with target 1: non-saturating loss)

`GANTrainer.train_step` is the whole algorithm in one function, to read next to the lecture's.

The trainable rule (Keras 3, measured; tests/test_backend.py pins it per backend): on TensorFlow,
`trainable` is read when a model's train function is first built (its first `train_on_batch`
after compile) and then stays baked in; on JAX it is read at every call, and changing the set of
trainable variables after the model's optimizer was built is an error. Setting `D.trainable`
right before every `train_on_batch`, as the practice deck does and as `train_step` does, is
correct on both. The Keras 2 idiom "set D.trainable = False once after compiling D" fails:
D's first update sees it frozen, and D never learns.

Everything per step stays on the device: z, the fake labels and the indices of
the real batch are drawn with `keras.random` and the real data is held as one
tensor. The only host transfer is the handful of loss values `train_on_batch`
returns, which feed the history, the progress bar and the NaN/collapse checks.

A NaN or infinite loss stops training with a FloatingPointError naming the step
and the losses, after every variable of the run (G, D, the optimizers, the
random state) is put back to the last finite state: a copy kept in memory
before the first step, every `good_state_every` steps and at every checkpoint.
"""
import math
import os
import warnings

import keras
import numpy as np
from keras import ops

from course_lib import backend
from course_lib.checkpoint import checkpoint_step, load_checkpoint, save_checkpoint
from course_lib.ema import MovingAverage
from course_lib.validate import check_positive_int

HISTORY_KEYS = ("d_loss_real", "d_loss_fake", "g_loss", "d_acc_real", "d_acc_fake")
CHECKPOINT_NAME = "gan_checkpoint.npz"


# Metrics of D. With separate batches, `accuracy` on the real (fake) batch is D's accuracy on
# real (fake) samples; on a concatenated batch the masked versions split it by target.
def accuracy(y_true, y_pred):
    return ops.mean(ops.cast((y_pred > 0.5) == (y_true >= 0.5), y_pred.dtype))


def _masked_mean(values, mask):
    return ops.sum(values * mask) / ops.maximum(ops.sum(mask), 1.0)


def acc_real(y_true, y_pred):
    is_real = ops.cast(y_true >= 0.5, y_pred.dtype)
    return _masked_mean(ops.cast(y_pred > 0.5, y_pred.dtype), is_real)


def acc_fake(y_true, y_pred):
    is_fake = ops.cast(y_true < 0.5, y_pred.dtype)
    return _masked_mean(ops.cast(y_pred <= 0.5, y_pred.dtype), is_fake)


def loss_real(y_true, y_pred):
    is_real = ops.cast(y_true >= 0.5, y_pred.dtype)
    return _masked_mean(keras.losses.binary_crossentropy(y_true, y_pred)[..., None], is_real)


def loss_fake(y_true, y_pred):
    is_fake = ops.cast(y_true < 0.5, y_pred.dtype)
    return _masked_mean(keras.losses.binary_crossentropy(y_true, y_pred)[..., None], is_fake)


class GANTrainer:
    """Train `generator` (z -> x) against `discriminator` (x -> probability of real).

    latent_dim: read from the generator's input z (N, latent_dim); if given, it must match.
    d_steps: discriminator updates per generator update (k in the GAN paper).
    label_smoothing: real targets become 1 - label_smoothing (one-sided smoothing).
    label_noise: fraction of D's targets flipped at random each update.
    concat_batches: one D update on [real; fake] instead of one on each.
    ema_decay: if set (e.g. 0.999), also keep a moving average of G's weights in
        `trainer.ema_generator` (course_lib.ema.MovingAverage, updated after every G update).

    The trainable rule (Keras 3): on TensorFlow, `trainable` is read when a model's train
    function is first built (its first `train_on_batch` after compile) and then stays baked
    in; on JAX it is read at every call, and changing the set of trainable variables after
    the model's optimizer was built is an error. `train_step` sets `D.trainable` right before
    every `train_on_batch`, which is correct on both; "freeze D once after compiling it"
    (the Keras 2 idiom) leaves D frozen in its own updates, and D never learns.
    """

    history_keys = HISTORY_KEYS
    progress_keys = ("d_loss_real", "d_loss_fake", "g_loss")
    good_state_every = 100  # steps between the in-memory copies a NaN loss rolls back to

    def __init__(self, generator, discriminator, latent_dim=None, d_optimizer=None, g_optimizer=None,
                 d_steps=1, label_smoothing=0.0, label_noise=0.0, concat_batches=False, seed=0,
                 checkpoint_dir=None, collapse_patience=200, ema_decay=None, verbose=1):
        check_positive_int("d_steps", d_steps, 1)
        check_positive_int("collapse_patience", collapse_patience, 1)
        _check_fraction("label_smoothing", label_smoothing, upper=0.5)
        _check_fraction("label_noise", label_noise, upper=0.5)
        self.generator, self.discriminator = generator, discriminator
        self.latent_dim, self.d_steps = latent_dim_of(generator, latent_dim), d_steps
        self.label_smoothing, self.label_noise = label_smoothing, label_noise
        self.concat_batches, self.verbose = concat_batches, verbose
        self.collapse_patience = collapse_patience
        self.d_optimizer = d_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5)
        self.g_optimizer = g_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5)
        if self.d_optimizer is self.g_optimizer:
            raise ValueError("d_optimizer and g_optimizer must be two different optimizer instances: "
                             "each compiled model keeps its own optimizer state")
        self.ema = MovingAverage(generator, ema_decay) if ema_decay is not None else None
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.checkpoint_dir = checkpoint_dir
        self.step = 0
        self.history = {key: [] for key in self.history_keys}
        self.stopped_at = None  # the step at which a NaN loss stopped training
        self._good_state = None  # (step, host copies of every variable, history lengths)
        self._streaks = {"d_collapse": 0, "g_saturated": 0}
        self._compile()
        # all of one step's batches in one compiled call that never leaves the device: drawn eagerly,
        # the dozen small ops (indices, z, G(z), targets) cost more in Python dispatch than in arithmetic
        self._draw_batches = backend.compile(
            self._batches, lambda: [self.seed_generator.state] + list(self.generator.variables))
        self.fixed_z = self.sample_z(64)  # the same z for every sample grid

    @property
    def ema_generator(self):
        """The moving average of G (a model like G), or None without ema_decay."""
        return self.ema.model if self.ema is not None else None

    # ----- models -------------------------------------------------------------
    def _compile(self):
        metrics = [acc_real, acc_fake, loss_real, loss_fake] if self.concat_batches else [accuracy]
        self.discriminator.compile(optimizer=self.d_optimizer, loss="binary_crossentropy", metrics=metrics)
        self.combined = self._build_combined()
        self.combined.compile(optimizer=self.g_optimizer, loss="binary_crossentropy")

    def _build_combined(self):
        z = keras.Input((self.latent_dim,), name="z")
        return keras.Model(z, self.discriminator(self.generator(z)), name="combined")  # z -> D(G(z))

    # ----- one step: the GAN algorithm, as the practice deck writes it ------------
    def train_step(self, batch_size, update_d=True, update_g=True):
        """d_steps updates of D, then one of G (Goodfellow et al. 2014, Algorithm 1); returns the logs.

        update_d / update_g: False skips that part (d_step and g_step, for checks).
        """
        d_batches, (z, ones) = self._draw_batches(self._data, batch_size)  # the whole step's batches, one call
        logs = {}
        for x_real, x_fake, y_real, y_fake in (d_batches if update_d else []):  # k = d_steps updates of D
            # D: minimise L_D = -mean log D(x_real) - mean log(1 - D(G(z)))   (BCE, targets ~1 and ~0)
            self.discriminator.trainable = True  # right before every update of D (the trainable rule)
            if self.concat_batches:  # one update on [x_real; x_fake]: (2N, ...), targets (2N, 1)
                _, acc_real, acc_fake, loss_real, loss_fake = self.discriminator.train_on_batch(
                    _concat(x_real, x_fake), ops.concatenate([y_real, y_fake]))
            else:  # one update on x_real (N, ...) with y_real (N, 1), one on x_fake with y_fake
                loss_real, acc_real = self.discriminator.train_on_batch(x_real, y_real)
                loss_fake, acc_fake = self.discriminator.train_on_batch(x_fake, y_fake)
            logs = {"d_loss_real": loss_real, "d_loss_fake": loss_fake, "d_acc_real": acc_real,
                    "d_acc_fake": acc_fake}
        if update_g:
            # G: minimise L_G = -mean log D(G(z))   (BCE with target 1 through z -> D(G(z)): non-saturating)
            self.discriminator.trainable = False  # right before every update of G
            logs["g_loss"] = self.combined.train_on_batch(z, ones)  # z: (N, latent_dim), ones: (N, 1)
            self._update_average()
        return logs

    def d_step(self, batch_size):
        """Only the D updates of one step; returns D's losses and accuracies."""
        return self.train_step(batch_size, update_g=False)

    def g_step(self, batch_size):
        """Only the G update of one step (through the combined model, D frozen); returns G's loss."""
        return self.train_step(batch_size, update_d=False)["g_loss"]

    def _update_average(self):
        if self.ema is not None:  # w_ema <- d_t w_ema + (1 - d_t) w, t = G updates so far
            self.ema.update(ops.cast(self.g_optimizer.iterations, "float32"))

    # ----- batches, drawn on the device -----------------------------------------
    def _batches(self, data, batch_size):
        """One step's batches: d_steps of (x_real, x_fake, y_real, y_fake), then (G's inputs, ones).

        G does not change during the D updates, so every fake of the step can be made at once.
        """
        d_batches = []
        for _ in range(self.d_steps):
            x_real = self._real_batch(data, batch_size)  # (N, ...)
            x_fake = self._fake_batch(self._generator_inputs(batch_size))  # G(z): (N, ...)
            y_real = self._targets(batch_size, 1.0 - self.label_smoothing)  # (N, 1)
            y_fake = self._targets(batch_size, 0.0)  # (N, 1)
            d_batches.append((x_real, x_fake, y_real, y_fake))
        ones = ops.ones((batch_size, 1))  # G wants D(G(z)) = 1: the non-saturating loss
        return d_batches, (self._generator_inputs(batch_size), ones)

    def sample_z(self, batch_size):
        return keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)  # z ~ N(0, I)

    def _generator_inputs(self, batch_size):
        return self.sample_z(batch_size)

    def _real_batch(self, data, batch_size):
        (x_real,) = data
        index = keras.random.randint((batch_size,), 0, ops.shape(x_real)[0], seed=self.seed_generator)
        return ops.take(x_real, index, axis=0)

    def _fake_batch(self, g_inputs):
        return self.generator(g_inputs, training=True)

    def _targets(self, batch_size, value):
        targets = ops.full((batch_size, 1), value, dtype="float32")
        if self.label_noise > 0:  # flip a fraction of the targets: 1 - t where u < p
            flip = keras.random.uniform((batch_size, 1), seed=self.seed_generator) < self.label_noise
            targets = ops.where(flip, 1.0 - targets, targets)
        return targets

    def set_data(self, *arrays):
        """Hold the training arrays as device tensors (x_real, and the labels if conditional)."""
        _check_real_images(arrays[0], self.generator)
        self._data = tuple(ops.convert_to_tensor(a) for a in arrays)
        self._data = (ops.cast(self._data[0], "float32"),) + self._data[1:]

    # ----- the loop -------------------------------------------------------------
    def train(self, x_real, steps, batch_size=64, sample_every=None, on_sample=None, checkpoint_every=None):
        """Run `steps` training steps on `x_real`; returns the history (dict of per-step lists).

        on_sample(trainer, step) is called every `sample_every` steps (e.g. to draw a grid
        from `trainer.fixed_z`); a checkpoint is written every `checkpoint_every` steps.
        A NaN or infinite loss raises FloatingPointError after putting every variable back to
        the last finite state (see the module's docstring); the last checkpoint is left untouched.
        """
        self.set_data(x_real)
        return self._run(steps, batch_size, sample_every, on_sample, checkpoint_every)

    def _run(self, steps, batch_size=64, sample_every=None, on_sample=None, checkpoint_every=None):
        check_positive_int("steps", steps, 0)
        check_positive_int("batch_size", batch_size, 1)
        if checkpoint_every and not self.checkpoint_dir:
            raise ValueError("checkpoint_every needs checkpoint_dir to be set when the trainer is created")
        progbar = keras.utils.Progbar(steps, verbose=self.verbose, stateful_metrics=self.history_keys)
        self._keep_good_state()  # the state before the first step
        for i in range(steps):
            logs = self.train_step(batch_size)
            if not all(math.isfinite(value) for value in logs.values()):
                self._stop_on_nan(logs)
            self.step += 1
            for key, value in logs.items():
                self.history[key].append(float(value))
            self._watch_for_collapse(logs)
            progbar.update(i + 1, [(k, logs[k]) for k in self.progress_keys])
            if checkpoint_every and self.step % checkpoint_every == 0:
                self.save()
            if self.step % self.good_state_every == 0 or (checkpoint_every and self.step % checkpoint_every == 0):
                self._keep_good_state()
            if on_sample and sample_every and self.step % sample_every == 0:
                on_sample(self, self.step)
        return self.history

    # ----- failure tracking -----------------------------------------------------
    def _variables(self):
        """Every variable of the run: models, optimizers (built now if still lazy) and random states."""
        self._build_optimizers()
        models, optimizers, variables = self._state()
        return ([v for model in models.values() for v in model.variables]
                + [v for optimizer in optimizers.values() for v in optimizer.variables] + list(variables.values()))

    def _keep_good_state(self):
        """Copy every variable to host memory, unless one is NaN or inf: the state a NaN loss rolls back to."""
        values = [ops.convert_to_numpy(v) for v in self._variables()]
        if all(np.all(np.isfinite(v)) for v in values if v.dtype.kind == "f"):
            self._good_state = (self.step, values, {key: len(h) for key, h in self.history.items()})

    def _stop_on_nan(self, logs):
        """Put every variable back to the last finite state, then raise FloatingPointError."""
        self.stopped_at = self.step + 1
        kept = "no finite state was kept, so G and D are left as they are"
        if self._good_state is not None:
            step, values, lengths = self._good_state
            for variable, value in zip(self._variables(), values):
                variable.assign(value)
            for key, length in lengths.items():
                del self.history[key][length:]  # the history ends where the weights are
            self.step = step
            kept = (f"G, D, their optimizers and the random state were put back to step {step}, "
                    f"the last finite state (kept in memory)")
        raise FloatingPointError(f"training stopped: a loss became NaN or inf at step {self.stopped_at} "
                                 f"({_format(logs)}); {kept}. {self._checkpoint_note()}Lower the learning "
                                 f"rates (d_optimizer, g_optimizer), or look at trainer.history just before.")

    def _checkpoint_note(self):
        if not self.checkpoint_dir:
            return ""
        if not os.path.exists(self.checkpoint_path):
            return "No checkpoint has been written yet. "
        return f"The checkpoint {self.checkpoint_path} (step {checkpoint_step(self.checkpoint_path)}) is unchanged. "

    def _watch_for_collapse(self, logs):
        d_loss = (logs["d_loss_real"] + logs["d_loss_fake"]) / 2
        g_ceiling = -math.log(keras.config.epsilon())  # BCE's largest value, log(1/eps) ~ 16.1
        self._streak("d_collapse", d_loss < 1e-3,
                     "D's loss has collapsed towards 0: D wins easily and G receives almost no signal")
        self._streak("g_saturated", logs["g_loss"] > 0.9 * g_ceiling,
                     "G's loss stays at its maximum: D rejects every fake")

    def _streak(self, name, condition, message):
        self._streaks[name] = self._streaks[name] + 1 if condition else 0
        if self._streaks[name] == self.collapse_patience:
            warnings.warn(f"step {self.step}: {message} (for {self.collapse_patience} steps in a row)",
                          RuntimeWarning, stacklevel=4)

    # ----- checkpoints ------------------------------------------------------------
    @property
    def checkpoint_path(self):
        return os.path.join(self.checkpoint_dir, CHECKPOINT_NAME) if self.checkpoint_dir else None

    def _state(self):
        models = {"generator": self.generator, "discriminator": self.discriminator}
        if self.ema_generator is not None:
            models["ema_generator"] = self.ema_generator
        optimizers = {"d_optimizer": self.d_optimizer, "g_optimizer": self.g_optimizer}
        variables = {"seed": self.seed_generator.state}
        return models, optimizers, variables

    def save(self):
        """Write both networks, both optimizers, the RNG state and the step (atomically)."""
        if not self.checkpoint_dir:
            raise ValueError("this trainer has no checkpoint_dir")
        models, optimizers, variables = self._state()
        return save_checkpoint(self.checkpoint_path, self.step, models, optimizers, variables)

    def _build_optimizers(self):
        """Create the optimizers' variables (Keras makes them at the first update) on what each one trains."""
        self.discriminator.trainable = True  # set again before every update
        for optimizer, model in ((self.d_optimizer, self.discriminator), (self.g_optimizer, self.generator)):
            if not optimizer.built:
                optimizer.build(model.trainable_variables)

    def restore(self):
        """Load the checkpoint in checkpoint_dir if there is one; returns the step reached.

        Without a checkpoint file yet, nothing changes and the current step is returned.
        """
        if not self.checkpoint_dir:
            raise ValueError("this trainer has no checkpoint_dir: there is no checkpoint to restore")
        if not os.path.exists(self.checkpoint_path):
            return self.step
        self._build_optimizers()
        models, optimizers, variables = self._state()
        self.step = load_checkpoint(self.checkpoint_path, models, optimizers, variables)
        self._good_state = None  # kept for the state before; taken again when training resumes
        return self.step


class ConditionalGANTrainer(GANTrainer):
    """G([z, y]) and D([x, y]): both networks take the label as a second input.

    The label format (integers or one-hot rows) is read from the generator's second
    input; labels for fakes are drawn uniformly in that format.
    """

    def __init__(self, generator, discriminator, latent_dim=None, num_classes=None, **kwargs):
        if num_classes is None:
            raise ValueError("ConditionalGANTrainer needs num_classes (the number of labels y can take), e.g. 10")
        check_positive_int("num_classes", num_classes, 2)
        self.num_classes = num_classes
        label_input = _second_input(generator)
        self.label_shape = tuple(label_input.shape[1:])
        self.label_dtype = label_input.dtype
        self.one_hot = self.label_shape == (num_classes,) and "float" in str(self.label_dtype)
        super().__init__(generator, discriminator, latent_dim, **kwargs)

    def _build_combined(self):
        z = keras.Input((self.latent_dim,), name="z")
        y = keras.Input(self.label_shape, name="y", dtype=self.label_dtype)
        return keras.Model([z, y], self.discriminator([self.generator([z, y]), y]), name="combined")

    def set_data(self, x_real, y_real):
        _check_labels(y_real, len(x_real), self.num_classes)
        y_real = ops.convert_to_tensor(y_real)
        if self.one_hot and ops.ndim(y_real) == 1:
            y_real = ops.one_hot(y_real, self.num_classes)  # int labels for a one-hot generator
        super().set_data(x_real, ops.cast(ops.reshape(y_real, (-1,) + self.label_shape), self.label_dtype))

    def sample_labels(self, batch_size):
        labels = keras.random.randint((batch_size,), 0, self.num_classes, seed=self.seed_generator)
        if self.one_hot:
            return ops.one_hot(labels, self.num_classes)
        return ops.cast(ops.reshape(labels, (batch_size,) + self.label_shape), self.label_dtype)

    def _generator_inputs(self, batch_size):
        return [self.sample_z(batch_size), self.sample_labels(batch_size)]

    def _real_batch(self, data, batch_size):
        x_real, y_real = data
        index = keras.random.randint((batch_size,), 0, ops.shape(x_real)[0], seed=self.seed_generator)
        return [ops.take(x_real, index, axis=0), ops.take(y_real, index, axis=0)]

    def _fake_batch(self, g_inputs):
        return [self.generator(g_inputs, training=True), g_inputs[1]]  # the fake keeps its label

    def train(self, x_real, y_real, steps, **kwargs):
        """Like GANTrainer.train, with the real labels `y_real` next to `x_real`."""
        self.set_data(x_real, y_real)
        return self._run(steps, **kwargs)


def _second_input(generator):
    inputs = getattr(generator, "inputs", None)
    if not inputs or len(inputs) != 2:
        raise ValueError("ConditionalGANTrainer needs a functional generator with two inputs [z, y]; "
                         f"got inputs={inputs!r}")
    return inputs[1]


def latent_dim_of(generator, latent_dim=None):
    """The size of G's input z, read from the generator; `latent_dim`, if given, must match it."""
    inputs = getattr(generator, "inputs", None) or [None]
    shape = tuple(getattr(inputs[0], "shape", ()) or ())  # z: (N, latent_dim); a conditional G: [z, y]
    found = shape[1] if len(shape) == 2 and shape[1] is not None else None
    if latent_dim is None:
        if found is None:
            raise ValueError(f"could not read latent_dim from the generator's first input (shape {shape or None}): "
                             "give latent_dim=... or build G with keras.Input((latent_dim,)).")
        return int(found)
    check_positive_int("latent_dim", latent_dim, 1)
    if found is not None and int(latent_dim) != int(found):
        raise ValueError(f"latent_dim={latent_dim}, but the generator's input z has shape {shape}, i.e. "
                         f"latent_dim={found}: leave latent_dim out (it is read from G) or pass {found}.")
    return int(latent_dim)


def _check_real_images(x_real, generator):
    """x_real must look like G's samples: the same shape per sample, floats, finite, in G's range."""
    x = x_real if isinstance(x_real, np.ndarray) else np.asarray(ops.convert_to_numpy(x_real))
    sample_shape = _output_sample_shape(generator)
    if sample_shape is not None and tuple(x.shape[1:]) != sample_shape:
        hint = " Add the channel axis: x_real[..., None]." if tuple(x.shape[1:]) + (1,) == sample_shape else ""
        raise ValueError(f"x_real has shape {x.shape}, but the generator makes samples of shape {sample_shape}: "
                         f"D must see real and fake samples of one shape.{hint}")
    if x.dtype.kind in "iub":
        raise ValueError(f"x_real has dtype {x.dtype} (values {x.min()} to {x.max()}): train on floats in the range "
                         f"of G's output, e.g. x / 127.5 - 1 for a tanh generator, or load_data(value_range=(-1, 1)).")
    if not np.all(np.isfinite(x)):
        raise ValueError("x_real contains NaN or inf: clean the data (np.isfinite) before training.")
    if _output_activation(generator) is keras.activations.tanh and x.size and (x.min() < -1.001 or x.max() > 1.001):
        raise ValueError(f"x_real has values in [{x.min():.4g}, {x.max():.4g}], but the generator's tanh output "
                         f"lies in [-1, 1]: scale the data to [-1, 1], e.g. load_data(value_range=(-1, 1)).")


def _output_sample_shape(model):
    try:
        return tuple(model.output_shape[1:])
    except (AttributeError, ValueError):  # a subclassed model without a known output shape
        return None


def _output_activation(model):
    """The activation of the last layer that has one, looking past layers that only reshape."""
    for layer in reversed(getattr(model, "layers", [])):
        if not isinstance(layer, (keras.layers.Reshape, keras.layers.Flatten)):
            return getattr(layer, "activation", None)
    return None


def _check_labels(y_real, n, num_classes):
    y = y_real if isinstance(y_real, np.ndarray) else np.asarray(ops.convert_to_numpy(y_real))
    if len(y) != n:
        raise ValueError(f"y_real has {len(y)} labels for {n} images in x_real: give one label per image.")
    if y.ndim == 1 or y.shape[1:] == (1,):
        if y.dtype.kind not in "iu" or y.size and (y.min() < 0 or y.max() >= num_classes):
            raise ValueError(f"y_real must hold integer labels in [0, {num_classes - 1}] (num_classes={num_classes}); "
                             f"got dtype {y.dtype}" + (f", values {y.min()} to {y.max()}." if y.size else "."))


def _concat(a, b):
    if isinstance(a, list):
        return [ops.concatenate([u, v]) for u, v in zip(a, b)]
    return ops.concatenate([a, b])


def _format(logs):
    return ", ".join(f"{key}={float(value):.4g}" for key, value in logs.items())


def _check_fraction(name, value, upper):
    if not 0.0 <= float(value) <= upper:
        raise ValueError(f"{name} must be in [0, {upper}]; got {value!r}")
