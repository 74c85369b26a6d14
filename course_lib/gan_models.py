"""Generators and discriminators for the GAN lessons (06 to 09).

Every builder returns an uncompiled `keras.Model`; the trainers in
`course_lib.gan_training` compile them. Images live in [-1, 1] (tanh output).

- Dense G and D (lesson 06, the practice deck's vanilla GAN).
- Configurable conv G and D (lesson 07, DCGAN), in the spirit of the lecture's
  `GAN(...)` configuration: one list entry per conv layer for filters, kernel
  sizes, strides and upsampling factors.
- Conditional G(z | y) and D(x | y) (lesson 08): inputs `[z, y]` and `[x, y]`
  with integer labels `y`, fed to the network as a one-hot vector or an
  embedding.
- `dcgan_config`: the one DCGAN configuration that lessons 07, 08, 10 and
  `bench/metrics_table.py` share.
- `conv_matrix`: a small convolution written as a matrix C, so that C^T is the
  transposed convolution (lesson 07's demonstration).

The builders check their arguments: a plan that cannot reach the image size is
a ValueError that names the arguments and the sizes it reaches.
"""
import inspect
import math

import keras
import numpy as np
from keras import layers

from course_lib import config
from course_lib.validate import check_image_shape, check_positive_int, check_positive_ints

UPSAMPLE_MODES = ("transpose", "upsampling")
ACTIVATIONS = ("relu", "leaky_relu")
LABEL_MODES = ("one_hot", "embedding")
ARCHITECTURES = ("dense", "conv")
LEAKY_SLOPE = 0.2  # LeakyReLU(0.2), as in the DCGAN paper and the practice deck


# --------------------------------------------------------------------------
# argument checks
# --------------------------------------------------------------------------
def _check_choice(name, value, allowed):
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not supported; use one of {list(allowed)}.")


def _check_dropout(dropout):
    if dropout is not None and not 0 <= dropout < 1:
        raise ValueError(f"dropout={dropout!r} must be in [0, 1) or None.")


def _check_image_shape(image_shape):
    check_image_shape("image_shape", image_shape)


def _check_same_length(**lists):
    """All per-layer lists must have one entry per conv layer."""
    lengths = {name: len(values) for name, values in lists.items()}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise ValueError(f"the per-layer lists must have the same length (one entry per conv layer): {detail}.")
    if not next(iter(lengths.values())):
        raise ValueError(f"give at least one conv layer: {', '.join(lengths)} are empty.")


def _check_upsampling_plan(initial_shape, upsample, image_shape):
    """initial (h, w) times the product of the factors must equal the image (h, w)."""
    factor = math.prod(upsample)
    reached = (initial_shape[0] * factor, initial_shape[1] * factor)
    if reached != tuple(image_shape[:2]):
        sizes = [tuple(initial_shape[:2])]
        for u in upsample:
            sizes.append((sizes[-1][0] * u, sizes[-1][1] * u))
        path = " -> ".join(f"{h}x{w}" for h, w in sizes)
        raise ValueError(
            f"upsample={list(upsample)} takes initial_shape={tuple(initial_shape)} through {path}, "
            f"but image_shape={tuple(image_shape)} needs {image_shape[0]}x{image_shape[1]}: "
            f"change initial_shape or the upsampling factors so that their product is "
            f"{image_shape[0] / initial_shape[0]:g}."
        )


def _activation(name):
    return layers.LeakyReLU(LEAKY_SLOPE) if name == "leaky_relu" else layers.ReLU()


# --------------------------------------------------------------------------
# dense G and D (lesson 06)
# --------------------------------------------------------------------------
def _dense_generator_body(h, hidden, image_shape):
    for units in hidden:
        h = layers.Dense(units)(h)
        h = layers.LeakyReLU(LEAKY_SLOPE)(h)  # (N, units)
    h = layers.Dense(math.prod(image_shape), activation="tanh")(h)  # (N, H*W*C) in [-1, 1]
    return layers.Reshape(image_shape)(h)  # (N, H, W, C)


