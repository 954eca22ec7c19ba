"""Per-arm results of an experiment: CTR with confidence intervals, lift against control.

Arms run side by side in the same ad groups, so ad groups are the clusters: clicks of one ad
group are correlated across days. Intervals on the lift therefore come from a bootstrap over ad
groups (seeded, reproducible), not from a per-impression formula that would be too narrow.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from experiments.assign import CONTROL


def wilson_interval(clicks: int, impressions: int, confidence: float = 0.95) -> tuple[float, float]:
    if impressions <= 0:
        return (float("nan"), float("nan"))
    z = stats.norm.ppf(0.5 + confidence / 2)
    p = clicks / impressions
    denom = 1 + z * z / impressions
    centre = (p + z * z / (2 * impressions)) / denom
    half = z * math.sqrt(p * (1 - p) / impressions + z * z / (4 * impressions**2)) / denom
    return (centre - half, centre + half)


def two_proportion_p_value(c1: int, n1: int, c0: int, n0: int) -> float:
    if min(n1, n0) <= 0:
        return float("nan")
    pooled = (c1 + c0) / (n1 + n0)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
    if se == 0:
        return 1.0
    z = (c1 / n1 - c0 / n0) / se
    return float(2 * stats.norm.sf(abs(z)))


def arm_results(delivery: pd.DataFrame, confidence: float = 0.95, n_boot: int = 2000, seed: int = 7) -> pd.DataFrame:
    """delivery: one row per (ad_group_id, arm) or finer, with impressions and clicks.

    Returns one row per arm: impressions, clicks, CTR and its Wilson interval, and for each
    non-control arm the lift over control with a cluster-bootstrap interval and a p-value.
    """
    per_group = delivery.groupby(["ad_group_id", "arm"], as_index=False)[["impressions", "clicks"]].sum()
    wide_imp = per_group.pivot(index="ad_group_id", columns="arm", values="impressions").fillna(0)
    wide_clk = per_group.pivot(index="ad_group_id", columns="arm", values="clicks").fillna(0)
    if CONTROL not in wide_imp.columns:
        raise ValueError("no delivery for the control arm: lift cannot be measured")
    rng = np.random.default_rng(seed)
    n_groups = len(wide_imp)
    boot = rng.integers(0, n_groups, size=(n_boot, n_groups))
    imp0, clk0 = wide_imp[CONTROL].to_numpy(), wide_clk[CONTROL].to_numpy()
    ctr0_boot = clk0[boot].sum(1) / np.maximum(imp0[boot].sum(1), 1)
    alpha = 1 - confidence
    rows = []
    for arm in sorted(wide_imp.columns, key=lambda a: (a != CONTROL, a)):
        imp, clk = wide_imp[arm].to_numpy(), wide_clk[arm].to_numpy()
        n, c = int(imp.sum()), int(clk.sum())
        low, high = wilson_interval(c, n, confidence)
        row = {"arm": arm, "ad_groups": int((imp > 0).sum()), "impressions": n, "clicks": c,
               "ctr": c / n if n else float("nan"), "ctr_low": low, "ctr_high": high}
        if arm != CONTROL:
            ctr_boot = clk[boot].sum(1) / np.maximum(imp[boot].sum(1), 1)
            lift_boot = ctr_boot / np.maximum(ctr0_boot, 1e-12) - 1
            row["lift"] = (c / n) / (clk0.sum() / imp0.sum()) - 1 if n and imp0.sum() else float("nan")
            row["lift_low"], row["lift_high"] = (float(v) for v in np.quantile(lift_boot, [alpha / 2, 1 - alpha / 2]))
            row["p_value"] = two_proportion_p_value(c, n, int(clk0.sum()), int(imp0.sum()))
            row["significant"] = bool(row["lift_low"] > 0 or row["lift_high"] < 0)
        rows.append(row)
    return pd.DataFrame(rows)


def join_delivery(delivery: pd.DataFrame, assignments: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Delivery rows joined to the experiment's arms by tracking id: (joined rows, rows of no arm).

    Raises when nothing joins: the experiment has not delivered yet (or the labels were lost)."""
    joined = delivery.merge(assignments[["tracking_id", "ad_group_id", "arm"]], on="tracking_id", how="left")
    unknown = int(joined["arm"].isna().sum())
    joined = joined.dropna(subset=["arm"])
    if joined.empty:
        raise ValueError("no delivery joined to the experiment's tracking ids yet: launch the experiment and "
                         "ingest its delivery (raw_creative_performance)")
    return joined, unknown
