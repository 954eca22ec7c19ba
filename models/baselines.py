"""Baselines the CTR model must beat, measured in the same run on the same data.

- AssetMeanCTR: the historical CTR of each asset (clicks / impressions over the served ads that
  showed it, any position); a combination scores the mean of its assets' CTRs. What an
  advertiser does by hand from the platform's asset report. It needs the ad group's own history.
- LogisticCTR: logistic regression on exactly the model's features (standardised), fitted on the
  same weighted click / non-click rows. A linear model of the same inputs.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from models.train import to_binary_rows

TEXT_COLUMNS = ("headline_1", "headline_2", "headline_3", "description_1", "description_2")


class AssetMeanCTR:
    """Per (ad group, text) historical CTR; unseen texts get the ad group's CTR, then the global one."""

    def __init__(self, prior_impressions: float = 0.0):
        self.prior_impressions = prior_impressions
        self.asset_ctr: dict[tuple[str, str], float] = {}
        self.group_ctr: dict[str, float] = {}
        self.global_ctr = 0.0

    def fit(self, ads: Iterable[dict], impressions: Sequence[int], clicks: Sequence[int]) -> "AssetMeanCTR":
        asset_sums: dict[tuple[str, str], list[float]] = {}
        group_sums: dict[str, list[float]] = {}
        tot = [0.0, 0.0]
        for ad, imp, clk in zip(ads, impressions, clicks):
            g = str(ad["ad_group_id"])
            for col in TEXT_COLUMNS:
                t = ad.get(col) or ""
                if not t:
                    continue
                s = asset_sums.setdefault((g, t), [0.0, 0.0])
                s[0] += clk
                s[1] += imp
            s = group_sums.setdefault(g, [0.0, 0.0])
            s[0] += clk
            s[1] += imp
            tot[0] += clk
            tot[1] += imp
        self.global_ctr = tot[0] / max(tot[1], 1.0)
        self.group_ctr = {g: c / max(i, 1.0) for g, (c, i) in group_sums.items()}
        m = self.prior_impressions
        for (g, t), (c, i) in asset_sums.items():
            prior = self.group_ctr.get(g, self.global_ctr)
            self.asset_ctr[(g, t)] = (c + m * prior) / max(i + m, 1e-9)
        return self

    def text_ctr(self, ad_group_id: str, text: str) -> float:
        if (ad_group_id, text) in self.asset_ctr:
            return self.asset_ctr[(ad_group_id, text)]
        return self.group_ctr.get(ad_group_id, self.global_ctr)

    def predict_ads(self, ads: Sequence[dict]) -> np.ndarray:
        out = np.empty(len(ads))
        for i, ad in enumerate(ads):
            g = str(ad["ad_group_id"])
            vals = [self.text_ctr(g, ad.get(c) or "") for c in TEXT_COLUMNS if ad.get(c)]
            out[i] = float(np.mean(vals)) if vals else self.group_ctr.get(g, self.global_ctr)
        return out

    def predict_combinations(self, ad_group_id: str, headlines: Sequence[str], descriptions: Sequence[str],
                             combos: np.ndarray) -> np.ndarray:
        h = np.array([self.text_ctr(ad_group_id, t) for t in headlines])
        d = np.array([self.text_ctr(ad_group_id, t) for t in descriptions])
        c = np.asarray(combos)
        return (h[c[:, 0]] + h[c[:, 1]] + h[c[:, 2]] + d[c[:, 3]] + d[c[:, 4]]) / 5.0


class LogisticCTR:
    """Standardised features → L2 logistic regression on weighted click/non-click rows."""

    def __init__(self, C: float = 1.0, max_iter: int = 500):
        self.C = C
        self.max_iter = max_iter

    def fit(self, X, impressions, clicks) -> "LogisticCTR":
        from sklearn.linear_model import LogisticRegression

        X = np.asarray(X, dtype=np.float64)
        self.mean_ = X.mean(0)
        self.scale_ = X.std(0)
        self.scale_[self.scale_ == 0] = 1.0
        Xb, y, w = to_binary_rows(self._z(X), np.asarray(impressions), np.asarray(clicks))
        # Normalise weights so C means the same whatever the traffic volume.
        w = w * (len(X) / w.sum())
        self.model_ = LogisticRegression(C=self.C, max_iter=self.max_iter)
        self.model_.fit(Xb, y, sample_weight=w)
        return self

    def _z(self, X) -> np.ndarray:
        return (np.asarray(X, dtype=np.float64) - self.mean_) / self.scale_

    def predict(self, X) -> np.ndarray:
        return self.model_.predict_proba(self._z(X))[:, 1]

    def decision_function(self, X) -> np.ndarray:
        return self.model_.decision_function(self._z(X))