def _dense_discriminator_body(h, hidden, dropout, output_activation):
    for units in hidden:
        h = layers.Dense(units)(h)
        h = layers.LeakyReLU(LEAKY_SLOPE)(h)  # (N, units)
        if dropout:
            h = layers.Dropout(dropout)(h)
    return layers.Dense(1, activation=output_activation)(h)  # (N, 1)


def build_dense_generator(latent_dim=100, hidden=(256, 512, 1024), image_shape=(28, 28, 1)):
    """z (N, latent_dim) -> image (N, *image_shape) in [-1, 1]; LeakyReLU(0.2) hidden layers."""
    check_positive_int("latent_dim", latent_dim)
    check_positive_ints("hidden", hidden)
    _check_image_shape(image_shape)
    z = keras.Input((latent_dim,), name="z")
    x = _dense_generator_body(z, hidden, tuple(image_shape))
    return keras.Model(z, x, name="dense_generator")


def build_dense_discriminator(image_shape=(28, 28, 1), hidden=(1024, 512, 256), dropout=0.3,
                              output_activation="sigmoid"):
    """image (N, *image_shape) -> D(x) (N, 1), a probability (sigmoid) or a critic score (None)."""
    _check_image_shape(image_shape)
    check_positive_ints("hidden", hidden)
    _check_dropout(dropout)
    x = keras.Input(tuple(image_shape), name="x")
    h = layers.Flatten()(x)  # (N, H*W*C)
    out = _dense_discriminator_body(h, hidden, dropout, output_activation)
    return keras.Model(x, out, name="dense_discriminator")


# --------------------------------------------------------------------------
# conv G and D (lesson 07)
# --------------------------------------------------------------------------
def _upsample_conv(h, filters, kernel_size, factor, mode):
    """One generator layer: (N, H, W, c) -> (N, H*factor, W*factor, filters)."""
    if mode == "transpose":
        return layers.Conv2DTranspose(filters, kernel_size, strides=factor, padding="same")(h)
    if factor > 1:
        h = layers.UpSampling2D(factor)(h)  # nearest neighbour: (N, H*factor, W*factor, c)
    return layers.Conv2D(filters, kernel_size, padding="same")(h)


def _conv_generator_body(h, initial_shape, filters, kernel_sizes, upsample, upsample_mode,
                         batch_norm_momentum, activation):
    h = layers.Dense(math.prod(initial_shape))(h)  # (N, h0*w0*c0)
    h = _normalise_and_activate(h, batch_norm_momentum, activation)
    h = layers.Reshape(initial_shape)(h)  # (N, h0, w0, c0)
    *hidden, (f_last, k_last, u_last) = zip(filters, kernel_sizes, upsample)
    for f, k, u in hidden:
        h = _upsample_conv(h, f, k, u, upsample_mode)  # (N, h*u, w*u, f)
        h = _normalise_and_activate(h, batch_norm_momentum, activation)
    h = _upsample_conv(h, f_last, k_last, u_last, upsample_mode)  # (N, H, W, C)
    return layers.Activation("tanh", name="image")(h)  # pixels in [-1, 1]


def _normalise_and_activate(h, batch_norm_momentum, activation):
    if batch_norm_momentum is not None:
        h = layers.BatchNormalization(momentum=batch_norm_momentum)(h)
    return _activation(activation)(h)


def _conv_discriminator_body(h, filters, kernel_sizes, strides, dropout, activation,
                             output_activation):
    for f, k, s in zip(filters, kernel_sizes, strides):
        h = layers.Conv2D(f, k, strides=s, padding="same")(h)  # (N, ceil(H/s), ceil(W/s), f)
        h = _activation(activation)(h)
        if dropout:
            h = layers.Dropout(dropout)(h)
    h = layers.Flatten()(h)
    return layers.Dense(1, activation=output_activation)(h)  # (N, 1)


