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

The penalty needs a gradient *inside* the loss, which `train_on_batch` with a plain
loss cannot express, so the critic is trained by `CriticUpdate`, a small Model whose
`train_step` generates the fakes, computes L_C (+ GP), applies the update and clips,
all inside one compiled step. The generator is still trained through the combined
model z -> C(G(z)) with the critic frozen, as in `GANTrainer`.

`gradients` is the one backend-specific function (TensorFlow: GradientTape).
"""
import keras
from keras import ops

from course_lib.gan_training import GANTrainer
from course_lib.validate import check_positive_int


def gradients(loss_fn, sources):
    """Return (loss, aux) and the gradient of `loss` w.r.t. each tensor/variable in `sources`.

    `loss_fn()` returns (scalar loss, aux). Calls nest: a gradient computed inside
    `loss_fn` is itself differentiated by the outer call (needed for the penalty).
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            for source in sources:
                if not isinstance(source, keras.Variable):  # trainable variables are watched already
                    tape.watch(source)
            loss, aux = loss_fn()
        return (loss, aux), tape.gradient(loss, sources)
    _require_tensorflow()


def _require_tensorflow():
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise NotImplementedError(
            f"course_lib.wgan's critic step is written for the TensorFlow backend (its train_step and the "
            f"gradient penalty use tf.GradientTape); this Keras runs on {backend!r}. "
            f"Set KERAS_BACKEND=tensorflow before importing keras.")


def input_gradient(critic, x):
    """grad_x C(x) for every sample of the batch x (same shape as x)."""
    # C acts on each sample separately, so d(sum_i C(x_i)) / d x_i = grad C(x_i).
    _, (grad,) = gradients(lambda: (ops.sum(critic(x, training=True)), None), [x])
    return grad


def gradient_penalty(critic, x_real, x_fake, weight, alpha):
    """lambda * mean over the batch of (||grad C(x_hat)||_2 - 1)^2, x_hat between real and fake."""
    alpha = ops.reshape(alpha, (-1,) + (1,) * (len(x_real.shape) - 1))  # (B, 1, ..., 1)
    x_hat = alpha * x_real + (1.0 - alpha) * x_fake  # x_hat = a x_real + (1 - a) x_fake
    grad = input_gradient(critic, x_hat)
    sum_axes = tuple(range(1, len(grad.shape)))
    norm = ops.sqrt(ops.sum(ops.square(grad), axis=sum_axes) + 1e-12)  # ||grad C(x_hat)||_2, (B,)
    return weight * ops.mean(ops.square(norm - 1.0))  # lambda E[(||g|| - 1)^2]


def wasserstein_generator_loss(y_true, y_pred):
    """L_G = -C(G(z)) per sample (Keras averages over the batch); y_true is ignored."""
    return -ops.mean(y_pred, axis=-1)


class CriticUpdate(keras.Model):
    """`train_on_batch(x_real)` performs one critic update (fakes made inside the step)."""

    def __init__(self, critic, generator, latent_dim, clip_value=None, gp_weight=None, seed=0):
        _require_tensorflow()
        super().__init__()
        self.critic, self.generator, self.latent_dim = critic, generator, latent_dim
        self.clip_value, self.gp_weight = clip_value, gp_weight
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, x):
        return self.critic(x)

    def critic_loss(self, x_real, x_fake):
        c_real = ops.mean(self.critic(x_real, training=True))
        c_fake = ops.mean(self.critic(x_fake, training=True))
        wasserstein = c_real - c_fake  # E[C(x_real)] - E[C(x_fake)], the W1 estimate
        penalty = ops.zeros(())
        if self.gp_weight:
            alpha = keras.random.uniform((ops.shape(x_real)[0],), seed=self.seed_generator)  # alpha ~ U(0, 1)
            penalty = gradient_penalty(self.critic, x_real, x_fake, self.gp_weight, alpha)
        return -wasserstein + penalty, {"wasserstein": wasserstein, "gradient_penalty": penalty}

    def train_step(self, data):
        x_real = data[0] if isinstance(data, tuple) else data
        z = keras.random.normal((ops.shape(x_real)[0], self.latent_dim), seed=self.seed_generator)
        x_fake = ops.stop_gradient(self.generator(z, training=True))
        variables = self.critic.trainable_variables
        (loss, logs), grads = gradients(lambda: self.critic_loss(x_real, x_fake), variables)
        self.optimizer.apply(grads, variables)
        if self.clip_value:
            for variable in variables:  # w <- clip(w, -c, c)
                variable.assign(ops.clip(variable, -self.clip_value, self.clip_value))
        return {"critic_loss": loss, **logs}  # critic_loss includes the penalty


class WGANTrainer(GANTrainer):
    """n_critic critic updates, then one generator update; clipping or gradient penalty.

    Give exactly one of clip_value (default 0.01 when neither is given; optimizers
    default to RMSprop(5e-5)) or gradient_penalty (lambda; optimizers default to
    Adam(1e-4, beta_1=0.5, beta_2=0.9)). The critic must have a linear output.

    history: critic_loss (the minimised L_C + GP), wasserstein (E[C(real)] - E[C(fake)],
    the critic's estimate of W1), gradient_penalty (0 with clipping), g_loss (-E[C(G(z))]).
    ema_decay: a moving average of G's weights in `ema_generator`, as in GANTrainer.
    """

    history_keys = ("critic_loss", "wasserstein", "gradient_penalty", "g_loss")
    progress_keys = ("wasserstein", "g_loss")

    def __init__(self, generator, critic, latent_dim, n_critic=5, clip_value=None, gradient_penalty=None,
                 d_optimizer=None, g_optimizer=None, seed=0, checkpoint_dir=None, ema_decay=None, verbose=1):
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
        self.critic = critic
        self._critic_seed = seed + 1
        super().__init__(generator, critic, latent_dim, d_optimizer=d_optimizer or self._default_optimizer(),
                         g_optimizer=g_optimizer or self._default_optimizer(), d_steps=n_critic, seed=seed,
                         checkpoint_dir=checkpoint_dir, ema_decay=ema_decay, verbose=verbose)

    def _default_optimizer(self):
        if self.gp_weight:
            return keras.optimizers.Adam(1e-4, beta_1=0.5, beta_2=0.9)
        return keras.optimizers.RMSprop(5e-5)

    def _compile(self):
        self.critic_update = CriticUpdate(self.critic, self.generator, self.latent_dim,
                                          self.clip_value, self.gp_weight, seed=self._critic_seed)
        self.critic.trainable = True
        self.critic_update.compile(optimizer=self.d_optimizer)
        self.combined = self._build_combined()
        self.critic.trainable = False
        self.combined.compile(optimizer=self.g_optimizer, loss=wasserstein_generator_loss)

    def _d_batches(self, data, batch_size):
        return self._real_batch(data, batch_size)  # the fakes are made inside the critic's step

    def _d_update(self, x_real):
        self.critic.trainable = True  # read when the step runs (Keras 3)
        logs = self.critic_update.train_on_batch(x_real, return_dict=True)
        return {key: logs[key] for key in ("critic_loss", "wasserstein", "gradient_penalty")}

    def _g_update(self, z, targets):
        self.critic.trainable = False  # targets are unused by the Wasserstein loss
        return self.combined.train_on_batch(z, targets)

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
