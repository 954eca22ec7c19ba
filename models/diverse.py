"""Diverse top-K: any two kept combinations differ in at least M of the five positions.

Exact greedy, by definition: the first kept combination is the plain best; each next one is the
best valid combination that differs from every kept one in at least M positions (ties to the lower
enumeration row). M <= 1 gives the plain top-K (distinct combinations always differ somewhere).
Fewer than K come back when no valid combination satisfies the constraint any more (M = 5 on a
pool of four descriptions, say).

How it stays cheap. The scorer's single pass keeps the L best rows (models.topk.StreamingTop, plus
every row within the exactness margin of the L-th). The greedy runs over that buffer: a pick is
certain when the best feasible buffered row scores at least the L-th best (no unbuffered row can
beat it). Only when the buffer runs out of certain picks does the scorer make another pass over
the ad group's blocks, keeping the L best rows that satisfy the constraint so far (`block_mask`).

Exactness against Booster.predict. The buffer holds the tables' sums (within ~1e-12 of
Booster.predict). When several feasible rows lie within the margin of the best one, their exact
scores decide (`exact`), as the plain top-K does.
"""

from __future__ import annotations

from typing import Callable

import numpy as np


def differs(combos: np.ndarray, pick: np.ndarray, min_diff: int) -> np.ndarray:
    """(N,) True where a combination differs from `pick` in at least min_diff positions."""
    return (np.asarray(combos) != np.asarray(pick)[None, :]).sum(axis=1) >= min_diff


def block_mask(triples: np.ndarray, pairs: np.ndarray, picks: list, min_diff: int) -> np.ndarray:
    """(B, P) True for the combinations of a block (triples x pairs) that differ from every pick
    in at least min_diff positions."""
    ok = np.ones((len(triples), len(pairs)), dtype=bool)
    for _, c, _ in picks:
        dh = (triples != c[None, :3]).sum(axis=1)
        dd = (pairs != c[None, 3:]).sum(axis=1)
        ok &= (dh[:, None] + dd[None, :]) >= min_diff
    return ok


def greedy(rows: np.ndarray, combos: np.ndarray, scores: np.ndarray, picks: list, k: int, min_diff: int,
           margin: float, cutoff: float, complete: bool,
           exact: Callable[[np.ndarray], np.ndarray] | None = None, touched: list | None = None) -> bool:
    """Extend `picks` ([(row, combo, score)], in place) from a buffer of rows sorted best first.

    cutoff/complete describe the buffer (models.topk.StreamingTop): rows scoring at least
    cutoff - margin are all in it; complete means every candidate is. Returns True when another
    pass is needed to continue (the buffer cannot prove the next pick), False when done.
    exact(rows) gives exact scores to choose among near-ties (then a pick's score is its exact
    score; otherwise the buffer's); touched collects the near-tie rows met on the way.
    """
    feasible = np.ones(len(rows), dtype=bool)
    for _, c, _ in picks:
        feasible &= differs(combos, c, min_diff)
    while len(picks) < k:
        idx = np.flatnonzero(feasible)
        if not len(idx):
            return not complete
        f = idx[0]
        if not complete and scores[f] < cutoff:
            return True
        near = idx[scores[idx] >= scores[f] - margin]
        choose, score = f, float(scores[f])
        if len(near) > 1 and touched is not None:
            touched.extend(rows[near].tolist())
        if len(near) > 1 and exact is not None:
            vals = exact(rows[near])
            best = np.lexsort((rows[near], -vals))[0]
            choose, score = near[best], float(vals[best])
        picks.append((int(rows[choose]), combos[choose].copy(), score))
        feasible &= differs(combos, combos[choose], min_diff)
        feasible[choose] = False
    return False
