"""Why a combination scores what it scores: its raw score as a sum of named terms.

The scorer's tables (models.tables.PairTables) already split every score exactly into a constant,
a term per position and a term per pair of positions (plus history effects). That split is not
canonical: the tables come from inclusion-exclusion around one reference combination, so a pair
term also carries whatever the reference's assets happen to be, and a position term can be moved
into any pair term that includes the position without changing a single score (a gauge freedom).
Read raw, "h1 x d1 = -0.8" may just mean "the reference's h1 was weak".

We publish the centred (two-way ANOVA) gauge instead, which a copywriter can read:

- pair term (p, q):  the pair table minus its best additive fit alpha(a) + beta(b) over the pairs
  that can occur (every allowed asset of p with every allowed asset of q; for two headline (or two
  description) slots, never one asset twice). Least squares makes its row and column sums zero: it
  is only what the two assets do *together* beyond what each does alone ("these two repeat each
  other": negative; "they complete each other": positive).
- position term p:  the asset's own value in that slot, including its average pairing, relative
  to the average allowed asset there (zero mean over the slot's allowed assets).
- constant:  what is left: the average score over all slot-wise choices of the pool's assets.
- history (one per slot, only for ad groups with delivery history): the asset's history effect
  (models.asset_effects), as the scorer adds it; 0 for assets never served.

The terms are a re-arrangement of the same tables, so they add up to the table score of the
combination (within ~1e-12 of the published raw score, which is Booster.predict's own value).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.tables import N_POSITIONS, PAIRS, POSITION_NAMES, PairTables, pair_support, same_kind


@dataclass
class CentredTables:
    constant: float
    single: list
    pair: dict
    effects: tuple | None


def additive_fit(cand_i: np.ndarray, cand_j: np.ndarray, a: np.ndarray, c: np.ndarray,
                 y: np.ndarray, n_i: int, n_j: int) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares y[e] ~ alpha[a[e]] + beta[c[e]] over the support entries e; alpha over
    0..n_i-1 and beta over 0..n_j-1 (zero outside the candidates). Minimum-norm solution of the
    normal equations (one free constant between alpha and beta: any choice gives the same fit)."""
    ri = np.searchsorted(cand_i, a)
    cj = np.searchsorted(cand_j, c)
    m, n = len(cand_i), len(cand_j)
    N = np.zeros((m + n, m + n))
    N[np.arange(m), np.arange(m)] = np.bincount(ri, minlength=m)
    N[m + np.arange(n), m + np.arange(n)] = np.bincount(cj, minlength=n)
    np.add.at(N, (ri, m + cj), 1.0)
    N[m:, :m] = N[:m, m:].T
    rhs = np.concatenate([np.bincount(ri, weights=y, minlength=m), np.bincount(cj, weights=y, minlength=n)])
    x = np.linalg.lstsq(N, rhs, rcond=None)[0]
    alpha, beta = np.zeros(n_i), np.zeros(n_j)
    alpha[cand_i], beta[cand_j] = x[:m], x[m:]
    return alpha, beta


def centre(tables: PairTables) -> CentredTables:
    """The same scores in the centred gauge (module docstring)."""
    single = [s.copy() for s in tables.single]
    pair = {}
    constant = tables.constant
    for i, j in PAIRS:
        m = tables.pair[i, j]
        ci, cj = tables.cands[i], tables.cands[j]
        a, c = pair_support(ci, cj, same_kind(i, j))
        r = np.zeros_like(m)
        if len(a):
            alpha, beta = additive_fit(ci, cj, a, c, m[a, c], m.shape[0], m.shape[1])
            r[a, c] = m[a, c] - alpha[a] - beta[c]
            single[i] = single[i] + alpha
            single[j] = single[j] + beta
        pair[i, j] = r
    for p in range(N_POSITIONS):
        cands = tables.cands[p]
        if len(cands):
            mu = float(single[p][cands].mean())
            single[p] = single[p] - mu
            constant += mu
    return CentredTables(constant, single, pair, tables.effects)


def explain(group, centred: CentredTables, combo, raw_score: float, ad_group_id: str = "",
            rank: int | None = None) -> dict:
    """The terms of one valid combination (5 asset indexes) of an ad group, JSON-ready:
    {ad_group_id, rank, raw_score, terms_sum, terms: [{kind, positions, asset_ids, texts, value}]}
    in the order constant, positions h1..d2, pairs, history. raw_score is the published score."""
    c = [int(x) for x in combo]

    def asset(p):
        if p < 3:
            return group.headline_ids[c[p]], group.headline_texts[c[p]]
        return group.description_ids[c[p]], group.description_texts[c[p]]

    terms = [{"kind": "constant", "positions": [], "asset_ids": [], "texts": [], "value": float(centred.constant)}]
    for p in range(N_POSITIONS):
        aid, text = asset(p)
        terms.append({"kind": "position", "positions": [POSITION_NAMES[p]], "asset_ids": [aid], "texts": [text],
                      "value": float(centred.single[p][c[p]])})
    for i, j in PAIRS:
        (ai, ti), (aj, tj) = asset(i), asset(j)
        terms.append({"kind": "pair", "positions": [POSITION_NAMES[i], POSITION_NAMES[j]], "asset_ids": [ai, aj],
                      "texts": [ti, tj], "value": float(centred.pair[i, j][c[i], c[j]])})
    if centred.effects is not None:
        for p in range(N_POSITIONS):
            aid, text = asset(p)
            terms.append({"kind": "history", "positions": [POSITION_NAMES[p]], "asset_ids": [aid], "texts": [text],
                          "value": float(centred.effects[p][c[p]])})
    return {"ad_group_id": ad_group_id, "rank": rank, "raw_score": float(raw_score),
            "terms_sum": float(sum(t["value"] for t in terms)), "terms": terms}
