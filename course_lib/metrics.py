"""Judging generators: Inception score, FID, KID, novelty and label accuracy.

The lectures ask three things of generated data: *novel* (not copies of the
training set; nearest-neighbour distances), *same distribution* (FID, KID and,
partly, the Inception score) and *meaningful* (human judgement; the label
accuracy of a conditional generator is a proxy). Everything here works on
NumPy arrays in float64: class probabilities from a classifier, or feature
vectors from a network's penultimate layer (the course's MNIST evaluator, see
`course_lib.evaluator`, or InceptionV3's 2048 pool features for RGB images).
"""
import os
import warnings
from pathlib import Path

import numpy as np
import scipy.linalg

from course_lib import novelty

INCEPTION_NOTOP_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
INCEPTION_NOTOP_URL = ("https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/"
                       + INCEPTION_NOTOP_FILE)


# ----------------------------------------------------------------------------- Inception score

def inception_score(probs, splits=10):
    """IS = exp(E_x KL(p(y|x) || p(y))) on each of `splits` parts; returns (mean, std).

    `probs`: (N, C) class probabilities of N generated images. Computed in float64 from
    log-probabilities; a zero probability contributes 0 (the limit of p log p), never log 0.
    """
    p_yx = _check_probs(probs)
    if not 1 <= int(splits) <= len(p_yx):
        raise ValueError(f"splits={splits} must be between 1 and the number of samples ({len(p_yx)}).")
    scores = [_split_inception_score(part) for part in np.array_split(p_yx, int(splits))]
    return float(np.mean(scores)), float(np.std(scores))


def _split_inception_score(p_yx):
    p_y = p_yx.mean(axis=0)  # (C,) marginal p(y) = E_x p(y|x)
    log_p_yx = np.log(np.where(p_yx > 0, p_yx, 1.0))  # log p(y|x), 0 where p(y|x) = 0
    log_p_y = np.log(np.where(p_y > 0, p_y, 1.0))  # p(y) = 0 only where every p(y|x) = 0
    kl = np.sum(p_yx * (log_p_yx - log_p_y), axis=1)  # (n,) KL(p(y|x) || p(y))
    return float(np.exp(np.mean(kl)))  # exp(E_x KL)


def _check_probs(probs):
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or len(p) == 0:
        raise ValueError(f"probs must be a non-empty (N, C) array of class probabilities; got shape {p.shape}.")
    if not np.all(np.isfinite(p)) or p.min() < 0:
        raise ValueError("probs must be finite and non-negative (did you pass logits or log-probabilities?).")
    row_sums = p.sum(axis=1)
    if not np.allclose(row_sums, 1.0, atol=1e-3):
        raise ValueError(f"each row of probs must sum to 1; row sums range over "
                         f"[{row_sums.min():.4g}, {row_sums.max():.4g}] (apply a softmax first).")
    return p / row_sums[:, None]


# ----------------------------------------------------------------------------- Fréchet distance

