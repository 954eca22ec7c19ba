"""Per-asset history effects: what an asset's own delivery says beyond its text.

The text model ranks combinations by what the texts say; it cannot see what makes one particular
asset of one ad group better or worse than its wording suggests (the brand's tone, an offer that
converts, a phrase the audience tires of). Once an asset has been served, its clicks carry that.
For each ad group with served history we fit, on top of the model's raw scores,

    logit(CTR of served ad i) = raw_i + o + sum of e_a over the assets a that ad i shows

with a Normal(0, ASSET_PRIOR_SD) prior on every e_a (shrunk to 0 unless the asset's own delivery
says otherwise) and a wide prior on the ad-group offset o. A few Newton steps on a handful of
unknowns per ad group.

Scoring adds e_a for the asset in each position. That is a per-position term, so the model stays
a sum of per-position and per-pair terms and the pair-table scorer stays exact (models.pairwise).
Assets that were never served, and ad groups without history, get 0: the text model alone.

Effects are keyed by (ad_group_id, asset kind, normalised text): served ads carry texts, not
asset ids, and a pool's asset is the same creative as a served text when they normalise equal.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from transforms.text import normalize

# Chosen with `python -m models.evaluate` on the default world (docs/model.md): 0.07 captured
# the most oracle lift among 0.05-0.15; a looser prior chases click noise of rarely served assets.
ASSET_PRIOR_SD = 0.07
GROUP_PRIOR_SD = 0.5
HEADLINE, DESCRIPTION = "H", "D"
HEADLINE_COLUMNS = ("headline_1", "headline_2", "headline_3")
DESCRIPTION_COLUMNS = ("description_1", "description_2")
EFFECT_COLUMNS = ["ad_group_id", "kind", "text", "effect", "impressions", "ads"]
# One array per position (H1, H2, H3 indexed by the pool's headlines; D1, D2 by its descriptions):
# an asset's effect may depend on its slot, and a per-position term keeps the scorer exact.
PositionEffects = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def fit_asset_residuals(raw, impressions, clicks, members: Sequence[Sequence[int]], n_assets: int,
                        asset_prior_sd: float = ASSET_PRIOR_SD, group_prior_sd: float = GROUP_PRIOR_SD,
                        iterations: int = 25) -> tuple[float, np.ndarray]:
    """One ad group's served ads → (offset, per-asset log-odds effects), given the model's raw scores.

    members[i] lists the asset indexes (0..n_assets-1) served ad i shows. Full Newton with the
    Normal priors as ridge terms (the objective is concave, so this converges in a few steps).
    """
    n = len(raw)
    A = np.zeros((n, 1 + n_assets))
    A[:, 0] = 1.0
    for i, m in enumerate(members):
        for a in m:
            A[i, 1 + a] += 1.0
    prec = np.full(1 + n_assets, 1.0 / asset_prior_sd**2)
    prec[0] = 1.0 / group_prior_sd**2
    raw = np.asarray(raw, dtype=np.float64)
    imp = np.asarray(impressions, dtype=np.float64)
    clk = np.minimum(np.asarray(clicks, dtype=np.float64), imp)
    theta = np.zeros(1 + n_assets)
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-(raw + A @ theta)))
        grad = A.T @ (clk - imp * p) - prec * theta
        H = (A * (imp * p * (1 - p))[:, None]).T @ A + np.diag(prec)
        step = np.linalg.solve(H, grad)
        theta += step
        if np.max(np.abs(step)) < 1e-10:
            break
    return float(theta[0]), theta[1:]


def _asset_keys(ad: Mapping) -> list[tuple[str, str]]:
    """(kind, normalised text) of each asset a served ad shows; an empty third headline shows none."""
    keys = [(HEADLINE, normalize(ad.get(c) or "")) for c in HEADLINE_COLUMNS]
    keys += [(DESCRIPTION, normalize(ad.get(c) or "")) for c in DESCRIPTION_COLUMNS]
    return [k for k in keys if k[1]]


def asset_effects(ads: Sequence[Mapping], raw: np.ndarray, impressions: np.ndarray, clicks: np.ndarray,
                  asset_prior_sd: float = ASSET_PRIOR_SD) -> pd.DataFrame:
    """Effects of every served asset: one row per (ad_group_id, kind, text), EFFECT_COLUMNS.

    ads[i] is a served ad (ad_group_id and the five text columns) with the model's raw score
    raw[i] and its delivery (impressions[i], clicks[i], summed over whatever days are history).
    Rows of one ad may repeat (one per split); they are summed here.
    """
    frame = pd.DataFrame({
        "i": np.arange(len(ads)),
        "ad_group_id": [str(a.get("ad_group_id") or "") for a in ads],
        "impressions": np.asarray(impressions, dtype=np.float64),
        "clicks": np.asarray(clicks, dtype=np.float64),
    })
    raw = np.asarray(raw, dtype=np.float64)
    rows = []
    for ad_group_id, part in frame[frame.impressions > 0].groupby("ad_group_id", sort=True):
        index: dict[tuple[str, str], int] = {}
        members = [[index.setdefault(k, len(index)) for k in _asset_keys(ads[i])] for i in part.i]
        if not index:
            continue
        _, eff = fit_asset_residuals(raw[part.i.to_numpy()],
                                     part.impressions.to_numpy(), part.clicks.to_numpy(), members,
                                     len(index), asset_prior_sd=asset_prior_sd)
        imp = np.zeros(len(index))
        n_ads = np.zeros(len(index), dtype=np.int64)
        for m, v in zip(members, part.impressions.to_numpy()):
            for a in set(m):
                imp[a] += v
                n_ads[a] += 1
        for (kind, text), a in index.items():
            rows.append((ad_group_id, kind, text, float(eff[a]), int(imp[a]), int(n_ads[a])))
    return pd.DataFrame(rows, columns=EFFECT_COLUMNS)


class AssetEffects:
    """Lookup of fitted effects: {ad_group_id: {(kind, normalised text): effect}}."""

    def __init__(self, table: pd.DataFrame | None = None):
        self._by_group: dict[str, dict[tuple[str, str], float]] = {}
        if table is not None and len(table):
            for g, kind, text, e in zip(table.ad_group_id, table.kind, table.text, table.effect):
                self._by_group.setdefault(str(g), {})[(str(kind), str(text))] = float(e)
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
        h = np.array([known.get((HEADLINE, normalize(t or "")), 0.0) for t in headline_texts], dtype=np.float64)
        d = np.array([known.get((DESCRIPTION, normalize(t or "")), 0.0) for t in description_texts],
                     dtype=np.float64)
        return (h, h, h, d, d)

    def for_ads(self, ads: Sequence[Mapping]) -> np.ndarray:
        """Sum of the effects of the assets each served ad shows (0 for unknown assets)."""
        out = np.zeros(len(ads))
        for i, ad in enumerate(ads):
            known = self._by_group.get(str(ad.get("ad_group_id") or ""), {})
            out[i] = sum(known.get(k, 0.0) for k in _asset_keys(ad))
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
