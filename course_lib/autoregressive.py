"""Autoregressive models: the chain rule made into a model (lessons 01 and 02).

The chain rule writes any joint distribution as a product of conditionals,

    p(x_1, ..., x_D) = prod_i p(x_i | x_<i),

and an autoregressive model gives every conditional its own small predictor.
This module holds the pieces lessons 01 and 02 share:

- the sprinkler / rain / grass-wet Bayes net and inference by enumeration;
- `autoregressive_mask` and a fully visible sigmoid belief network (FVSBN),
  i.e. one logistic regression per pixel on the pixels before it;
- the exact negative log-likelihood of binary data under Bernoulli logits;
- pixel-by-pixel sampling and completion for any model that maps an image
  to one logit per pixel (the FVSBN here, the PixelCNN in `pixelcnn.py`).
"""
import itertools
import math
import time

import keras
import numpy as np
from keras import ops

from course_lib import backend, data, training
from course_lib.losses import bernoulli_nll  # noqa: F401  (used here and re-exported)

# ---------------------------------------------------------------------------
# The sprinkler network: Rain -> Sprinkler, (Sprinkler, Rain) -> GrassWet
# ---------------------------------------------------------------------------
P_RAIN = 0.2  # P(rain = T)
P_SPRINKLER_GIVEN_RAIN = {False: 0.4, True: 0.01}  # P(sprinkler = T | rain)
P_WET_GIVEN = {  # P(grass_wet = T | sprinkler, rain)
    (False, False): 0.0,
    (False, True): 0.8,
    (True, False): 0.9,
    (True, True): 0.99,
}
VARIABLES = ("rain", "sprinkler", "grass_wet")


def bernoulli_prob(p_true, value):
    """P(X = value) for a binary X with P(X = True) = p_true."""
    return p_true if value else 1.0 - p_true


def sprinkler_joint(rain, sprinkler, grass_wet):
    """p(r, s, g) = p(r) p(s | r) p(g | s, r), the Bayes-net factorization."""
    p_r = bernoulli_prob(P_RAIN, rain)
    p_s = bernoulli_prob(P_SPRINKLER_GIVEN_RAIN[bool(rain)], sprinkler)
    p_g = bernoulli_prob(P_WET_GIVEN[(bool(sprinkler), bool(rain))], grass_wet)
    return p_r * p_s * p_g


def enumerate_probability(joint, query, evidence=None):
    """P(query | evidence) by summing the joint over all 2^3 assignments.

    `joint(rain, sprinkler, grass_wet)` gives one joint probability;
    `query` and `evidence` map variable names to True/False, e.g.
    `enumerate_probability(sprinkler_joint, {"rain": True}, {"grass_wet": True})`.
    """
    evidence = dict(evidence or {})
    for name in list(query) + list(evidence):
        if name not in VARIABLES:
            raise ValueError(f"unknown variable {name!r}; the network has {VARIABLES}")
    both, given = 0.0, 0.0
    for values in itertools.product([False, True], repeat=len(VARIABLES)):
        world = dict(zip(VARIABLES, values))
        p = joint(*values)
        if all(world[k] == v for k, v in evidence.items()):
            given += p  # P(evidence) = sum over worlds that agree with the evidence
            if all(world[k] == v for k, v in query.items()):
                both += p  # P(query, evidence)
    if given == 0.0:
        raise ValueError(f"the evidence {evidence} has probability zero")
    return both / given  # P(q | e) = P(q, e) / P(e)


def full_table_parameters(n_binary):
    """Free numbers in a full joint table of n binary variables: 2^n - 1."""
    return 2**n_binary - 1


def bayes_net_parameters(n_parents):
    """Free numbers in the CPTs of binary variables: sum_i 2^(number of parents of i)."""
    return sum(2**k for k in n_parents)


# ---------------------------------------------------------------------------
# A fully visible sigmoid belief network: logit_i = b_i + sum_{j<i} W_ji x_j
# ---------------------------------------------------------------------------
def autoregressive_mask(n_dims):
    """(n_dims, n_dims) mask M with M[j, i] = 1 iff input j may feed output i, i.e. j < i."""
    if not isinstance(n_dims, (int, np.integer)) or n_dims < 1:
        raise ValueError(f"n_dims must be a positive integer, got {n_dims!r}")
    rows = np.arange(n_dims)[:, None]  # j: the input index
    cols = np.arange(n_dims)[None, :]  # i: the output index
    return (rows < cols).astype("float32")  # strictly upper triangular


