"""Lesson 01 helpers: the sprinkler network by enumeration, the FVSBN and sequential sampling."""
import itertools
import math

import keras
import numpy as np
import pytest
from keras import ops

from course_lib import autoregressive as ar
from course_lib import backend

# Hand computation from the lecture's tables (R = rain, S = sprinkler, G = grass wet):
# P(G) = 0.2*0.01*0.99 + 0.2*0.99*0.8 + 0.8*0.4*0.9 + 0.8*0.6*0.0 = 0.44838
# P(R, G) = 0.00198 + 0.1584 = 0.16038
P_WET = 0.44838
P_RAIN_AND_WET = 0.16038


def test_sprinkler_joint_entries_and_normalisation():
    assert ar.sprinkler_joint(True, False, True) == pytest.approx(0.2 * 0.99 * 0.8)
    assert ar.sprinkler_joint(False, True, False) == pytest.approx(0.8 * 0.4 * 0.1)
    assert ar.sprinkler_joint(False, False, True) == 0.0  # nothing wets the grass
    total = sum(ar.sprinkler_joint(*v) for v in itertools.product([False, True], repeat=3))
    assert total == pytest.approx(1.0)


def test_enumeration_posterior_and_marginals():
    p = ar.enumerate_probability(ar.sprinkler_joint, {"rain": True}, {"grass_wet": True})
    assert p == pytest.approx(P_RAIN_AND_WET / P_WET)  # 0.3577
    assert ar.enumerate_probability(ar.sprinkler_joint, {"grass_wet": True}) == pytest.approx(P_WET)
    assert ar.enumerate_probability(ar.sprinkler_joint, {"sprinkler": True}) == pytest.approx(0.322)
    assert ar.enumerate_probability(ar.sprinkler_joint, {"rain": True}) == pytest.approx(0.2)


def test_enumeration_rejects_unknown_or_impossible_evidence():
    with pytest.raises(ValueError, match="unknown variable"):
        ar.enumerate_probability(ar.sprinkler_joint, {"snow": True})
    impossible = {"rain": False, "sprinkler": False, "grass_wet": True}
    with pytest.raises(ValueError, match="probability zero"):
        ar.enumerate_probability(ar.sprinkler_joint, {"rain": True}, impossible)


def test_parameter_counts():
    assert ar.full_table_parameters(3) == 7
    assert ar.bayes_net_parameters([0, 1, 2]) == 7  # the sprinkler net has every edge
    assert ar.bayes_net_parameters([0, 1, 1, 1]) == 7 and ar.full_table_parameters(4) == 15


def test_autoregressive_mask_is_strictly_upper_triangular():
    np.testing.assert_array_equal(ar.autoregressive_mask(5), np.triu(np.ones((5, 5)), k=1))
    with pytest.raises(ValueError, match="n_dims"):
        ar.autoregressive_mask(0)


def test_fvsbn_jacobian_is_strictly_triangular():
    keras.utils.set_random_seed(0)
    model = ar.build_fvsbn(10)
    x = np.random.default_rng(0).normal(size=(3, 10)).astype("float32")
    # Samples are independent, so row i of sample 0's Jacobian is d(sum over the batch of logit i)/dx[0].
    rows = [backend.gradient(lambda x, i=i: ops.sum(model(x)[:, i]), x) for i in range(10)]
    jac = np.stack([ops.convert_to_numpy(row)[0] for row in rows])  # (out i, in j)
    assert np.all(jac[np.triu_indices(10)] == 0.0)  # output i never sees input j >= i
    assert np.all(jac[np.tril_indices(10, k=-1)] != 0.0)  # and sees every j < i


def test_fvsbn_nll_matches_logistic_regressions():
    keras.utils.set_random_seed(1)
    model = ar.build_fvsbn(6)
    kernel, bias = (w.astype("float64") for w in model.get_weights())
    x = (np.random.default_rng(1).random((4, 6)) < 0.5).astype("float32")
    log_p = np.zeros(4)
    for i in range(6):  # p(x_i = 1 | x_<i) = sigmoid(b_i + sum_{j<i} W_ji x_j)
        p1 = 1.0 / (1.0 + np.exp(-(bias[i] + x[:, :i] @ kernel[:i, i])))
        log_p += np.where(x[:, i] == 1, np.log(p1), np.log(1 - p1))
    assert ar.dataset_nll(model, x) == pytest.approx(-log_p.mean(), rel=1e-5)


def copy_chain(n_dims, first_logit):
    """FVSBN where x_0 ~ Bernoulli(sigmoid(first_logit)) and each x_i copies x_{i-1} (almost surely)."""
    model = ar.build_fvsbn(n_dims)
    kernel = np.zeros((n_dims, n_dims), "float32")
    kernel[np.arange(n_dims - 1), np.arange(1, n_dims)] = 40.0
    bias = np.full(n_dims, -20.0, "float32")
    bias[0] = first_logit
    model.set_weights([kernel, bias])
    return model


@pytest.mark.parametrize("first_logit, value", [(20.0, 1.0), (-20.0, 0.0)])
def test_sampling_is_sequential(first_logit, value):
    # Sampling all pixels at once from the empty image would give x_0 then zeros.
    out = ar.sample(copy_chain(12, first_logit), 3, verbose=0)
    np.testing.assert_array_equal(out, np.full((3, 12), value, "float32"))


def test_sample_frequencies_follow_the_model():
    model = ar.build_fvsbn(4)
    model.set_weights([np.zeros((4, 4), "float32"), np.log(np.array([1, 3, 1 / 3, 1], "float32"))])
    out = ar.sample(model, 4000, seed=0, verbose=0)  # independent pixels, p = 1/2, 3/4, 1/4, 1/2
    np.testing.assert_allclose(out.mean(axis=0), [0.5, 0.75, 0.25, 0.5], atol=0.03)


def test_sample_argument_errors():
    model = ar.build_fvsbn(4)
    with pytest.raises(ValueError, match="n must be"):
        ar.sample(model, 0, verbose=0)
    with pytest.raises(ValueError, match="x_start"):
        ar.sample(model, x_start=np.zeros((2, 5)), verbose=0)


def test_fit_reports_nats_per_image_and_rejects_bad_binarize():
    keras.utils.set_random_seed(2)
    model = ar.build_fvsbn(8)
    x = np.full((32, 8), 0.5, "float32")
    history = ar.fit(model, x, epochs=1, batch_size=32, verbose=0)
    # an untrained FVSBN with zero bias and small weights is close to 8 * ln 2 nats per image
    assert history["loss"][0] == pytest.approx(8 * math.log(2.0), rel=0.2)
    with pytest.raises(ValueError, match="binarize"):
        ar.fit(model, x, binarize="median", verbose=0)
