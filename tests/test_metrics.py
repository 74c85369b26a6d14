"""course_lib.metrics against closed forms and independent references."""
import numpy as np
import pytest

from course_lib import metrics


def random_covariance(rng, d):
    a = rng.normal(size=(d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


def frechet_reference(mu1, s1, mu2, s2):
    """Independent route: Tr((S1 S2)^(1/2)) = sum sqrt(eig(S1^(1/2) S2 S1^(1/2))), via eigh only."""
    w, v = np.linalg.eigh(s1)
    root1 = v @ np.diag(np.sqrt(np.clip(w, 0, None))) @ v.T  # S1^(1/2)
    middle = np.linalg.eigvalsh(root1 @ s2 @ root1)
    tr_covmean = np.sum(np.sqrt(np.clip(middle, 0, None)))
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * tr_covmean)


# ----------------------------------------------------------------------------- Fréchet distance

def test_fid_of_a_feature_set_against_itself_is_zero():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(400, 32)) * rng.uniform(0.5, 3, size=32) + 2.0
    assert abs(metrics.fid_from_features(features, features)) < 1e-6


def test_equal_covariances_leave_the_squared_mean_difference():
    rng = np.random.default_rng(1)
    sigma = random_covariance(rng, 6)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    want = float(np.sum((mu1 - mu2) ** 2))
    assert metrics.frechet_distance(mu1, sigma, mu2, sigma) == pytest.approx(want, rel=1e-8, abs=1e-8)


def test_diagonal_covariances_closed_form_gives_18():
    # ||0 - 1||^2 = 4; sum (sqrt(s1) - sqrt(s2))^2 = (1-2)^2 + 0 + (3-1)^2 + (4-1)^2 = 14
    got = metrics.frechet_distance(np.zeros(4), np.diag([1.0, 4, 9, 16]), np.ones(4), np.diag([4.0, 4, 1, 1]))
    assert got == pytest.approx(18.0, abs=1e-9)


def test_diagonal_covariances_random():
    rng = np.random.default_rng(2)
    s1, s2 = rng.uniform(0.1, 5, size=10), rng.uniform(0.1, 5, size=10)
    mu1, mu2 = rng.normal(size=10), rng.normal(size=10)
    want = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(s1) - np.sqrt(s2)) ** 2)
    assert metrics.frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2)) == pytest.approx(want, rel=1e-9)


@pytest.mark.parametrize("d", [2, 8, 40])
def test_full_covariances_agree_with_an_eigendecomposition_reference(d):
    rng = np.random.default_rng(d)
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    s1, s2 = random_covariance(rng, d), random_covariance(rng, d)
    want = frechet_reference(mu1, s1, mu2, s2)
    assert metrics.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(want, rel=1e-7, abs=1e-9)


def test_fewer_samples_than_dimensions_still_gives_a_finite_close_value():
    rng = np.random.default_rng(3)
    f1, f2 = rng.normal(size=(30, 64)), rng.normal(size=(30, 64)) + 0.3
    mu1, s1 = metrics.feature_statistics(f1)
    mu2, s2 = metrics.feature_statistics(f2)
    got = metrics.frechet_distance(mu1, s1, mu2, s2)
    assert np.isfinite(got)
    assert got == pytest.approx(frechet_reference(mu1, s1, mu2, s2), rel=1e-3)


def test_a_covariance_that_is_not_positive_raises():
    with pytest.raises(ValueError, match="imaginary"):
        metrics.frechet_distance(np.zeros(2), np.diag([1.0, -4.0]), np.zeros(2), np.eye(2))


def test_mismatched_shapes_raise():
    with pytest.raises(ValueError, match="mu2"):
        metrics.frechet_distance(np.zeros(3), np.eye(3), np.zeros(2), np.eye(2))


def test_feature_statistics_are_float64_with_unbiased_covariance():
    rng = np.random.default_rng(4)
    f = rng.normal(size=(7, 3)).astype(np.float32)
    mu, sigma = metrics.feature_statistics(f)
    centred = f.astype(np.float64) - f.astype(np.float64).mean(axis=0)
    want = sum(np.outer(row, row) for row in centred) / (len(f) - 1)  # divide by N - 1, not N
    assert mu.dtype == np.float64 and sigma.dtype == np.float64
    np.testing.assert_allclose(sigma, want, rtol=1e-12)
    with pytest.raises(ValueError, match="at least 2"):
        metrics.feature_statistics(f[:1])


def test_fid_grows_with_a_shift_by_the_squared_shift():
    rng = np.random.default_rng(5)
    f = rng.normal(size=(300, 5))
    assert metrics.fid_from_features(f, f + 2.0) == pytest.approx(5 * 4.0, rel=1e-9)


# ----------------------------------------------------------------------------- Inception score

