"""One ad group's pair tables: the exact per-position and per-pair decomposition of its scores.

    F(c) = constant + sum_p single[p][c_p] + sum_{p<q} pair[p, q][c_p, c_q] + sum_p effects[p][c_p]

for every valid combination c = (h1, h2, h3, d1, d2) (indexes into the pool's headlines and
descriptions, models.pairwise explains why a constrained model is exactly this). The scorer builds
the tables once per ad group from its probe rows; everything else (scores of every combination,
top-K, asset values, diverse top-K, explanations, a 15 + 4 selection) is read from them.

Entries of assets that cannot fill a position (pins, widths) are 0 and never read; for two positions
of the same kind the diagonal (one asset twice) is never read either. The tables carry `cands`,
the assets allowed at each position, so readers know which entries are meaningful.

Scores of a block of headline triples against all description pairs are a handful of vectorised
gathers over (B, P) float64 arrays; `triple_blocks` cuts an ad group into blocks of at most
BLOCK_CELLS scores, so memory stays bounded whatever the pool size (60 x 10 is 18.5 M combinations).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

N_POSITIONS = 5
POSITION_NAMES = ("h1", "h2", "h3", "d1", "d2")
PAIRS = tuple((i, j) for i in range(N_POSITIONS) for j in range(i + 1, N_POSITIONS))
# Scores per block: 2 M float64 = 16 MB, with a few temporaries of the same size while gathering.
# A 15 x 4 pool (32,760 combinations) is a single block.
BLOCK_CELLS = 1 << 21


def same_kind(i: int, j: int) -> bool:
    return (i < 3) == (j < 3)


def triple_blocks(n_triples: int, n_pairs: int, max_cells: int | None = None) -> Iterator[tuple[int, int]]:
    """[t0, t1) ranges of headline triples whose blocks hold at most max_cells (default
    BLOCK_CELLS) scores, at least one triple per block."""
    step = max(1, (max_cells or BLOCK_CELLS) // max(n_pairs, 1))
    for t0 in range(0, n_triples, step):
        yield t0, min(n_triples, t0 + step)


@dataclass
class PairTables:
    constant: float
    single: list  # 5 float64 arrays: positions 0-2 over the pool's headlines, 3-4 over its descriptions
    pair: dict  # (i, j) with i < j -> float64 matrix (assets of i) x (assets of j)
    cands: list  # 5 sorted int arrays: the assets allowed at each position
    effects: tuple | None = None  # models.asset_effects.PositionEffects, or None without history

    @classmethod
    def from_probe_values(cls, n_headlines: int, n_descriptions: int, values: np.ndarray,
                          cands: Sequence[np.ndarray], effects=None) -> "PairTables":
        """Tables from the inclusion-exclusion weighted probe values (PairwiseScorer.probe_values,
        in PairwiseScorer.probe_combos order: r, singles per position, pairs per position pair)."""
        size = [n_headlines] * 3 + [n_descriptions] * 2
        k = 1
        single = []
        for i in range(N_POSITIONS):
            s = np.zeros(size[i])
            s[cands[i]] = values[k:k + len(cands[i])]
            k += len(cands[i])
            single.append(s)
        pair = {}
        for i, j in PAIRS:
            a, c = pair_support(cands[i], cands[j], same_kind(i, j))
            m = np.zeros((size[i], size[j]))
            m[a, c] = values[k:k + len(a)]
            k += len(a)
            pair[i, j] = m
        if k != len(values):
            raise ValueError(f"{len(values)} probe values for {k} table entries")
        return cls(float(values[0]), single, pair, [np.asarray(c) for c in cands], effects)

    # ---- scores -----------------------------------------------------------------------------------

    def description_part(self, pairs: np.ndarray) -> np.ndarray:
        """(P,) the terms that read descriptions only, plus the constant."""
        d1, d2 = pairs[:, 0], pairs[:, 1]
        s_d = self.pair[3, 4][d1, d2] + self.single[3][d1] + self.single[4][d2] + self.constant
        if self.effects is not None:
            s_d = s_d + self.effects[3][d1] + self.effects[4][d2]
        return s_d

    def block(self, triples: np.ndarray, pairs: np.ndarray, s_d: np.ndarray | None = None) -> np.ndarray:
        """(B, P) scores of every triple of `triples` with every pair of `pairs` (row-major: the
        enumeration order of those rows). s_d: description_part(pairs), when the caller reuses it."""
        T, S = self.pair, self.single
        h1, h2, h3 = triples[:, 0], triples[:, 1], triples[:, 2]
        d1, d2 = pairs[:, 0], pairs[:, 1]
        s_h = T[0, 1][h1, h2] + T[0, 2][h1, h3] + T[1, 2][h2, h3] + S[0][h1] + S[1][h2] + S[2][h3]
        if self.effects is not None:
            e = self.effects
            s_h = s_h + e[0][h1] + e[1][h2] + e[2][h3]
        if s_d is None:
            s_d = self.description_part(pairs)
        m3 = T[0, 3][h1] + T[1, 3][h2] + T[2, 3][h3]  # (B, n_d): headline x D1 terms per triple
        m4 = T[0, 4][h1] + T[1, 4][h2] + T[2, 4][h3]
        out = s_h[:, None] + s_d[None, :]
        out += m3[:, d1]
        out += m4[:, d2]
        return out


def pair_support(cand_i: np.ndarray, cand_j: np.ndarray, same: bool) -> tuple[np.ndarray, np.ndarray]:
    """(a, c) index arrays of the meaningful entries of a pair table, row-major: every allowed
    asset of position i with every allowed asset of j, except one asset twice for the same kind."""
    a, c = np.meshgrid(cand_i, cand_j, indexing="ij")
    a, c = a.ravel(), c.ravel()
    if same:
        keep = a != c
        a, c = a[keep], c[keep]
    return a, c
