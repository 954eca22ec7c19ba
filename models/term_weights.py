"""One weight per lexicon term, learnt from a market's delivery (docs/model.md, "One weight per
lexicon term").

lex_* count an appeal's lexicon matches per slot (transforms.features), so every term of a category
counts alike, and a market's words are not the lexicon's: here 今すぐ may not read as urgency at
all, there 限定 may read as twice the urgency of 今だけ. Term-per-slot columns are too many
coefficients for a few thousand served ads, so each term t of category k gets one weight
w_t = 1 + d_t, shared by every slot through the category's per-slot coefficient b_{k,p}:

    logit(CTR of served ad i) = o_g + sum_{k,p} b_{k,p} sum_{t in k} (1 + d_t) x_{i,t,p} + noise

fitted by alternating weighted least squares on the training rows' served ads (empirical log-odds
weighted by 1 / (binomial variance + between_ad_sd^2), ad-group levels o_g absorbed by centring
within each group; ridge 1 on b, Normal(0, prior_sd) on d, d clipped to [-1, 1]). Only a weight
relative to its category's other terms is identified (b times w is): the model's linear base refits
b on the weighted counts, and the prior at 1 breaks the tie only weakly. The weights travel in the
model bundle and every featurisation that scores reads the lexicon with them.

prior_sd 0.5 and between_ad_sd 0.1 were fixed before any run and measured on the choose worlds only
(research notes in docs/model.md).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd
from scipy import sparse

from transforms.features import LEXICONS, SERVED_TEXT_COLUMNS, TermWeights, lexicon_matches
from transforms.text import normalize

SLOTS = SERVED_TEXT_COLUMNS
PRIOR_SD = 0.5  # a term's departure from its category, in units of the category's effect
BETWEEN_AD_SD = 0.1  # log-odds scatter of a served ad beyond its clicks' noise
ROUNDS = 4
DIGITS = 4  # weights are stored rounded: the bundle's JSON and every reader see the same numbers


def _slot_matches(ad: Mapping) -> list[dict[str, list[str]]]:
    return [lexicon_matches(normalize(ad.get(c) or "").casefold()) for c in SLOTS]


def learn_term_weights(ads: Mapping[str, Mapping], examples: pd.DataFrame, prior_sd: float = PRIOR_SD,
                       between_ad_sd: float = BETWEEN_AD_SD, rounds: int = ROUNDS) -> dict[str, dict[str, float]]:
    """{category: {term: weight}} from served ads' delivery.

    ads: {ad_id: raw.ads row}; examples: rows with ad_id, ad_group_id, impressions, clicks (the
    training rows). Rows without clicks, with clicks on every impression, whose ad is unknown or
    without an ad group carry no usable log-odds and are skipped. Terms no ad uses get no weight
    (they count 1). {} when no served ad matches the lexicon.
    """
    cats = list(LEXICONS)
    ok = ((examples["clicks"] > 0) & (examples["clicks"] < examples["impressions"])
          & examples["ad_id"].astype(str).isin(ads) & examples["ad_group_id"].notna())
    rows = examples[ok]
    if rows.empty:
        return {}
    ad_ids = rows["ad_id"].astype(str).to_numpy()
    matches = {a: _slot_matches(ads[a]) for a in set(ad_ids)}
    terms = sorted({(k, m) for per_slot in matches.values() for ms in per_slot for k, found in ms.items()
                    for m in found})
    if not terms:
        return {}
    index = {t: i for i, t in enumerate(terms)}
    n, n_terms = len(rows), len(terms)
    # X[i, p * n_terms + t]: how often term t appears in slot p of row i's ad (sparse: few per ad)
    r_idx, c_idx = [], []
    for i, ad_id in enumerate(ad_ids):
        for p, ms in enumerate(matches[ad_id]):
            for k, found in ms.items():
                for m in found:
                    r_idx.append(i)
                    c_idx.append(p * n_terms + index[(k, m)])
    X = sparse.csr_matrix((np.ones(len(r_idx)), (r_idx, c_idx)), shape=(n, 5 * n_terms))
    category = np.array([cats.index(k) for k, _ in terms])
    imp, clk = rows["impressions"].to_numpy(float), rows["clicks"].to_numpy(float)
    p_hat = clk / imp
    y = np.log(p_hat / (1 - p_hat))
    w = 1.0 / (1.0 / (imp * p_hat * (1 - p_hat)) + between_ad_sd ** 2)
    g = pd.factorize(rows["ad_group_id"].astype(str))[0]
    ws = np.bincount(g, weights=w)

    def centre(M: np.ndarray) -> np.ndarray:  # minus each ad group's weighted mean: o_g drops out
        s = np.zeros((g.max() + 1, M.shape[1]))
        np.add.at(s, g, M * w[:, None])
        return M - (s / ws[:, None])[g]

    # to_cells[p * n_terms + t, k * 5 + p] = weight of t: the per-(category, slot) counts C = X @ to_cells
    slot_of = np.repeat(np.arange(5), n_terms)
    term_of = np.tile(np.arange(n_terms), 5)
    cell_of = category[term_of] * 5 + slot_of
    yc = centre(y[:, None])[:, 0]
    d = np.zeros(n_terms)
    C0 = None
    for _ in range(rounds):
        to_cells = sparse.csr_matrix(((1 + d)[term_of], (np.arange(5 * n_terms), cell_of)),
                                     shape=(5 * n_terms, len(cats) * 5))
        Cc = centre(np.asarray((X @ to_cells).todense()))
        C0 = Cc if C0 is None else C0  # the plain counts: y ~ C0 b + Z d
        b = np.linalg.solve(Cc.T @ (Cc * w[:, None]) + np.eye(Cc.shape[1]), Cc.T @ (w * yc))
        # Z[i, t] = sum_p X[i, p, t] b[category(t), p]: how d_t moves row i's log-odds
        b_cell = b.reshape(len(cats), 5)[category[term_of], slot_of]
        to_terms = sparse.csr_matrix((b_cell, (np.arange(5 * n_terms), term_of)), shape=(5 * n_terms, n_terms))
        Z = centre(np.asarray((X @ to_terms).todense()))
        r0 = yc - C0 @ b
        d = np.clip(np.linalg.solve(Z.T @ (Z * w[:, None]) + np.eye(n_terms) / prior_sd ** 2, Z.T @ (w * r0)), -1, 1)
    out: dict[str, dict[str, float]] = {}
    for (k, m), x in zip(terms, d):
        out.setdefault(k, {})[m] = round(1.0 + float(x), DIGITS)
    return out


def term_weight_rows(weights: TermWeights | None, n: int = 10) -> pd.DataFrame:
    """The n terms whose weight departs most from 1 (category, term, weight), largest departure
    first: the words this market reads differently from the lexicon."""
    rows = [{"category": k, "term": m, "weight": float(v)} for k, terms in (weights or {}).items()
            for m, v in terms.items()]
    frame = pd.DataFrame(rows, columns=["category", "term", "weight"])
    order = (frame["weight"] - 1).abs().sort_values(ascending=False, kind="stable").index
    return frame.loc[order].head(n).reset_index(drop=True)