def inception_score_reference(p, splits):
    """The lectures' (Salimans et al.) loop, on probabilities without zeros."""
    scores = []
    for i in range(splits):
        part = p[i * len(p) // splits:(i + 1) * len(p) // splits]
        kl = part * (np.log(part) - np.log(part.mean(axis=0, keepdims=True)))
        scores.append(np.exp(np.mean(np.sum(kl, axis=1))))
    return np.mean(scores), np.std(scores)


def test_identical_predictions_score_one():
    p = np.tile([0.7, 0.2, 0.1, 0.0], (50, 1))
    mean, std = metrics.inception_score(p, splits=5)
    assert mean == pytest.approx(1.0, abs=1e-12) and std == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("num_classes", [2, 7, 10])
def test_confident_predictions_spread_evenly_score_the_number_of_classes(num_classes):
    p = np.eye(num_classes)[np.arange(20 * num_classes) % num_classes]  # one-hot, zeros everywhere else
    mean, std = metrics.inception_score(p, splits=2)
    assert mean == pytest.approx(num_classes, rel=1e-12) and std == pytest.approx(0.0, abs=1e-9)


def test_inception_score_matches_the_lecture_code_on_random_softmax():
    rng = np.random.default_rng(6)
    logits = rng.normal(size=(200, 10)) * 3
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    want = inception_score_reference(p, splits=4)
    np.testing.assert_allclose(metrics.inception_score(p, splits=4), want, rtol=1e-10)


def test_inception_score_rejects_logits_and_bad_splits():
    with pytest.raises(ValueError, match="non-negative"):
        metrics.inception_score(np.array([[-1.0, 2.0]]), splits=1)
    with pytest.raises(ValueError, match="sum to 1"):
        metrics.inception_score(np.array([[0.5, 0.9]]), splits=1)
    with pytest.raises(ValueError, match="splits"):
        metrics.inception_score(np.eye(3), splits=4)


# ----------------------------------------------------------------------------- KID

def test_mmd2_unbiased_matches_a_double_loop():
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(6, 3)), rng.normal(size=(5, 3)) + 0.5
    k = lambda a, b: (a @ b / 3 + 1) ** 3  # noqa: E731
    xx = np.mean([k(x[i], x[j]) for i in range(6) for j in range(6) if i != j])
    yy = np.mean([k(y[i], y[j]) for i in range(5) for j in range(5) if i != j])
    xy = np.mean([k(a, b) for a in x for b in y])
    assert metrics.mmd2_unbiased(x, y) == pytest.approx(xx + yy - 2 * xy, rel=1e-12)


def test_kid_is_near_zero_for_one_distribution_and_grows_with_a_shift():
    rng = np.random.default_rng(8)
    features = rng.normal(size=(2000, 16))
    same = metrics.kernel_inception_distance(features, features, n_subsets=20, subset_size=200)[0]
    kids = [metrics.kernel_inception_distance(features[:1000], features[1000:] + shift, subset_size=200)[0]
            for shift in (0.0, 0.25, 0.5, 1.0)]
    assert abs(same) < 0.05 and abs(kids[0]) < 0.05
    assert kids[1] > 0.1 and np.all(np.diff(kids) > 0)


def test_kid_works_at_small_sample_sizes():
    rng = np.random.default_rng(9)
    mean, std = metrics.kernel_inception_distance(rng.normal(size=(20, 4)), rng.normal(size=(15, 4)) + 2)
    assert np.isfinite(mean) and mean > 0 and std >= 0


# ----------------------------------------------------------------------------- InceptionV3 plumbing

@pytest.fixture(scope="module")
def random_inception():
    return metrics.inception_extractor(weights=None, image_size=75)  # 75: InceptionV3's smallest input


def test_inception_features_of_grey_and_rgb_images(random_inception):
    rng = np.random.default_rng(10)
    grey = rng.uniform(size=(3, 28, 28, 1)).astype(np.float32)
    features = metrics.inception_features(grey, random_inception, batch_size=2)
    assert features.shape == (3, 2048) and np.all(np.isfinite(features))
    # a grey image is the RGB image with three equal channels
    rgb = metrics.inception_features(np.repeat(grey, 3, axis=-1), random_inception)
    np.testing.assert_allclose(features, rgb, rtol=1e-5, atol=1e-6)
    # [-1, 1] data with value_range=(-1, 1) is the same picture
    shifted = metrics.inception_features(grey * 2 - 1, random_inception, value_range=(-1, 1))
    np.testing.assert_allclose(features, shifted, rtol=1e-4, atol=1e-5)