class MaskedDense(keras.layers.Layer):
    """A Dense layer whose kernel is multiplied by a fixed 0/1 mask: y = x (W * M) + b."""

    def __init__(self, mask, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.mask = np.asarray(mask, dtype="float32")
        if self.mask.ndim != 2:
            raise ValueError(f"mask must be a 2-D array (inputs, outputs), got shape {self.mask.shape}")

    def build(self, input_shape):
        n_in, n_out = self.mask.shape
        if input_shape[-1] != n_in:
            raise ValueError(f"inputs have {input_shape[-1]} features but the mask expects {n_in}")
        self.kernel = self.add_weight(shape=(n_in, n_out), initializer=self.kernel_initializer, name="kernel")
        self.bias = self.add_weight(shape=(n_out,), initializer="zeros", name="bias")

    def call(self, x):
        return ops.matmul(x, self.kernel * self.mask) + self.bias  # (batch, n_out)

    def get_config(self):
        return {**super().get_config(), "mask": self.mask.tolist(),
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer)}


def build_fvsbn(n_dims=784, kernel_initializer="glorot_uniform"):
    """FVSBN on flat binary vectors: one Bernoulli logit per dimension, each from x_<i only."""
    if not isinstance(n_dims, (int, np.integer)) or n_dims < 2:
        raise ValueError(f"n_dims must be an integer >= 2, got {n_dims!r}")
    x = keras.Input(shape=(n_dims,), name="x")
    logits = MaskedDense(autoregressive_mask(n_dims), kernel_initializer, name="masked_dense")(x)  # (batch, n_dims)
    return keras.Model(x, logits, name="fvsbn")


# ---------------------------------------------------------------------------
# Exact negative log-likelihood under Bernoulli logits
# ---------------------------------------------------------------------------
def nats_to_bits_per_dim(nats_per_image, n_dims):
    """bits/dim = nats / (n_dims * ln 2)."""
    return nats_per_image / (n_dims * math.log(2.0))


def _inputs(x, labels):
    return x if labels is None else [x, labels]


def dataset_nll(model, x, labels=None, batch_size=256):
    """Mean -log p(x) in nats per image over a binary data set (exact, no sampling)."""
    total = 0.0
    for start in range(0, len(x), batch_size):
        xb = x[start:start + batch_size]
        lb = None if labels is None else labels[start:start + batch_size]
        logits = model(_inputs(xb, lb), training=False)
        total += float(ops.convert_to_numpy(ops.sum(bernoulli_nll(ops.convert_to_tensor(xb), logits))))
    return total / len(x)


# ---------------------------------------------------------------------------
# Training with a fresh stochastic binarization every epoch
# ---------------------------------------------------------------------------
def fit(model, x_gray, labels=None, epochs=1, batch_size=128, learning_rate=1e-3,
        binarize="stochastic", seed=0, verbose=1):
    """Train by maximum likelihood (binary cross-entropy from logits, summed per image).

    `x_gray` holds [0, 1] grey values. With binarize="stochastic" every epoch
    sees a new Bernoulli draw of the same digits (the papers' protocol); with
    "threshold" pixels > 0.5 become 1; with None `x_gray` must already be binary.
    The loop is course_lib.training.train (progress bar, NaN stop); the new draw
    is its per-epoch transform. Returns {"loss": [nats per image, one per epoch]}.
    """
    if binarize not in ("stochastic", "threshold", None):
        raise ValueError(f"binarize must be 'stochastic', 'threshold' or None, got {binarize!r}")
    if getattr(model, "optimizer", None) is None or not model.compiled:
        model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=bernoulli_nll)

    def draw(epoch, inputs, targets):  # a fresh Bernoulli draw per epoch for "stochastic"
        x_bin = np.asarray(x_gray, "float32") if binarize is None else data.binarize(x_gray, binarize, seed=seed + epoch)
        return _inputs(x_bin, labels), x_bin  # the model predicts its own (binary) input

    history = training.train(model, _inputs(x_gray, labels), x_gray, epochs=epochs, batch_size=batch_size,
                             transform=draw, seed=seed, verbose=bool(verbose))
    return {"loss": history.epochs["loss"]}