def feature_statistics(features):
    """Mean (D,) and unbiased covariance (D, D) (ddof=1) of (N, D) features, in float64."""
    f = np.asarray(features, dtype=np.float64)
    f = f.reshape(len(f), -1)  # (N, D)
    if len(f) < 2:
        raise ValueError(f"feature_statistics needs at least 2 samples; got {len(f)}.")
    return f.mean(axis=0), np.cov(f, rowvar=False, ddof=1)


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """Fréchet distance between the Gaussians N(mu1, sigma1) and N(mu2, sigma2).

    d^2 = ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)). The matrix square root comes from
    scipy.linalg.sqrtm. When S1 S2 is singular (e.g. fewer samples than dimensions) sqrtm is
    inexact or complex, and the trace is taken instead from the symmetric form
    Tr((S1 S2)^(1/2)) = Tr((S1^(1/2) S2 S1^(1/2))^(1/2)), whose eigenvalues eigh finds exactly
    for positive semi-definite covariances (`_trace_sqrt_symmetric`). A negligible imaginary
    part of sqrtm (round-off) is dropped; a large one raises ValueError.
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    _check_gaussian(mu1, sigma1, "1")
    _check_gaussian(mu2, sigma2, "2")
    if mu1.shape != mu2.shape:
        raise ValueError(f"mu1 has shape {mu1.shape} but mu2 has shape {mu2.shape}.")
    diff = mu1 - mu2
    covmean, singular = _sqrtm(sigma1 @ sigma2)  # (S1 S2)^(1/2)
    if singular or not np.all(np.isfinite(covmean)) or _is_singular(sigma1) or _is_singular(sigma2):
        tr_covmean = _trace_sqrt_symmetric(sigma1, sigma2)
    else:
        if np.iscomplexobj(covmean):
            largest = np.max(np.abs(covmean.imag))
            if largest > 1e-3 * max(1.0, np.max(np.abs(covmean.real))):
                raise ValueError(f"the square root of sigma1 @ sigma2 has an imaginary part of {largest:.3g}: "
                                 f"are both covariances symmetric positive semi-definite?")
            covmean = covmean.real
        tr_covmean = np.trace(covmean)
    # ||mu1 - mu2||^2 + Tr(S1) + Tr(S2) - 2 Tr((S1 S2)^(1/2))
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr_covmean)


def _is_singular(sigma):
    """True when a covariance's smallest eigenvalue is zero up to round-off (relative to its largest).

    A clearly negative eigenvalue is not "singular": sqrtm then gives a large imaginary part, which raises.
    """
    values = np.linalg.eigvalsh((sigma + sigma.T) / 2)  # ascending
    return abs(values[0]) <= abs(values[-1]) * len(values) * np.finfo(np.float64).eps


def _trace_sqrt_symmetric(sigma1, sigma2):
    """Tr((S1 S2)^(1/2)) from symmetric eigenproblems, exact for singular covariances too.

    With S1 = V W V^T (eigh), S1 S2 has the eigenvalues of W^(1/2) V^T S2 V W^(1/2), a symmetric
    positive semi-definite matrix, so Tr((S1 S2)^(1/2)) is the sum of the square roots of its
    eigenvalues. Eigenvalues of S1 below round-off (max * D * machine epsilon) are zeros that
    round-off made non-zero; they are dropped, so the r x r problem lives in the range of S1 and
    the square root never amplifies round-off into the result.
    """
    w, v = np.linalg.eigh((sigma1 + sigma1.T) / 2)
    keep = w > w.max() * len(w) * np.finfo(np.float64).eps  # the range of S1: r eigenvalues
    half = np.sqrt(w[keep])  # W_r^(1/2): (r,)
    v = v[:, keep]  # (D, r)
    middle = half[:, None] * (v.T @ sigma2 @ v) * half[None, :]  # W_r^(1/2) V_r^T S2 V_r W_r^(1/2): (r, r)
    eigenvalues = np.linalg.eigvalsh((middle + middle.T) / 2)
    return float(np.sum(np.sqrt(np.clip(eigenvalues, 0, None))))


def _sqrtm(matrix):
    """scipy.linalg.sqrtm, reporting (instead of printing) that the matrix was singular."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", scipy.linalg.LinAlgWarning)
        root = scipy.linalg.sqrtm(matrix)
    return root, any(issubclass(w.category, scipy.linalg.LinAlgWarning) for w in caught)


def _check_gaussian(mu, sigma, which):
    if mu.ndim != 1 or sigma.shape != (len(mu), len(mu)):
        raise ValueError(f"mu{which} must be (D,) and sigma{which} (D, D); got {mu.shape} and {sigma.shape}.")
    if not (np.all(np.isfinite(mu)) and np.all(np.isfinite(sigma))):
        raise ValueError(f"mu{which} and sigma{which} must be finite.")


def fid_from_features(features1, features2):
    """FID between two sets of features (N1, D) and (N2, D): Fréchet distance of their Gaussian fits.

    With fewer samples than dimensions (e.g. 500 InceptionV3 vectors of 2048 values) the
    covariances are singular and a D x D sqrtm is slow and inexact; the same number then
    comes exactly from the small (N1, N2) matrix of centred samples, see `_trace_sqrt_low_rank`.
    """
    mu1, sigma1 = feature_statistics(features1)
    mu2, sigma2 = feature_statistics(features2)
    if min(len(features1), len(features2)) >= mu1.size:
        return frechet_distance(mu1, sigma1, mu2, sigma2)
    diff = mu1 - mu2
    tr_covmean = _trace_sqrt_low_rank(features1, features2)
    # ||mu1 - mu2||^2 + Tr(S1) + Tr(S2) - 2 Tr((S1 S2)^(1/2))
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr_covmean)


