"""Plan the validation split from what the history has (pure: no I/O beyond optional helpers).

The model is judged, and LightGBM stops early, on rows it is not fitted on. Which rows those can
be depends on the history an advertiser brings:

    method               used when                                    validation rows
    last_days            two or more days with delivery, and both     the last k days, k = VALID_SHARE
                         sides keep enough served ads                  of the days (1 <= k <= valid_days)
    held_out_ad_groups   one day, one aggregated period (an import    every row of a held-out share of
                         with --as-of), or a day split too thin        the ad groups

Below MIN_SERVED_ADS served ads in MIN_AD_GROUPS ad groups no split works: plan_split raises
SplitError with one line naming the minimum. The plan travels to the training-set pipeline as
flags (`to_flags`) and into the model's metadata (`to_metadata`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import asdict, dataclass
from typing import Iterable

import pandas as pd

LAST_DAYS, HELD_OUT_AD_GROUPS = "last_days", "held_out_ad_groups"
METHODS = (LAST_DAYS, HELD_OUT_AD_GROUPS)
VALID_DAYS = 7           # at most this many most recent days validate (the long-standing default)
VALID_SHARE = 0.25       # ...and at most a quarter of the days, at least one
HOLDOUT_SHARE = 0.2      # share of ad groups held out when the days cannot split
HOLDOUT_SALT = "validation"  # not the early-stopping salt (models.train), so the two holdouts differ
MIN_SERVED_ADS = 10      # below this nothing can be learnt and judged
MIN_AD_GROUPS = 2        # one to fit, one to judge
MIN_EXAMPLES_PER_SPLIT = 3  # served ads on each side of a split

# What the planner reads, written once for the warehouse (BigQuery Standard SQL; DuckDB through
# the adapter): a handful of rows per ad, so the data stays in the warehouse.
SERVED_ADS_SQL = (
    "SELECT p.ad_id, a.ad_group_id, MIN(p.date) AS first_day, MAX(p.date) AS last_day "
    "FROM `raw.ad_daily_performance` AS p JOIN `raw.ads` AS a ON a.ad_id = p.ad_id "
    "WHERE p.impressions > 0 GROUP BY p.ad_id, a.ad_group_id"
)
HISTORY_DAYS_SQL = ("SELECT DISTINCT date FROM `raw.ad_daily_performance` WHERE impressions > 0 "
                    "ORDER BY date")


class SplitError(ValueError):
    """No validation split is possible; the message says what minimum the data misses."""


def group_hash(ad_group_id: str, salt: str = HOLDOUT_SALT) -> int:
    """A stable 60-bit hash of an ad group (same in every process and on every worker)."""
    return int(hashlib.sha1(f"{salt}|{ad_group_id}".encode("utf-8")).hexdigest()[:15], 16)


@dataclass(frozen=True)
class SplitPlan:
    method: str
    reason: str
    valid_from: dt.date | None = None   # last_days: first validation day
    holdout_salt: str = HOLDOUT_SALT    # held_out_ad_groups: an ad group validates when
    holdout_below: int = -1             # group_hash(ad_group_id, salt) <= holdout_below
    days: int = 0
    first_day: dt.date | None = None
    last_day: dt.date | None = None
    served_ads: int = 0
    ad_groups: int = 0
    train_examples: int = 0             # served ads with delivery on the training side
    valid_examples: int = 0
    valid_ad_groups: int = 0

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"unknown split method {self.method!r}; expected one of {list(METHODS)}")
        if self.method == LAST_DAYS and self.valid_from is None:
            raise ValueError("a last_days split needs valid_from")

    def split_of_day(self, day) -> str | None:
        """'train'/'valid' by the day, or None when the ad group decides (held_out_ad_groups)."""
        if self.method != LAST_DAYS:
            return None
        return "valid" if _as_date(day) >= self.valid_from else "train"

    def split_of_group(self, ad_group_id) -> str:
        return "valid" if group_hash(str(ad_group_id), self.holdout_salt) <= self.holdout_below else "train"

    def split_of(self, day, ad_group_id) -> str:
        return self.split_of_day(day) or self.split_of_group(ad_group_id)

    def to_flags(self) -> list[str]:
        """The training-set pipeline's flags for this plan (pipelines.training_set)."""
        if self.method == LAST_DAYS:
            return [f"--split_method={LAST_DAYS}", f"--valid_from={self.valid_from.isoformat()}"]
        return [f"--split_method={HELD_OUT_AD_GROUPS}", f"--holdout_salt={self.holdout_salt}",
                f"--holdout_below={self.holdout_below}"]

    @classmethod
    def from_flags(cls, method: str | None, valid_from: str | None = None, holdout_salt: str | None = None,
                   holdout_below: int | None = None) -> "SplitPlan":
        method = method or LAST_DAYS
        if method == LAST_DAYS:
            if not valid_from:
                raise ValueError("--split_method=last_days needs --valid_from=YYYY-MM-DD")
            return cls(LAST_DAYS, "given by flags", valid_from=dt.date.fromisoformat(valid_from))
        if holdout_below is None:
            raise ValueError("--split_method=held_out_ad_groups needs --holdout_below")
        return cls(method, "given by flags", holdout_salt=holdout_salt or HOLDOUT_SALT,
                   holdout_below=int(holdout_below))

    def to_metadata(self) -> dict:
        """JSON-ready record of the choice, for the training set's and the model's metadata."""
        out = {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in asdict(self).items()}
        if self.method == LAST_DAYS:
            out.pop("holdout_salt"), out.pop("holdout_below")
        else:
            out.pop("valid_from")
        return out


