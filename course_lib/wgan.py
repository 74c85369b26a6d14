"""Wasserstein GAN: a critic with a linear output, weight clipping or a gradient penalty.

The critic C estimates the Wasserstein-1 distance through the Kantorovich-Rubinstein duality

    W1(p_data, p_g) = max over 1-Lipschitz C of  E_real[C(x)] - E_fake[C(x)]

    critic loss     L_C = E[C(x_fake)] - E[C(x_real)]               (+ gradient penalty)
    generator loss  L_G = -E[C(G(z))]

Lipschitz continuity is enforced in one of two ways:
    weight clipping  (WGAN, Arjovsky et al. 2017)   every critic weight clipped to [-c, c]
    gradient penalty (WGAN-GP, Gulrajani et al. 2017)
        x_hat = alpha x_real + (1 - alpha) x_fake,   alpha ~ U(0, 1) per sample
        GP = lambda * E[(||grad_x C(x_hat)||_2 - 1)^2]

The penalty needs a gradient *inside* the loss. The critic is trained by
`CriticUpdate`, a small Model whose `compute_loss` computes L_C (+ GP) from a real
and a fake batch; Keras' own training step, on every backend, differentiates it with
respect to the critic's weights and applies the optimizer, and the clipping is a
constraint on each critic weight, which the optimizer applies right after the update.
The fakes are drawn with the real batches, by the trainer's compiled batch function.
The generator is still trained through the combined model z -> C(G(z)) with the
critic frozen, as in `GANTrainer`.

The one gradient outside Keras' step, grad_x C(x), comes from course_lib.backend.
"""
import keras
from keras import ops

from course_lib import backend
from course_lib.gan_training import GANTrainer
from course_lib.validate import check_positive_int


def input_gradient(critic, x):
    """grad_x C(x) for every sample of the batch x (same shape as x)."""
    # C acts on each sample separately, so d(sum_i C(x_i)) / d x_i = grad C(x_i).
    return backend.gradient(lambda x: ops.sum(critic(x, training=True)), x)


def gradient_penalty(critic, x_real, x_fake, weight, alpha):
    """lambda * mean over the batch of (||grad C(x_hat)||_2 - 1)^2, x_hat between real and fake."""
    alpha = ops.reshape(alpha, (-1,) + (1,) * (len(x_real.shape) - 1))  # (N, 1, ..., 1)
    x_hat = alpha * x_real + (1.0 - alpha) * x_fake  # x_hat = a x_real + (1 - a) x_fake
    grad = input_gradient(critic, x_hat)
    sum_axes = tuple(range(1, len(grad.shape)))
    norm = ops.sqrt(ops.sum(ops.square(grad), axis=sum_axes) + 1e-12)  # ||grad C(x_hat)||_2, (N,)
    return weight * ops.mean(ops.square(norm - 1.0))  # lambda E[(||g|| - 1)^2]


def wasserstein_critic_loss(c_real, c_fake):
    """L_C = E[C(x_fake)] - E[C(x_real)] from the critic's scores on a real and a fake batch."""
    return ops.mean(c_fake) - ops.mean(c_real)


def wasserstein_generator_loss(y_true, y_pred):
    """L_G = -C(G(z)) per sample (Keras averages over the batch); y_true is ignored."""
    return -ops.mean(y_pred, axis=-1)


class ClipWeights(keras.constraints.Constraint):
    """w <- clip(w, -c, c), applied by the optimizer after every update (after the weight's own constraint)."""

    def __init__(self, clip_value, previous=None):
        self.clip_value = clip_value
        self.previous = previous.previous if isinstance(previous, ClipWeights) else previous

    def __call__(self, w):
        w = self.previous(w) if self.previous is not None else w
        return ops.clip(w, -self.clip_value, self.clip_value)


