"""Normalizing flows (lesson 12): RealNVP's affine coupling layers, and the likelihood they give.

A flow is an invertible map f from data x to a code z with a simple density (here N(0, I)).
The change of variables gives the exact log-likelihood:

    log p(x) = log N(f(x); 0, I) + log |det df/dx|

f is a stack of steps, each invertible with a cheap log-determinant; the log-dets add up.
Pieces, in the order the lesson builds them:

- `coupling_forward` / `coupling_inverse`: the affine coupling of RealNVP (Dinh et al. 2017),
  x_b' = x_b * exp(s(x_a)) + t(x_a) on the dimensions the mask leaves free; log-det = sum(s).
- masks (`half_mask`, `checkerboard_mask`, `channel_mask`), `Reverse` (a permutation) and
  `Squeeze` (2x2 pixels -> 4 channels), which decide which dimensions each coupling changes.
- `AffineCoupling`: a coupling step whose s and t come from a small network; s is bounded,
  s = scale * tanh(raw), so exp(s) cannot blow up.
- `dequantize` and `Logit`: from 256 grey levels to a continuous variable, with their log-dets.
- `Flow`: the model; `forward(x) -> (z, log_det)`, `inverse(z) -> x`, `log_prob(x)`, and a
  loss (the negative log-likelihood) that `course_lib.training.train` minimizes; `encode`,
  `decode` and `sample` run the two directions as compiled graphs and return NumPy arrays.
- `bits_per_dim`: nats per example -> bits per dimension; `evaluate_bits_per_dim` scores a
  grey-level test set.

Every step works on tensors of any shape (N, ...): 2-D points (N, 2) or images (N, H, W, C).
The log-dets are per example, shape (N,).
"""
import math

import keras
import numpy as np
from keras import layers, ops

from course_lib import backend
from course_lib.validate import check_number, check_positive_int, check_positive_ints

LOG_256 = math.log(256.0)


# ----------------------------------------------------------------------------
# The two formulas of an affine coupling
# ----------------------------------------------------------------------------
def _sum_per_example(v):
    """Sum over every axis but the batch axis: (N, ...) -> (N,)."""
    return ops.sum(ops.reshape(v, (ops.shape(v)[0], -1)), axis=1)


def coupling_forward(x, mask, s, t):
    """x -> y: the masked part (mask = 1) is copied, the rest is scaled and shifted.

    x, s, t: (N, ...); mask: broadcastable to x, 1 on x_a (kept), 0 on x_b (changed).
    s and t must have been computed from x * mask only. Returns y (N, ...) and log_det (N,).
    """
    free = 1.0 - mask
    y = mask * x + free * (x * ops.exp(s) + t)  # y_a = x_a,  y_b = x_b * exp(s) + t
    log_det = _sum_per_example(free * s)  # log|det dy/dx| = sum of s over the changed dimensions
    return y, log_det


def coupling_inverse(y, mask, s, t):
    """y -> x, undoing `coupling_forward` (s and t come from y * mask = x * mask)."""
    free = 1.0 - mask
    return mask * y + free * (y - t) * ops.exp(-s)  # x_b = (y_b - t) * exp(-s)


