"""The U-Net: its output has the input's shape, starts at zero, and depends on t (and on the label)."""
import math

import keras
import numpy as np
import pytest
from keras import ops

from course_lib import unet


def with_random_output_layer(network):
    """The output layer starts at zero (so any t gives 0); give it random weights to see what reaches it."""
    layer = network.get_layer("output")
    rng = np.random.default_rng(0)
    layer.set_weights([rng.normal(0, 0.1, w.shape).astype("float32") for w in layer.get_weights()])
    return network


def inputs(n=2, t=10.0, seed=0):
    x = np.random.default_rng(seed).normal(size=(n, 28, 28, 1)).astype("float32")
    return x, np.full((n, 1), t, "float32")


def test_output_has_the_input_shape_and_starts_at_zero():
    keras.utils.set_random_seed(0)
    network = unet.build_unet(channels=(8, 16), blocks_per_level=1, emb_dim=16)
    out = ops.convert_to_numpy(network(list(inputs())))
    assert out.shape == (2, 28, 28, 1)
    assert np.all(out == 0)  # zero-initialised last convolution


def test_output_depends_on_t():
    keras.utils.set_random_seed(0)
    network = with_random_output_layer(unet.build_unet(channels=(8, 16), blocks_per_level=1, emb_dim=16))
    x, t = inputs()
    early, late = (ops.convert_to_numpy(network([x, np.full_like(t, s)])) for s in (10.0, 900.0))
    again = ops.convert_to_numpy(network([x, np.full_like(t, 10.0)]))
    np.testing.assert_array_equal(early, again)  # a function of (x, t): the same inputs give the same output
    assert np.mean(np.abs(early - late)) > 1e-3 * np.mean(np.abs(early))


def test_output_depends_on_the_label_and_the_no_label_token_is_its_own():
    keras.utils.set_random_seed(0)
    network = with_random_output_layer(unet.build_unet(channels=(8,), blocks_per_level=1, emb_dim=16,
                                                       num_classes=10))
    x, t = inputs()
    outs = [ops.convert_to_numpy(network([x, t, np.full((2, 1), label, "int32")])) for label in (3, 7, 10)]
    assert not np.allclose(outs[0], outs[1]) and not np.allclose(outs[0], outs[2])


def test_time_embedding_is_the_sinusoidal_formula():
    emb = ops.convert_to_numpy(unet.TimeEmbedding(8, scale=2.0)(np.array([[3.0]], "float32")))
    w = [10000 ** (-i / 4) for i in range(4)]  # w_i = 10000^(-i / (dim/2))
    want = [math.sin(2.0 * 3.0 * wi) for wi in w] + [math.cos(2.0 * 3.0 * wi) for wi in w]
    np.testing.assert_allclose(emb[0], want, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="even"):
        unet.TimeEmbedding(7)


def test_default_size_is_between_one_and_two_million_parameters():
    assert 1_000_000 < unet.build_unet().count_params() < 2_000_000
