"""Denoising diffusion (lesson 13): the noise schedule, DDPM training, DDPM and DDIM sampling.

    schedule = linear_schedule(1000)                      # or cosine_schedule(1000)
    model = Diffusion(unet.build_unet(), schedule)        # trained on the epsilon loss
    model.compile(optimizer=keras.optimizers.Adam(2e-4))
    history = train(model, x_train, steps=10_000, ema=MovingAverage(model.network, 0.999))
    x_fake = ddim_sample(ema.model, schedule, n=64, num_steps=50)

Steps are numbered t = 0 .. T-1 (the papers' 1 .. T); x_t is x_0 after t + 1 noising steps and
abar[t] = prod_{s <= t} (1 - beta_s). Images live in [-1, 1].

The forward process in closed form:  q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I).
The network eps_theta(x_t, t) predicts the noise eps that made x_t; its loss is E ||eps - eps_theta||^2.
DDPM walks back one step at a time, drawing fresh noise; DDIM jumps along any decreasing
sub-sequence of steps with no noise at all (eta = 0), so 10 to 50 network calls can replace 1000.
"""
import math
import time
from dataclasses import dataclass

import keras
import numpy as np
from keras import ops

from course_lib.training import length, restore, finite_snapshot, state_variables, take
from course_lib.validate import check_positive_int


# ----------------------------------------------------------------------------
# Noise schedules
# ----------------------------------------------------------------------------
@dataclass
class Schedule:
    """betas (T,), and what follows from them: alphas = 1 - betas, abar = cumprod(alphas). NumPy float64."""

    betas: np.ndarray

    def __post_init__(self):
        self.betas = np.asarray(self.betas, dtype=np.float64)
        if self.betas.ndim != 1 or not np.all((self.betas > 0) & (self.betas < 1)):
            raise ValueError("betas must be a 1-D array of values strictly between 0 and 1")
        self.alphas = 1.0 - self.betas  # alpha_t = 1 - beta_t
        self.abar = np.cumprod(self.alphas)  # abar_t = prod_{s <= t} alpha_s

    @property
    def num_steps(self):
        return len(self.betas)

    def abar_prev(self, t):
        """abar_{t-1}, with abar_{-1} = 1 (before the first step nothing is noised)."""
        return self.abar[t - 1] if t > 0 else 1.0


def linear_schedule(num_steps=1000, beta_start=1e-4, beta_end=0.02):
    """Ho et al. (2020): betas rising linearly; rescaled by 1000 / T so that any T ends as noisy as T = 1000."""
    check_positive_int("num_steps", num_steps, 2)
    scale = 1000.0 / num_steps
    return Schedule(np.linspace(scale * beta_start, min(scale * beta_end, 0.999), num_steps))


def cosine_schedule(num_steps=1000, s=0.008):
    """Nichol and Dhariwal (2021): abar_t = f(t) / f(0), f(t) = cos^2((t/T + s) / (1 + s) * pi/2)."""
    check_positive_int("num_steps", num_steps, 2)
    f = np.cos((np.arange(num_steps + 1) / num_steps + s) / (1 + s) * math.pi / 2) ** 2  # f(0) .. f(T)
    abar = f / f[0]
    betas = 1.0 - abar[1:] / abar[:-1]  # beta_t = 1 - abar_t / abar_{t-1}
    return Schedule(np.clip(betas, 1e-8, 0.999))  # the last steps would reach beta = 1


# ----------------------------------------------------------------------------
# The three formulas of the lesson (its Exercises 1 to 3)
# ----------------------------------------------------------------------------
def _per_example(values, like):
    """(N,) -> (N, 1, 1, 1): one value per example, broadcast over its pixels."""
    return ops.reshape(ops.cast(values, "float32"), (-1,) + (1,) * (len(like.shape) - 1))


def q_sample(x0, eps, abar_t):
    """x_t ~ q(x_t | x_0) for given noise: x0, eps (N, H, W, C), abar_t (N,)."""
    abar_t = _per_example(abar_t, x0)  # (N, 1, 1, 1)
    return ops.sqrt(abar_t) * x0 + ops.sqrt(1.0 - abar_t) * eps  # x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps


def epsilon_loss(eps, eps_pred):
    """||eps - eps_theta||^2 / D per example (mean over its D pixels): (N,)."""
    axes = tuple(range(1, len(eps.shape)))
    return ops.mean(ops.square(eps - eps_pred), axis=axes)


