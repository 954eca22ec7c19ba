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

from models.tables import N_POSITIONS, PAIRS, POSITION_NAMES, PairTables, same_kind


@dataclass
class CentredTables:
    constant: float
    single: list
    pair: dict
    effects: tuple | None


def additive_fit(Y: np.ndarray, support: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares Y[a, b] ~ alpha[a] + beta[b] over the support (a boolean mask; None: every
    entry). One constant is free between alpha and beta (any choice gives the same fit; centre()
    removes it).

    The enumeration makes two slots' allowed sets either disjoint (a full product: the classic
    double centring) or identical (every pair but the diagonal: a closed form too); any other
    support is solved as the minimum-norm solution of the normal equations.
    """
    m, n = Y.shape
    if support is None:
        grand = Y.mean()
        return Y.mean(axis=1) - grand / 2, Y.mean(axis=0) - grand / 2
    if m == n >= 3 and np.array_equal(support, ~np.eye(m, dtype=bool)):
        # Normal equations (n-1) x_a - y_a = R_a - B and -x_a + (n-1) y_a = C_a - A, with
        # A = sum x, B = sum y, A + B = S / (n-1) and the free constant chosen as A = B.
        Z = np.where(support, Y, 0.0)
        R, C, S = Z.sum(axis=1), Z.sum(axis=0), Z.sum()
        A = B = S / (2 * (m - 1))
        det = m * (m - 2)
        return ((m - 1) * (R - B) + (C - A)) / det, ((R - B) + (m - 1) * (C - A)) / det
    ri, cj = np.nonzero(support)
    y = Y[ri, cj]
    N = np.zeros((m + n, m + n))
    N[np.arange(m), np.arange(m)] = np.bincount(ri, minlength=m)
    N[m + np.arange(n), m + np.arange(n)] = np.bincount(cj, minlength=n)
    N[:m, m:] = support
    N[m:, :m] = support.T
    rhs = np.concatenate([np.bincount(ri, weights=y, minlength=m), np.bincount(cj, weights=y, minlength=n)])
    x = np.linalg.lstsq(N, rhs, rcond=None)[0]
    return x[:m], x[m:]


def centre(tables: PairTables) -> CentredTables:
    """The same scores in the centred gauge (module docstring)."""
    single = [s.copy() for s in tables.single]
    pair = {}
    constant = tables.constant
    for i, j in PAIRS:
        m = tables.pair[i, j]
        ci, cj = tables.cands[i], tables.cands[j]
        r = np.zeros_like(m)
        if len(ci) and len(cj):
            sub = np.ix_(ci, cj)
            support = (ci[:, None] != cj[None, :]) if same_kind(i, j) else None
            if support is not None and support.all():
                support = None  # disjoint allowed sets (pins): a full product
            alpha, beta = additive_fit(m[sub], support)
            resid = m[sub] - alpha[:, None] - beta[None, :]
            r[sub] = resid if support is None else np.where(support, resid, 0.0)
            single[i][ci] += alpha
            single[j][cj] += beta
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