def _as_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, pd.Timestamp):
        return value.date()
    return dt.date.fromisoformat(str(value)[:10])


def _served(served: pd.DataFrame) -> pd.DataFrame:
    need = {"ad_id", "ad_group_id", "first_day", "last_day"}
    if not need <= set(served.columns):
        raise ValueError(f"served ads need columns {sorted(need)}, got {sorted(served.columns)}")
    out = served[list(need)].copy()
    out["ad_group_id"] = out["ad_group_id"].astype(str)
    out["first_day"] = out["first_day"].map(_as_date)
    out["last_day"] = out["last_day"].map(_as_date)
    return out.drop_duplicates("ad_id")


def _too_little(n_ads: int, n_groups: int, n_days: int) -> SplitError:
    return SplitError(
        f"cannot split the history for training: {n_ads} served ad{'s' * (n_ads != 1)} in {n_groups} ad "
        f"group{'s' * (n_groups != 1)} over {n_days} day{'s' * (n_days != 1)}; training needs at least "
        f"{MIN_SERVED_ADS} served ads in at least {MIN_AD_GROUPS} ad groups (one day of delivery is enough)")


def _held_out(s: pd.DataFrame, share: float, salt: str) -> tuple[int, int, int, int]:
    """(hash threshold, held-out groups, valid examples, train examples) holding out `share` of the
    ad groups (at least one, never all), chosen by hash so any worker can tell."""
    hashes = sorted((group_hash(g, salt), g) for g in s["ad_group_id"].unique())
    k = min(max(1, round(share * len(hashes))), len(hashes) - 1)
    below = hashes[k - 1][0]
    held = {g for h, g in hashes[:k]}
    valid = int(s["ad_group_id"].isin(held).sum())
    return below, k, valid, len(s) - valid