def _trace_sqrt_low_rank(features1, features2):
    """Tr((S1 S2)^(1/2)) = sum of the singular values of A1 A2^T, where S = A^T A.

    A = (F - mean) / sqrt(N - 1) is (N, D). The non-zero eigenvalues of S1 S2 = A1^T A1 A2^T A2
    are those of (A1 A2^T)(A1 A2^T)^T, the squared singular values of the (N1, N2) matrix A1 A2^T.
    """
    a1, a2 = (_centred_scaled(f) for f in (features1, features2))  # (N1, D), (N2, D)
    return float(np.sum(np.linalg.svd(a1 @ a2.T, compute_uv=False)))  # nuclear norm of (N1, N2)


def _centred_scaled(features):
    f = np.asarray(features, dtype=np.float64).reshape(len(features), -1)
    return (f - f.mean(axis=0)) / np.sqrt(len(f) - 1)  # A with A^T A = unbiased covariance


# ----------------------------------------------------------------------------- Kernel Inception Distance

def polynomial_kernel(x, y):
    """k(x, y) = (x.y / d + 1)^3 for all pairs: (N, d), (M, d) -> (N, M)."""
    d = x.shape[1]
    return (x @ y.T / d + 1.0) ** 3


def mmd2_unbiased(x, y):
    """Unbiased estimate of MMD^2 between samples x (m, d) and y (n, d) with the cubic kernel."""
    m, n = len(x), len(y)
    k_xx, k_yy, k_xy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    # sum_{i != j} k(x_i, x_j) / (m (m-1)) + sum_{i != j} k(y_i, y_j) / (n (n-1)) - 2 mean k(x_i, y_j)
    xx = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    yy = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float(xx + yy - 2.0 * k_xy.mean())


def kernel_inception_distance(features1, features2, n_subsets=10, subset_size=1000, seed=0):
    """KID: the unbiased MMD^2 averaged over random subsets; returns (mean, std).

    Unlike FID it has no bias from the sample size, so it can compare a few hundred samples;
    subsets of min(subset_size, N1, N2) rows are drawn without replacement.
    """
    f1 = np.asarray(features1, np.float64).reshape(len(features1), -1)
    f2 = np.asarray(features2, np.float64).reshape(len(features2), -1)
    if f1.shape[1] != f2.shape[1]:
        raise ValueError(f"the feature sets have {f1.shape[1]} and {f2.shape[1]} dimensions.")
    size = min(int(subset_size), len(f1), len(f2))
    if size < 2:
        raise ValueError(f"KID needs at least 2 samples in each set; got {len(f1)} and {len(f2)}.")
    rng = np.random.default_rng(seed)
    values = [mmd2_unbiased(f1[rng.choice(len(f1), size, replace=False)],
                            f2[rng.choice(len(f2), size, replace=False)]) for _ in range(int(n_subsets))]
    return float(np.mean(values)), float(np.std(values))


# ----------------------------------------------------------------------------- InceptionV3 features (RGB)

def inception_weights_path():
    """Where Keras keeps the InceptionV3 no-top weights once downloaded: $KERAS_HOME or ~/.keras."""
    home = os.environ.get("KERAS_HOME") or Path.home() / ".keras"  # keras.utils.get_file's cache
    return Path(home).expanduser() / "models" / INCEPTION_NOTOP_FILE


def inception_extractor(weights="imagenet", image_size=299, allow_download=True):
    """keras.applications.InceptionV3 without its classifier, average-pooled: images -> (N, 2048).

    weights: "imagenet" (Keras cache, downloaded if allowed), a path to the no-top .h5 file, or
    None (random weights: only for testing the plumbing; its FIDs mean nothing).
    """
    import keras

    if weights == "imagenet" and not inception_weights_path().exists():
        if not allow_download:
            raise FileNotFoundError(_missing_weights_message())
    elif weights not in ("imagenet", None) and not Path(weights).exists():
        raise FileNotFoundError(f"InceptionV3 weights file {weights} does not exist. " + _missing_weights_message())
    try:
        return keras.applications.InceptionV3(include_top=False, pooling="avg", weights=weights,
                                              input_shape=(image_size, image_size, 3))
    except Exception as err:  # the download fails when offline
        if weights != "imagenet":
            raise
        raise RuntimeError(f"Could not get the InceptionV3 weights ({type(err).__name__}: {err}). "
                           + _missing_weights_message()) from err