# ---------------------------------------------------------------------------
# Sampling one pixel at a time
# ---------------------------------------------------------------------------
def _make_step(model, n_dims, data_shape, conditional):
    def step(x, uniforms, labels, i):
        logits = model(_inputs(x, labels if conditional else None), training=False)
        draw = ops.cast(uniforms < ops.sigmoid(logits), x.dtype)  # x_i ~ Bernoulli(sigmoid(logit_i))
        here = ops.reshape(ops.one_hot(i, n_dims), (1,) + data_shape)  # 1 at position i only
        return here * draw + (1.0 - here) * x  # write pixel i, keep the others
    return backend.compile(step, model.variables)  # one graph, so the 784 calls do not re-trace it


def sample(model, n=None, data_shape=None, labels=None, x_start=None, start=0, seed=0,
           verbose=1):
    """Draw x_start, x_start+1, ... in raster order, one model call per position.

    Every step runs the model on the whole batch (one compiled call), samples
    all positions from their Bernoulli logits and keeps only position i, so the
    images never leave the device between steps. Positions before `start` are
    copied from `x_start` unchanged. Returns a float32 NumPy array in {0, 1}.
    """
    data_shape = tuple(model.inputs[0].shape[1:]) if data_shape is None else tuple(data_shape)
    if x_start is None:
        if not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        x_start = np.zeros((n,) + data_shape, dtype="float32")
    x_start = np.asarray(x_start, dtype="float32")
    if x_start.shape[1:] != data_shape:
        raise ValueError(f"x_start has shape {x_start.shape}; images must have shape {data_shape}")
    n, n_dims = x_start.shape[0], int(np.prod(data_shape))
    if not 0 <= start <= n_dims:
        raise ValueError(f"start must be in [0, {n_dims}], got {start}")
    conditional = labels is not None
    if conditional and len(labels) != n:
        raise ValueError(f"got {len(labels)} labels for {n} images")
    step = _make_step(model, n_dims, data_shape, conditional)
    rng = np.random.default_rng(seed)
    uniforms = ops.convert_to_tensor(rng.random(x_start.shape).astype("float32"))
    label_t = ops.convert_to_tensor(np.asarray(labels, "float32")) if conditional else ops.zeros((n, 1))
    x = ops.convert_to_tensor(x_start)
    every = max(1, n_dims // 28)  # update the progress bar 28 times
    bar = keras.utils.Progbar(n_dims - start, unit_name="pixel") if verbose else None
    for i in range(start, n_dims):
        x = step(x, uniforms, label_t, ops.convert_to_tensor(i, "int32"))
        if bar is not None and ((i + 1) % every == 0 or i + 1 == n_dims):
            bar.update(i + 1 - start)
    return ops.convert_to_numpy(x)


def complete(model, x, known_rows, labels=None, seed=0, verbose=1):
    """Keep the first `known_rows` image rows of `x` and sample the rest (occlusion completion)."""
    x = np.asarray(x, dtype="float32")
    if x.ndim < 3:
        raise ValueError(f"complete needs images (batch, height, width[, channels]); got shape {x.shape}")
    height, width = x.shape[1], x.shape[2]
    if not isinstance(known_rows, (int, np.integer)) or not 0 <= known_rows <= height:
        raise ValueError(f"known_rows must be an integer in [0, {height}], got {known_rows!r}")
    x_start = x.copy()
    x_start[:, known_rows:] = 0.0  # hide the bottom part
    start = known_rows * width * int(np.prod(x.shape[3:]))
    return sample(model, x_start=x_start, start=start, labels=labels, seed=seed, verbose=verbose)


def timed_sample(model, n, **kwargs):
    """`sample` plus the wall-clock seconds it took."""
    t0 = time.perf_counter()
    out = sample(model, n, **kwargs)
    return out, time.perf_counter() - t0