def _check_conv_generator(latent_dim, image_shape, initial_shape, filters, kernel_sizes, upsample,
                          upsample_mode, batch_norm_momentum, activation):
    check_positive_int("latent_dim", latent_dim)
    _check_image_shape(image_shape)
    if len(initial_shape) != 3:
        raise ValueError(f"initial_shape={tuple(initial_shape)!r} must be (height, width, channels).")
    check_positive_ints("initial_shape", initial_shape)
    _check_same_length(filters=filters, kernel_sizes=kernel_sizes, upsample=upsample)
    for name, values in (("filters", filters), ("kernel_sizes", kernel_sizes), ("upsample", upsample)):
        check_positive_ints(name, values)
    _check_choice("upsample_mode", upsample_mode, UPSAMPLE_MODES)
    _check_choice("activation", activation, ACTIVATIONS)
    if batch_norm_momentum is not None and not 0 < batch_norm_momentum < 1:
        raise ValueError(f"batch_norm_momentum={batch_norm_momentum!r} must be in (0, 1) or None.")
    if filters[-1] != image_shape[-1]:
        raise ValueError(
            f"filters={list(filters)}: the last conv layer makes the image, so its filters "
            f"({filters[-1]}) must equal the image channels ({image_shape[-1]}) of image_shape={tuple(image_shape)}."
        )
    _check_upsampling_plan(initial_shape, upsample, image_shape)


def _check_conv_discriminator(image_shape, filters, kernel_sizes, strides, dropout, activation):
    _check_image_shape(image_shape)
    _check_same_length(filters=filters, kernel_sizes=kernel_sizes, strides=strides)
    for name, values in (("filters", filters), ("kernel_sizes", kernel_sizes), ("strides", strides)):
        check_positive_ints(name, values)
    _check_dropout(dropout)
    _check_choice("activation", activation, ACTIVATIONS)


def build_conv_generator(latent_dim=100, image_shape=(28, 28, 1), initial_shape=(7, 7, 64),
                         filters=(128, 64, 64, 1), kernel_sizes=(5, 5, 5, 5), upsample=(2, 2, 1, 1),
                         upsample_mode="transpose", batch_norm_momentum=0.9, activation="relu"):
    """z -> Dense -> reshape to initial_shape -> one upsampling conv per list entry -> tanh.

    Layer i multiplies height and width by upsample[i] (Conv2DTranspose with that
    stride, or UpSampling2D then Conv2D) and has filters[i] channels; the last
    layer has the image's channels and a tanh. Batch norm (momentum
    `batch_norm_momentum`, None for none) follows every other layer.
    """
    _check_conv_generator(latent_dim, image_shape, initial_shape, filters, kernel_sizes, upsample,
                          upsample_mode, batch_norm_momentum, activation)
    z = keras.Input((latent_dim,), name="z")
    x = _conv_generator_body(z, tuple(initial_shape), filters, kernel_sizes, upsample, upsample_mode,
                             batch_norm_momentum, activation)
    return keras.Model(z, x, name=f"conv_generator_{upsample_mode}")


def build_conv_discriminator(image_shape=(28, 28, 1), filters=(64, 64, 128, 128), kernel_sizes=(5, 5, 5, 5),
                             strides=(2, 2, 2, 1), dropout=0.4, activation="leaky_relu",
                             output_activation="sigmoid"):
    """image -> strided convs (activation, dropout) -> flatten -> Dense(1).

    output_activation="sigmoid" gives D(x) in (0, 1); None gives a WGAN critic's score.
    """
    _check_conv_discriminator(image_shape, filters, kernel_sizes, strides, dropout, activation)
    x = keras.Input(tuple(image_shape), name="x")
    out = _conv_discriminator_body(x, filters, kernel_sizes, strides, dropout, activation, output_activation)
    return keras.Model(x, out, name="conv_discriminator")