def _missing_weights_message():
    return (f"The ImageNet InceptionV3 weights (no top) are not available offline. "
            f"Download {INCEPTION_NOTOP_URL} and put it at {inception_weights_path()} (the Keras cache), "
            f"or pass its path as weights=...")


def inception_features(images, extractor=None, value_range=(0, 1), batch_size=32, weights="imagenet",
                       image_size=299):
    """InceptionV3 pool features of images (N, H, W, 1 or 3): resized to image_size, RGB, -> (N, 2048)."""
    import keras

    if extractor is None:
        extractor = inception_extractor(weights, image_size)
    size = extractor.input_shape[1]
    x = np.asarray(images, dtype=np.float32)
    if x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise ValueError(f"images must be (N, H, W, 1) or (N, H, W, 3); got shape {x.shape}.")
    low, high = value_range
    out = []
    for start in range(0, len(x), batch_size):
        batch = (x[start:start + batch_size] - low) / (high - low) * 255.0  # -> [0, 255]
        if batch.shape[-1] == 1:
            batch = np.repeat(batch, 3, axis=-1)  # grey -> RGB
        batch = keras.ops.image.resize(batch, (size, size), interpolation="bilinear")  # (N, size, size, 3)
        batch = keras.applications.inception_v3.preprocess_input(batch)  # [0, 255] -> [-1, 1]
        out.append(keras.ops.convert_to_numpy(extractor(batch, training=False)))
    return np.concatenate(out).astype(np.float64)


def inception_fid(x_real, x_fake, extractor=None, value_range=(0, 1), batch_size=32, weights="imagenet"):
    """FID on InceptionV3 pool features: the usual FID for RGB images with the ImageNet weights.

    Papers compute it on 50,000 samples with the original TF-slim Inception graph, whose weights
    differ slightly from keras.applications'; compare numbers computed the same way only.
    """
    if extractor is None:
        extractor = inception_extractor(weights)
    f_real = inception_features(x_real, extractor, value_range, batch_size)
    f_fake = inception_features(x_fake, extractor, value_range, batch_size)
    return fid_from_features(f_real, f_fake)


# ----------------------------------------------------------------------------- novelty and labels

def novelty_summary(x_fake, x_train, threshold, batch_size=256):
    """Each generated sample's nearest training image, and how many are near-copies.

    Returns a dict: indices (N,), distances (N,) (Euclidean on pixels), median_distance,
    n_near_copies (distance <= threshold) and fraction_near_copies.
    """
    indices, distances = novelty.nearest_neighbours(x_fake, x_train, batch_size=batch_size)
    n_near = novelty.count_near_copies(distances, threshold)
    return {"indices": indices, "distances": distances, "median_distance": float(np.median(distances)),
            "n_near_copies": n_near, "fraction_near_copies": n_near / len(distances)}


def near_copy_threshold(x_held_out, x_train, percentile=1.0):
    """The pixel distance below which a sample counts as a near copy of a training image.

    Held-out real digits are new by construction, so their distances to the nearest training image
    show how close a new digit can come: the threshold is their `percentile`-th percentile (1 by
    default: closer than 99% of held-out digits). Both arrays are pixels on the same scale.
    """
    distances = novelty_summary(x_held_out, x_train, threshold=0.0)["distances"]
    return float(np.percentile(distances, percentile))


def label_accuracy(generated, labels, evaluator, value_range=(0, 1)):
    """How often the evaluator reads the requested label in a conditional generator's output.

    generated: images (N, ...) drawn for `labels` (N,), or a function labels -> images.
    """
    labels = np.asarray(labels)
    images = generated(labels) if callable(generated) else generated
    if hasattr(images, "numpy") or not isinstance(images, np.ndarray):
        import keras

        images = keras.ops.convert_to_numpy(images)
    if len(images) != len(labels):
        raise ValueError(f"got {len(images)} images for {len(labels)} labels.")
    return evaluator.accuracy(images, labels, value_range=value_range)


