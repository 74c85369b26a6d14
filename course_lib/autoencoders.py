"""Plain autoencoders for lesson 03: dense, convolutional, stacked, denoising, context.

Every builder returns three models that share weights:
`(autoencoder, encoder, decoder)`, with images (N, 28, 28, 1) in [0, 1] in
and pixel intensities (sigmoid outputs) out. Compile the autoencoder with a
pixel loss (binary cross-entropy or mean squared error) and train it with
`course_lib.training.train(autoencoder, x_input, x_target)`.
"""
import keras
import numpy as np
from keras import layers, ops

from course_lib.validate import (check_halves_exactly, check_image_shape, check_output_shape, check_positive_int,
                                 check_positive_ints)

IMAGE_SHAPE = (28, 28, 1)


def join(encoder, decoder, name="autoencoder"):
    """One model x -> decoder(encoder(x)) that shares the two models' weights."""
    x_in = keras.Input(shape=encoder.input_shape[1:])
    return keras.Model(x_in, decoder(encoder(x_in)), name=name)


# ----------------------------------------------------------------------------
# Dense and convolutional autoencoders
# ----------------------------------------------------------------------------
def build_dense_autoencoder(bottleneck_dim, hidden=(256,), input_shape=IMAGE_SHAPE):
    """784 -> hidden... -> bottleneck_dim -> ...hidden -> 784, sigmoid output."""
    check_positive_int("bottleneck_dim", bottleneck_dim)
    hidden = check_positive_ints("hidden", hidden)
    input_shape = check_image_shape("input_shape", input_shape)
    x_in = keras.Input(shape=input_shape)
    h = layers.Flatten()(x_in)  # (N, 784)
    for units in hidden:
        h = layers.Dense(units, activation="relu")(h)
    code = layers.Dense(bottleneck_dim, name="code")(h)  # (N, bottleneck_dim)
    encoder = keras.Model(x_in, code, name=f"dense_encoder_{bottleneck_dim}")

    z_in = keras.Input(shape=(bottleneck_dim,))
    h = z_in
    for units in reversed(hidden):
        h = layers.Dense(units, activation="relu")(h)
    h = layers.Dense(int(np.prod(input_shape)), activation="sigmoid")(h)
    decoder = keras.Model(z_in, layers.Reshape(input_shape)(h), name=f"dense_decoder_{bottleneck_dim}")
    return join(encoder, decoder, f"dense_autoencoder_{bottleneck_dim}"), encoder, decoder


def build_conv_autoencoder(bottleneck_dim=2, filters=(32, 64), input_shape=IMAGE_SHAPE):
    """Strided convolutions 28 -> 14 -> 7, a dense bottleneck, transposed convolutions back."""
    check_positive_int("bottleneck_dim", bottleneck_dim)
    filters = check_positive_ints("filters", filters, allow_empty=False)
    input_shape = check_image_shape("input_shape", input_shape)
    height, width = check_halves_exactly("input_shape", input_shape, len(filters), f"filters={filters!r}")
    x_in = keras.Input(shape=input_shape)
    h = x_in
    for f in filters:
        h = layers.Conv2D(f, 3, strides=2, padding="same", activation="relu")(h)  # height and width halve
    code = layers.Dense(bottleneck_dim, name="code")(layers.Flatten()(h))
    encoder = keras.Model(x_in, code, name="conv_encoder")

    z_in = keras.Input(shape=(bottleneck_dim,))
    h = layers.Dense(height * width * filters[-1], activation="relu")(z_in)
    h = layers.Reshape((height, width, filters[-1]))(h)  # (N, 7, 7, 64)
    for f in reversed(filters):
        h = layers.Conv2DTranspose(f, 3, strides=2, padding="same", activation="relu")(h)  # height and width double
    out = layers.Conv2D(input_shape[-1], 3, padding="same", activation="sigmoid")(h)
    decoder = check_output_shape(keras.Model(z_in, out, name="conv_decoder"), input_shape, "input_shape")
    return join(encoder, decoder, "conv_autoencoder"), encoder, decoder


