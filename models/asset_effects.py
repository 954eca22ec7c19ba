"""Per-asset history effects: what an asset's own delivery says beyond its text, slot by slot.

The text model ranks combinations by what the texts say; it cannot see what makes one particular
asset of one ad group better or worse than its wording suggests (the brand's tone, an offer that
converts, a phrase the audience tires of). Once an asset has been served, its clicks carry that.
For each ad group with served history we fit, on top of the model's raw scores,

    logit(CTR of served ad i) = raw_i + o + sum over the slots p of ad i: s_p * e_a(i,p)

with a Normal(0, prior sd) prior on every e_a (shrunk to 0 unless the asset's own delivery says
otherwise: the less an asset was shown, the closer to 0) and a wide prior on the ad-group offset o.
A few Newton steps on a handful of unknowns per ad group.

How much hidden quality assets have differs between markets, so the prior sd is learnt from the
delivery too (prior_sd): the value of PRIOR_SD_GRID under which each served ad is best predicted
from the effects its assets earned in the group's other ads (the same cross-fitting as the slot
scales).

Slots are not equal (headline 1 is always read, headline 3 often not shown, description 2 often
cut), so an asset's effect counts with its slot's scale s_p (H1, H2, H3, D1, D2; mean 1 over the
five). The scales are shared by every ad group and learnt from the delivery (position_scales):
each served ad is predicted from the effects its assets earned in the group's *other* ads, where
they often sat in other slots, and the scales that predict best are kept. Cross-fitting matters:
fitted on the same ads, any scales explain them.

Scoring adds s_p * e_a for the asset in slot p. That is a per-position term, so the model stays a
sum of per-position and per-pair terms and the pair-table scorer stays exact (models.pairwise).
Assets that were never served, and ad groups without history, get 0: the text model alone.

Effects are keyed by (ad_group_id, asset kind, normalised text): served ads carry texts, not
asset ids, and a pool's asset is the same creative as a served text when they normalise equal.
The table stores each asset's effect in every slot of its kind (effect_1..3: H1..H3 for a
headline, D1, D2 and 0 for a description), so the scales travel with it.
"""

from __future__ import annotations

import zlib
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from transforms.text import normalize

# The prior sd of the effects is chosen from this grid by cross-fitted predictive likelihood
# (prior_sd); ASSET_PRIOR_SD when the data cannot tell (too few ad groups with 3+ served ads) and
# while the slot scales are learnt. The prior is per impression-weighted evidence, so a short
# history shrinks more by itself. Both chosen with the tuning worlds (docs/model.md).
ASSET_PRIOR_SD = 0.07
PRIOR_SD_GRID = (0.04, 0.05, 0.06, 0.07, 0.085, 0.1, 0.12, 0.15, 0.2)
GROUP_PRIOR_SD = 0.5
HEADLINE, DESCRIPTION = "H", "D"
HEADLINE_COLUMNS = ("headline_1", "headline_2", "headline_3")
DESCRIPTION_COLUMNS = ("description_1", "description_2")
SLOT_COLUMNS = HEADLINE_COLUMNS + DESCRIPTION_COLUMNS
EFFECT_COLUMNS = ["ad_group_id", "kind", "text", "effect", "effect_1", "effect_2", "effect_3", "impressions", "ads"]
# One array per position (H1, H2, H3 indexed by the pool's headlines; D1, D2 by its descriptions):
# an asset's effect depends on its slot, and a per-position term keeps the scorer exact.
PositionEffects = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]
UNIT_SCALES = (1.0, 1.0, 1.0, 1.0, 1.0)
# Slot scales: learnt on at most this many ad groups (a stable hash picks them), a few rounds.
SCALE_AD_GROUPS = 400
SCALE_ROUNDS = 3
MIN_SCALE_AD_GROUPS = 30  # fewer ad groups with 3+ served ads: the slots count alike
SCALE_BOUNDS = (0.1, 3.0)


def _log_posterior(A, raw, imp, clk, prec, theta) -> float:
    z = raw + A @ theta
    return float(np.sum(clk * z - imp * np.logaddexp(0.0, z)) - 0.5 * np.sum(prec * theta * theta))