# ----------------------------------------------------------------------------- one row of a comparison table

def generator_report(evaluator, x_fake, real_features, value_range=(0, 1), splits=10, x_train=None,
                     near_copy_threshold=None, kid_subset_size=1000):
    """Every score of one set of samples, judged by `evaluator` against `real_features`.

    Returns a dict: n, is_mean, is_std, fid, kid_mean, kid_std and, when x_train is given
    (pixels in [0, 1]), nn_median (median distance to the nearest training image) and near_copies.
    """
    features, probs = evaluator.features_and_proba(x_fake, value_range=value_range)
    is_mean, is_std = inception_score(probs, splits=splits)
    kid_mean, kid_std = kernel_inception_distance(real_features, features, subset_size=kid_subset_size)
    row = {"n": len(features), "is_mean": is_mean, "is_std": is_std,
           "fid": fid_from_features(real_features, features), "kid_mean": kid_mean, "kid_std": kid_std}
    if x_train is not None:
        low, high = value_range
        pixels = (np.asarray(x_fake, np.float64) - low) / (high - low)  # -> [0, 1] like x_train
        summary = novelty_summary(pixels, x_train, threshold=near_copy_threshold or 0.0)
        row.update(nn_median=summary["median_distance"], near_copies=summary["n_near_copies"])
    return row


def markdown_table(rows, extra_columns=()):
    """Rows {name: generator_report dict} as a Markdown table (one line per generator)."""
    columns = ["n", "IS (mean ± std)", "FID", "KID (mean ± std)"]
    has_novelty = all("nn_median" in row for row in rows.values())
    if has_novelty:
        columns += ["median NN distance", "near copies"]
    columns += list(extra_columns)
    lines = ["| samples | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name, row in rows.items():
        cells = [str(row["n"]), f"{row['is_mean']:.2f} ± {row['is_std']:.2f}", f"{row['fid']:.2f}",
                 f"{row['kid_mean']:.3g} ± {row['kid_std']:.2g}"]
        if has_novelty:
            cells += [f"{row['nn_median']:.2f}", str(row["near_copies"])]
        cells += [_format_cell(row.get(column, "")) for column in extra_columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _format_cell(value):
    return f"{value:.3f}" if isinstance(value, float) else str(value)


class HeldOutJudge:
    """Scores generated images against the test split, the way lessons 13 and 14 and their benchmarks do.

        held_out = HeldOutJudge(judge, mnist.x_test, mnist.x_train, n_eval=2000, value_range=(-1, 1))
        rows = {"real (held-out)": held_out.report(held_out.x_held_out), "model": held_out.report(x_fake)}

    The first n_eval test digits are the real reference of FID and KID; the next n_eval (a disjoint set)
    are `x_held_out`, whose row is the floor a generator is compared with. A sample is a near copy when it
    lies closer to a training image than 99% of the held-out digits do (`near_copy_threshold`).
    """

    def __init__(self, evaluator, x_test, x_train, n_eval, value_range=(0, 1), splits=10):
        self.evaluator, self.value_range, self.splits = evaluator, value_range, splits
        self.n_eval = min(n_eval, len(x_test) // 2)
        x_reference, self.x_held_out = x_test[:self.n_eval], x_test[self.n_eval:2 * self.n_eval]
        self.features_real = evaluator.features(x_reference, value_range=value_range)
        self.x_train01 = self.to_unit(x_train)  # the novelty search works on pixels in [0, 1]
        self.threshold = near_copy_threshold(self.to_unit(self.x_held_out), self.x_train01)
        self.kid_subset_size = min(1000, self.n_eval // 2)

    def to_unit(self, x):
        low, high = self.value_range
        return (np.asarray(x, np.float32) - low) / (high - low)

    def report(self, images):
        """`generator_report` of images (clipped to the value range) with the novelty columns."""
        images = np.clip(np.asarray(images), *self.value_range)
        return generator_report(self.evaluator, images, self.features_real, value_range=self.value_range,
                                splits=self.splits, x_train=self.x_train01, near_copy_threshold=self.threshold,
                                kid_subset_size=self.kid_subset_size)
