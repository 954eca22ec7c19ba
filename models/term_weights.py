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

The prior sd of d is chosen by held-out ad groups (choose_prior_sd: five folds of ad groups, each
predicted by the weights fitted on the others), so that a small account's weights stay near 1 and
a large one's follow its delivery; between_ad_sd 0.1 was fixed before any run (docs/model.md).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import cached_property
from typing import Mapping

import numpy as np
import pandas as pd
from scipy import sparse

from transforms.features import LEXICONS, SERVED_TEXT_COLUMNS, TermWeights, lexicon_matches
from transforms.text import normalize

SLOTS = SERVED_TEXT_COLUMNS
PRIOR_SD = 0.5  # a term's departure from its category, in units of the category's effect, when not learnt
PRIOR_SD_GRID = (0.125, 0.25, 0.5, 1.0)  # what the held-out ad groups choose from
FOLDS = 5
MIN_GROUPS = 20  # fewer ad groups with usable delivery: PRIOR_SD
BETWEEN_AD_SD = 0.1  # log-odds scatter of a served ad beyond its clicks' noise
ROUNDS = 4
READ_ALIKE = 0.05  # a weight this close to 1 counts its matches as the lexicon does, to the table's 2 digits
DIGITS = 4  # weights are stored rounded: the bundle's JSON and every reader see the same numbers


def _slot_matches(ad: Mapping) -> list[dict[str, list[str]]]:
    return [lexicon_matches(normalize(ad.get(c) or "").casefold()) for c in SLOTS]


@dataclass
class _Delivery:
    """The served ads' log-odds and lexicon matches, one row per usable training row."""
    X: sparse.csr_matrix  # X[i, p * n_terms + t]: how often term t appears in slot p of row i's ad
    terms: list[tuple[str, str]]  # (category, term)
    category: np.ndarray  # per term, its category's index in LEXICONS
    y: np.ndarray  # empirical log-odds
    w: np.ndarray  # 1 / (binomial variance + between-ad variance)
    g: np.ndarray  # ad-group codes
    groups: np.ndarray  # ad-group ids, per code

    def subset(self, rows: np.ndarray) -> "_Delivery":
        codes, g = np.unique(self.g[rows], return_inverse=True)
        return _Delivery(self.X[rows], self.terms, self.category, self.y[rows], self.w[rows], g, self.groups[codes])

    def centre(self, M: np.ndarray) -> np.ndarray:
        """M minus each ad group's weighted mean: the ad-group levels o_g drop out."""
        s = np.zeros((self.g.max() + 1, M.shape[1]))
        np.add.at(s, self.g, M * self.w[:, None])
        ws = np.bincount(self.g, weights=self.w)
        return M - (s / ws[:, None])[self.g]

    @cached_property
    def yc(self) -> np.ndarray:
        """The log-odds, group-centred (every fit of this delivery starts from them)."""
        return self.centre(self.y[:, None])[:, 0]

    @cached_property
    def counts(self) -> np.ndarray:
        """The plain per-(category, slot) counts, group-centred: cells with every departure 0."""
        return self.cells(np.zeros(len(self.terms)))

    @property
    def columns(self) -> tuple[np.ndarray, np.ndarray]:
        """(slot, term) of each column of X."""
        n_terms = len(self.terms)
        return np.repeat(np.arange(5), n_terms), np.tile(np.arange(n_terms), 5)

    def cells(self, d: np.ndarray) -> np.ndarray:
        """Per-(category, slot) weighted counts, group-centred: the design of b given the departures d."""
        slot_of, term_of = self.columns
        cell_of = self.category[term_of] * 5 + slot_of
        to_cells = sparse.csr_matrix(((1 + d)[term_of], (np.arange(len(term_of)), cell_of)),
                                     shape=(len(term_of), len(LEXICONS) * 5))
        return self.centre(np.asarray((self.X @ to_cells).todense()))


def _delivery(ads: Mapping[str, Mapping], examples: pd.DataFrame, between_ad_sd: float) -> _Delivery | None:
    ok = ((examples["clicks"] > 0) & (examples["clicks"] < examples["impressions"])
          & examples["ad_id"].astype(str).isin(ads) & examples["ad_group_id"].notna())
    rows = examples[ok]
    if rows.empty:
        return None
    ad_ids = rows["ad_id"].astype(str).to_numpy()
    matches = {a: _slot_matches(ads[a]) for a in set(ad_ids)}
    terms = sorted({(k, m) for per_slot in matches.values() for ms in per_slot for k, found in ms.items()
                    for m in found})
    if not terms:
        return None
    index = {t: i for i, t in enumerate(terms)}
    n_terms = len(terms)
    r_idx, c_idx = [], []
    for i, ad_id in enumerate(ad_ids):
        for p, ms in enumerate(matches[ad_id]):
            for k, found in ms.items():
                for m in found:
                    r_idx.append(i)
                    c_idx.append(p * n_terms + index[(k, m)])
    X = sparse.csr_matrix((np.ones(len(r_idx)), (r_idx, c_idx)), shape=(len(rows), 5 * n_terms))
    cats = list(LEXICONS)
    imp, clk = rows["impressions"].to_numpy(float), rows["clicks"].to_numpy(float)
    p_hat = clk / imp
    g, groups = pd.factorize(rows["ad_group_id"].astype(str))
    return _Delivery(X, terms, np.array([cats.index(k) for k, _ in terms]), np.log(p_hat / (1 - p_hat)),
                     1.0 / (1.0 / (imp * p_hat * (1 - p_hat)) + between_ad_sd ** 2), g, np.asarray(groups))


