"""A small U-Net that predicts the noise in a noisy image (lessons 13 and 14).

    network = build_unet()                                # (x_t, t) -> eps_pred: 1,751,169 parameters
    network = build_unet(num_classes=10)                  # (x_t, t, label) -> prediction; label 10 = "no label"

The picture, for channels (c1, c2, c3) on 28x28 digits padded to 32x32:

    32x32 c1 --res--res------------------------------ concat --res--res--> 32x32 c1 -> conv (zeros) -> 28x28x1
       | down                                            ^ up
    16x16 c2 --res--res------------------- concat --res--res
       | down                                  ^ up
     8x8  c3 --res--res-- middle: res, res ----+

Every residual block adds a projection of the time embedding (and of the label embedding, when
the network is conditional) to its feature maps: the same weights denoise at every noise level,
and the embedding tells them which level this is. Skip connections hand the fine detail of the
way down to the way up. The last convolution starts at zero, so an untrained network predicts 0.
Written with `keras` and `keras.ops` only: it runs on every Keras backend.
"""
import math

import keras
from keras import layers, ops

from course_lib import config
from course_lib.validate import check_positive_int, check_positive_ints

IMAGE_SHAPE = (28, 28, 1)


class TimeEmbedding(layers.Layer):
    """Sinusoidal embedding of a (N, 1) time: (N, dim), as in the Transformer's positions.

    emb(t)_i = sin(scale * t * w_i),  emb(t)_{i + dim/2} = cos(scale * t * w_i),  w_i = 10000^(-i / (dim/2)).
    `scale` maps the caller's time onto the range the frequencies were made for (about 0 to 1000):
    1 for DDPM's integer steps, 1000 for flow matching's t in [0, 1].
    """

    def __init__(self, dim, scale=1.0, **kwargs):
        super().__init__(**kwargs)
        if dim % 2:
            raise ValueError(f"the time embedding's dim must be even (a sine and a cosine per frequency); got {dim}")
        self.dim, self.scale = dim, float(scale)

    def call(self, t):
        half = self.dim // 2
        w = ops.exp(-math.log(10000.0) * ops.arange(half, dtype="float32") / half)  # w_i = 10000^(-i/half): (half,)
        angles = self.scale * ops.cast(t, "float32") * w  # (N, 1) * (half,) -> (N, half)
        return ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1)  # (N, dim)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "scale": self.scale}


def _groups(channels):
    return math.gcd(channels, 8)  # group normalisation in up to 8 groups that divide the channels


def residual_block(h, emb, channels):
    """norm -> swish -> conv, + Dense(emb), norm -> swish -> conv, plus the (projected) input."""
    skip = h if h.shape[-1] == channels else layers.Conv2D(channels, 1)(h)  # 1x1 conv when channels change
    h = layers.Conv2D(channels, 3, padding="same")(layers.Activation("swish")(
        layers.GroupNormalization(_groups(h.shape[-1]))(h)))
    h = h + layers.Reshape((1, 1, channels))(layers.Dense(channels)(emb))  # (N, H, W, C) + (N, 1, 1, C)
    h = layers.Conv2D(channels, 3, padding="same")(layers.Activation("swish")(
        layers.GroupNormalization(_groups(channels))(h)))
    return h + skip


def course_config():
    """The U-Net sizes of lessons 13 and 14 and their benchmarks, as keyword arguments of `build_unet`.

    Full mode: channels (32, 64, 96), two residual blocks per level, a 128-wide embedding (1,751,169
    parameters unconditional); fast mode (COURSE_FAST=1): a tiny network that only shows the code runs.
    """
    return dict(channels=config.choose(full=(32, 64, 96), fast=(8, 16)),
                blocks_per_level=config.choose(full=2, fast=1), emb_dim=config.choose(full=128, fast=32))


def build_unet(channels=(32, 64, 96), blocks_per_level=2, emb_dim=128, num_classes=None, time_scale=1.0,
               image_shape=IMAGE_SHAPE, pad_to=32, name="unet"):
    """(x_t (N, H, W, C), t (N, 1)[, label (N, 1) int]) -> (N, H, W, C).

    channels: feature maps per resolution (each level halves the resolution).
    num_classes: when given, a label input with num_classes + 1 tokens: 0 .. num_classes - 1 are the
        classes and num_classes is the learned "no label" token (classifier-free guidance, lesson 14).
    pad_to: the images are zero-padded to pad_to x pad_to (28 -> 32 halves cleanly twice) and the
        output cropped back.
    """
    channels = check_positive_ints("channels", channels, allow_empty=False)
    check_positive_int("blocks_per_level", blocks_per_level)
    check_positive_int("emb_dim", emb_dim)
    height, width, depth = image_shape
    x_in = keras.Input(image_shape, name="x_t")
    t_in = keras.Input((1,), name="t")
    inputs = [x_in, t_in]
    emb = TimeEmbedding(emb_dim, scale=time_scale)(t_in)  # (N, emb_dim)
    if num_classes is not None:
        check_positive_int("num_classes", num_classes)
        label_in = keras.Input((1,), dtype="int32", name="label")
        inputs.append(label_in)
        label_emb = layers.Embedding(num_classes + 1, emb_dim)(label_in)  # (N, 1, emb_dim); token num_classes = none
        emb = emb + layers.Flatten()(label_emb)
    emb = layers.Dense(emb_dim, activation="swish")(emb)  # (N, emb_dim)

    pad_h, pad_w = pad_to - height, pad_to - width
    h = layers.ZeroPadding2D(((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2)))(x_in)
    h = layers.Conv2D(channels[0], 3, padding="same")(h)  # (N, 32, 32, c1)
    skips = []
    for level, c in enumerate(channels):  # the way down
        for _ in range(blocks_per_level):
            h = residual_block(h, emb, c)
        skips.append(h)
        if level < len(channels) - 1:
            h = layers.Conv2D(c, 3, strides=2, padding="same")(h)  # (N, H/2, W/2, c)
    for _ in range(2):  # the middle, at the lowest resolution
        h = residual_block(h, emb, channels[-1])
    for level in reversed(range(len(channels))):  # the way up
        h = layers.Concatenate()([h, skips[level]])  # (N, H, W, c + c_skip)
        for _ in range(blocks_per_level):
            h = residual_block(h, emb, channels[level])
        if level > 0:
            h = layers.UpSampling2D(2)(h)  # (N, 2H, 2W, c)
            h = layers.Conv2D(channels[level - 1], 3, padding="same")(h)
    h = layers.Activation("swish")(layers.GroupNormalization(_groups(channels[0]))(h))
    out = layers.Conv2D(depth, 3, padding="same", kernel_initializer="zeros", name="output")(h)  # zero at start
    out = layers.Cropping2D(((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2)))(out)
    return keras.Model(inputs, out, name=name)
