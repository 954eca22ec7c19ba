"""Live accuracy: the CTR the model predicted when it scored, against the CTR then delivered.

Pure functions on frames; no I/O. The Dagster assets (dagster_project/assets/live.py) read the
prediction log and the delivery tables and store what these return.

    joined = in_force(predictions, delivery)      # each delivered (day, creative) with its prediction
    days = daily_accuracy(joined)                 # one row per (date, model_version, source)

A prediction is "in force" on a day when it belongs to the latest prediction batch logged before
that day (a batch: every live creative predicted by one scoring run, with the model version and
the first day it applies). Creatives delivered that day but absent from that batch are counted as
unpredicted, never scored with another model afterwards.

Per (date, model version, source) and for all sources together:
- calibration = observed clicks / predicted clicks (1 is perfect; 0.8 means the model expected 25%
  more clicks than came), with the exact 95% Poisson interval of the click count;
- log loss per impression (binomial, predictions clipped to [1e-7, 1 - 1e-7]);
- Spearman within ad groups: the mean, over ad groups with at least MIN_GROUP_CREATIVES delivered
  creatives, of the rank correlation between predicted and observed CTR, with a bootstrap interval;
- expected Spearman: the same mean if the model were exactly right (clicks redrawn from the
  predictions). Observed CTR of a day is noisy, so even a perfect model does not reach 1; the gap
  between expected and observed is what the model lost, whatever the volume and spread of a world.

Status (thresholds in docs/monitoring.md): ERROR when the calibration interval lies wholly outside
CALIBRATION_ERROR or the rank gap's interval wholly above RANK_GAP_ERROR, WARN likewise for the
WARN bands, else ok. Small samples have wide intervals, so they do not raise alarms by chance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

OK, WARN, ERROR = "ok", "warn", "error"
ALL = "all"
# Calibration bands (observed / predicted clicks): a day is WARN when its whole 95% interval lies
# outside the WARN band, ERROR when outside the ERROR band (both symmetric in log space).
CALIBRATION_WARN = (0.9, 1 / 0.9)
CALIBRATION_ERROR = (0.8, 1 / 0.8)
# Rank gap (expected minus observed mean within-group Spearman): WARN / ERROR when the interval's
# lower end is above these.
RANK_GAP_WARN = 0.10
RANK_GAP_ERROR = 0.20
MIN_GROUP_CREATIVES = 3
CONFIDENCE = 0.95
BOOTSTRAP = 400
SIMULATIONS = 20

JOINED_COLUMNS = ["date", "model_version", "source", "creative_id", "ad_group_id", "predicted_ctr",
                  "impressions", "clicks"]
ACCURACY_COLUMNS = ["date", "model_version", "source", "creatives", "ad_groups", "impressions", "clicks",
                    "predicted_clicks", "calibration", "calibration_low", "calibration_high", "log_loss",
                    "spearman", "spearman_low", "spearman_high", "spearman_expected", "rank_gap",
                    "rank_gap_low", "rank_gap_high", "rank_groups", "unpredicted_creatives", "status",
                    "reasons"]


def in_force(predictions: pd.DataFrame, delivery: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(delivered rows with the prediction in force that day, delivered rows with none).

    predictions: valid_from (date), predicted_at (timestamp), model_version, source, creative_id,
    ad_group_id, predicted_ctr. delivery: date, source, creative_id, impressions, clicks (one row
    per creative and day; more are summed). Days before the first batch are not returned at all.
    """
    delivery = (delivery.groupby(["date", "source", "creative_id"], as_index=False)[["impressions", "clicks"]].sum())
    delivery = delivery[delivery["impressions"] > 0]
    if predictions.empty or delivery.empty:
        empty = pd.DataFrame(columns=JOINED_COLUMNS)
        return empty, delivery.iloc[0:0]
    batches = (predictions[["valid_from", "predicted_at"]].drop_duplicates()
               .sort_values(["valid_from", "predicted_at"]).reset_index(drop=True))
    days = pd.DataFrame({"date": sorted(delivery["date"].unique())})
    # The batch in force on a day: the last one (by valid_from, then predicted_at) valid by then.
    batches["order"] = np.arange(len(batches))
    pos = np.searchsorted(batches["valid_from"].to_numpy(), days["date"].to_numpy(), side="right") - 1
    days = days[pos >= 0].assign(order=pos[pos >= 0])
    days = days.merge(batches, on="order")[["date", "valid_from", "predicted_at"]]
    chosen = days.merge(predictions, on=["valid_from", "predicted_at"])
    joined = delivery.merge(chosen, on=["date", "source", "creative_id"], how="left")
    measured = joined["date"].isin(days["date"])
    missing = joined[measured & joined["predicted_ctr"].isna()][["date", "source", "creative_id", "impressions",
                                                                "clicks"]]
    joined = joined[measured & joined["predicted_ctr"].notna()]
    return joined[JOINED_COLUMNS].reset_index(drop=True), missing.reset_index(drop=True)


# ---- the statistics -------------------------------------------------------------------------


