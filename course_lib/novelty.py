"""Is a generated sample new? Nearest training neighbours and near-copies.

The lectures show generated images next to their nearest neighbour in the
training set: a generator that memorised its data scores well on "same
distribution" but fails "novel". Distances are Euclidean on flattened pixels.
"""
import numpy as np


def nearest_neighbours(x, reference, batch_size=256):
    """For each row of `x`, the index of and distance to its nearest row of `reference`.

    Returns (indices (N,), distances (N,)), computed in float64 batches so that 10,000 x 60,000
    comparisons fit in memory.
    """
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)  # (N, D)
    reference = np.asarray(reference, dtype=np.float64).reshape(len(reference), -1)  # (M, D)
    if x.shape[1] != reference.shape[1]:
        raise ValueError(f"x has {x.shape[1]} values per sample but reference has {reference.shape[1]}.")
    ref_sq = np.sum(reference**2, axis=1)  # (M,)
    indices, distances = [], []
    for start in range(0, len(x), batch_size):
        chunk = x[start:start + batch_size]  # (B, D)
        # ||a - b||^2 = ||a||^2 - 2 a.b + ||b||^2
        sq = np.sum(chunk**2, axis=1, keepdims=True) - 2.0 * chunk @ reference.T + ref_sq  # (B, M)
        best = np.argmin(sq, axis=1)
        indices.append(best)
        distances.append(np.sqrt(np.maximum(sq[np.arange(len(chunk)), best], 0.0)))
    return np.concatenate(indices), np.concatenate(distances)


def count_near_copies(distances, threshold):
    """How many samples lie within `threshold` of some training example."""
    return int(np.sum(np.asarray(distances) <= threshold))