def ddim_step(x_t, eps_pred, abar_t, abar_prev):
    """One deterministic DDIM step (eta = 0) from step t to an earlier step with abar_prev."""
    # x0_hat = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t): the forward formula solved for x_0
    x0_pred = (x_t - ops.sqrt(1.0 - abar_t) * eps_pred) / ops.sqrt(abar_t)
    return ops.sqrt(abar_prev) * x0_pred + ops.sqrt(1.0 - abar_prev) * eps_pred  # re-noise x0_hat with the same eps


# ----------------------------------------------------------------------------
# DDPM's reverse step
# ----------------------------------------------------------------------------
def posterior_mean_variance(x0, x_t, t, schedule):
    """q(x_{t-1} | x_t, x_0) = N(mean, variance): the target of each reverse step (step t >= 1)."""
    beta, alpha, abar, abar_prev = schedule.betas[t], schedule.alphas[t], schedule.abar[t], schedule.abar_prev(t)
    # mean = sqrt(abar_{t-1}) beta_t / (1 - abar_t) x_0 + sqrt(alpha_t) (1 - abar_{t-1}) / (1 - abar_t) x_t
    mean = (math.sqrt(abar_prev) * beta / (1 - abar)) * x0 + (math.sqrt(alpha) * (1 - abar_prev) / (1 - abar)) * x_t
    variance = (1 - abar_prev) / (1 - abar) * beta  # beta_tilde_t = (1 - abar_{t-1}) / (1 - abar_t) beta_t
    return mean, variance


def ddpm_step(x_t, eps_pred, t, schedule, z):
    """x_{t-1} ~ p(x_{t-1} | x_t): the posterior mean with x_0 predicted from eps, plus sigma_t z (none at t = 0)."""
    beta, alpha, abar = schedule.betas[t], schedule.alphas[t], schedule.abar[t]
    # mean = 1/sqrt(alpha_t) (x_t - beta_t / sqrt(1 - abar_t) eps): the posterior mean with x_0 = x0_hat
    mean = (x_t - beta / math.sqrt(1 - abar) * eps_pred) / math.sqrt(alpha)
    sigma = math.sqrt((1 - schedule.abar_prev(t)) / (1 - abar) * beta)  # sigma_t^2 = beta_tilde_t
    return mean + sigma * z if t > 0 else mean