# ----------------------------------------------------------------------------
# Stacked autoencoder, trained greedily one layer at a time
# ----------------------------------------------------------------------------
def greedy_layerwise_pretrain(x_flat, layer_sizes=(256, 64), epochs=1, batch_size=128,
                              learning_rate=1e-3, seed=0, verbose=False):
    """Train one shallow autoencoder per layer, each on the codes of the previous one.

    Layer k learns h_k = relu(W_k h_{k-1}) and its decoder reconstructs h_{k-1}
    (sigmoid + cross-entropy for the pixels, linear + squared error for the
    codes of inner layers). Returns `(pairs, losses)`: the trained
    `(encoder_layer, decoder_layer)` pairs and each stage's final training loss.
    """
    from course_lib.training import train

    layer_sizes = check_positive_ints("layer_sizes", layer_sizes)
    if not layer_sizes:
        raise ValueError("layer_sizes=() is not allowed: give at least one layer size.")
    h = np.asarray(x_flat, dtype=np.float32).reshape(len(x_flat), -1)  # (N, 784)
    pairs, losses = [], []
    for depth, units in enumerate(layer_sizes):
        is_pixel_layer = depth == 0
        encode = layers.Dense(units, activation="relu", name=f"stack_enc_{depth}")
        decode = layers.Dense(h.shape[1], activation="sigmoid" if is_pixel_layer else None,
                              name=f"stack_dec_{depth}")
        h_in = keras.Input(shape=(h.shape[1],))
        shallow = keras.Model(h_in, decode(encode(h_in)))
        shallow.compile(optimizer=keras.optimizers.Adam(learning_rate),
                        loss="binary_crossentropy" if is_pixel_layer else "mse")
        history = train(shallow, h, h, epochs=epochs, batch_size=batch_size, seed=seed + depth,
                        verbose=verbose)
        losses.append(history.epochs["loss"][-1])
        pairs.append((encode, decode))
        h = ops.convert_to_numpy(encode(h))  # the codes the next layer learns from
    return pairs, losses


def stack_autoencoder(pairs, input_shape=IMAGE_SHAPE):
    """Assemble trained layer pairs into one deep autoencoder (encoders in order, decoders reversed)."""
    x_in = keras.Input(shape=input_shape)
    h = layers.Flatten()(x_in)
    for encode, _ in pairs:
        h = encode(h)
    encoder = keras.Model(x_in, h, name="stacked_encoder")
    z_in = keras.Input(shape=(pairs[-1][0].units,))
    h = z_in
    for _, decode in reversed(pairs):
        h = decode(h)
    decoder = keras.Model(z_in, layers.Reshape(input_shape)(h), name="stacked_decoder")
    return join(encoder, decoder, "stacked_autoencoder"), encoder, decoder


# ----------------------------------------------------------------------------
# Denoising and context (inpainting) autoencoders
# ----------------------------------------------------------------------------
def add_noise(x, stddev=0.5, seed=None):
    """x + N(0, stddev^2) noise, clipped back to [0, 1] (the input of a denoising autoencoder)."""
    if not stddev >= 0:
        raise ValueError(f"stddev={stddev!r} is not allowed: it must be >= 0.")
    rng = np.random.default_rng(seed)
    noisy = x + stddev * rng.standard_normal(np.shape(x)).astype(np.float32)  # x~ = x + sigma * eps
    return np.clip(noisy, 0.0, 1.0).astype(np.float32)


def random_square_masks(n, patch_size=12, image_size=28, seed=None):
    """Masks (n, image_size, image_size, 1): 1 inside one random square per image, 0 elsewhere."""
    check_positive_int("n", n)
    check_positive_int("patch_size", patch_size)
    if patch_size > image_size:
        raise ValueError(f"patch_size={patch_size} is not allowed: it must be at most image_size={image_size}.")
    rng = np.random.default_rng(seed)
    masks = np.zeros((n, image_size, image_size, 1), dtype=np.float32)
    corners = rng.integers(0, image_size - patch_size + 1, size=(n, 2))
    for mask, (row, col) in zip(masks, corners):
        mask[row:row + patch_size, col:col + patch_size] = 1.0
    return masks


def apply_mask(x, mask, fill=0.0):
    """Blank out the masked region: x * (1 - m) + fill * m."""
    return (x * (1.0 - mask) + fill * mask).astype(np.float32)


def pack_target(x, mask):
    """Clean image and mask as one target (N, 28, 28, 2), for `context_loss`."""
    return np.concatenate([x, mask], axis=-1).astype(np.float32)


def context_loss(y_true, y_pred):
    """Binary cross-entropy on the masked region only, per image; y_true = pack_target(x, mask).

    loss = sum_pixels m * bce(x, x_hat) / sum_pixels m
    """
    x, mask = y_true[..., :1], y_true[..., 1:]
    x_hat = ops.clip(y_pred, 1e-7, 1.0 - 1e-7)
    bce = -(x * ops.log(x_hat) + (1.0 - x) * ops.log(1.0 - x_hat))  # (N, 28, 28, 1)
    return ops.sum(mask * bce, axis=(1, 2, 3)) / ops.maximum(ops.sum(mask, axis=(1, 2, 3)), 1.0)


def run_model(model, x, batch_size=500):
    """model(x) in batches, as a NumPy array (no `predict` retracing for many small models)."""
    outputs = [ops.convert_to_numpy(model(ops.convert_to_tensor(x[start:start + batch_size], "float32")))
               for start in range(0, len(x), batch_size)]
    return np.concatenate(outputs)


def reconstruction_error(autoencoder, x_input, x_target=None, batch_size=500):
    """Mean squared error per pixel between the autoencoder's output and the target."""
    x_target = x_input if x_target is None else x_target
    x_hat = run_model(autoencoder, x_input, batch_size)
    return float(np.mean((x_hat - x_target) ** 2))