def _newton(A, raw, imp, clk, prec, theta=None, iterations: int = 25, tol: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    """MAP of theta for logit = raw + A @ theta, Normal(0, 1/prec) priors; (theta, Hessian).

    Newton steps, halved while they would lower the posterior (large effects and many
    impressions make a full step overshoot); the objective is concave, so this converges.
    """
    theta = np.zeros(A.shape[1]) if theta is None else theta.copy()
    H = np.diag(prec)
    current = _log_posterior(A, raw, imp, clk, prec, theta)
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-(raw + A @ theta)))
        grad = A.T @ (clk - imp * p) - prec * theta
        H = (A * (imp * p * (1 - p))[:, None]).T @ A + np.diag(prec)
        step = np.linalg.solve(H, grad)
        for _ in range(30):
            value = _log_posterior(A, raw, imp, clk, prec, theta + step)
            if value >= current - 1e-12 * abs(current):
                break
            step = step / 2
        theta += step
        current = value
        if np.max(np.abs(step)) < tol:
            break
    return theta, H


def _design(slots: np.ndarray, n_assets: int, scales: Sequence[float]) -> np.ndarray:
    """(n_ads, 1 + n_assets): the offset's column, then each asset's slot scale where it is shown."""
    A = np.zeros((len(slots), 1 + n_assets))
    A[:, 0] = 1.0
    for p in range(5):
        shown = slots[:, p] >= 0
        np.add.at(A, (np.flatnonzero(shown), 1 + slots[shown, p]), float(scales[p]))
    return A


def _priors(n_assets: int, asset_prior_sd: float, group_prior_sd: float) -> np.ndarray:
    prec = np.full(1 + n_assets, 1.0 / asset_prior_sd**2)
    prec[0] = 1.0 / group_prior_sd**2
    return prec