# ----------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------
class Diffusion(keras.Model):
    """Wraps the noise-predicting network; its loss is the epsilon loss at a random step t per image.

    Call it with clean images x_0 (N, H, W, C) in [-1, 1]: it draws t ~ U{0 .. T-1} and eps ~ N(0, I)
    per image, makes x_t with `q_sample_fn` and returns {"eps", "eps_pred"}; compile with just an
    optimizer. `q_sample_fn` and `loss_fn` default to this module's; the lesson passes the student's.
    """

    def __init__(self, network, schedule, q_sample_fn=q_sample, loss_fn=epsilon_loss, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.network, self.schedule = network, schedule
        self.q_sample_fn, self.loss_fn = q_sample_fn, loss_fn
        self.abar = ops.convert_to_tensor(schedule.abar.astype("float32"))  # (T,)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, x0, training=False):
        n = ops.shape(x0)[0]
        t = keras.random.randint((n,), 0, self.schedule.num_steps, seed=self.seed_generator)  # t ~ U{0..T-1}: (N,)
        eps = keras.random.normal(ops.shape(x0), seed=self.seed_generator)  # eps ~ N(0, I)
        x_t = self.q_sample_fn(x0, eps, ops.take(self.abar, t))  # (N, H, W, C)
        eps_pred = self.network([x_t, ops.reshape(ops.cast(t, "float32"), (-1, 1))], training=training)
        return {"eps": eps, "eps_pred": eps_pred}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return ops.mean(self.loss_fn(y_pred["eps"], y_pred["eps_pred"]))  # L = E_{t, x_0, eps} ||eps - eps_theta||^2


def train(model, x, steps, batch_size=128, ema=None, seed=0, good_state_every=100, verbose=1):
    """`steps` calls of model.train_on_batch on random batches of x; returns {"loss": [one per step]}.

    x: an array, or a list of arrays of the same length (images and labels for lesson 14's model).

    ema: a course_lib.ema.MovingAverage of model.network, updated after every step.
    A NaN or inf loss raises FloatingPointError naming the step, after putting the weights and the
    optimizer back to the last finite state (kept every `good_state_every` steps, as in lesson 06's trainer).
    """
    check_positive_int("steps", steps)
    rng = np.random.default_rng(seed)
    x = [np.asarray(part) for part in x] if isinstance(x, (list, tuple)) else np.asarray(x, dtype="float32")
    history, variables, good = {"loss": []}, None, None
    progress = keras.utils.Progbar(steps, verbose=verbose, stateful_metrics=["loss"])
    for step in range(steps):
        loss = float(model.train_on_batch(take(x, rng.integers(0, length(x), batch_size))))
        if variables is None:  # built by the first call: keep the state after it
            variables = state_variables(model) + (list(ema.model.weights) if ema is not None else [])
        if not math.isfinite(loss):
            kept = "left as they are (no finite state was kept)"
            if good is not None:
                restore(variables, good[1])
                kept = f"put back to step {good[0]}, the last finite state"
            raise FloatingPointError(f"training stopped: the loss became {loss} at step {step + 1}; the weights "
                                     f"and optimizer were {kept}. Try a smaller learning rate.")
        if ema is not None:
            # w_ema <- d_t w_ema + (1 - d_t) w; t as a tensor, so that one compiled graph serves every step
            ema.update(ops.convert_to_tensor(step + 1, "float32"))
        if step == 0 or (step + 1) % good_state_every == 0:
            snapshot = finite_snapshot(variables)
            good = (step + 1, snapshot) if snapshot is not None else good
        history["loss"].append(loss)
        progress.update(step + 1, [("loss", loss)])
    return history


# ----------------------------------------------------------------------------
# Sampling
# ----------------------------------------------------------------------------
def network_output(network, x_t, t, labels=None):
    """The network at (x_t, t[, labels]), one time t for the whole batch: eps_theta or a velocity (NumPy)."""
    t_column = np.full((len(x_t), 1), t, dtype="float32")
    inputs = [x_t, t_column] if labels is None else [x_t, t_column, labels]
    return np.asarray(network.predict_on_batch(inputs))


def gaussian_start(n, image_shape, seed):
    """n starting images of pure noise."""
    return np.random.default_rng(seed).normal(size=(n,) + tuple(image_shape)).astype("float32")  # x_T ~ N(0, I)


def ddim_timesteps(num_steps, num_sampling_steps):
    """The decreasing sub-sequence of steps DDIM visits: T-1 .. 0 in num_sampling_steps even strides."""
    check_positive_int("num_sampling_steps", num_sampling_steps)
    if num_sampling_steps > num_steps:
        raise ValueError(f"DDIM can take at most T = {num_steps} steps; got num_sampling_steps={num_sampling_steps}")
    return np.unique(np.linspace(0, num_steps - 1, num_sampling_steps).round().astype(int))[::-1]


def ddim_sample(network, schedule, n, num_sampling_steps, step_fn=ddim_step, seed=0, x_T=None,
                keep_every=None, verbose=0):
    """DDIM (eta = 0) in `num_sampling_steps` network calls; returns x_0 (n, H, W, C) in about [-1, 1].

    step_fn(x_t, eps_pred, abar_t, abar_prev) is the update (the lesson passes the student's).
    keep_every: also return the list of every keep_every-th x_t along the chain (x_T first).
    """
    x = gaussian_start(n, network.input_shape[0][1:], seed) if x_T is None else np.asarray(x_T, "float32")
    steps = ddim_timesteps(schedule.num_steps, num_sampling_steps)
    chain, progress = [x], keras.utils.Progbar(len(steps), verbose=verbose)
    for i, t in enumerate(steps):
        abar_prev = schedule.abar[steps[i + 1]] if i + 1 < len(steps) else 1.0  # the last step lands on x_0
        eps_pred = network_output(network, x, t)
        x = ops.convert_to_numpy(step_fn(x, eps_pred, np.float32(schedule.abar[t]), np.float32(abar_prev)))
        if keep_every and (i + 1) % keep_every == 0:
            chain.append(x)
        progress.update(i + 1)
    return (x, chain) if keep_every else x


def ddpm_sample(network, schedule, n, seed=0, keep_every=None, verbose=0):
    """Ancestral DDPM sampling: all T steps, fresh noise at each; returns x_0 (and the chain, as ddim_sample)."""
    x = gaussian_start(n, network.input_shape[0][1:], seed)
    rng = np.random.default_rng(seed + 1)
    chain, progress = [x], keras.utils.Progbar(schedule.num_steps, verbose=verbose)
    for i, t in enumerate(range(schedule.num_steps - 1, -1, -1)):
        z = rng.standard_normal(x.shape).astype("float32")  # z ~ N(0, I)
        x = ddpm_step(x, network_output(network, x, t), t, schedule, z).astype("float32")
        if keep_every and (i + 1) % keep_every == 0:
            chain.append(x)
        progress.update(i + 1)
    return (x, chain) if keep_every else x


def timed(sample, *args, **kwargs):
    """(samples, seconds) for one call of a sampler."""
    start = time.perf_counter()
    x = sample(*args, **kwargs)
    return x, time.perf_counter() - start