def dcgan_config():
    """The course's DCGAN sizes, as `(g_config, d_config)` keyword dictionaries.

    Lessons 07, 08, 10 and bench/metrics_table.py build their conv G and D from these
    (full-mode sizes, or the smaller fast-mode ones under COURSE_FAST=1):
    `build_conv_generator(latent_dim, **g_config)`, `build_conv_discriminator(**d_config)`.
    A WGAN critic takes `dict(d_config, dropout=0.0)`.
    """
    g_config = dict(
        initial_shape=config.choose(full=(7, 7, 128), fast=(7, 7, 32)),
        filters=config.choose(full=[128, 64, 1], fast=[32, 1]),
        kernel_sizes=config.choose(full=[5, 5, 5], fast=[3, 3]),
        upsample=config.choose(full=[2, 2, 1], fast=[2, 2]),
        batch_norm_momentum=0.9,
        activation="relu",
    )
    d_config = dict(
        filters=config.choose(full=[64, 128], fast=[16, 32]),
        kernel_sizes=config.choose(full=[5, 5], fast=[3, 3]),
        strides=[2, 2],
        dropout=0.3,
        activation="leaky_relu",
    )
    return g_config, d_config


# --------------------------------------------------------------------------
# conditional G(z | y) and D(x | y) (lesson 08)
# --------------------------------------------------------------------------
def _label_vector(y, num_classes, label_mode, embedding_dim):
    """Integer labels (N, 1) -> one-hot (N, num_classes) or a learned embedding (N, embedding_dim)."""
    if label_mode == "one_hot":
        return layers.CategoryEncoding(num_classes, output_mode="one_hot", name="label_vector")(y)
    e = layers.Embedding(num_classes, embedding_dim, name="label_embedding")(y)  # (N, 1, embedding_dim)
    return layers.Flatten(name="label_vector")(e)


def _label_map(label, image_shape, label_mode):
    """Label vector -> (N, H, W, k) maps to stack onto the image as extra channels.

    one_hot: the one-hot vector tiled over every pixel (k = num_classes);
    embedding: a Dense projection to one H x W map (k = 1).
    """
    height, width = image_shape[:2]
    if label_mode == "one_hot":
        k = label.shape[-1]
        m = layers.Reshape((1, 1, k))(label)  # (N, 1, 1, k)
        return layers.UpSampling2D((height, width), name="label_map")(m)  # (N, H, W, k): same vector everywhere
    m = layers.Dense(height * width)(label)  # (N, H*W)
    return layers.Reshape((height, width, 1), name="label_map")(m)  # (N, H, W, 1)


def _check_conditional(num_classes, label_mode, embedding_dim, architecture):
    check_positive_int("num_classes", num_classes, minimum=2)  # one class leaves nothing to condition on
    _check_choice("label_mode", label_mode, LABEL_MODES)
    check_positive_int("embedding_dim", embedding_dim)
    _check_choice("architecture", architecture, ARCHITECTURES)


def build_conditional_generator(latent_dim=100, num_classes=10, label_mode="one_hot", embedding_dim=50,
                                architecture="conv", image_shape=(28, 28, 1), **body):
    """G(z | y): inputs [z (N, latent_dim), y (N,) integer labels] -> image in [-1, 1].

    The label vector (one-hot or embedding) is concatenated with z; `body` are the
    keyword arguments of build_conv_generator (or build_dense_generator's `hidden`).
    """
    _check_conditional(num_classes, label_mode, embedding_dim, architecture)
    z = keras.Input((latent_dim,), name="z")
    y = keras.Input((1,), dtype="int32", name="y")
    label = _label_vector(y, num_classes, label_mode, embedding_dim)
    h = layers.Concatenate()([z, label])  # (N, latent_dim + label size)
    _check_image_shape(image_shape)
    if architecture == "dense":
        args = _body_args(build_dense_generator, body, skip=("latent_dim", "image_shape"))
        check_positive_ints("hidden", args["hidden"])
        x = _dense_generator_body(h, args["hidden"], tuple(image_shape))
    else:
        args = _body_args(build_conv_generator, body, skip=("latent_dim", "image_shape"))
        _check_conv_generator(latent_dim, image_shape, **args)
        x = _conv_generator_body(h, **args)
    return keras.Model([z, y], x, name=f"conditional_{architecture}_generator_{label_mode}")


