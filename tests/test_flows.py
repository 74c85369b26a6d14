"""Normalizing flows against independent references: exact inverses, log-determinants from
Jacobians computed by autodiff and by finite differences, a density that integrates to 1,
and the bits/dim and dequantization terms computed by hand."""
import math

import keras
import numpy as np
import pytest
from keras import ops
from scipy import stats

from course_lib import backend, flows, training


def randomize(model, scale=0.3, seed=0):
    """Random weights everywhere (a new flow is the identity: its last layers start at zero)."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        w.assign(rng.normal(0.0, scale, w.shape).astype("float32"))
    return model


def to_numpy(x):
    return np.asarray(ops.convert_to_numpy(x), dtype=np.float64)


def flow_2d():
    return randomize(flows.build_flow_2d(num_couplings=3, hidden=(16, 16)))


def small_image_flow(shape=(4, 4, 1)):
    # the flow without dequantization: its steps map y in (0, 1) to z
    return randomize(flows.build_image_flow(shape, num_checkerboard=2, num_channel=2, hidden=8, depth=1,
                                            dequantize_fn=None), scale=0.2)


def autodiff_jacobian(fn, x):
    """(N, D, D) Jacobians of fn: (N, ...) -> (N, ...), one backward pass per output dimension.

    The examples of a batch do not interact, so the gradient of sum_n z_n[i] is row i of each example's Jacobian.
    """
    n, d = x.shape[0], int(np.prod(x.shape[1:]))
    rows = []
    for i in range(d):
        grad = backend.gradient(lambda v: ops.sum(ops.reshape(fn(v), (n, d))[:, i]), x)
        rows.append(to_numpy(grad).reshape(n, d))
    return np.stack(rows, axis=1)  # (N, D_out, D_in)


def finite_difference_jacobian(fn, x, eps=1e-2):
    """(N, D, D) central differences, evaluated in float32, accumulated in float64."""
    n, d = x.shape[0], int(np.prod(x.shape[1:]))
    flat = x.reshape(n, d).astype(np.float64)
    cols = []
    for j in range(d):
        step = np.zeros_like(flat)
        step[:, j] = eps
        plus = to_numpy(fn((flat + step).reshape(x.shape).astype("float32"))).reshape(n, d)
        minus = to_numpy(fn((flat - step).reshape(x.shape).astype("float32"))).reshape(n, d)
        cols.append((plus - minus) / (2 * eps))
    return np.stack(cols, axis=2)


def log_abs_det(jacobians):
    return np.linalg.slogdet(jacobians)[1]


# ----------------------------------------------------------------------------
# The coupling formulas
# ----------------------------------------------------------------------------
def test_coupling_forward_and_inverse_by_hand():
    x = np.array([[1.0, 2.0, -1.0, 0.5]], "float32")
    mask = np.array([1.0, 1.0, 0.0, 0.0], "float32")
    s = np.array([[9.0, 9.0, 0.5, -1.0]], "float32")  # s and t on the kept half are ignored
    t = np.array([[9.0, 9.0, 2.0, 3.0]], "float32")
    y, log_det = flows.coupling_forward(x, mask, s, t)
    want = [1.0, 2.0, -1.0 * math.exp(0.5) + 2.0, 0.5 * math.exp(-1.0) + 3.0]
    np.testing.assert_allclose(to_numpy(y)[0], want, rtol=1e-6)
    np.testing.assert_allclose(to_numpy(log_det), [0.5 - 1.0], rtol=1e-6)
    np.testing.assert_allclose(to_numpy(flows.coupling_inverse(y, mask, s, t)), x, rtol=1e-6)


# ----------------------------------------------------------------------------
# Inverses
# ----------------------------------------------------------------------------
def test_2d_flow_inverse_undoes_forward():
    model = flow_2d()
    x = np.random.default_rng(1).normal(size=(64, 2)).astype("float32")
    z, _ = model.forward(x)
    assert np.abs(to_numpy(z) - x).max() > 0.1  # the flow does something
    np.testing.assert_allclose(to_numpy(model.inverse(z)), x, atol=1e-5)


def test_image_flow_inverse_undoes_forward():
    model = small_image_flow()
    y = np.random.default_rng(2).uniform(size=(8, 4, 4, 1)).astype("float32")
    z, _ = model.forward(y)
    np.testing.assert_allclose(to_numpy(model.inverse(z)), y, atol=1e-4)


def test_squeeze_is_a_permutation_that_groups_2x2_blocks():
    x = np.arange(2 * 4 * 4 * 3, dtype="float32").reshape(2, 4, 4, 3)
    y, log_det = flows.Squeeze().forward(x)
    assert to_numpy(y).shape == (2, 2, 2, 12)
    np.testing.assert_array_equal(np.sort(to_numpy(y).ravel()), np.sort(x.ravel()))
    # pixel (0, 0) of the squeezed image holds the 2x2 block at the top left, every channel
    np.testing.assert_array_equal(np.sort(to_numpy(y)[0, 0, 0]), np.sort(x[0, :2, :2].ravel()))
    np.testing.assert_array_equal(to_numpy(log_det), [0.0, 0.0])
    np.testing.assert_array_equal(to_numpy(flows.Squeeze().inverse(y)), x)


# ----------------------------------------------------------------------------
# Log-determinants against Jacobians computed without the flow's own formula
# ----------------------------------------------------------------------------
def test_2d_log_det_matches_the_autodiff_jacobian():
    model = flow_2d()
    x = np.random.default_rng(3).normal(size=(16, 2)).astype("float32")
    _, log_det = model.forward(x)
    jac = autodiff_jacobian(lambda v: model.forward(v)[0], ops.convert_to_tensor(x))
    np.testing.assert_allclose(to_numpy(log_det), log_abs_det(jac), atol=1e-4)


def test_2d_log_det_matches_finite_differences():
    model = flow_2d()
    x = np.random.default_rng(4).normal(size=(16, 2)).astype("float32")
    _, log_det = model.forward(x)
    jac = finite_difference_jacobian(lambda v: model.forward(v)[0], x)
    np.testing.assert_allclose(to_numpy(log_det), log_abs_det(jac), atol=2e-3)


def test_image_log_det_matches_the_autodiff_jacobian():
    # logit, checkerboard couplings, squeeze, channel couplings on a 4x4 image: a 16 x 16 Jacobian
    model = small_image_flow()
    y = np.random.default_rng(5).uniform(0.05, 0.95, size=(4, 4, 4, 1)).astype("float32")
    _, log_det = model.forward(y)
    jac = autodiff_jacobian(lambda v: model.forward(v)[0], ops.convert_to_tensor(y))
    np.testing.assert_allclose(to_numpy(log_det), log_abs_det(jac), rtol=1e-4, atol=1e-3)


def test_one_coupling_has_a_triangular_jacobian():
    coupling = flows.AffineCoupling(flows.half_mask(4), flows.dense_net(4, (8,)))
    coupling.build((None, 4))
    randomize(coupling)
    x = np.random.default_rng(6).normal(size=(3, 4)).astype("float32")
    jac = autodiff_jacobian(lambda v: coupling.forward(v)[0], ops.convert_to_tensor(x))
    np.testing.assert_allclose(jac[:, :2, :2], np.broadcast_to(np.eye(2), (3, 2, 2)), atol=1e-6)  # y_a = x_a
    np.testing.assert_allclose(jac[:, :2, 2:], 0.0, atol=1e-6)  # y_a does not depend on x_b
    np.testing.assert_allclose(jac[:, 2:, 2:] * (1 - np.eye(2)), 0.0, atol=1e-6)  # diagonal block


def test_logit_log_det_matches_its_derivative():
    y = np.random.default_rng(7).uniform(size=(5, 3)).astype("float32")
    logit = flows.Logit(alpha=0.05)
    z, log_det = logit.forward(y)
    v = 0.05 + 0.9 * y.astype(np.float64)
    np.testing.assert_allclose(to_numpy(z), np.log(v / (1 - v)), rtol=1e-5, atol=1e-5)
    jac = finite_difference_jacobian(lambda u: logit.forward(u)[0], y, eps=1e-3)
    np.testing.assert_allclose(to_numpy(log_det), log_abs_det(jac), atol=2e-3)
    np.testing.assert_allclose(to_numpy(logit.inverse(z)), y, atol=1e-5)


# ----------------------------------------------------------------------------
# Densities
# ----------------------------------------------------------------------------
def test_standard_normal_log_prob_matches_scipy():
    z = np.random.default_rng(8).normal(size=(4, 3, 2)).astype("float32")
    want = stats.norm.logpdf(z.astype(np.float64)).reshape(4, -1).sum(axis=1)
    np.testing.assert_allclose(to_numpy(flows.standard_normal_log_prob(z)), want, rtol=1e-5)


def test_fitted_2d_density_integrates_to_one():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(9)
    centers = np.array([[-1.5, 0.0], [1.5, 0.5]])
    x = (centers[rng.integers(0, 2, 2000)] + 0.4 * rng.normal(size=(2000, 2))).astype("float32")
    model = flows.build_flow_2d(num_couplings=4, hidden=(32, 32), seed=0)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = training.train(model, x, epochs=8, batch_size=100, verbose=False)
    assert history.epochs["loss"][-1] < history.epochs["loss"][0] - 0.3  # it learned something
    grid = np.linspace(-8, 8, 401)
    xx, yy = np.meshgrid(grid, grid)
    points = np.stack([xx.ravel(), yy.ravel()], axis=1).astype("float32")
    density = np.exp(to_numpy(model.log_prob(points)))
    mass = density.sum() * (grid[1] - grid[0]) ** 2
    assert abs(mass - 1.0) < 0.02, mass


def test_image_flow_at_initialization_is_logit_plus_gaussian_minus_log_256():
    # A new flow's couplings are the identity, so log P(x) = log N(logit(v)) + log|dlogit/dy| - D log 256
    model = flows.build_image_flow((4, 4, 1), num_checkerboard=1, num_channel=1, hidden=4, depth=1,
                                   dequantize_fn=lambda x, u: flows.dequantize(x, 0.5 * ops.ones_like(x)))
    x_int = np.random.default_rng(10).integers(0, 256, size=(3, 4, 4, 1)).astype("float32")
    y = (x_int.astype(np.float64) + 0.5) / 256
    v = 0.05 + 0.9 * y
    z = np.log(v / (1 - v))
    want = (stats.norm.logpdf(z) + np.log(0.9 / (v * (1 - v)))).reshape(3, -1).sum(axis=1) - 16 * np.log(256)
    np.testing.assert_allclose(to_numpy(model(x_int)), want, rtol=1e-5)


# ----------------------------------------------------------------------------
# Units and the dequantization term
# ----------------------------------------------------------------------------
def test_bits_per_dim_by_hand():
    # 1000 nats over 784 dimensions: 1000 / 784 = 1.2755102 nats, / ln 2 = 1.8401722 bits per dimension
    assert flows.bits_per_dim(1000.0, 784) == pytest.approx(1.8401722, rel=1e-7)
    assert flows.bits_per_dim(784 * math.log(256), 784) == pytest.approx(8.0)  # uniform over 256 levels


def test_dequantize_by_hand():
    x_int = np.array([[[[0.0], [255.0]], [[17.0], [128.0]]]], "float32")  # (1, 2, 2, 1), D = 4
    u = np.array([[[[0.0], [0.999]], [[0.5], [0.25]]]], "float32")
    y, log_det = flows.dequantize(x_int, u)
    np.testing.assert_allclose(to_numpy(y).ravel(), [0.0, 255.999 / 256, 17.5 / 256, 128.25 / 256], rtol=1e-6)
    # -D log 256 = -4 * 5.545177444479562 = -22.18070977791825
    np.testing.assert_allclose(to_numpy(log_det), [-22.18070977791825], rtol=1e-6)


def test_uniform_density_on_the_unit_cube_gives_8_bits_per_dim():
    # p(y) = 1 on [0, 1)^D: the dequantized likelihood of every grey-level image is 256^-D, 8 bits/dim
    x_int = np.random.default_rng(11).integers(0, 256, size=(5, 3, 3, 1)).astype("float32")
    u = np.random.default_rng(12).uniform(size=x_int.shape).astype("float32")
    _, log_det = flows.dequantize(x_int, u)
    log_p = 0.0 + to_numpy(log_det)  # log p(y) = 0 for the uniform density
    np.testing.assert_allclose(flows.bits_per_dim(-log_p, 9), 8.0, rtol=1e-6)


def test_image_flow_trains_and_samples_in_range():
    keras.utils.set_random_seed(0)
    model = flows.build_image_flow((4, 4, 1), num_checkerboard=2, num_channel=2, hidden=8, depth=1, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    x_int = np.tile(np.array([0, 255], "float32"), 64 * 16 // 2).reshape(64, 4, 4, 1)  # two grey levels
    before = flows.evaluate_bits_per_dim(model, x_int)
    training.train(model, x_int, epochs=5, batch_size=32, verbose=False)
    assert flows.evaluate_bits_per_dim(model, x_int) < before - 0.3
    samples = model.sample(6, seed=0)
    assert samples.shape == (6, 4, 4, 1) and np.all(np.isfinite(samples))
    assert samples.min() > -0.06 and samples.max() < 1.06  # the inverse of the logit lies in [-a/(1-2a), ...]


def test_compiled_decode_matches_the_inverse():
    model = small_image_flow()
    z = np.random.default_rng(13).normal(size=(5, 2, 2, 4)).astype("float32")
    np.testing.assert_allclose(model.decode(z), to_numpy(model.inverse(z)), atol=1e-5)
    randomize(model, seed=1)  # new weights: the compiled graph must read them, not a frozen copy
    np.testing.assert_allclose(model.decode(z), to_numpy(model.inverse(z)), atol=1e-5)


def test_compiled_encode_matches_forward():
    model = small_image_flow()
    y = np.random.default_rng(14).uniform(size=(5, 4, 4, 1)).astype("float32")
    np.testing.assert_allclose(model.encode(y), to_numpy(model.forward(y)[0]), atol=1e-5)


# ----------------------------------------------------------------------------
# The multi-scale flow: ChannelMix (1x1 convolution) and FactorOut
# ----------------------------------------------------------------------------
def small_multiscale_flow():
    # 8x8x1 -> squeeze 4x4x4 -> factor out 2 channels, the other 2 squeezed to 2x2x8: a 64 x 64 Jacobian
    return randomize(flows.build_multiscale_flow((8, 8, 1), num_couplings=(1, 2, 2), hidden=(4, 4, 4), depth=1,
                                                 dequantize_fn=None, seed=0), scale=0.2)


def test_multiscale_flow_inverse_undoes_forward():
    model = small_multiscale_flow()
    y = np.random.default_rng(7).uniform(0.05, 0.95, size=(5, 8, 8, 1)).astype("float32")
    z, _ = model.forward(y)
    assert tuple(z.shape) == (5, 4, 4, 4) and model.latent_shape == (4, 4, 4)  # after the first squeeze
    np.testing.assert_allclose(to_numpy(model.inverse(z)), y, atol=1e-4)


def test_multiscale_log_det_matches_the_autodiff_jacobian():
    model = small_multiscale_flow()
    y = np.random.default_rng(8).uniform(0.05, 0.95, size=(3, 8, 8, 1)).astype("float32")
    _, log_det = model.forward(y)
    jac = autodiff_jacobian(lambda v: model.forward(v)[0], ops.convert_to_tensor(y))
    np.testing.assert_allclose(to_numpy(log_det), log_abs_det(jac), rtol=1e-4, atol=1e-3)


def test_channel_mix_is_a_per_pixel_matrix_with_log_det_pixels_times_log_det_w():
    mix = flows.ChannelMix(seed=3)
    mix.build((None, 2, 3, 3))
    w = np.array([[2.0, 0.5, 0.0], [0.1, 1.0, 0.3], [0.0, -0.4, 0.5]], "float32")  # a mixing, det 1.215
    mix.w.assign(w)
    x = np.random.default_rng(9).normal(size=(4, 2, 3, 3)).astype("float32")
    y, log_det = mix.forward(x)
    np.testing.assert_allclose(to_numpy(y), np.einsum("nhwc,cd->nhwd", x, w), rtol=1e-5, atol=1e-6)
    expected = 6 * np.log(abs(np.linalg.det(w.astype(np.float64))))  # 2 x 3 pixels, each multiplied by W
    np.testing.assert_allclose(to_numpy(log_det), np.full(4, expected), rtol=1e-5)
    jac = autodiff_jacobian(lambda v: mix.forward(v)[0], ops.convert_to_tensor(x))
    np.testing.assert_allclose(to_numpy(log_det), log_abs_det(jac), rtol=1e-4)
    np.testing.assert_allclose(to_numpy(mix.inverse(y)), x, atol=1e-5)


def test_channel_mix_starts_as_a_rotation():
    mix = flows.ChannelMix(seed=4)
    mix.build((None, 4, 4, 8))
    w = to_numpy(mix.w)
    np.testing.assert_allclose(w @ w.T, np.eye(8), atol=1e-5)  # orthogonal: |det W| = 1, log_det = 0
    _, log_det = mix.forward(np.ones((2, 4, 4, 8), "float32"))
    np.testing.assert_allclose(to_numpy(log_det), 0.0, atol=1e-4)


def test_factor_out_passes_the_first_half_of_the_channels_unchanged():
    model = small_multiscale_flow()
    factor_out = model.steps[-1]
    assert isinstance(factor_out, flows.FactorOut)
    x = np.random.default_rng(10).normal(size=(2, 4, 4, 4)).astype("float32")
    y, _ = factor_out.forward(x)
    np.testing.assert_array_equal(to_numpy(y)[..., :2], x[..., :2])  # these dimensions are already z
    assert not np.allclose(to_numpy(y)[..., 2:], x[..., 2:])  # the others went through the inner couplings


@pytest.mark.parametrize("kwargs, message", [
    (dict(image_shape=(30, 30, 1)), "divisible by 4"),
    (dict(num_couplings=(3, 3)), "one entry per scale"),
    (dict(hidden=(32, 0, 64)), "positive integer"),
])
def test_build_multiscale_flow_rejects_bad_arguments_by_name(kwargs, message):
    with pytest.raises(ValueError, match=message):
        flows.build_multiscale_flow(**kwargs)
