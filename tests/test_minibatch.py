"""course_lib.minibatch: each batch layer against a NumPy computation written with plain loops."""
import keras
import numpy as np

from course_lib import minibatch


def numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x), dtype=np.float64)


def test_minibatch_discrimination_appends_the_closeness_to_every_example():
    rng = np.random.default_rng(0)
    h = rng.normal(size=(5, 4)).astype("float32")
    layer = minibatch.MinibatchDiscrimination(num_kernels=3, kernel_dim=2)
    out = numpy(layer(h))
    T = numpy(layer.T)  # (4, 3, 2)
    want = np.zeros((5, 3))
    for i in range(5):
        for j in range(5):
            for b in range(3):
                m_i, m_j = h[i] @ T[:, b, :], h[j] @ T[:, b, :]  # (2,) row b of M_i and M_j
                want[i, b] += np.exp(-np.sum(np.abs(m_i - m_j)))  # c_b(x_i, x_j)
    np.testing.assert_allclose(out[:, :4], h, rtol=1e-6)  # the features pass through
    np.testing.assert_allclose(out[:, 4:], want, rtol=1e-5)
    assert layer.compute_output_shape((None, 4)) == (None, 7)


def test_a_batch_of_copies_gets_n_and_distant_examples_get_one():
    layer = minibatch.MinibatchDiscrimination(num_kernels=2, kernel_dim=3)
    copies = np.tile(np.array([[0.3, -1.0, 2.0]], "float32"), (6, 1))
    np.testing.assert_allclose(numpy(layer(copies))[:, 3:], 6.0, rtol=1e-6)  # exp(0) six times
    far = 1e3 * np.eye(3, dtype="float32")  # three examples far apart: only the example itself counts
    layer_far = minibatch.MinibatchDiscrimination(num_kernels=2, kernel_dim=3)
    layer_far.build((None, 3))
    layer_far.T.assign(np.ones((3, 2, 3), "float32") * np.array([1.0, 2.0, 3.0])[:, None, None])
    np.testing.assert_allclose(numpy(layer_far(far))[:, 3:], 1.0, atol=1e-6)


def test_minibatch_std_appends_the_mean_population_std():
    h = np.random.default_rng(1).normal(size=(7, 3)).astype("float32")
    out = numpy(minibatch.MinibatchStd()(h))
    spread = np.mean([np.sqrt(np.mean((h[:, f] - h[:, f].mean()) ** 2)) for f in range(3)])
    np.testing.assert_allclose(out[:, :3], h, rtol=1e-6)
    np.testing.assert_allclose(out[:, 3], spread, rtol=1e-5)


def vbn_by_hand(x, reference, gamma, beta, epsilon):
    """Normalise x (F,) with the statistics of the R reference rows and x itself, one feature at a time."""
    out = np.zeros_like(x, dtype=np.float64)
    for f in range(len(x)):
        column = np.append(reference[:, f], x[f])  # R + 1 numbers
        out[f] = gamma[f] * (x[f] - column.mean()) / np.sqrt(column.var() + epsilon) + beta[f]
    return out


def test_virtual_batch_norm_does_not_depend_on_the_other_examples():
    rng = np.random.default_rng(2)
    reference = rng.normal(1.0, 2.0, (16, 3)).astype("float32")
    layer = minibatch.VirtualBatchNorm()
    layer.set_reference(reference)
    layer.gamma.assign(np.array([1.0, 2.0, 0.5], "float32"))
    layer.beta.assign(np.array([0.0, -1.0, 3.0], "float32"))
    x = rng.normal(size=(4, 3)).astype("float32")
    others = rng.normal(5.0, 10.0, (9, 3)).astype("float32")  # very different neighbours
    alone = numpy(layer(x[:1]))[0]
    in_batch = numpy(layer(x))[0]
    with_others = numpy(layer(np.concatenate([x[:1], others])))[0]
    want = vbn_by_hand(x[0], reference, [1.0, 2.0, 0.5], [0.0, -1.0, 3.0], layer.epsilon)
    np.testing.assert_allclose(alone, want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(in_batch, want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(with_others, want, rtol=1e-4, atol=1e-5)
    # batch normalisation in training mode, by contrast, moves with the neighbours
    bn = keras.layers.BatchNormalization()
    moved = numpy(bn(x, training=True))[0] - numpy(bn(np.concatenate([x[:1], others]), training=True))[0]
    assert np.abs(moved).max() > 0.1