class CriticUpdate(keras.Model):
    """`train_on_batch((x_real, x_fake))` performs one critic update.

    Keras' training step computes the gradient of `compute_loss` (L_C + GP) with respect
    to the critic's trainable weights and applies the optimizer. Logs: loss (L_C + GP),
    wasserstein, gradient_penalty.
    """

    def __init__(self, critic, gp_weight=None, seed=0, critic_loss=None):
        super().__init__()
        self.critic, self.gp_weight = critic, gp_weight
        self.loss_fn = critic_loss or wasserstein_critic_loss  # (C(x_real), C(x_fake)) -> L_C
        self.seed_generator = keras.random.SeedGenerator(seed)  # alpha of the interpolates
        self.wasserstein_tracker = keras.metrics.Mean(name="wasserstein")
        self.penalty_tracker = keras.metrics.Mean(name="gradient_penalty")

    def call(self, inputs, training=False):
        """The critic's scores (C(x_real), C(x_fake)) for a (real, fake) pair of batches."""
        x_real, x_fake = inputs
        return self.critic(x_real, training=training), self.critic(x_fake, training=training)

    def critic_loss(self, x_real, x_fake, scores=None):
        """L_C (+ GP) and its parts; `scores`: (C(x_real), C(x_fake)) when already computed."""
        c_real, c_fake = scores if scores is not None else self((x_real, x_fake), training=True)
        wasserstein = ops.mean(c_real) - ops.mean(c_fake)  # E[C(x_real)] - E[C(x_fake)], the W1 estimate (logged)
        penalty = ops.zeros(())
        if self.gp_weight:
            alpha = keras.random.uniform((ops.shape(x_real)[0],), seed=self.seed_generator)  # alpha ~ U(0, 1)
            penalty = gradient_penalty(self.critic, x_real, x_fake, self.gp_weight, alpha)
        loss = ops.convert_to_tensor(self.loss_fn(c_real, c_fake))  # L_C = E[C(x_fake)] - E[C(x_real)]
        return ops.reshape(loss, ()) + penalty, {"wasserstein": wasserstein, "gradient_penalty": penalty}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """What Keras' training step differentiates: L_C + GP (x is the (real, fake) pair)."""
        loss, logs = self.critic_loss(*x, scores=y_pred)
        self.wasserstein_tracker.update_state(logs["wasserstein"])
        self.penalty_tracker.update_state(logs["gradient_penalty"])
        return loss


