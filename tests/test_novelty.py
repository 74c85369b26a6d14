import numpy as np
from scipy.spatial.distance import cdist

from course_lib.novelty import count_near_copies, nearest_neighbours


def test_nearest_neighbours_match_brute_force():
    rng = np.random.default_rng(0)
    x, reference = rng.normal(size=(37, 12)), rng.normal(size=(101, 12))
    indices, distances = nearest_neighbours(x, reference, batch_size=8)
    full = cdist(x, reference)  # independent reference: scipy's pairwise distances
    np.testing.assert_array_equal(indices, full.argmin(axis=1))
    np.testing.assert_allclose(distances, full.min(axis=1), rtol=1e-9)


def test_exact_copies_are_found_at_distance_zero_and_counted():
    rng = np.random.default_rng(1)
    reference = rng.random((50, 28, 28, 1))
    x = np.concatenate([reference[[4, 9]], rng.random((3, 28, 28, 1))])
    indices, distances = nearest_neighbours(x, reference)
    assert list(indices[:2]) == [4, 9] and np.allclose(distances[:2], 0, atol=1e-6)
    assert count_near_copies(distances, threshold=1e-3) == 2
