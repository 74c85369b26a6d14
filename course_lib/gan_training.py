"""GAN training loops built on `train_on_batch`, the way the practice deck trains a GAN.

Two compiled models share the discriminator D:

    discriminator            x -> D(x)            compiled on its own (its own optimizer)
    combined                 z -> D(G(z))         compiled with D frozen (another optimizer)

One training step = `d_steps` discriminator updates, then one generator update:

    D step: maximise  log D(x_real) + log(1 - D(G(z)))   (BCE with targets 1 and 0)
    G step: maximise  log D(G(z))                         (BCE with target 1: non-saturating loss)

Keras 3 reads `layer.trainable` when a model *trains*, not when it is compiled.
The Keras 2 idiom "set D.trainable = False once, then compile the combined
model" therefore freezes D in its own updates too, and D silently never learns.
Here `trainable` is set right before every `train_on_batch` call.

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

    d_steps: discriminator updates per generator update (k in the GAN paper).
    label_smoothing: real targets become 1 - label_smoothing (one-sided smoothing).
    label_noise: fraction of D's targets flipped at random each update.
    concat_batches: one D update on [real; fake] instead of one on each.
    ema_decay: if set (e.g. 0.999), also keep an exponential moving average of G's
        weights in `trainer.ema_generator` (Polyak averaging, as in progressive GANs):
        after every G update  w_ema <- d_t w_ema + (1 - d_t) w,  d_t = min(ema_decay, (1 + t) / (10 + t))
        where t counts G updates; batch-norm statistics are copied. Its sample quality
        depends much less than the last G's on the step at which training stops.
    """

    history_keys = HISTORY_KEYS
    progress_keys = ("d_loss_real", "d_loss_fake", "g_loss")
    good_state_every = 100  # steps between the in-memory copies a NaN loss rolls back to

    def __init__(self, generator, discriminator, latent_dim, d_optimizer=None, g_optimizer=None,
                 d_steps=1, label_smoothing=0.0, label_noise=0.0, concat_batches=False, seed=0,
                 checkpoint_dir=None, collapse_patience=200, ema_decay=None, verbose=1):
        check_positive_int("latent_dim", latent_dim, 1)
        check_positive_int("d_steps", d_steps, 1)
        check_positive_int("collapse_patience", collapse_patience, 1)
        _check_fraction("label_smoothing", label_smoothing, upper=0.5)
        _check_fraction("label_noise", label_noise, upper=0.5)
        if ema_decay is not None and not 0.0 < float(ema_decay) < 1.0:
            raise ValueError(f"ema_decay must be in (0, 1), e.g. 0.999, or None for no average; got {ema_decay!r}")
        self.generator, self.discriminator = generator, discriminator
        self.latent_dim, self.d_steps = latent_dim, d_steps
        self.label_smoothing, self.label_noise = label_smoothing, label_noise
        self.concat_batches, self.verbose = concat_batches, verbose
        self.collapse_patience = collapse_patience
        self.d_optimizer = d_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5)
        self.g_optimizer = g_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5)
        if self.d_optimizer is self.g_optimizer:
            raise ValueError("d_optimizer and g_optimizer must be two different optimizer instances: "
                             "each compiled model keeps its own optimizer state")
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.checkpoint_dir = checkpoint_dir
        self.step = 0
        self.history = {key: [] for key in self.history_keys}
        self.stopped_at = None  # the step at which a NaN loss stopped training
        self._good_state = None  # (step, host copies of every variable, history lengths)
        self._streaks = {"d_collapse": 0, "g_saturated": 0}
        self._compile()
        self.ema_decay = ema_decay
        self.ema_generator = self._clone_generator() if ema_decay else None
        self._compiled_ema_update = _compiled(self._ema_update, self._batch_variables)
        self._compiled_d_batches = _compiled(self._d_batches, self._batch_variables)
        self._compiled_g_batch = _compiled(self._g_batch, self._batch_variables)
        self._compiled_step_batches = _compiled(self._step_batches, self._batch_variables)
        self.fixed_z = self.sample_z(64)  # the same z for every sample grid

    # ----- models -------------------------------------------------------------
    def _compile(self):
        metrics = [acc_real, acc_fake, loss_real, loss_fake] if self.concat_batches else [accuracy]
        self.discriminator.trainable = True
        self.discriminator.compile(optimizer=self.d_optimizer, loss="binary_crossentropy", metrics=metrics)
        self.combined = self._build_combined()
        self.discriminator.trainable = False  # only for the summary; set again before every update
        self.combined.compile(optimizer=self.g_optimizer, loss="binary_crossentropy")

    def _build_combined(self):
        z = keras.Input((self.latent_dim,), name="z")
        return keras.Model(z, self.discriminator(self.generator(z)), name="combined")  # z -> D(G(z))

    def _clone_generator(self):
        try:
            ema = keras.models.clone_model(self.generator)
        except Exception as err:
            raise ValueError("ema_decay needs a generator that keras.models.clone_model can copy (Sequential or "
                             f"functional); cloning failed with: {err}") from err
        ema.set_weights(self.generator.get_weights())
        ema.trainable = False  # only ever assigned to, never trained
        return ema

    def _ema_update(self, g_updates):
        """w_ema <- d w_ema + (1 - d) w for G's trained weights; copy the rest (batch-norm statistics)."""
        decay = ops.minimum(self.ema_decay, (1.0 + g_updates) / (10.0 + g_updates))  # short memory at first
        trained = {id(v) for v in self.generator.trainable_weights}
        for ema_var, var in zip(self.ema_generator.weights, self.generator.weights):
            # ops.copy: on JAX a plain `assign(var)` would share var's buffer, which G's next
            # train_on_batch or predict donates and deletes ("Array has been deleted").
            ema_var.assign(decay * ema_var + (1.0 - decay) * var if id(var) in trained else ops.copy(var))

    # ----- batches, prepared on the device by one compiled function per update ------
    def _batch_variables(self):
        """The Keras variables the compiled functions below read or assign (JAX passes them in and out)."""
        models = [self.generator] + ([self.ema_generator] if self.ema_generator is not None else [])
        return [self.seed_generator.state] + [v for model in models for v in model.variables]

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

    def _d_batches(self, data, batch_size):
        """[(inputs, targets)] for one D update: [(real, 1 - smoothing), (fake, 0)] or one concatenation."""
        x_real = self._real_batch(data, batch_size)
        x_fake = self._fake_batch(self._generator_inputs(batch_size))
        y_real = self._targets(batch_size, 1.0 - self.label_smoothing)
        y_fake = self._targets(batch_size, 0.0)
        if self.concat_batches:
            return [(_concat(x_real, x_fake), ops.concatenate([y_real, y_fake]))]
        return [(x_real, y_real), (x_fake, y_fake)]

    def _g_batch(self, batch_size):
        ones = ops.ones((batch_size, 1))  # G wants D(G(z)) = 1: the non-saturating loss
        return self._generator_inputs(batch_size), ones

    def set_data(self, *arrays):
        """Hold the training arrays as device tensors (x_real, and the labels if conditional)."""
        _check_real_images(arrays[0], self.generator)
        self._data = tuple(ops.convert_to_tensor(a) for a in arrays)
        self._data = (ops.cast(self._data[0], "float32"),) + self._data[1:]

    def _step_batches(self, data, batch_size):
        """Everything one training step needs, drawn at once: G does not change during the D updates."""
        return [self._d_batches(data, batch_size) for _ in range(self.d_steps)], self._g_batch(batch_size)

    # ----- one step -----------------------------------------------------------
    def _d_update(self, batches):
        self.discriminator.trainable = True  # Keras 3 reads this when the update runs
        if self.concat_batches:
            _, a_real, a_fake, l_real, l_fake = self.discriminator.train_on_batch(*batches[0])
        else:
            l_real, a_real = self.discriminator.train_on_batch(*batches[0])
            l_fake, a_fake = self.discriminator.train_on_batch(*batches[1])
        return {"d_loss_real": l_real, "d_loss_fake": l_fake, "d_acc_real": a_real, "d_acc_fake": a_fake}

    def _g_update(self, g_inputs, targets):
        self.discriminator.trainable = False  # the combined model must not move D
        return self.combined.train_on_batch(g_inputs, targets)

    def _update_average(self):
        if self.ema_generator is not None:
            self._compiled_ema_update(ops.cast(self.g_optimizer.iterations, "float32"))  # t: G updates so far

    def d_step(self, batch_size):
        """One discriminator update; returns its logs (D's losses and accuracies)."""
        return self._d_update(self._compiled_d_batches(self._data, batch_size))

    def g_step(self, batch_size):
        """One generator update through the combined model, D frozen; returns G's loss."""
        loss = self._g_update(*self._compiled_g_batch(batch_size))
        self._update_average()
        return loss

    def train_step(self, batch_size):
        """d_steps discriminator updates, then one generator update; returns the last logs."""
        d_batches, g_batch = self._compiled_step_batches(self._data, batch_size)  # one device call
        for batches in d_batches:
            logs = self._d_update(batches)
        logs["g_loss"] = self._g_update(*g_batch)
        self._update_average()
        return logs

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

    def __init__(self, generator, discriminator, latent_dim, num_classes, **kwargs):
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


