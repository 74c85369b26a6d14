"""Checks for lesson 11 (other GANs): InfoGAN's codes and mutual-information bound, the SSGAN's two losses;
lesson 11c (improving GAN training): the minibatch-discrimination features."""
import math

import numpy as np

from course_lib.checks.core import CheckFailed, as_array, as_number, call_student, passed


def check_sample_codes(sample_codes):
    """sample_codes(batch_size, num_categories, num_continuous, rng) -> (c_cat (N, K) one-hot, c_cont (N, M) ~ U(-1, 1))."""
    n, k, m = 20000, 10, 2
    result = call_student(sample_codes, n, k, m, np.random.default_rng(0), exercise="Exercise 1")
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise CheckFailed("sample_codes should return two arrays, (c_cat, c_cont): the one-hot categorical "
                          "codes and the continuous codes.")
    c_cat, c_cont = as_array(result[0]), as_array(result[1])
    if c_cat.shape != (n, k):
        extra = (" It looks like category numbers: turn them into one-hot rows, e.g. np.eye(num_categories)[k]."
                 if c_cat.shape in ((n,), (n, 1)) else "")
        raise CheckFailed(f"c_cat has shape {c_cat.shape} for batch_size={n}, num_categories={k}; it should be "
                          f"{(n, k)}, one one-hot row per example.{extra}")
    if not (np.all(np.isin(c_cat, (0.0, 1.0))) and np.all(c_cat.sum(axis=1) == 1)):
        raise CheckFailed("every row of c_cat must be one-hot: a single 1 (the category) and zeros elsewhere.")
    freq = c_cat.mean(axis=0)
    if np.abs(freq - 1 / k).max() > 0.015:
        raise CheckFailed(f"the categories occur with frequencies {np.round(freq, 3)}; InfoGAN's categorical code is "
                          f"uniform, each of the {k} categories with probability {1 / k:.2g}.")
    if c_cont.shape != (n, m):
        raise CheckFailed(f"c_cont has shape {c_cont.shape}; it should be {(n, m)} (batch_size, num_continuous).")
    low, high, mean, var = c_cont.min(), c_cont.max(), c_cont.mean(), c_cont.var()
    if low < -1 or high > 1 or abs(mean) > 0.03 or abs(var - 1 / 3) > 0.03:
        hint = " The continuous codes are uniform on [-1, 1]: rng.uniform(-1, 1, size=(batch_size, num_continuous))."
        if low >= 0:
            hint += " Yours are all >= 0 (uniform on [0, 1]?)."
        elif low < -1 or high > 1:
            hint += " Yours leave [-1, 1] (a normal distribution?)."
        raise CheckFailed(f"c_cont has values in [{low:.3g}, {high:.3g}], mean {mean:.3g} and variance {var:.3g}; "
                          f"U(-1, 1) has mean 0 and variance 1/3.{hint}")
    return passed("check_sample_codes", 1)


def check_mi_lower_bound(mi_lower_bound):
    """mi_lower_bound(c_cat (N, K) one-hot, q_cat (N, K) Q's softmax) = mean_i log Q(c_i | x_i) + log K."""
    rng = np.random.default_rng(11)
    codes = rng.integers(0, 10, 8)
    cases = [
        ("a random Q over 10 categories", np.eye(10)[codes], rng.dirichlet(np.ones(10), 8)),
        ("two categories, by hand", np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[0.8, 0.2], [0.4, 0.6]])),
        ("Q reads every code exactly", np.eye(10)[codes], np.eye(10)[codes] * (1 - 9e-7) + 1e-7),
        ("Q is uniform (it reads nothing)", np.eye(10)[codes], np.full((8, 10), 0.1)),
    ]
    for name, c_cat, q_cat in cases:
        got = as_number(call_student(mi_lower_bound, c_cat.astype("float32"), q_cat.astype("float32"),
                                     exercise="Exercise 2"), "the lower bound L_I")
        log_q = np.log(np.sum(c_cat * q_cat, axis=1))  # (N,) log Q(c_i | x_i)
        entropy = math.log(c_cat.shape[1])
        want = log_q.mean() + entropy
        if not np.isclose(got, want, atol=1e-4):
            raise CheckFailed(f"for {name} (K={c_cat.shape[1]}) your L_I is {got:.5g}; it should be {want:.5g}."
                              + _bound_hint(got, log_q, entropy))
    return passed("check_mi_lower_bound", len(cases))


def _bound_hint(got, log_q, entropy):
    if np.isclose(got, log_q.mean(), atol=1e-4):
        return (" You return E[log Q(c | x)] alone: add the entropy of the code, H(c) = log K for a uniform "
                "K-way code.")
    if np.isclose(got, -log_q.mean(), atol=1e-4) or np.isclose(got, -log_q.mean() - entropy, atol=1e-4):
        return " The sign is flipped: log Q(c | x) is a log-probability (<= 0); -log Q is the cross-entropy loss."
    if np.isclose(got, log_q.sum() + entropy, atol=1e-4):
        return " You summed log Q over the batch: L_I holds the average, E[log Q(c | x)]."
    if np.isclose(got, (log_q.mean() + entropy) / math.log(2), atol=1e-4):
        return " Use natural logarithms (np.log / keras.ops.log), as the course's losses do, not log2."
    return " Pick Q's probability of the true code with the one-hot c: log Q(c | x) = sum_k c_k log q_k."


