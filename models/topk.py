"""Exact, deterministic top-K selection over one ad group's scores."""

from __future__ import annotations

import numpy as np


def top_k_indices(scores: np.ndarray, k: int) -> np.ndarray:
    """Indexes of the k highest scores, best first; ties go to the lower index.

    Rows arrive in the enumerator's lexicographic order, so the tie-break is by combination.
    """
    n = len(scores)
    if k <= 0 or n == 0:
        return np.empty(0, dtype=np.int64)
    if k >= n:
        candidates = np.arange(n)
    else:
        # Everything tied with the k-th best is a candidate, so partitioning cannot pick
        # an arbitrary member of a tie.
        kth = np.partition(scores, n - k)[n - k]
        candidates = np.flatnonzero(scores >= kth)
    order = np.lexsort((candidates, -scores[candidates]))
    return candidates[order[:k]]
