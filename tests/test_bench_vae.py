"""bench/vae.py's PyTorch-style initialisation: every kernel and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
import importlib.util
from pathlib import Path

import numpy as np

from course_lib import vae

spec = importlib.util.spec_from_file_location("bench_vae", Path(__file__).resolve().parent.parent / "bench" / "vae.py")
bench_vae = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench_vae)


def test_every_dense_and_conv_layer_is_redrawn_with_the_fan_in_bound():
    model = vae.build_vae(4, kind="conv", filters=(8, 16), dense_units=32, seed=0)
    layers = list(bench_vae.layers_with_weights(model))
    kinds = {type(layer).__name__ for layer in layers}
    assert {"Dense", "Conv2D", "Conv2DTranspose"} <= kinds
    bench_vae.torch_default_init(model, seed=0)
    for layer in layers:
        kernel, bias = np.asarray(layer.kernel), np.asarray(layer.bias)
        # Hand-computed fan_in: Dense (in, out) -> in; Conv2D (kh, kw, c_in, c_out) -> kh*kw*c_in;
        # Conv2DTranspose (kh, kw, c_out, c_in) -> kh*kw*c_out, as PyTorch's ConvTranspose2d.
        fan_in = int(np.prod(kernel.shape[:-1]))
        bound = 1 / np.sqrt(fan_in)
        for values in (kernel, bias):
            assert np.abs(values).max() <= bound
        assert np.abs(bias).max() > 0  # biases are drawn too, not left at Keras' zeros
        if kernel.size >= 1000:  # a uniform on (-b, b) has standard deviation b / sqrt(3)
            assert abs(kernel.std() - bound / np.sqrt(3)) < 0.05 * bound


def test_dense_reference_network_gets_the_reference_bounds():
    model = vae.build_vae(20, kind="dense", hidden=(400,), seed=0)
    bench_vae.torch_default_init(model, seed=0)
    largest = sorted(float(np.abs(np.asarray(l.kernel)).max()) for l in bench_vae.layers_with_weights(model))
    # By hand: 784 -> 400 (fan_in 784); 400 -> 20 twice (mean, log-variance: 400); 20 -> 400 (20); 400 -> 784 (400).
    # With thousands of draws the largest |w| lies within 1% of the bound 1/sqrt(fan_in).
    expected = sorted(1 / np.sqrt(fan_in) for fan_in in (784, 400, 400, 20, 400))
    np.testing.assert_allclose(largest, expected, rtol=0.01)