def calibration(predicted_ctr, impressions, clicks) -> float:
    """Observed clicks / predicted clicks (NaN without predicted clicks)."""
    expected = float(np.sum(np.asarray(predicted_ctr, dtype=np.float64) * np.asarray(impressions, dtype=np.float64)))
    return float(np.sum(clicks)) / expected if expected > 0 else float("nan")


def log_loss(predicted_ctr, impressions, clicks) -> float:
    """Binomial log loss per impression."""
    p = np.clip(np.asarray(predicted_ctr, dtype=np.float64), 1e-7, 1 - 1e-7)
    n = np.asarray(impressions, dtype=np.float64)
    c = np.minimum(np.asarray(clicks, dtype=np.float64), n)
    total = n.sum()
    return float(-np.sum(c * np.log(p) + (n - c) * np.log1p(-p)) / total) if total > 0 else float("nan")


def poisson_interval(count: float, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Exact (Garwood) interval of a Poisson mean from one observed count."""
    a = 1 - confidence
    low = stats.chi2.ppf(a / 2, 2 * count) / 2 if count > 0 else 0.0
    high = stats.chi2.ppf(1 - a / 2, 2 * count + 2) / 2
    return float(low), float(high)


def _bootstrap_index(n_groups: int, seed: int, draws: int = BOOTSTRAP) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n_groups, size=(draws, n_groups))


def calibration_interval(clicks: float, expected: float, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """95% interval of clicks / expected: the exact Poisson interval of the click count over the
    predicted clicks. This is the noise of one day's clicks on these creatives, what a change
    from one day to the next must exceed. (A bootstrap over ad groups would answer another
    question, how the ratio varies between samples of ad groups, and is several times wider
    because ad groups differ in level; it would hide a 20% drop on a world of 80 ad groups.)"""
    if expected <= 0:
        return float("nan"), float("nan")
    low, high = poisson_interval(float(clicks), confidence)
    return low / expected, high / expected


def within_group_spearman(groups: np.ndarray, x: np.ndarray, y: np.ndarray,
                          min_size: int = MIN_GROUP_CREATIVES):
    """Spearman correlation of x with y (or with each column of a 2-D y) within each group.

    A Series (1-D y) or DataFrame (one column per column of y) indexed by group; NaN where the
    group has fewer than `min_size` rows or either side is constant (no rank correlation there).
    Vectorised: ranks within groups, centred, then per-group sums.
    """
    y = np.asarray(y, dtype=np.float64)
    y2 = y.reshape(len(y), -1)
    g = pd.Series(np.asarray(groups), name="g")
    values = pd.DataFrame(np.column_stack([np.asarray(x, dtype=np.float64), y2]))
    ranks = values.groupby(g).rank(method="average")
    centred = ranks - ranks.groupby(g).transform("mean")
    rx = centred[0]
    sx = (rx * rx).groupby(g).sum()
    cov = centred.iloc[:, 1:].mul(rx, axis=0).groupby(g).sum()
    sy = (centred.iloc[:, 1:] ** 2).groupby(g).sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = cov.div(np.sqrt(sy.mul(sx, axis=0)))
    rho = rho.where(np.isfinite(rho))
    rho[g.groupby(g).size() < min_size] = np.nan
    rho.columns = range(y2.shape[1])
    return rho[0] if y.ndim == 1 else rho


@dataclass(frozen=True)
class RankAgreement:
    spearman: float
    spearman_low: float
    spearman_high: float
    expected: float
    gap: float
    gap_low: float
    gap_high: float
    groups: int


def rank_agreement(groups, predicted_ctr, impressions, clicks, seed: int = 7,
                   simulations: int = SIMULATIONS, confidence: float = CONFIDENCE) -> RankAgreement:
    """Mean within-group Spearman of predicted vs observed CTR, what it would be if the model were
    right (clicks drawn from Binomial(impressions, predicted CTR), `simulations` times), and the
    gap between the two, each with a bootstrap interval over ad groups."""
    groups = np.asarray(groups)
    p = np.clip(np.asarray(predicted_ctr, dtype=np.float64), 0.0, 1.0)
    n = np.asarray(impressions, dtype=np.int64)
    c = np.minimum(np.asarray(clicks, dtype=np.int64), n)
    observed = within_group_spearman(groups, p, c / np.maximum(n, 1))
    rng = np.random.default_rng(seed)
    sims = rng.binomial(n[:, None], p[:, None], size=(len(n), simulations)) / np.maximum(n, 1)[:, None]
    expected = within_group_spearman(groups, p, sims).mean(axis=1, skipna=True)
    both = pd.DataFrame({"obs": observed, "exp": expected}).dropna()
    nan = float("nan")
    if both.empty:
        return RankAgreement(nan, nan, nan, nan, nan, nan, nan, 0)
    obs, exp = both["obs"].to_numpy(), both["exp"].to_numpy()
    a = (1 - confidence) / 2
    if len(both) >= 2:
        idx = _bootstrap_index(len(both), seed + 1)
        s_low, s_high = np.quantile(obs[idx].mean(1), [a, 1 - a])
        g_low, g_high = np.quantile((exp - obs)[idx].mean(1), [a, 1 - a])
    else:  # one ad group: no spread to bootstrap, no conclusion
        s_low, s_high, g_low, g_high = -1.0, 1.0, -2.0, 2.0
    return RankAgreement(float(obs.mean()), float(s_low), float(s_high), float(exp.mean()),
                         float((exp - obs).mean()), float(g_low), float(g_high), int(len(both)))


def _worst(*levels: str) -> str:
    return max(levels, key=(OK, WARN, ERROR).index)


def status(cal_low: float, cal_high: float, gap_low: float) -> tuple[str, list[str]]:
    """ok / warn / error of one day, with the reasons (empty when ok)."""
    cal, gap, reasons = OK, OK, []
    if np.isfinite(cal_low) and np.isfinite(cal_high):
        for level, (lo, hi) in ((ERROR, CALIBRATION_ERROR), (WARN, CALIBRATION_WARN)):
            if cal_high < lo or cal_low > hi:
                cal = level
                reasons.append(f"calibration interval [{cal_low:.3f}, {cal_high:.3f}] outside [{lo:.3f}, {hi:.3f}]")
                break
    if np.isfinite(gap_low):
        for level, limit in ((ERROR, RANK_GAP_ERROR), (WARN, RANK_GAP_WARN)):
            if gap_low > limit:
                gap = level
                reasons.append(f"rank agreement at least {gap_low:.3f} below what the model expects "
                               f"(limit {limit:.2f})")
                break
    return _worst(cal, gap), reasons


def _seed(*parts) -> int:
    import zlib

    return zlib.crc32("|".join(str(p) for p in parts).encode("utf-8"))


def accuracy_row(part: pd.DataFrame, seed: int = 7) -> dict:
    """The statistics of one slice of joined rows (JOINED_COLUMNS)."""
    imp = part["impressions"].to_numpy(dtype=np.float64)
    clk = part["clicks"].to_numpy(dtype=np.float64)
    pred = part["predicted_ctr"].to_numpy(dtype=np.float64)
    cal = calibration(pred, imp, clk)
    cal_low, cal_high = calibration_interval(clk.sum(), float((pred * imp).sum()))
    rank = rank_agreement(part["ad_group_id"].to_numpy(), pred, imp, clk, seed)
    level, reasons = status(cal_low, cal_high, rank.gap_low)
    return {"creatives": int(len(part)), "ad_groups": int(part["ad_group_id"].nunique()), "impressions": int(imp.sum()),
            "clicks": int(clk.sum()), "predicted_clicks": float((pred * imp).sum()), "calibration": cal,
            "calibration_low": cal_low, "calibration_high": cal_high, "log_loss": log_loss(pred, imp, clk),
            "spearman": rank.spearman, "spearman_low": rank.spearman_low, "spearman_high": rank.spearman_high,
            "spearman_expected": rank.expected, "rank_gap": rank.gap, "rank_gap_low": rank.gap_low,
            "rank_gap_high": rank.gap_high, "rank_groups": rank.groups, "status": level,
            "reasons": "; ".join(reasons)}


def daily_accuracy(joined: pd.DataFrame, unpredicted: pd.DataFrame | None = None) -> pd.DataFrame:
    """ACCURACY_COLUMNS: one row per (date, model version, source), plus source "all" per (date,
    model version). Seeds come from the slice's date and source, so a day's figures never depend on
    which other days are computed with it, nor on the wall-clock time in a model's version name
    (the same data gives the same statuses in every run)."""
    rows = []
    missing = (unpredicted.groupby("date").size() if unpredicted is not None and len(unpredicted)
               else pd.Series(dtype=np.int64))
    for (date, version), day in joined.groupby(["date", "model_version"], sort=True):
        slices = [(ALL, day)] + ([(s, part) for s, part in day.groupby("source", sort=True)]
                                 if day["source"].nunique() > 1 else [])
        for source, part in slices:
            rows.append({"date": date, "model_version": version, "source": source,
                         **accuracy_row(part, seed=_seed(date, source)),
                         "unpredicted_creatives": int(missing.get(date, 0)) if source == ALL else 0})
    return pd.DataFrame(rows, columns=ACCURACY_COLUMNS)


def day_summary(accuracy: pd.DataFrame) -> pd.DataFrame:
    """One line per date (the "all" rows; on a day measured under two model versions, the worse
    status and the version with most impressions): date, served_creatives, calibration, spearman,
    status, model_version, as `adcombo monitor` prints it."""
    allrows = accuracy[accuracy["source"] == ALL]
    out = []
    for date, day in allrows.groupby("date", sort=True):
        main = day.sort_values("impressions", ascending=False).iloc[0]
        worst = _worst(*day["status"])
        out.append({"date": date, "served_creatives": int(day["creatives"].sum()),
                    "calibration": float(main["calibration"]), "spearman": float(main["spearman"]),
                    "status": worst, "model_version": str(main["model_version"])})
    return pd.DataFrame(out, columns=["date", "served_creatives", "calibration", "spearman", "status",
                                      "model_version"])
