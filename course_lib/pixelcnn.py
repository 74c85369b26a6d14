"""PixelCNN for binarized images (lesson 02; van den Oord et al., 2016).

Every conditional p(x_i | x_<i) comes from one convolutional network whose
kernels are masked so that output pixel i only sees input pixels before i in
raster order (row by row, left to right):

- mask "A" (first layer) hides the centre pixel and everything after it;
- mask "B" (later layers) also lets the centre through: a hidden unit at
  position i already depends only on inputs before i, so it may be reused.

Images have one channel (binarized MNIST), so no extra colour masking is
needed. NLL, sampling and completion are shared with lesson 01 and live in
`course_lib.autoregressive`; they are re-exported here.
"""
import keras
import numpy as np
from keras import layers, ops

from course_lib import backend
from course_lib.autoregressive import (  # noqa: F401  (re-exported for the lesson)
    bernoulli_nll,
    complete,
    dataset_nll,
    fit,
    nats_to_bits_per_dim,
    sample,
    timed_sample,
)
from course_lib.validate import check_positive_int

MASK_TYPES = ("A", "B")


def causal_mask(kernel_size, mask_type):
    """(k, k) 0/1 mask: rows above the centre, and the centre row left of the centre (+ centre for B)."""
    if not isinstance(kernel_size, (int, np.integer)) or kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be a positive odd integer, got {kernel_size!r}")
    if mask_type not in MASK_TYPES:
        raise ValueError(f"mask_type must be 'A' or 'B', got {mask_type!r}")
    centre = kernel_size // 2
    mask = np.ones((kernel_size, kernel_size), dtype="float32")
    first_hidden = centre + (1 if mask_type == "B" else 0)
    mask[centre, first_hidden:] = 0.0  # the centre row: the centre (type A) and its right
    mask[centre + 1:, :] = 0.0  # every row below the centre
    return mask


class MaskedConv2D(layers.Conv2D):
    """A "same"-padded, stride-1 Conv2D whose kernel is multiplied by a causal mask."""

    def __init__(self, filters, kernel_size, mask_type, **kwargs):
        for name in ("padding", "strides", "dilation_rate", "groups"):
            if name in kwargs:
                raise ValueError(f"MaskedConv2D fixes {name}; do not pass it")
        if isinstance(kernel_size, (tuple, list)):
            if len(kernel_size) != 2 or kernel_size[0] != kernel_size[1]:
                raise ValueError(f"kernel_size must be square, got {kernel_size!r}")
            kernel_size = kernel_size[0]
        self.mask_type = mask_type
        self.mask = causal_mask(kernel_size, mask_type)[:, :, None, None]  # (k, k, 1, 1)
        # causal_mask accepted a NumPy integer too; Keras' Conv2D wants a Python int
        super().__init__(filters, int(kernel_size), padding="same", **kwargs)

    def convolution_op(self, inputs, kernel):
        return super().convolution_op(inputs, kernel * self.mask)  # W * M: masked taps never count

    def get_config(self):
        return {**super().get_config(), "mask_type": self.mask_type}

    @classmethod
    def from_config(cls, config):
        for name in ("padding", "strides", "dilation_rate", "groups"):
            config.pop(name, None)
        return cls(**config)


def _validate(image_shape, filters, n_blocks, first_kernel, block_kernel, num_classes):
    if len(tuple(image_shape)) != 3 or tuple(image_shape)[2] != 1:
        raise ValueError(
            f"image_shape must be (height, width, 1): this PixelCNN models one binary channel, got {image_shape!r}")
    check_positive_int("filters", filters, minimum=2)
    check_positive_int("n_blocks", n_blocks, minimum=0)
    for name, k in (("first_kernel", first_kernel), ("block_kernel", block_kernel)):
        if not isinstance(k, (int, np.integer)) or k < 1 or k % 2 == 0:
            raise ValueError(f"{name} must be a positive odd integer, got {k!r}")
    if num_classes is not None:
        check_positive_int("num_classes", num_classes, minimum=2)


def _residual_block(h, filters, kernel, condition, index):
    """relu -> 1x1 (filters/2) -> relu -> masked B conv -> relu -> 1x1 (filters), plus the skip."""
    half = max(1, filters // 2)
    y = layers.Conv2D(half, 1, activation="relu", name=f"block{index}_in")(layers.ReLU()(h))
    y = MaskedConv2D(half, kernel, "B", name=f"block{index}_masked")(y)
    y = _add_condition(y, condition, half, f"block{index}_cond")
    # no bias here: the stream already has one, and TF's CPU graph optimizer logs an error
    # ("remapper failed") when it tries to fuse Conv2D + BiasAdd + Add in this pattern
    y = layers.Conv2D(filters, 1, use_bias=False, name=f"block{index}_out")(layers.ReLU()(y))
    return layers.Add(name=f"block{index}_add")([h, y])  # (batch, H, W, filters)


def _add_condition(h, condition, channels, name):
    """h + V y: a per-class bias broadcast over every pixel (conditioning cannot break causality)."""
    if condition is None:
        return h
    bias = layers.Dense(channels, use_bias=False, name=name)(condition)  # (batch, channels)
    bias = layers.Reshape((1, 1, channels))(bias)
    return layers.Add()([h, bias])


def build_pixelcnn(image_shape=(28, 28, 1), filters=64, n_blocks=5, first_kernel=7,
                   block_kernel=3, head_filters=None, num_classes=None):
    """PixelCNN returning one Bernoulli logit per pixel, shape (batch, H, W, 1).

    first layer: MaskedConv2D type A (first_kernel x first_kernel);
    n_blocks residual blocks with a type-B masked conv each; a 1x1 head.
    With num_classes, the model takes [x, y_one_hot] and adds a learned
    per-class bias to every layer's feature map.
    """
    _validate(image_shape, filters, n_blocks, first_kernel, block_kernel, num_classes)
    head_filters = filters if head_filters is None else head_filters
    check_positive_int("head_filters", head_filters)
    x = keras.Input(shape=tuple(image_shape), name="x")
    condition = keras.Input(shape=(num_classes,), name="y") if num_classes else None
    h = MaskedConv2D(filters, first_kernel, "A", name="masked_a")(x)  # (batch, H, W, filters)
    h = _add_condition(h, condition, filters, "input_cond")
    for index in range(n_blocks):
        h = _residual_block(h, filters, block_kernel, condition, index)
    h = layers.Conv2D(head_filters, 1, activation="relu", name="head")(h)
    logits = layers.Conv2D(1, 1, name="logits")(h)  # (batch, H, W, 1)
    inputs = x if condition is None else [x, condition]
    name = "pixelcnn" if condition is None else "conditional_pixelcnn"
    return keras.Model(inputs, logits, name=name)


def dependency_map(model, row, col, x, labels=None):
    """|d logit(row, col) / d x| summed over the batch, shape (H, W): which inputs one output sees.

    The gradient comes from the backend (course_lib.backend.gradient); a causal
    model gives exact zeros at (row, col) and at every later pixel in raster order.
    """
    condition = None if labels is None else ops.convert_to_tensor(np.asarray(labels, dtype="float32"))

    def one_output(x):  # the logit at (row, col), summed over the batch
        logits = model(x if condition is None else [x, condition], training=False)  # (batch, H, W, 1)
        return ops.sum(logits[:, row, col, :])

    grad = backend.gradient(one_output, np.asarray(x, dtype="float32"))  # (batch, H, W, 1)
    return np.abs(ops.convert_to_numpy(grad)).sum(axis=(0, 3))  # (H, W)