class WGANTrainer(GANTrainer):
    """n_critic critic updates, then one generator update; clipping or gradient penalty.

    Give exactly one of clip_value (default 0.01 when neither is given; optimizers
    default to RMSprop(5e-5), as in Arjovsky et al.) or gradient_penalty (lambda; optimizers
    default to Adam(1e-4, beta_1=0, beta_2=0.9), Gulrajani et al.'s Algorithm 1). The critic
    must have a linear output. Clipping is a `ClipWeights` constraint set on each of the
    critic's trainable weights; the critic keeps it after training. latent_dim, the batches,
    the loop, the NaN policy, checkpoints and ema_decay are GANTrainer's.

    history: critic_loss (the minimised L_C + GP), wasserstein (E[C(real)] - E[C(fake)],
    the critic's estimate of W1), gradient_penalty (0 with clipping), g_loss (-E[C(G(z))]).
    critic_loss: a function (C(x_real), C(x_fake)) -> L_C written with keras.ops, used in place of
    `wasserstein_critic_loss` (lesson 09 passes the student's).
    """

    history_keys = ("critic_loss", "wasserstein", "gradient_penalty", "g_loss")
    progress_keys = ("wasserstein", "g_loss")

    def __init__(self, generator, critic, latent_dim=None, n_critic=5, clip_value=None, gradient_penalty=None,
                 d_optimizer=None, g_optimizer=None, seed=0, checkpoint_dir=None, ema_decay=None, verbose=1,
                 critic_loss=None):
        check_positive_int("n_critic", n_critic, 1)
        if clip_value is not None and gradient_penalty is not None:
            raise ValueError("give either clip_value (WGAN) or gradient_penalty (WGAN-GP), not both; "
                             f"got clip_value={clip_value!r}, gradient_penalty={gradient_penalty!r}")
        if clip_value is None and gradient_penalty is None:
            clip_value = 0.01  # the WGAN paper's c
        for name, value in (("clip_value", clip_value), ("gradient_penalty", gradient_penalty)):
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be > 0; got {value!r}")
        _check_linear_output(critic)
        self.clip_value, self.gp_weight = clip_value, gradient_penalty
        if critic_loss is not None and not callable(critic_loss):
            raise ValueError(f"critic_loss must be a function (C(x_real), C(x_fake)) -> L_C; got {critic_loss!r}")
        self.critic, self.critic_loss = critic, critic_loss
        self._critic_seed = seed + 1
        super().__init__(generator, critic, latent_dim, d_optimizer=d_optimizer or self._default_optimizer(),
                         g_optimizer=g_optimizer or self._default_optimizer(), d_steps=n_critic, seed=seed,
                         checkpoint_dir=checkpoint_dir, ema_decay=ema_decay, verbose=verbose)

    def _default_optimizer(self):
        if self.gp_weight:
            return keras.optimizers.Adam(1e-4, beta_1=0.0, beta_2=0.9)  # Gulrajani et al. 2017, Algorithm 1
        return keras.optimizers.RMSprop(5e-5)  # Arjovsky et al. 2017, Algorithm 1

    def _compile(self):
        self.critic_update = CriticUpdate(self.critic, self.gp_weight, seed=self._critic_seed,
                                          critic_loss=self.critic_loss)
        self.critic.trainable = True  # so that every weight to clip is listed below
        if self.clip_value:
            for variable in self.critic.trainable_weights:  # w <- clip(w, -c, c) after every update
                variable.constraint = ClipWeights(self.clip_value, variable.constraint)
        self.critic_update.compile(optimizer=self.d_optimizer)
        self.combined = self._build_combined()  # z -> C(G(z))
        self.combined.compile(optimizer=self.g_optimizer, loss=wasserstein_generator_loss)

    def train_step(self, batch_size, update_d=True, update_g=True):
        """n_critic updates of the critic, then one of G (Arjovsky et al. 2017, Algorithm 1); returns the logs."""
        d_batches, (z, ones) = self._draw_batches(self._data, batch_size)  # targets: unused by these losses
        logs = {}
        for x_real, x_fake, _, _ in (d_batches if update_d else []):  # n_critic updates; x_*: (N, ...)
            # C: minimise L_C = mean C(x_fake) - mean C(x_real) (+ GP); clipping: the optimizer's constraint
            self.critic.trainable = True  # right before every update of C (the trainable rule)
            critic_logs = self.critic_update.train_on_batch((x_real, x_fake), return_dict=True)
            logs = {"critic_loss": critic_logs["loss"], "wasserstein": critic_logs["wasserstein"],
                    "gradient_penalty": critic_logs["gradient_penalty"]}
        if update_g:
            # G: minimise L_G = -mean C(G(z))
            self.critic.trainable = False  # right before every update of G
            logs["g_loss"] = self.combined.train_on_batch(z, ones)  # z: (N, latent_dim); `ones` is ignored
            self._update_average()
        return logs

    def _watch_for_collapse(self, logs):
        pass  # the critic's loss is not bounded like BCE; no saturation to watch for

    def _state(self):
        models, optimizers, variables = super()._state()
        variables["critic_seed"] = self.critic_update.seed_generator.state
        return models, optimizers, variables


def _check_linear_output(critic):
    last = critic.layers[-1] if getattr(critic, "layers", None) else None
    if getattr(last, "activation", None) is keras.activations.sigmoid:
        raise ValueError("a WGAN critic needs a linear output (a score, not a probability): "
                         "its last layer has a sigmoid activation")
