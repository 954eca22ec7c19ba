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


def sort_rows(rows: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows and scores ordered best first, ties to the lower row."""
    order = np.lexsort((rows, -scores))
    return rows[order], scores[order]


class StreamingTop:
    """The `size` best rows of a stream of score blocks, plus every row within `margin` of the
    size-th best (so a caller can re-score near-ties exactly), in bounded memory.

    add(offset, scores, mask) takes a block whose rows are numbered offset, offset + 1, ...;
    rows with mask False (or score -inf) are not candidates. result() returns (rows, scores)
    best first with ties to the lower row; then `cutoff` is the size-th best score, or -inf when
    fewer than `size` rows were offered (`complete`: every offered row is in the result).
    """

    def __init__(self, size: int, margin: float = 0.0):
        self.size, self.margin = max(int(size), 1), float(margin)
        self._rows: list[np.ndarray] = []
        self._scores: list[np.ndarray] = []
        self._held = 0
        self.offered = 0  # candidate rows seen
        self.cutoff = -np.inf

    def add(self, offset: int, scores: np.ndarray, mask: np.ndarray | None = None) -> None:
        scores = scores.ravel()
        live = scores > -np.inf
        if mask is not None:
            live &= mask.ravel()
        n_live = int(np.count_nonzero(live))
        self.offered += n_live
        threshold = self.cutoff
        if n_live > self.size:  # the block's own size-th best bounds the overall one from below
            cand = scores[live] if n_live < len(scores) else scores
            threshold = max(threshold, float(np.partition(cand, n_live - self.size)[n_live - self.size]))
        sel = np.flatnonzero(live & (scores >= threshold - self.margin))
        if len(sel):
            self._rows.append(sel.astype(np.int64) + offset)
            self._scores.append(scores[sel])
            self._held += len(sel)
        if self._held > 4 * self.size + 4096:
            self._compact()

    def _compact(self) -> None:
        rows = np.concatenate(self._rows) if self._rows else np.empty(0, np.int64)
        scores = np.concatenate(self._scores) if self._scores else np.empty(0)
        if len(scores) >= self.size:
            self.cutoff = float(np.partition(scores, len(scores) - self.size)[len(scores) - self.size])
            keep = scores >= self.cutoff - self.margin
            rows, scores = rows[keep], scores[keep]
        self._rows, self._scores, self._held = [rows], [scores], len(rows)

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        self._compact()
        return sort_rows(self._rows[0], self._scores[0])

    @property
    def complete(self) -> bool:
        """Every offered row is in the result (fewer than `size` were offered)."""
        return self.offered <= self.size