# ----------------------------------------------------------------------------
# Masks and permutations
# ----------------------------------------------------------------------------
def half_mask(dim, first=True):
    """(dim,) mask for vectors: 1 on the first half (or the second when first=False)."""
    mask = (np.arange(dim) < dim // 2).astype("float32")
    return mask if first else 1.0 - mask


def checkerboard_mask(height, width, channels=1, parity=0):
    """(1, H, W, C) mask: 1 where (row + column) % 2 == parity, on every channel."""
    rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    board = ((rows + cols) % 2 == parity).astype("float32")  # (H, W)
    return np.repeat(board[None, :, :, None], channels, axis=3)


def channel_mask(height, width, channels, first=True):
    """(1, H, W, C) mask: 1 on the first half of the channels (or the second)."""
    mask = np.zeros((1, height, width, channels), "float32")
    mask[..., :channels // 2] = 1.0
    return mask if first else 1.0 - mask


class Reverse(layers.Layer):
    """Reverse the order of the last axis: a permutation, so |det| = 1 and log_det = 0."""

    def forward(self, x):
        return ops.flip(x, axis=-1), ops.zeros((ops.shape(x)[0],))

    def inverse(self, y):
        return ops.flip(y, axis=-1)


class Squeeze(layers.Layer):
    """(N, H, W, C) -> (N, H/2, W/2, 4C): each 2x2 block of pixels becomes 4 channels. log_det = 0."""

    def forward(self, x):
        _, h, w, c = x.shape
        x = ops.reshape(x, (-1, h // 2, 2, w // 2, 2, c))
        x = ops.transpose(x, (0, 1, 3, 2, 4, 5))  # (N, H/2, W/2, 2, 2, C)
        return ops.reshape(x, (-1, h // 2, w // 2, 4 * c)), ops.zeros((ops.shape(x)[0],))

    def forward_shape(self, shape):
        n, h, w, c = shape
        return (n, h // 2, w // 2, 4 * c)

    def inverse(self, y):
        _, h, w, c4 = y.shape
        y = ops.reshape(y, (-1, h, w, 2, 2, c4 // 4))
        y = ops.transpose(y, (0, 1, 3, 2, 4, 5))  # (N, H, 2, W, 2, C)
        return ops.reshape(y, (-1, 2 * h, 2 * w, c4 // 4))


class ChannelMix(layers.Layer):
    """Glow's invertible 1x1 convolution: y = x W at every pixel, W a learned (C, C) matrix.

    A learned generalisation of `Reverse` between channel couplings. It starts as a random rotation
    (|det W| = 1). log|det dy/dx| = (number of pixels) * log|det W|, since W acts on each pixel alone.
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed

    def build(self, input_shape):
        channels = input_shape[-1]
        rotation, _ = np.linalg.qr(np.random.default_rng(self.seed).standard_normal((channels, channels)))
        self.w = self.add_weight(shape=(channels, channels), name="w",
                                 initializer=keras.initializers.Constant(rotation.astype("float32")))

    def forward(self, x):
        y = ops.matmul(x, self.w)  # (N, ..., C) @ (C, C): the same mixing at every pixel
        num_pixels = math.prod(x.shape[1:-1])
        log_det = num_pixels * ops.slogdet(self.w)[1]  # log|det W| once per pixel
        return y, log_det * ops.ones((ops.shape(x)[0],))

    def inverse(self, y):
        return ops.matmul(y, ops.inv(self.w))


class FactorOut(layers.Layer):
    """RealNVP's multi-scale step: half of the channels leave the flow here, the rest go on smaller.

    (N, H, W, C): the first C/2 channels are already part of z and pass unchanged; the other C/2 are
    squeezed to (N, H/2, W/2, 2C), go through `steps`, and are unsqueezed back. The output has the
    input's shape, and log_det is the sum of the inner steps' log-dets. The later steps work on a
    quarter of the pixels with half of the dimensions, so they cost much less and can be wider.
    """

    def __init__(self, steps, **kwargs):
        super().__init__(**kwargs)
        self.steps = list(steps)
        self.squeeze = Squeeze()

    def build(self, input_shape):
        n, h, w, c = input_shape
        shape = (n, h // 2, w // 2, 2 * c)  # the kept half, squeezed
        for step in self.steps:
            step.build(shape)

    def forward(self, x):
        half = x.shape[-1] // 2
        x_out, x_in = x[..., :half], x[..., half:]  # (N, H, W, C/2) each
        h, _ = self.squeeze.forward(x_in)  # (N, H/2, W/2, 2C)
        log_det = ops.zeros((ops.shape(x)[0],))
        for step in self.steps:
            h, step_log_det = step.forward(h)
            log_det = log_det + step_log_det
        return ops.concatenate([x_out, self.squeeze.inverse(h)], axis=-1), log_det

    def inverse(self, y):
        half = y.shape[-1] // 2
        y_out, h = y[..., :half], self.squeeze.forward(y[..., half:])[0]
        for step in reversed(self.steps):
            h = step.inverse(h)
        return ops.concatenate([y_out, self.squeeze.inverse(h)], axis=-1)


# ----------------------------------------------------------------------------
# The coupling step
# ----------------------------------------------------------------------------
def dense_net(dim, hidden=(64, 64)):
    """s and t for vectors: (N, dim) -> (N, 2 * dim), the last layer starting at zero."""
    net = keras.Sequential([layers.Dense(units, activation="relu") for units in hidden])
    net.add(layers.Dense(2 * dim, kernel_initializer="zeros"))
    return net


def conv_net(channels, hidden=64, depth=2):
    """s and t for images: (N, H, W, C) -> (N, H, W, 2C), 3x3 convolutions, the last at zero."""
    net = keras.Sequential([layers.Conv2D(hidden, 3, padding="same", activation="relu") for _ in range(depth)])
    net.add(layers.Conv2D(2 * channels, 3, padding="same", kernel_initializer="zeros"))
    return net


class AffineCoupling(layers.Layer):
    """One affine coupling: s, t = net(x * mask), then `forward_fn(x, mask, s, t)`.

    forward_fn / inverse_fn default to this module's `coupling_forward` / `coupling_inverse`;
    the lesson passes in the student's own. The last layer of `net` starts at zero, so a new
    coupling is the identity (s = 0, t = 0). s is bounded: s = scale * tanh(raw_s).
    """

    def __init__(self, mask, net, forward_fn=None, inverse_fn=None, **kwargs):
        super().__init__(**kwargs)
        self.mask = np.asarray(mask, "float32")
        self.net = net
        self.forward_fn = forward_fn or coupling_forward
        self.inverse_fn = inverse_fn or coupling_inverse

    def build(self, input_shape):
        channels = input_shape[-1]
        self.scale = self.add_weight(shape=(channels,), initializer="ones", name="scale")
        self.net.build(input_shape)

    def shift_and_scale(self, x_masked):
        raw_s, t = ops.split(self.net(x_masked), 2, axis=-1)  # (N, ..., C) each
        s = self.scale * ops.tanh(raw_s)  # s in (-scale, scale)
        return s, t

    def forward(self, x):
        s, t = self.shift_and_scale(x * self.mask)
        return self.forward_fn(x, self.mask, s, t)

    def inverse(self, y):
        s, t = self.shift_and_scale(y * self.mask)  # y * mask == x * mask
        return self.inverse_fn(y, self.mask, s, t)


# ----------------------------------------------------------------------------
# From 256 grey levels to a continuous variable
# ----------------------------------------------------------------------------
def dequantize(x_int, u):
    """Grey levels x_int in {0, ..., 255} plus noise u ~ U[0, 1) -> y in [0, 1), and log|dy/d(x+u)|.

    A density p(y) on [0, 1)^D gives the grey levels the discrete log-likelihood bound
    log P(x_int) >= E_u[log p(y)] + log_det with log_det = -D log 256 (y = (x_int + u) / 256).
    """
    y = (x_int + u) / 256.0  # (N, ...) in [0, 1)
    num_dims = math.prod(x_int.shape[1:])
    log_det = -num_dims * LOG_256 * ops.ones((ops.shape(x_int)[0],))  # (N,): -D log 256
    return y, log_det


class Logit(layers.Layer):
    """y in [0, 1) -> z = logit(alpha + (1 - 2 alpha) y), so that z lives on the whole real line."""

    def __init__(self, alpha=0.05, **kwargs):
        super().__init__(**kwargs)
        self.alpha = check_number("alpha", alpha, minimum=0, maximum=0.49)

    def forward(self, y):
        v = self.alpha + (1 - 2 * self.alpha) * y  # v in [alpha, 1 - alpha)
        z = ops.log(v) - ops.log(1 - v)
        # dz/dy = (1 - 2 alpha) / (v (1 - v))
        log_det = _sum_per_example(math.log(1 - 2 * self.alpha) - ops.log(v) - ops.log(1 - v))
        return z, log_det

    def inverse(self, z):
        return (ops.sigmoid(z) - self.alpha) / (1 - 2 * self.alpha)


def bits_per_dim(nll_nats, num_dims):
    """Negative log-likelihood in nats per example -> bits per dimension: nll / (D ln 2)."""
    return nll_nats / (num_dims * math.log(2.0))


def standard_normal_log_prob(z):
    """log N(z; 0, I) per example: -1/2 sum(z^2) - D/2 log(2 pi). (N, ...) -> (N,)."""
    num_dims = math.prod(z.shape[1:])
    return -0.5 * _sum_per_example(ops.square(z)) - 0.5 * num_dims * math.log(2 * math.pi)


# ----------------------------------------------------------------------------
# The model
# ----------------------------------------------------------------------------
class Flow(keras.Model):
    """A stack of invertible steps x -> z with z ~ N(0, I); trained on -log p(x).

    steps: layers with `forward(x) -> (y, log_det)` and `inverse(y) -> x`.
    dequantize_fn: None for continuous data; for grey levels (floats in 0..255), a function
        `(x_int, u) -> (y, log_det)` such as `dequantize`, applied with fresh noise u ~ U[0, 1)
        at every call; the steps then start from y.
    Calling the model returns the log-likelihood of each example, shape (N,) (for grey levels,
    the dequantization bound). The loss is its negative, averaged over the batch, in nats; the
    training logs also show it in bits per dimension ("bits_per_dim").
    """

    def __init__(self, steps, dequantize_fn=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.steps = list(steps)
        self.dequantize_fn = dequantize_fn
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.bits_tracker = keras.metrics.Mean(name="bits_per_dim")
        self._compiled_forward, self._compiled_inverse = None, None

    def forward(self, x):
        """x -> (z, log|det dz/dx|), log_det of shape (N,)."""
        x = ops.convert_to_tensor(x, "float32")
        log_det = ops.zeros((ops.shape(x)[0],))
        for step in self.steps:
            x, step_log_det = step.forward(x)
            log_det = log_det + step_log_det  # log-dets of a composition add up
        return x, log_det

    def inverse(self, z):
        """z -> x = f^-1(z)."""
        z = ops.convert_to_tensor(z, "float32")
        for step in reversed(self.steps):
            z = step.inverse(z)
        return z

    def log_prob(self, x):
        """log p(x) = log N(f(x); 0, I) + log|det df/dx|, shape (N,)."""
        z, log_det = self.forward(x)
        return standard_normal_log_prob(z) + log_det

    def call(self, x):
        if self.dequantize_fn is None:
            return self.log_prob(x)
        u = keras.random.uniform(ops.shape(x), seed=self.seed_generator)  # u ~ U[0, 1)
        y, log_det = self.dequantize_fn(x, u)
        return self.log_prob(y) + log_det  # log P(x_int) >= log p(y) - D log 256

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        nll = -y_pred  # (N,) nats per example
        self.bits_tracker.update_state(bits_per_dim(nll, math.prod(x.shape[1:])))
        return ops.mean(nll)

    def encode(self, x):
        """z = f(x) as a NumPy array, computed by one compiled graph (no dequantization: x is continuous)."""
        if self._compiled_forward is None:
            self._compiled_forward = backend.compile(lambda v: self.forward(v)[0], lambda: self.weights)
        return ops.convert_to_numpy(self._compiled_forward(ops.convert_to_tensor(x, "float32")))

    def decode(self, z):
        """x = f^-1(z) as a NumPy array, computed by one compiled graph (sampling, interpolation)."""
        if self._compiled_inverse is None:
            self._compiled_inverse = backend.compile(self.inverse, lambda: self.weights)
        return ops.convert_to_numpy(self._compiled_inverse(ops.convert_to_tensor(z, "float32")))

    def sample(self, n, temperature=1.0, seed=None):
        """n draws x = f^-1(z), z ~ N(0, temperature^2 I), as a NumPy array (continuous values)."""
        shape = (n,) + self.latent_shape  # the shape of f(x), e.g. (14, 14, 4) after a squeeze
        return self.decode(temperature * np.random.default_rng(seed).standard_normal(shape))

    def build(self, input_shape):
        shape = tuple(input_shape)
        for step in self.steps:  # build each step on the shape it will see
            if not step.built:
                step.build(shape)
            shape = step.forward_shape(shape) if hasattr(step, "forward_shape") else shape  # only a squeeze changes it
        self.latent_shape = shape[1:]
        self.built = True


# ----------------------------------------------------------------------------
# Two flows the lesson trains
# ----------------------------------------------------------------------------
def build_flow_2d(num_couplings=6, hidden=(64, 64), forward_fn=None, inverse_fn=None, seed=None):
    """A flow for 2-D points: couplings on the first coordinate, a `Reverse` after each."""
    check_positive_int("num_couplings", num_couplings)
    hidden = check_positive_ints("hidden", hidden, allow_empty=False)
    steps = []
    for _ in range(num_couplings):
        steps.append(AffineCoupling(half_mask(2), dense_net(2, hidden), forward_fn, inverse_fn))
        steps.append(Reverse())  # the next coupling changes the other coordinate
    model = Flow(steps, seed=seed, name="flow_2d")
    model.build((None, 2))
    return model


def build_image_flow(image_shape=(28, 28, 1), num_checkerboard=3, num_channel=3, hidden=64, depth=2,
                     alpha=0.05, forward_fn=None, inverse_fn=None, dequantize_fn=dequantize, seed=None):
    """RealNVP for grey-level images, one scale:

    dequantize -> logit -> `num_checkerboard` checkerboard couplings (alternating parity)
    -> squeeze (H/2, W/2, 4C) -> `num_channel` channel couplings (alternating halves)
    -> `num_checkerboard` checkerboard couplings on the squeezed image.
    The input is grey levels as floats in 0..255, shape (N, H, W, C) with H and W even.
    """
    height, width, channels = image_shape
    for name, value in (("num_checkerboard", num_checkerboard), ("num_channel", num_channel),
                        ("hidden", hidden), ("depth", depth)):
        check_positive_int(name, value)
    if height % 2 or width % 2:
        raise ValueError(f"image_shape={image_shape!r}: the squeeze needs an even height and width.")

    def couplings(masks, c):
        return [AffineCoupling(m, conv_net(c, hidden, depth), forward_fn, inverse_fn) for m in masks]

    board = [checkerboard_mask(height, width, channels, i % 2) for i in range(num_checkerboard)]
    h2, w2, c2 = height // 2, width // 2, 4 * channels
    split = [channel_mask(h2, w2, c2, i % 2 == 0) for i in range(num_channel)]
    board2 = [checkerboard_mask(h2, w2, c2, i % 2) for i in range(num_checkerboard)]
    steps = ([Logit(alpha)] + couplings(board, channels) + [Squeeze()]
             + couplings(split, c2) + couplings(board2, c2))
    model = Flow(steps, dequantize_fn=dequantize_fn, seed=seed, name="image_flow")
    model.build((None,) + tuple(image_shape))
    return model


def build_multiscale_flow(image_shape=(28, 28, 1), num_couplings=(3, 3, 4), hidden=(32, 64, 64), depth=2,
                          alpha=0.05, forward_fn=None, inverse_fn=None, dequantize_fn=dequantize, seed=None):
    """RealNVP's multi-scale architecture for grey-level images, on three scales:

    dequantize -> logit -> num_couplings[0] checkerboard couplings on (H, W, C)
    -> squeeze (H/2, W/2, 4C) -> num_couplings[1] channel couplings, each after a `ChannelMix`
    -> `FactorOut`: 2C channels leave; the other 2C are squeezed to (H/4, W/4, 8C) and go through
       num_couplings[2] couplings, checkerboard and channel in turn, each after a `ChannelMix`.
    hidden: the width of the coupling networks at each scale (the smaller scales can afford more).
    H and W must be multiples of 4.
    """
    height, width, channels = image_shape
    num_couplings = check_positive_ints("num_couplings", num_couplings, allow_empty=False)
    hidden = check_positive_ints("hidden", hidden, allow_empty=False)
    if len(num_couplings) != 3 or len(hidden) != 3:
        raise ValueError(f"num_couplings={num_couplings!r} and hidden={hidden!r} need one entry per scale (3 each).")
    check_positive_int("depth", depth)
    if height % 4 or width % 4:
        raise ValueError(f"image_shape={image_shape!r}: two squeezes need a height and width divisible by 4.")
    rng = np.random.default_rng(seed)

    def coupling(mask, c, width_):
        return AffineCoupling(mask, conv_net(c, width_, depth), forward_fn, inverse_fn)

    def mixed(mask, c, width_):
        return [ChannelMix(seed=int(rng.integers(2**31))), coupling(mask, c, width_)]

    c1, c2, c3 = channels, 4 * channels, 8 * channels
    h2, w2, h3, w3 = height // 2, width // 2, height // 4, width // 4
    scale1 = [coupling(checkerboard_mask(height, width, c1, i % 2), c1, hidden[0]) for i in range(num_couplings[0])]
    scale2 = [step for i in range(num_couplings[1])
              for step in mixed(channel_mask(h2, w2, c2, i % 2 == 0), c2, hidden[1])]
    masks3 = [checkerboard_mask(h3, w3, c3, (i // 2) % 2) if i % 2 == 0 else channel_mask(h3, w3, c3, (i // 2) % 2 == 0)
              for i in range(num_couplings[2])]
    scale3 = [step for mask in masks3 for step in mixed(mask, c3, hidden[2])]
    steps = [Logit(alpha)] + scale1 + [Squeeze()] + scale2 + [FactorOut(scale3)]
    model = Flow(steps, dequantize_fn=dequantize_fn, seed=seed, name="multiscale_flow")
    model.build((None,) + tuple(image_shape))
    return model


def to_grey_levels(x):
    """Images in [0, 1] -> the integer grey levels 0..255 as float32 (the flow's input)."""
    return np.round(np.asarray(x) * 255.0).astype("float32")


def evaluate_bits_per_dim(model, x_int, batch_size=500):
    """Mean negative log-likelihood of x_int (one dequantization draw per image), in bits per dimension."""
    total = 0.0
    for start in range(0, len(x_int), batch_size):
        log_p = model.predict_on_batch(x_int[start:start + batch_size])  # (N,), one compiled call
        total += float(np.sum(log_p))
    return bits_per_dim(-total / len(x_int), int(np.prod(x_int.shape[1:])))