def fit_asset_residuals(raw, impressions, clicks, members: Sequence[Sequence[int]], n_assets: int,
                        asset_prior_sd: float = ASSET_PRIOR_SD, group_prior_sd: float = GROUP_PRIOR_SD,
                        iterations: int = 25, scales: Sequence[float] | None = None,
                        slots: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """One ad group's served ads → (offset, per-asset log-odds effects), given the model's raw scores.

    Either members[i] lists the asset indexes (0..n_assets-1) served ad i shows (each counts 1), or
    slots (n_ads, 5) gives the asset index in each slot (-1: empty) and scales the slots' weights.
    Full Newton with the Normal priors as ridge terms (the objective is concave).
    """
    if slots is None:
        A = np.zeros((len(raw), 1 + n_assets))
        A[:, 0] = 1.0
        for i, m in enumerate(members):
            for a in m:
                A[i, 1 + a] += 1.0
    else:
        A = _design(np.asarray(slots), n_assets, UNIT_SCALES if scales is None else scales)
    imp = np.asarray(impressions, dtype=np.float64)
    clk = np.minimum(np.asarray(clicks, dtype=np.float64), imp)
    theta, _ = _newton(A, np.asarray(raw, dtype=np.float64), imp, clk,
                       _priors(n_assets, asset_prior_sd, group_prior_sd), iterations=iterations)
    return float(theta[0]), theta[1:]


def _slot_keys(ad: Mapping | None) -> list[tuple[str, str] | None]:
    """(kind, normalised text) in each of the five slots of a served ad; None for an empty slot
    (an unknown ad, None, shows nothing)."""
    ad = ad or {}
    out = []
    for p, c in enumerate(SLOT_COLUMNS):
        t = normalize(ad.get(c) or "")
        out.append(((HEADLINE if p < 3 else DESCRIPTION), t) if t else None)
    return out


def _asset_keys(ad: Mapping) -> list[tuple[str, str]]:
    """(kind, normalised text) of each asset a served ad shows; an empty slot shows none."""
    return [k for k in _slot_keys(ad) if k is not None]


class _Group:
    """One ad group's served rows: row indexes, its assets and the slot matrix."""

    def __init__(self, ad_group_id: str, rows: np.ndarray, ads: Sequence[Mapping]):
        self.ad_group_id, self.rows = ad_group_id, rows
        self.index: dict[tuple[str, str], int] = {}
        self.slots = np.full((len(rows), 5), -1, dtype=np.int64)
        for r, i in enumerate(rows):
            for p, key in enumerate(_slot_keys(ads[i])):
                if key is not None:
                    self.slots[r, p] = self.index.setdefault(key, len(self.index))


def _groups(ads: Sequence[Mapping], impressions: np.ndarray) -> list[_Group]:
    frame = pd.DataFrame({"i": np.arange(len(ads)), "g": [str((a or {}).get("ad_group_id") or "") for a in ads]})
    frame = frame[np.asarray(impressions) > 0]
    out = []
    for g, part in frame.groupby("g", sort=True):
        group = _Group(g, part.i.to_numpy(), ads)
        if group.index:
            out.append(group)
    return out


def _sample_groups(ads: Sequence[Mapping], imp: np.ndarray, max_groups: int) -> list[_Group]:
    """Ad groups with 3+ served ads (one ad left out still leaves two), at most max_groups of them
    picked by a stable hash; [] when fewer than MIN_SCALE_AD_GROUPS (the data cannot tell)."""
    groups = [g for g in _groups(ads, imp) if len(g.rows) >= 3]
    groups.sort(key=lambda g: zlib.crc32(f"slot-scales|{g.ad_group_id}".encode("utf-8")))
    groups = groups[:max_groups]
    return groups if len(groups) >= min(MIN_SCALE_AD_GROUPS, max_groups) else []


def _left_out(groups: list[_Group], raw, imp, clk, scales, asset_prior_sd: float):
    """Cross-fitting: for every served ad of every group, (ad group, its row, theta) with theta the
    offset and effects fitted on the group's *other* served ads (a few Newton steps from the fit on
    all of them)."""
    for g in groups:
        A = _design(g.slots, len(g.index), scales)
        prec = _priors(len(g.index), asset_prior_sd, GROUP_PRIOR_SD)
        r, ii, cc = raw[g.rows], imp[g.rows], clk[g.rows]
        full, _ = _newton(A, r, ii, cc, prec)
        for i in range(len(g.rows)):
            others = np.arange(len(g.rows)) != i
            theta, _ = _newton(A[others], r[others], ii[others], cc[others], prec, theta=full, iterations=8, tol=1e-8)
            yield g, A, i, theta


def _arrays(raw, impressions, clicks) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    imp = np.asarray(impressions, dtype=np.float64)
    return np.asarray(raw, dtype=np.float64), imp, np.minimum(np.asarray(clicks, dtype=np.float64), imp)


def position_scales(ads: Sequence[Mapping], raw: np.ndarray, impressions: np.ndarray, clicks: np.ndarray,
                    asset_prior_sd: float = ASSET_PRIOR_SD, max_groups: int = SCALE_AD_GROUPS,
                    rounds: int = SCALE_ROUNDS) -> np.ndarray:
    """How much an asset's effect counts in each slot (H1, H2, H3, D1, D2), from the delivery.

    Cross-fitted: every served ad of an ad group is predicted with the effects fitted on the
    group's other ads, and the five scales are fitted to those predictions (a logistic regression
    with the rest as offset). Repeated `rounds` times from equal scales; normalised to mean 1
    over the five slots (the prior sets the overall size; the ratio of descriptions to headlines
    is kept).
    Equal scales when the data cannot tell (too few ads, no asset seen in two slots).
    """
    raw, imp, clk = _arrays(raw, impressions, clicks)
    groups = _sample_groups(ads, imp, max_groups)
    scales = np.ones(5)
    if not groups:
        return scales
    for _ in range(rounds):
        X, base, n, k = [], [], [], []
        for g, _A, i, theta in _left_out(groups, raw, imp, clk, scales, asset_prior_sd):
            X.append([theta[1 + g.slots[i, p]] if g.slots[i, p] >= 0 else 0.0 for p in range(5)])
            base.append(raw[g.rows[i]] + theta[0])
            n.append(imp[g.rows[i]])
            k.append(clk[g.rows[i]])
        X, base, n, k = (np.asarray(v, dtype=np.float64) for v in (X, base, n, k))
        if np.count_nonzero(np.abs(X).sum(0) > 0) < 5:
            return np.ones(5)
        # a negligible ridge keeps the 5 x 5 system solvable; what matters is the ratio between slots
        fitted, _ = _newton(X, base, n, k, np.full(5, 1e-3), theta=scales, iterations=30)
        fitted = np.clip(fitted, *SCALE_BOUNDS)
        # one normalisation over all five slots: how much less descriptions show than headlines is
        # learnt as well (normalised per kind, both kinds' effects counted alike on average)
        scales = fitted / fitted.mean()
    return scales


def prior_sd_likelihoods(ads: Sequence[Mapping], raw: np.ndarray, impressions: np.ndarray, clicks: np.ndarray,
                         scales: Sequence[float] = UNIT_SCALES, grid: Sequence[float] = PRIOR_SD_GRID,
                         max_groups: int = SCALE_AD_GROUPS) -> dict[float, float]:
    """{prior sd: cross-fitted log-likelihood of the served ads' clicks}; {} when the data cannot tell.

    Each served ad of a sample of ad groups is predicted with the offset and asset effects fitted
    on its group's other ads under that prior; its clicks' binomial log-likelihood is summed. A
    prior too tight throws away what an asset's delivery says; too loose, the effects chase the
    noise of the ads they were fitted on, and the left-out ads show it.
    """
    raw, imp, clk = _arrays(raw, impressions, clicks)
    groups = _sample_groups(ads, imp, max_groups)
    out: dict[float, float] = {}
    if not groups:
        return out
    for sd in grid:
        total = 0.0
        for g, A, i, theta in _left_out(groups, raw, imp, clk, scales, sd):
            z = raw[g.rows[i]] + A[i] @ theta
            total += float(clk[g.rows[i]] * z - imp[g.rows[i]] * np.logaddexp(0.0, z))
        out[float(sd)] = total
    return out


def prior_sd(ads: Sequence[Mapping], raw: np.ndarray, impressions: np.ndarray, clicks: np.ndarray,
             scales: Sequence[float] = UNIT_SCALES, grid: Sequence[float] = PRIOR_SD_GRID,
             max_groups: int = SCALE_AD_GROUPS) -> float:
    """The prior sd of the asset effects that predicts left-out served ads best (prior_sd_likelihoods);
    ASSET_PRIOR_SD when the data cannot tell."""
    ll = prior_sd_likelihoods(ads, raw, impressions, clicks, scales, grid, max_groups)
    return max(ll, key=ll.get) if ll else ASSET_PRIOR_SD


def effect_priors(ads: Sequence[Mapping], raw: np.ndarray, impressions: np.ndarray,
                  clicks: np.ndarray) -> tuple[float, np.ndarray]:
    """(prior sd, slot scales) learnt from the delivery: the scales first (under ASSET_PRIOR_SD:
    they are ratios between slots, the prior sets the overall size), then the prior sd under them."""
    scales = position_scales(ads, raw, impressions, clicks)
    return prior_sd(ads, raw, impressions, clicks, scales), scales


def effects_variance(ads: Sequence[Mapping], prior_sd: float, scales: Sequence[float]) -> float:
    """The part of a served ad's scatter around the text model that its assets' effects account
    for: prior_sd^2 times the sum of the squared scales of the slots it shows, averaged over the ads.

    Fits beside the training ads' own effects weight the ads with the rest only (models.train:
    combinations' own quirks, the day's mix); it cannot be measured there, the effects being
    fitted on the same ads and absorbing every ad's scatter."""
    s2 = np.square(np.asarray(scales, dtype=np.float64))
    shown = np.array([[k is not None for k in _slot_keys(a)] for a in ads], dtype=bool).reshape(-1, 5)
    return float(prior_sd**2 * np.mean(shown @ s2)) if len(shown) else 0.0


def asset_effects(ads: Sequence[Mapping], raw: np.ndarray, impressions: np.ndarray, clicks: np.ndarray,
                  asset_prior_sd: float | None = ASSET_PRIOR_SD, scales: Sequence[float] | None = None) -> pd.DataFrame:
    """Effects of every served asset: one row per (ad_group_id, kind, text), EFFECT_COLUMNS.

    ads[i] is a served ad (ad_group_id and the five text columns) with the model's raw score
    raw[i] and its delivery (impressions[i], clicks[i], summed over whatever days are history).
    Rows of one ad may repeat (one per split); they are fitted as they come. scales: the slots'
    weights; None learns them from these ads (position_scales), UNIT_SCALES counts slots alike.
    asset_prior_sd None learns it from these ads (prior_sd, after the scales; effect_priors).
    """
    if scales is None:
        scales = position_scales(ads, raw, impressions, clicks,
                                 asset_prior_sd=ASSET_PRIOR_SD if asset_prior_sd is None else asset_prior_sd)
    if asset_prior_sd is None:
        asset_prior_sd = prior_sd(ads, raw, impressions, clicks, scales)
    scales = np.asarray(scales, dtype=np.float64)
    raw = np.asarray(raw, dtype=np.float64)
    imp_all = np.asarray(impressions, dtype=np.float64)
    clk_all = np.minimum(np.asarray(clicks, dtype=np.float64), imp_all)
    rows = []
    for g in _groups(ads, imp_all):
        _, eff = fit_asset_residuals(raw[g.rows], imp_all[g.rows], clk_all[g.rows], (), len(g.index),
                                     asset_prior_sd=asset_prior_sd, scales=scales, slots=g.slots)
        imp = np.zeros(len(g.index))
        n_ads = np.zeros(len(g.index), dtype=np.int64)
        for r, v in zip(g.slots, imp_all[g.rows]):
            for a in set(r[r >= 0].tolist()):
                imp[a] += v
                n_ads[a] += 1
        for (kind, text), a in g.index.items():
            s = scales[:3] if kind == HEADLINE else np.append(scales[3:], 0.0)
            e = float(eff[a])
            rows.append((g.ad_group_id, kind, text, e, e * s[0], e * s[1], e * s[2], int(imp[a]), int(n_ads[a])))
    return pd.DataFrame(rows, columns=EFFECT_COLUMNS)


def left_out_raw(hist_ads: Sequence[Mapping], hist_raw: np.ndarray, hist_impressions: np.ndarray,
                 hist_clicks: np.ndarray, target_ads: Sequence[Mapping], target_raw: np.ndarray,
                 asset_prior_sd: float, scales: Sequence[float]) -> np.ndarray:
    """Each target row's log-odds as scoring gives them to a combination its ad group has not
    served: the row's raw score plus the group's offset and asset effects fitted (this prior, these
    slot scales) on the history of the group's *other* served ads. NaN for a row whose group has
    no other served ad in the history.

    Why leave the ad out: fitted on the ad's own history, the effects learn that ad's CTR, and its
    later days reward memorising it (the looser the prior, the better), which says nothing about
    the new combinations the scorer ranks; its other ads share some of its assets, as a new
    combination does.
    """
    raw_h, imp_h, clk_h = _arrays(hist_raw, hist_impressions, hist_clicks)
    target_raw = np.asarray(target_raw, dtype=np.float64)
    scales = np.asarray(scales, dtype=np.float64)
    out = np.full(len(target_ads), np.nan)
    targets_of: dict[str, list[int]] = {}
    for t, ad in enumerate(target_ads):
        targets_of.setdefault(str((ad or {}).get("ad_group_id") or ""), []).append(t)
    for g in _groups(hist_ads, imp_h):
        targets = targets_of.get(g.ad_group_id)
        if not targets:
            continue
        A = _design(g.slots, len(g.index), scales)
        prec = _priors(len(g.index), asset_prior_sd, GROUP_PRIOR_SD)
        r, ii, cc = raw_h[g.rows], imp_h[g.rows], clk_h[g.rows]
        full, _ = _newton(A, r, ii, cc, prec)
        hist_ids = np.array([str(hist_ads[i].get("ad_id")) for i in g.rows])
        fits: dict[str, np.ndarray] = {}
        for t in targets:
            ad_id = str(target_ads[t].get("ad_id"))
            others = hist_ids != ad_id
            if not others.any():
                continue
            if ad_id not in fits:  # from the fit on all of them: a few Newton steps
                fits[ad_id], _ = _newton(A[others], r[others], ii[others], cc[others], prec, theta=full)
            slots = [[-1 if key is None else g.index.get(key, -1) for key in _slot_keys(target_ads[t])]]
            out[t] = target_raw[t] + _design(np.array(slots), len(g.index), scales)[0] @ fits[ad_id]
    return out


def strongest(table: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """The n assets whose own delivery moves their score most in a slot (the largest |s_p e| over
    the slots of their kind, `in_best_slot`): a description's effect counts less than a headline's
    of the same size when its slots are seen less."""
    slots = table[["effect_1", "effect_2", "effect_3"]].to_numpy()
    best = slots[np.arange(len(table)), np.abs(slots).argmax(axis=1)] if len(table) else np.empty(0)
    out = table.assign(in_best_slot=best)
    order = np.argsort(-np.abs(best), kind="stable")[:n]
    return out.iloc[order][["ad_group_id", "kind", "text", "effect", "in_best_slot", "impressions"]]


def slot_scales(table: pd.DataFrame) -> list[float]:
    """The slot scales (H1, H2, H3, D1, D2) a table of asset_effects was fitted with (for metadata)."""
    out = [1.0] * 5
    for kind, first, n in ((HEADLINE, 0, 3), (DESCRIPTION, 3, 2)):
        rows = table[(table.kind == kind) & (table.effect.abs() > 1e-9)] if len(table) else table
        if len(rows):
            r = rows.iloc[int(np.argmax(rows.effect.abs().to_numpy()))]
            out[first:first + n] = [float(r[f"effect_{k + 1}"] / r.effect) for k in range(n)]
    return out


class AssetEffects:
    """Lookup of fitted effects: {ad_group_id: {(kind, normalised text): (effect in slot 1, 2, 3)}}."""

    def __init__(self, table: pd.DataFrame | None = None):
        self._by_group: dict[str, dict[tuple[str, str], tuple[float, float, float]]] = {}
        if table is not None and len(table):
            for g, kind, text, e1, e2, e3 in zip(table.ad_group_id, table.kind, table.text, table.effect_1,
                                                 table.effect_2, table.effect_3):
                self._by_group.setdefault(str(g), {})[(str(kind), str(text))] = (float(e1), float(e2), float(e3))
        self._impressions = _impressions_by_group(table)

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_group.values())

    def for_pool(self, ad_group_id: str, headline_texts: Sequence[str],
                 description_texts: Sequence[str]) -> PositionEffects | None:
        """Per-position effects aligned with the pool's texts (H1, H2, H3 over its headlines, D1,
        D2 over its descriptions); None when the ad group has no history (scores are then the
        text model's alone)."""
        known = self._by_group.get(str(ad_group_id))
        if not known:
            return None
        zero = (0.0, 0.0, 0.0)
        h = np.array([known.get((HEADLINE, normalize(t or "")), zero) for t in headline_texts],
                     dtype=np.float64).reshape(len(headline_texts), 3)
        d = np.array([known.get((DESCRIPTION, normalize(t or "")), zero) for t in description_texts],
                     dtype=np.float64).reshape(len(description_texts), 3)
        return (h[:, 0].copy(), h[:, 1].copy(), h[:, 2].copy(), d[:, 0].copy(), d[:, 1].copy())

    def for_ads(self, ads: Sequence[Mapping]) -> np.ndarray:
        """Sum of the effects of the assets each served ad shows, each in its slot (0 for unknown)."""
        out = np.zeros(len(ads))
        zero = (0.0, 0.0, 0.0)
        for i, ad in enumerate(ads):
            known = self._by_group.get(str((ad or {}).get("ad_group_id") or ""), {})
            for p, key in enumerate(_slot_keys(ad)):
                if key is not None:
                    out[i] += known.get(key, zero)[p if p < 3 else p - 3]
        return out

    def impressions_for_pool(self, ad_group_id: str, assets: Sequence[Mapping]) -> dict[str, int] | None:
        """{asset_id: impressions of the served ads that showed its text} for a pool's assets (dicts
        with asset_id, asset_type, text; 0 for a text never served); None when the ad group has no
        history, like for_pool."""
        known = self._impressions.get(str(ad_group_id))
        if not known:
            return None
        kinds = {"HEADLINE": HEADLINE, "DESCRIPTION": DESCRIPTION}
        return {str(a["asset_id"]): known.get((kinds.get(str(a.get("asset_type")), ""), normalize(a.get("text") or "")), 0)
                for a in assets}


def combination_effects(effects: PositionEffects, combos: np.ndarray) -> np.ndarray:
    """Sum of the five positions' asset effects of (N, 5) index combinations."""
    c = np.asarray(combos, dtype=np.int64).reshape(-1, 5)
    return sum(effects[p][c[:, p]] for p in range(5))


def _impressions_by_group(table: pd.DataFrame | None) -> dict[str, dict[tuple[str, str], int]]:
    """{ad_group_id: {(kind, normalised text): impressions}} of an effects table (EFFECT_COLUMNS)."""
    out: dict[str, dict[tuple[str, str], int]] = {}
    if table is not None and len(table) and "impressions" in table:
        for g, kind, text, n in zip(table.ad_group_id, table.kind, table.text, table.impressions):
            out.setdefault(str(g), {})[(str(kind), str(text))] = int(n)
    return out