def plan_split(days: Iterable, served: pd.DataFrame, *, valid_days: int = VALID_DAYS,
               holdout_share: float = HOLDOUT_SHARE, salt: str = HOLDOUT_SALT) -> SplitPlan:
    """The validation split for this history.

    days: the distinct days with delivery (an aggregated period is one day); served: one row per
    served ad (impressions > 0 on some day) with ad_id, ad_group_id, first_day, last_day
    (SERVED_ADS_SQL, or served_ads() on frames). Raises SplitError when no split can work.
    """
    if valid_days < 1:
        raise ValueError("valid_days must be >= 1")
    if not 0 < holdout_share < 1:
        raise ValueError("holdout_share must be between 0 and 1")
    day_list = sorted({_as_date(d) for d in days})
    s = _served(served)
    n_ads, n_groups, n_days = len(s), int(s["ad_group_id"].nunique()), len(day_list)
    if n_ads < MIN_SERVED_ADS or n_groups < MIN_AD_GROUPS:
        raise _too_little(n_ads, n_groups, n_days)
    common = dict(days=n_days, first_day=day_list[0] if day_list else None,
                  last_day=day_list[-1] if day_list else None, served_ads=n_ads, ad_groups=n_groups)
    thin = ""
    if n_days >= 2:
        k = min(valid_days, max(1, int(n_days * VALID_SHARE)))
        valid_from = day_list[-k]
        train = int((s["first_day"] < valid_from).sum())
        valid = int((s["last_day"] >= valid_from).sum())
        if train >= MIN_EXAMPLES_PER_SPLIT and valid >= MIN_EXAMPLES_PER_SPLIT:
            return SplitPlan(LAST_DAYS, f"{n_days} days of delivery: the last {k} validate", valid_from=valid_from,
                             train_examples=train, valid_examples=valid,
                             valid_ad_groups=int(s.loc[s["last_day"] >= valid_from, "ad_group_id"].nunique()),
                             **common)
        thin = f"; the last {k} day{'s' * (k > 1)} would leave {train} served ads to train and {valid} to validate"
    below, held, valid, train = _held_out(s, holdout_share, salt)
    if min(valid, train) < MIN_EXAMPLES_PER_SPLIT:
        raise SplitError(
            f"cannot split the history for training: holding out {held} of {n_groups} ad groups leaves {train} "
            f"served ads to train and {valid} to validate; each side needs at least {MIN_EXAMPLES_PER_SPLIT} "
            f"(bring more ad groups, or more served ads per ad group)")
    what = "one day (or one aggregated period) of delivery" if n_days <= 1 else f"{n_days} days of delivery{thin}"
    return SplitPlan(HELD_OUT_AD_GROUPS, f"{what}: {held} of {n_groups} ad groups validate", holdout_salt=salt,
                     holdout_below=below, train_examples=train, valid_examples=valid, valid_ad_groups=held,
                     **common)


def served_ads(performance: pd.DataFrame, ads: pd.DataFrame) -> pd.DataFrame:
    """SERVED_ADS_SQL on frames (raw.ad_daily_performance and raw.ads rows)."""
    p = performance[performance["impressions"].astype("int64") > 0]
    p = p.assign(date=p["date"].map(_as_date), ad_id=p["ad_id"].astype(str))
    span = p.groupby("ad_id")["date"].agg(first_day="min", last_day="max").reset_index()
    groups = ads[["ad_id", "ad_group_id"]].astype(str).drop_duplicates("ad_id")
    return span.merge(groups, on="ad_id", how="inner")


def history_days(performance: pd.DataFrame) -> list[dt.date]:
    """HISTORY_DAYS_SQL on a frame."""
    p = performance[performance["impressions"].astype("int64") > 0]
    return sorted({_as_date(d) for d in p["date"]})


def plan_from_snapshot(performance_path: str, ads_path: str, **kwargs) -> SplitPlan:
    """plan_split on Parquet snapshots of raw.ad_daily_performance and raw.ads (the local path)."""
    import pyarrow.parquet as pq

    perf = pq.read_table(performance_path, columns=["date", "ad_id", "impressions"]).to_pandas()
    ads = pq.read_table(ads_path, columns=["ad_id", "ad_group_id"]).to_pandas()
    return plan_split(history_days(perf), served_ads(perf, ads), **kwargs)


def plan_from_warehouse(wh, **kwargs) -> SplitPlan:
    """plan_split on the warehouse's raw tables (two small queries: the rows stay there)."""
    days = wh.query(HISTORY_DAYS_SQL)["date"].tolist()
    return plan_split(days, wh.query(SERVED_ADS_SQL), **kwargs)
