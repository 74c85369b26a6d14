"""Layers that let a discriminator look at the whole batch, not one example at a time.

A generator that has collapsed onto a few outputs makes batches whose examples look alike. A D that
judges each example alone cannot see that; these layers give it a feature of the batch (Salimans et
al. 2016, "Improved techniques for training GANs"; Karras et al. 2018 for the minibatch std):

    MinibatchStd:             (N, F) -> (N, F + 1)  the features' standard deviation across the batch,
                                                   averaged into one number and appended to every row
    MinibatchDiscrimination:  (N, A) -> (N, A + B)  for each of B kernels, how close example i is to
                                                   the others: o(x_i)_b = sum_j exp(-||M_i,b - M_j,b||_1)

VirtualBatchNorm does the opposite: a batch normalisation whose statistics come from a fixed
reference batch (plus the example itself), so that an example's output does not depend on the other
examples of its batch.
"""
import keras
from keras import layers, ops


class MinibatchStd(layers.Layer):
    """Append the batch's average feature standard deviation as one more feature: (N, F) -> (N, F + 1)."""

    def call(self, h):
        spread = ops.mean(ops.std(h, axis=0))  # one number per batch
        return ops.concatenate([h, ops.ones_like(h[:, :1]) * spread], axis=1)


class MinibatchDiscrimination(layers.Layer):
    """Salimans et al.'s minibatch features: (N, A) -> (N, A + num_kernels).

    A learned tensor T (A, B, C) maps each example's features f(x_i) (A,) to B rows of C numbers,
    M_i = f(x_i) T  (B, C). Kernel b compares row b of every pair of examples with an L1 distance:

        c_b(x_i, x_j) = exp(-||M_i,b - M_j,b||_1),      o(x_i)_b = sum_j c_b(x_i, x_j)

    (the sum runs over the whole batch, j = i included, which adds exp(0) = 1). The o(x_i) are
    appended to f(x_i): a batch of near-copies gives every o(x_i)_b close to N, a varied batch much less.
    """

    def __init__(self, num_kernels=5, kernel_dim=3, **kwargs):
        super().__init__(**kwargs)
        self.num_kernels, self.kernel_dim = num_kernels, kernel_dim

    def build(self, input_shape):
        self.T = self.add_weight(shape=(input_shape[-1], self.num_kernels, self.kernel_dim),
                                 initializer=keras.initializers.RandomNormal(stddev=0.1), name="T")

    def call(self, h):
        return ops.concatenate([h, minibatch_features(h, self.T)], axis=1)  # (N, A + B)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + self.num_kernels)

    def get_config(self):
        return {**super().get_config(), "num_kernels": self.num_kernels, "kernel_dim": self.kernel_dim}


def minibatch_features(h, T):
    """o(x_i)_b = sum_j exp(-||M_i,b - M_j,b||_1) with M_i = h_i T: h (N, A), T (A, B, C) -> (N, B)."""
    m = ops.einsum("na,abc->nbc", h, T)  # (N, B, C): M_i,b = sum_a h_ia T_abc
    l1 = ops.sum(ops.abs(m[:, None] - m[None, :]), axis=-1)  # (N, N, B): ||M_i,b - M_j,b||_1
    return ops.sum(ops.exp(-l1), axis=1)  # (N, B): sum over j, j = i included


class VirtualBatchNorm(layers.Layer):
    """Batch normalisation with the statistics of a fixed reference batch and the example itself.

    For example x (F,), with mu_ref and s_ref the mean and the mean square of the reference batch's
    features (R examples, computed once by `set_reference`):

        mu(x) = (R mu_ref + x) / (R + 1),   s(x) = (R s_ref + x^2) / (R + 1),   var(x) = s(x) - mu(x)^2
        VBN(x) = gamma (x - mu(x)) / sqrt(var(x) + epsilon) + beta

    Nothing in the output of example i depends on the other examples of its batch. In a deep
    network every VBN layer needs the reference batch's features *at that layer*, which change as
    the earlier layers train: the reference batch goes through the network again at every step
    (Salimans et al. therefore used VBN in the generator only). This layer keeps the reference
    statistics of its own input, set with `set_reference(h_ref)`.
    """

    def __init__(self, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def build(self, input_shape):
        features = (input_shape[-1],)
        self.gamma = self.add_weight(shape=features, initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=features, initializer="zeros", name="beta")
        self.ref_mean = self.add_weight(shape=features, initializer="zeros", trainable=False, name="ref_mean")
        self.ref_square = self.add_weight(shape=features, initializer="ones", trainable=False, name="ref_square")
        self.ref_size = self.add_weight(shape=(), initializer="zeros", trainable=False, name="ref_size")

    def set_reference(self, h_ref):
        """Keep the mean and mean square of the reference batch's features h_ref (R, F)."""
        h_ref = ops.convert_to_tensor(h_ref, "float32")
        if not self.built:
            self.build(h_ref.shape)
        self.ref_mean.assign(ops.mean(h_ref, axis=0))  # mu_ref (F,)
        self.ref_square.assign(ops.mean(h_ref**2, axis=0))  # s_ref (F,)
        self.ref_size.assign(ops.cast(ops.shape(h_ref)[0], "float32"))  # R

    def call(self, h):
        r = self.ref_size
        mean = (r * self.ref_mean + h) / (r + 1.0)  # (N, F): mu(x) = (R mu_ref + x) / (R + 1)
        square = (r * self.ref_square + h**2) / (r + 1.0)  # (N, F): s(x) = (R s_ref + x^2) / (R + 1)
        variance = ops.maximum(square - mean**2, 0.0)  # var(x) = s(x) - mu(x)^2
        return self.gamma * (h - mean) / ops.sqrt(variance + self.epsilon) + self.beta

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}