def build_conditional_discriminator(image_shape=(28, 28, 1), num_classes=10, label_mode="one_hot",
                                    embedding_dim=50, architecture="conv", output_activation="sigmoid",
                                    **body):
    """D(x | y): inputs [x (N, H, W, C), y (N,) integer labels] -> (N, 1).

    conv: label maps are stacked onto the image as extra channels, so the first
    conv sees pixels and label together; dense: the label vector is concatenated
    with the flattened image. `body` are build_conv_discriminator's (or
    build_dense_discriminator's) keyword arguments.
    """
    _check_conditional(num_classes, label_mode, embedding_dim, architecture)
    _check_image_shape(image_shape)
    x = keras.Input(tuple(image_shape), name="x")
    y = keras.Input((1,), dtype="int32", name="y")
    label = _label_vector(y, num_classes, label_mode, embedding_dim)
    if architecture == "dense":
        args = _body_args(build_dense_discriminator, body, skip=("image_shape", "output_activation"))
        check_positive_ints("hidden", args["hidden"])
        _check_dropout(args["dropout"])
        h = layers.Concatenate()([layers.Flatten()(x), label])  # (N, H*W*C + label size)
        out = _dense_discriminator_body(h, output_activation=output_activation, **args)
    else:
        args = _body_args(build_conv_discriminator, body, skip=("image_shape", "output_activation"))
        _check_conv_discriminator(image_shape, **args)
        h = layers.Concatenate()([x, _label_map(label, image_shape, label_mode)])  # (N, H, W, C + k)
        out = _conv_discriminator_body(h, output_activation=output_activation, **args)
    return keras.Model([x, y], out, name=f"conditional_{architecture}_discriminator_{label_mode}")


def _body_args(builder, body, skip):
    """`builder`'s keyword defaults (minus `skip`), overridden by `body`; an unknown name is an error."""
    params = inspect.signature(builder).parameters
    args = {name: p.default for name, p in params.items() if name not in skip}
    unknown = sorted(set(body) - set(args))
    if unknown:
        raise ValueError(f"unknown argument(s) {unknown} for the body of {builder.__name__}; "
                         f"it takes {sorted(args)}.")
    args.update(body)
    return args


# --------------------------------------------------------------------------
# transposed convolution as a matrix (lesson 07)
# --------------------------------------------------------------------------
def conv_output_size(size, kernel_size, stride):
    """'valid' convolution: floor((size - kernel_size) / stride) + 1 outputs per axis."""
    return (size - kernel_size) // stride + 1


def conv_matrix(kernel, input_shape, stride=1):
    """Matrix C of a single-channel 'valid' convolution (Keras' cross-correlation).

    C has one row per output pixel and one column per input pixel, so that
    C @ x.ravel() == conv2d(x, kernel, stride).ravel() and C.T @ y.ravel() is the
    transposed convolution (Conv2DTranspose with padding="valid") of y.
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    if kernel.ndim != 2:
        raise ValueError(f"kernel must be a 2-D array (kh, kw); got shape {kernel.shape}.")
    kh, kw = kernel.shape
    input_shape = check_positive_ints("input_shape", input_shape)
    if len(input_shape) != 2:
        raise ValueError(f"input_shape={input_shape!r} must be (height, width).")
    in_h, in_w = input_shape
    check_positive_int("stride", stride)
    out_h, out_w = conv_output_size(in_h, kh, stride), conv_output_size(in_w, kw, stride)
    if out_h < 1 or out_w < 1:
        raise ValueError(f"kernel of shape {kernel.shape} does not fit in input_shape={tuple(input_shape)}.")
    c = np.zeros((out_h * out_w, in_h * in_w))  # (outputs, inputs)
    for i in range(out_h):
        for j in range(out_w):
            window = np.zeros((in_h, in_w))
            window[i * stride:i * stride + kh, j * stride:j * stride + kw] = kernel  # where output (i, j) looks
            c[i * out_w + j] = window.ravel()
    return c