def check_updates_isolated(d_step, g_step, generator, discriminator):
    """Run one D step and one G step and check which network each one changed.

    Raises AssertionError unless D changes in the D step, G does not; and G changes
    in the G step, D does not. It catches the Keras 2 idiom "freeze D once after
    compiling it", under which Keras 3 never updates D.
    """
    g_before, d_before = _snapshot(generator), _snapshot(discriminator)
    d_step()
    g_mid, d_mid = _snapshot(generator), _snapshot(discriminator)
    g_step()
    g_after, d_after = _snapshot(generator), _snapshot(discriminator)
    problems = []
    if not _changed(d_before, d_mid):
        problems.append("D's weights did not change in the D step (is D frozen while it trains?)")
    if _changed(g_before, g_mid):
        problems.append("G's weights changed in the D step")
    if _changed(d_mid, d_after):
        problems.append("D's weights changed in the G step (D must be frozen in the combined model)")
    if not _changed(g_mid, g_after):
        problems.append("G's weights did not change in the G step")
    if problems:
        raise AssertionError("; ".join(problems))
    return True


def _snapshot(model):
    """Copies of the parameters (batch-norm moving statistics and RNG states left out)."""
    skip = ("moving_mean", "moving_variance", "seed_generator_state")
    return [ops.convert_to_numpy(v).copy() for v in model.weights if v.name not in skip]


def _changed(before, after):
    return any(not (a.shape == b.shape and (a == b).all()) for a, b in zip(before, after))


def _compiled(fn, variables):
    """`fn` as one compiled graph (course_lib.backend.compile); `variables`: those it reads or assigns.

    Preparing a batch (random indices, z, G(z), targets) is a dozen small ops; run
    eagerly, each one costs a Python dispatch, which on a CPU costs more than the
    arithmetic. Compiled, they are one call that never leaves the device.
    """
    return backend.compile(fn, variables)


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
