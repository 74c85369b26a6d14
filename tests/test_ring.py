"""course_lib.ring: lesson 06's ring of eight Gaussians, its mode count and its small GAN."""
import numpy as np

from course_lib import ring
from course_lib.checks import lesson06


def test_ring_data_is_lesson_06s_mixture():
    x = ring.ring_data(20000, seed=0)
    rng = np.random.default_rng(0)  # lesson 06's recipe, written out
    angles = 2 * np.pi * np.arange(8) / 8
    centers = 2.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    want = centers[rng.integers(0, 8, 20000)] + 0.05 * rng.normal(size=(20000, 2))
    np.testing.assert_allclose(x, want, rtol=1e-6)
    assert x.dtype == np.float32
    distances = np.linalg.norm(x[:, None] - ring.ring_centers()[None], axis=2)
    counts = np.bincount(distances.argmin(axis=1), minlength=8)
    assert np.all(np.abs(counts / len(x) - 1 / 8) < 0.01)
    assert np.mean(distances.min(axis=1) < 3 * ring.STD) > 0.98  # within 3 std of its centre: 1 - exp(-4.5)


def test_count_modes_passes_lesson_06s_check():
    lesson06.check_count_modes(ring.count_modes)


def test_the_ring_gan_has_the_feature_layer_after_d_s_first_hidden_layer():
    from course_lib import minibatch

    g, d = ring.build_ring_gan(16, seed=0, feature_layer=minibatch.MinibatchDiscrimination(4, 2))
    assert g.output_shape == (None, 2) and d.output_shape == (None, 1)
    kinds = [type(layer).__name__ for layer in d.layers]
    assert kinds == ["InputLayer", "Dense", "LeakyReLU", "MinibatchDiscrimination", "Dense", "LeakyReLU", "Dense"]
    assert [type(layer).__name__ for layer in g.layers] == ["Dense"] * 3
    assert d.layers[kinds.index("MinibatchDiscrimination") + 1].input.shape[-1] == 16 + 4