def _k_plus_1_parts(logits_labelled, labels, logits_unlabelled, logits_fake):
    """The reference: an explicit (K + 1)-way softmax, the fake class's logit appended as 0."""
    def log_probs(logits):
        extended = np.concatenate([logits, np.zeros((len(logits), 1))], axis=1)  # (N, K + 1)
        return extended - np.logaddexp.reduce(extended, axis=1, keepdims=True)

    lab, unl, fake = log_probs(logits_labelled), log_probs(logits_unlabelled), log_probs(logits_fake)
    log_real_lab = np.log1p(-np.exp(lab[:, -1]))  # log p(real | x) on the labelled images
    sup = -np.mean(lab[np.arange(len(labels)), labels] - log_real_lab)  # -E log p(y | x, real)
    unsup = -np.mean(np.log1p(-np.exp(unl[:, -1]))) - np.mean(fake[:, -1])  # -E log D(x) - E log(1 - D(G(z)))
    wrong = {"k_plus_1": -np.mean(lab[np.arange(len(labels)), labels]),
             "fake_flipped": -np.mean(np.log1p(-np.exp(unl[:, -1]))) - np.mean(np.log1p(-np.exp(fake[:, -1]))),
             "real_only": -np.mean(np.log1p(-np.exp(unl[:, -1])))}
    return sup, unsup, wrong


def check_ssgan_losses(ssgan_losses):
    """ssgan_losses(logits_labelled, labels, logits_unlabelled, logits_fake) -> (L_sup, L_unsup), K logits each."""
    rng = np.random.default_rng(12)
    cases = [(rng.normal(0, 2, (6, 10)), rng.integers(0, 10, 6), rng.normal(1, 2, (5, 10)), rng.normal(-1, 2, (7, 10))),
             (np.array([[2.0, -1.0], [0.5, 0.5]]), np.array([0, 1]), np.array([[3.0, 1.0]]), np.array([[-2.0, 0.0]]))]
    for logits_lab, labels, logits_unl, logits_fake in cases:
        result = call_student(ssgan_losses, logits_lab.astype("float32"), labels, logits_unl.astype("float32"),
                              logits_fake.astype("float32"), exercise="Exercise 3")
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise CheckFailed("ssgan_losses should return two numbers, (L_sup, L_unsup).")
        got_sup, got_unsup = as_number(result[0], "L_sup"), as_number(result[1], "L_unsup")
        sup, unsup, wrong = _k_plus_1_parts(logits_lab, labels, logits_unl, logits_fake)
        k = logits_lab.shape[1]
        if not np.isclose(got_sup, sup, atol=1e-4):
            hint = ""
            if np.isclose(got_sup, wrong["k_plus_1"], atol=1e-4):
                hint = (" You used the softmax over all K + 1 classes: the labelled image is known to be real, so "
                        "L_sup uses p(y | x, real), the softmax over the K class logits alone.")
            raise CheckFailed(f"for K={k} classes your L_sup is {got_sup:.5g}; it should be {sup:.5g}.{hint}")
        if not np.isclose(got_unsup, unsup, atol=1e-4):
            hint = (" With Z = sum_k exp(l_k): D(x) = Z / (Z + 1), so -log D(x) = softplus(-logsumexp(l)) and "
                    "-log(1 - D(x)) = softplus(logsumexp(l)).")
            if np.isclose(got_unsup, wrong["fake_flipped"], atol=1e-4):
                hint = (" Your fake term is -log D(G(z)): D must call generated images fake, so the term is "
                        "-log(1 - D(G(z))) = -log p(fake | G(z)).")
            elif np.isclose(got_unsup, wrong["real_only"], atol=1e-4):
                hint = " Your L_unsup misses the generated images' term, -E log(1 - D(G(z)))."
            raise CheckFailed(f"for K={k} classes your L_unsup is {got_unsup:.5g}; it should be {unsup:.5g}.{hint}")
    return passed("check_ssgan_losses", len(cases))


# ----- lesson 11c: minibatch discrimination ----------------------------------------------------
def _minibatch_reference(h, T):
    """o(x_i)_b = sum_j exp(-sum_c |M_ibc - M_jbc|), M_i = h_i T, with plain loops (and the usual mistakes)."""
    m = np.einsum("na,abc->nbc", h, T)  # (N, B, C)
    n, b = m.shape[:2]
    l1, l2 = np.zeros((n, n, b)), np.zeros((n, n, b))
    for i in range(n):
        for j in range(n):
            l1[i, j] = np.abs(m[i] - m[j]).sum(axis=1)  # (B,) L1 distance of each kernel's rows
            l2[i, j] = np.sqrt(((m[i] - m[j]) ** 2).sum(axis=1))
    right = np.exp(-l1).sum(axis=1)  # (N, B)
    wrong = {"l2": np.exp(-l2).sum(axis=1), "no_self": right - 1.0, "mean": np.exp(-l1).mean(axis=1),
             "no_minus": np.exp(l1).sum(axis=1)}
    return right, wrong