def test_inception_fid_passes_both_feature_sets_to_the_frechet_distance(random_inception, monkeypatch):
    rng = np.random.default_rng(11)
    x_real, x_fake = rng.uniform(size=(4, 16, 16, 3)), rng.uniform(size=(3, 16, 16, 3))
    seen = []
    monkeypatch.setattr(metrics, "fid_from_features", lambda f1, f2: seen.append((f1, f2)) or 1.5)
    assert metrics.inception_fid(x_real, x_fake, extractor=random_inception) == 1.5
    np.testing.assert_allclose(seen[0][0], metrics.inception_features(x_real, random_inception), rtol=1e-6)
    np.testing.assert_allclose(seen[0][1], metrics.inception_features(x_fake, random_inception), rtol=1e-6)


def test_fid_with_fewer_samples_than_dimensions_uses_an_exact_shortcut():
    rng = np.random.default_rng(14)
    f1, f2 = rng.normal(size=(20, 50)) * 2, rng.normal(size=(25, 50)) + 0.5
    mu1, s1 = metrics.feature_statistics(f1)
    mu2, s2 = metrics.feature_statistics(f2)
    want = frechet_reference(mu1, s1, mu2, s2)  # sqrt of ~30 round-off eigenvalues: error ~1e-6 in 172
    assert metrics.fid_from_features(f1, f2) == pytest.approx(want, rel=1e-7)
    assert metrics.fid_from_features(f1, f2) == pytest.approx(metrics.frechet_distance(mu1, s1, mu2, s2), rel=1e-4)


def test_singular_covariances_of_a_set_against_itself_give_zero():
    features = np.random.default_rng(13).normal(size=(5, 300))  # rank 4 covariance in 300 dimensions
    mu, sigma = metrics.feature_statistics(features)
    assert abs(metrics.frechet_distance(mu, sigma, mu, sigma)) < 1e-6
    assert abs(metrics.fid_from_features(features, features)) < 1e-6


def test_inception_weights_path_is_the_keras_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert metrics.inception_weights_path() == tmp_path / "models" / metrics.INCEPTION_NOTOP_FILE
    monkeypatch.delenv("KERAS_HOME")
    assert str(metrics.inception_weights_path()).endswith(".keras/models/" + metrics.INCEPTION_NOTOP_FILE)


def test_inception_weights_from_a_local_file(random_inception, tmp_path):
    path = tmp_path / "inception_notop.weights.h5"
    random_inception.save_weights(path)
    loaded = metrics.inception_extractor(weights=str(path), image_size=75)
    x = np.random.default_rng(15).uniform(size=(2, 28, 28, 1))
    np.testing.assert_allclose(metrics.inception_features(x, loaded), metrics.inception_features(x, random_inception),
                               rtol=1e-5, atol=1e-7)


def test_missing_inception_weights_say_what_to_download(monkeypatch, tmp_path):
    monkeypatch.setattr(metrics, "inception_weights_path", lambda: tmp_path / metrics.INCEPTION_NOTOP_FILE)
    with pytest.raises(FileNotFoundError, match="inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"):
        metrics.inception_extractor(weights="imagenet", allow_download=False)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        metrics.inception_extractor(weights=str(tmp_path / "nothing.h5"))


# ----------------------------------------------------------------------------- novelty and labels

def test_novelty_summary_finds_copies():
    rng = np.random.default_rng(12)
    x_train = rng.uniform(size=(50, 28, 28, 1))
    copies = x_train[[3, 17, 42]] + rng.normal(scale=0.001, size=(3, 28, 28, 1))
    fresh = rng.uniform(size=(2, 28, 28, 1))
    summary = metrics.novelty_summary(np.concatenate([copies, fresh]), x_train, threshold=1.0)
    np.testing.assert_array_equal(summary["indices"][:3], [3, 17, 42])
    assert summary["n_near_copies"] == 3 and summary["fraction_near_copies"] == pytest.approx(0.6)
    assert summary["distances"][3] > 5  # two random images are ~sqrt(784 / 6) apart


class ThresholdEvaluator:
    """Stand-in judge: reads the label as the number of bright pixels in the first row."""

    def accuracy(self, x, y, value_range=(0, 1)):
        x = np.asarray(x)
        predicted = (x.reshape(len(x), 28, 28)[:, 0, :10] > 0.5).sum(axis=1)
        return float(np.mean(predicted == np.asarray(y)))


def draw_label(labels, wrong_every=None):
    images = np.zeros((len(labels), 28, 28, 1), np.float32)
    for i, label in enumerate(labels):
        shown = (label + 1) % 10 if wrong_every and i % wrong_every == 0 else label
        images[i, 0, :shown] = 1.0
    return images