def _fit(D: _Delivery, prior_sd: float, rounds: int) -> tuple[np.ndarray, np.ndarray]:
    """(d, b): the terms' departures and the (category, slot) coefficients, alternating."""
    n_terms = len(D.terms)
    slot_of, term_of = D.columns
    yc, C0 = D.yc, D.counts  # y ~ C0 b + Z d; a delivery keeps both for every prior sd it is fitted with
    d = np.zeros(n_terms)
    b = np.zeros(C0.shape[1])
    for k in range(rounds):
        Cc = D.cells(d) if k else C0  # the departures start at 0
        b = np.linalg.solve(Cc.T @ (Cc * D.w[:, None]) + np.eye(Cc.shape[1]), Cc.T @ (D.w * yc))
        # Z[i, t] = sum_p X[i, p, t] b[category(t), p]: how d_t moves row i's log-odds
        b_cell = b.reshape(len(LEXICONS), 5)[D.category[term_of], slot_of]
        to_terms = sparse.csr_matrix((b_cell, (np.arange(5 * n_terms), term_of)), shape=(5 * n_terms, n_terms))
        Z = D.centre(np.asarray((D.X @ to_terms).todense()))
        r0 = yc - C0 @ b
        d = np.clip(np.linalg.solve(Z.T @ (Z * D.w[:, None]) + np.eye(n_terms) / prior_sd ** 2, Z.T @ (D.w * r0)),
                    -1, 1)
    return d, b


def _folds(D: _Delivery, folds: int) -> list[tuple[_Delivery, _Delivery]]:
    """(fit on, predict) per fold of ad groups (a crc32 of the id); a fold without rows is left out."""
    fold = np.array([zlib.crc32(f"term-weights:{x}".encode("utf-8")) % folds for x in D.groups])[D.g]
    return [(D.subset(fold != k), D.subset(fold == k)) for k in range(folds) if (fold == k).any()]


def _held_out_error(splits: list[tuple[_Delivery, _Delivery]], prior_sd: float, rounds: int) -> float:
    """Weighted squared error of every row's group-centred log-odds, predicted by the weights and
    coefficients fitted on the other folds' ad groups."""
    sse = 0.0
    for train, test in splits:
        d, b = _fit(train, prior_sd, rounds)
        resid = test.yc - test.cells(d) @ b
        sse += float(np.sum(test.w * resid ** 2))
    return sse


def learn_term_weights(ads: Mapping[str, Mapping], examples: pd.DataFrame, prior_sd: float | None = None,
                       between_ad_sd: float = BETWEEN_AD_SD, rounds: int = ROUNDS,
                       info: dict | None = None) -> dict[str, dict[str, float]]:
    """{category: {term: weight}} from served ads' delivery.

    ads: {ad_id: raw.ads row}; examples: rows with ad_id, ad_group_id, impressions, clicks (the
    training rows). Rows without clicks, with clicks on every impression, whose ad is unknown or
    without an ad group carry no usable log-odds and are skipped. Terms no ad uses get no weight
    (they count 1). {} when no served ad matches the lexicon.

    prior_sd None: learnt from the delivery (`choose_prior_sd`; PRIOR_SD when it cannot tell); `info`,
    when given, receives the sd used ({"prior_sd", "prior_sd_learnt"}).
    """
    D = _delivery(ads, examples, between_ad_sd)
    if D is None:
        return {}
    learnt = False
    if prior_sd is None:
        chosen = choose_prior_sd(D, rounds)
        learnt = chosen is not None
        prior_sd = chosen if learnt else PRIOR_SD
    if info is not None:
        info.update(prior_sd=float(prior_sd), prior_sd_learnt=learnt)
    d, _ = _fit(D, prior_sd, rounds)
    out: dict[str, dict[str, float]] = {}
    for (k, m), x in zip(D.terms, d):
        out.setdefault(k, {})[m] = round(1.0 + float(x), DIGITS)
    return out


def prior_note(info: Mapping, given: bool = False) -> str:
    """How the sd in `info` (learn_term_weights') came about, for a log line: ", prior sd 0.25 (…)"."""
    if not info:
        return ""
    how = ("given" if given else "chosen by held-out ad groups" if info.get("prior_sd_learnt")
           else "too few ad groups to choose")
    return f", prior sd {info['prior_sd']:g} ({how})"


def choose_prior_sd(D: _Delivery, rounds: int = ROUNDS) -> float | None:
    """The prior sd of PRIOR_SD_GRID whose weights best predict the served ads of ad groups they
    were not fitted on (FOLDS folds of ad groups); None when fewer than MIN_GROUPS ad groups
    cannot tell."""
    if len(D.groups) < MIN_GROUPS:
        return None
    splits = _folds(D, FOLDS)
    errors = {sd: _held_out_error(splits, sd, rounds) for sd in PRIOR_SD_GRID}
    return min(errors, key=errors.get)


def term_weight_rows(weights: TermWeights | None, n: int = 10) -> pd.DataFrame:
    """The n terms whose weight departs most from 1 (category, term, weight), largest departure
    first: the words this market reads differently from the lexicon. A term within READ_ALIKE of
    1 is read as the lexicon reads it and is not listed (a small account's weights all are)."""
    rows = [{"category": k, "term": m, "weight": float(v)} for k, terms in (weights or {}).items()
            for m, v in terms.items() if abs(v - 1) >= READ_ALIKE]
    frame = pd.DataFrame(rows, columns=["category", "term", "weight"]).astype({"weight": float})
    order = (frame["weight"] - 1).abs().sort_values(ascending=False, kind="stable").index
    return frame.loc[order].head(n).reset_index(drop=True)