_MINIBATCH_HINTS = {
    "l2": "You used the Euclidean (L2) distance: the kernel compares rows with the L1 distance, "
          "||M_i,b - M_j,b||_1 = sum over the C numbers of |M_i,b,c - M_j,b,c|.",
    "no_self": "Your values are 1 smaller: the sum over j runs over the whole batch, j = i included "
               "(an example compared with itself adds exp(0) = 1).",
    "mean": "You averaged over j: o(x_i)_b is the *sum* over the batch, so a batch of near-copies gives about N.",
    "no_minus": "The closeness is exp(-distance), which is 1 for identical rows and falls towards 0 for distant ones.",
}


def check_minibatch_features(minibatch_features):
    """minibatch_features(h (N, A), T (A, B, C)) -> o (N, B), o_ib = sum_j exp(-||M_i,b - M_j,b||_1), M_i = h_i T."""
    rng = np.random.default_rng(14)
    cases = [("a random batch (N=6, A=4, B=3, C=2)", rng.normal(size=(6, 4)), rng.normal(0, 0.5, (4, 3, 2))),
             ("three numbers 0, 1, 3 with T = 1 (A = B = C = 1)", np.array([[0.0], [1.0], [3.0]]), np.ones((1, 1, 1))),
             ("a batch of identical rows (N=5)", np.tile(rng.normal(size=(1, 3)), (5, 1)), rng.normal(size=(3, 2, 4)))]
    for name, h, T in cases:
        got = as_array(call_student(minibatch_features, h.astype("float32"), T.astype("float32"),
                                    exercise="Exercise 1"))
        want, wrong = _minibatch_reference(h, T)
        if got.shape != want.shape:
            raise CheckFailed(f"for {name} your features have shape {got.shape}; they should have shape {want.shape}: "
                              "one number per example and per kernel b, (N, B). Sum the absolute differences over "
                              "the C numbers of a row and the closeness over the batch (j), not over the kernels.")
        if not np.allclose(got, want, rtol=1e-4, atol=1e-5):
            hint = next((text for key, text in _MINIBATCH_HINTS.items()
                         if np.allclose(got, wrong[key], rtol=1e-4, atol=1e-5)),
                        "Compute M = h T (an einsum 'na,abc->nbc'), then the L1 distance of every pair of rows "
                        "per kernel, then sum exp(-distance) over j.")
            raise CheckFailed(f"for {name} your features are {np.round(got, 4).tolist()}; they should be "
                              f"{np.round(want, 4).tolist()}. {hint}")
    return passed("check_minibatch_features", len(cases))


# ----- lesson 11c: the historical-averaging penalty --------------------------------------------
def check_historical_penalty(historical_penalty):
    """historical_penalty(weights, averages) = sum over the tensors of ||theta - theta_bar||^2 (one number)."""
    rng = np.random.default_rng(15)
    cases = [("a kernel (3, 2) and a bias (2,)", [rng.normal(size=(3, 2)), rng.normal(size=(2,))],
              [rng.normal(size=(3, 2)), rng.normal(size=(2,))]),
             ("one tensor [3, 4] against [0, 0] (by hand: 9 + 16 = 25)", [np.array([3.0, 4.0])], [np.zeros(2)]),
             ("three tensors", [rng.normal(size=(4,)), rng.normal(size=(2, 2)), rng.normal(size=(1,))],
              [rng.normal(size=(4,)), rng.normal(size=(2, 2)), rng.normal(size=(1,))])]
    for name, weights, averages in cases:
        got = as_number(call_student(historical_penalty, [w.astype("float32") for w in weights],
                                     [a.astype("float32") for a in averages], exercise="Exercise 2"), "the penalty")
        squares = [np.sum((w - a) ** 2) for w, a in zip(weights, averages)]  # one ||.||^2 per tensor
        want = sum(squares)
        if not np.isclose(got, want, rtol=1e-4, atol=1e-6):
            hint = "Subtract the average from each weight tensor, square, and sum over every entry of every tensor."
            if np.isclose(got, np.sqrt(want), rtol=1e-4) or np.isclose(got, sum(np.sqrt(squares)), rtol=1e-4):
                hint = "You took the norm itself: the penalty is its *square*, ||theta - theta_bar||^2."
            elif np.isclose(got, want / sum(w.size for w in weights), rtol=1e-4) or np.isclose(
                    got, np.mean([np.mean((w - a) ** 2) for w, a in zip(weights, averages)]), rtol=1e-4):
                hint = "You averaged: the penalty is the *sum* of the squared differences over every weight."
            elif len(weights) > 1 and np.isclose(got, squares[0], rtol=1e-4):
                hint = "Only the first tensor counts in yours: theta is every weight tensor of the player: sum all."
            raise CheckFailed(f"for {name} your penalty is {got:.6g}; it should be {want:.6g}. {hint}")
    return passed("check_historical_penalty", len(cases))