def test_label_accuracy_with_a_function_or_images():
    labels = np.arange(40) % 10
    assert metrics.label_accuracy(draw_label, labels, ThresholdEvaluator()) == 1.0
    assert metrics.label_accuracy(draw_label(labels, wrong_every=4), labels, ThresholdEvaluator()) == 0.75
    with pytest.raises(ValueError, match="labels"):
        metrics.label_accuracy(draw_label(labels[:5]), labels, ThresholdEvaluator())


def test_singular_covariances_give_the_exact_distance_not_a_regularised_one():
    # 8 and 10 samples in 30 dimensions: both covariances singular. The exact value comes independently from
    # the (8, 10) matrix of centred samples (fid_from_features' low-rank route: a nuclear norm, no sqrtm).
    rng = np.random.default_rng(21)
    f1, f2 = rng.normal(size=(8, 30)), rng.normal(size=(10, 30)) * 2 + 1
    (mu1, s1), (mu2, s2) = metrics.feature_statistics(f1), metrics.feature_statistics(f2)
    exact = metrics.fid_from_features(f1, f2)
    assert metrics.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(exact, rel=1e-9)
    assert metrics.frechet_distance(mu2, s2, mu1, s1) == pytest.approx(exact, rel=1e-9)


def test_near_copy_threshold_is_the_percentile_of_held_out_nearest_distances():
    # Training "images" are the points 0, 10, 20 on one pixel; held-out ones sit 1, 2, 3, 4, 5 away from the
    # nearest of them, so their nearest-neighbour distances are exactly 1..5 (hand computation).
    x_train = np.array([[0.0], [10.0], [20.0]], "float32")
    x_held_out = np.array([[1.0], [12.0], [17.0], [24.0], [5.0]], "float32")
    assert metrics.near_copy_threshold(x_held_out, x_train, percentile=50) == pytest.approx(3.0)
    assert metrics.near_copy_threshold(x_held_out, x_train, percentile=0) == pytest.approx(1.0)
    assert metrics.near_copy_threshold(x_held_out, x_train) == pytest.approx(np.percentile([1, 2, 3, 4, 5], 1))


class PixelStatsJudge:
    """Stand-in judge: features are (mean, std, first pixel) of the image rescaled to [0, 1], and records what
    it was shown; the class probabilities put 0.9 on (first pixel > 0.5)."""

    def __init__(self):
        self.seen = []

    def features(self, x, value_range=(0, 1)):
        return self.features_and_proba(x, value_range)[0]

    def features_and_proba(self, x, value_range=(0, 1)):
        low, high = value_range
        flat = (np.asarray(x, np.float64).reshape(len(x), -1) - low) / (high - low)
        self.seen.append(flat)
        features = np.stack([flat.mean(1), flat.std(1), flat[:, 0]], axis=1)
        probs = np.full((len(x), 10), 0.1 / 9)
        probs[np.arange(len(x)), (flat[:, 0] > 0.5).astype(int)] = 0.9
        return features, probs


def test_held_out_judge_uses_disjoint_halves_of_the_test_set_and_unit_pixels_for_novelty():
    rng = np.random.default_rng(3)
    x_test = rng.uniform(-1, 1, size=(11, 4, 4, 1)).astype("float32")  # 11 digits: n_eval capped at 5
    x_train = rng.uniform(-1, 1, size=(30, 4, 4, 1)).astype("float32")
    judge = PixelStatsJudge()
    held_out = metrics.HeldOutJudge(judge, x_test, x_train, n_eval=100, value_range=(-1, 1), splits=1)
    assert held_out.n_eval == 5
    np.testing.assert_array_equal(held_out.x_held_out, x_test[5:10])  # the reference is x_test[:5]
    np.testing.assert_allclose(judge.seen[0], (x_test[:5].reshape(5, -1) + 1) / 2, atol=1e-6)
    # the threshold: 1st percentile of the held-out digits' nearest-training distances, on [0, 1] pixels
    held01, train01 = (x_test[5:10].reshape(5, -1) + 1) / 2, (x_train.reshape(30, -1) + 1) / 2
    nearest = np.sqrt(((held01[:, None, :] - train01[None, :, :]) ** 2).sum(-1)).min(1)
    assert held_out.threshold == pytest.approx(np.percentile(nearest, 1), rel=1e-5)
    # a copy of a training image is a near copy; out-of-range pixels are clipped before judging
    copies = np.concatenate([x_train[:2], 3.0 * np.ones((1, 4, 4, 1), "float32")])
    row = held_out.report(copies)
    assert row["n"] == 3 and row["near_copies"] == 2
    assert judge.seen[-1].max() == pytest.approx(1.0)  # 3.0 was clipped to 1, i.e. 1.0 in [0, 1]
    expected_fid = metrics.fid_from_features(judge.features(x_test[:5], (-1, 1)),
                                             judge.features(np.clip(copies, -1, 1), (-1, 1)))
    assert row["fid"] == pytest.approx(expected_fid)
