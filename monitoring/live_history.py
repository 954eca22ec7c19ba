"""The live-accuracy history in the warehouse, and what it says about training.

monitoring.live_accuracy holds one row per day, model version and source (written by the
live_accuracy asset). After a change that live accuracy saw (at least CHANGE_MIN_DAYS flagged days
in a row), the training set starts on its first day: the days before were delivered under rules
that no longer hold (docs/monitoring.md, "Training after a change").
"""

from __future__ import annotations

import datetime as dt

HISTORY_TABLE = "monitoring.live_accuracy"
# A change (the training set then starts on its first day): at least this many flagged days in a row.
CHANGE_MIN_DAYS = 2
HISTORY_SCHEMA = [("date", "DATE"), ("model_version", "STRING"), ("source", "STRING"), ("creatives", "INT64"),
                  ("ad_groups", "INT64"), ("impressions", "INT64"), ("clicks", "INT64"),
                  ("predicted_clicks", "FLOAT64"), ("calibration", "FLOAT64"), ("calibration_low", "FLOAT64"),
                  ("calibration_high", "FLOAT64"), ("log_loss", "FLOAT64"), ("spearman", "FLOAT64"),
                  ("spearman_low", "FLOAT64"), ("spearman_high", "FLOAT64"), ("spearman_expected", "FLOAT64"),
                  ("rank_gap", "FLOAT64"), ("rank_gap_low", "FLOAT64"), ("rank_gap_high", "FLOAT64"),
                  ("rank_groups", "INT64"), ("unpredicted_creatives", "INT64"), ("status", "STRING"),
                  ("reasons", "STRING"), ("measured_at", "TIMESTAMP")]


def as_dates(frame, column: str = "date"):
    import pandas as pd

    frame[column] = pd.to_datetime(frame[column]).dt.date.astype(object)
    return frame


def last_performance_day(wh) -> dt.date | None:
    import pandas as pd

    last = wh.query("SELECT MAX(date) AS d FROM `raw.ad_daily_performance`")["d"].iloc[0]
    return None if pd.isna(last) else pd.Timestamp(last).date()


def read_history(wh, since: dt.date | None = None):
    """monitoring.live_accuracy rows (all, or from `since`), dates as dates; None without a table."""
    if not wh.table_exists(HISTORY_TABLE):
        return None
    sql = f"SELECT * FROM `{HISTORY_TABLE}`" + (" WHERE date >= @since" if since else "") + \
        " ORDER BY date, model_version, source"
    return as_dates(wh.query(sql, {"since": since} if since else None))


def change_day(history) -> dt.date | None:
    """First day of the latest run of at least CHANGE_MIN_DAYS days in a row whose live accuracy was
    flagged (warn or error): where the model's world changed. None when there never was one."""
    from monitoring.live_accuracy import OK, day_summary

    if history is None or history.empty:
        return None
    days = day_summary(history)
    flagged = (days["status"] != OK).to_numpy()
    dates = list(days["date"])
    found, run_start, length = None, None, 0
    for i, bad in enumerate(flagged):
        contiguous = i > 0 and (dates[i] - dates[i - 1]).days == 1
        if bad:
            run_start, length = (run_start, length + 1) if length and contiguous else (dates[i], 1)
            if length >= CHANGE_MIN_DAYS:
                found = run_start
        else:
            length = 0
    return found


def training_plan(wh, valid_days: int):
    """(first day or None, models.split.SplitPlan) of the training set.

    After a change that live accuracy saw, only the days since it (the days before were delivered
    under rules that no longer hold), else all history; the validation split is planned by
    models.split's rules on those days alone (the same queries, on the performance since the change).
    """
    from models.split import HISTORY_DAYS_SQL, SERVED_ADS_SQL, plan_from_warehouse, plan_split

    start, last = change_day(read_history(wh)), last_performance_day(wh)
    if start is None or last is None or start > last:
        return None, plan_from_warehouse(wh, valid_days=valid_days)
    since = "(SELECT * FROM `raw.ad_daily_performance` WHERE date >= @since)"
    days = wh.query(HISTORY_DAYS_SQL.replace("`raw.ad_daily_performance`", since), {"since": start})
    served = wh.query(SERVED_ADS_SQL.replace("`raw.ad_daily_performance`", since), {"since": start})
    return start, plan_split(days["date"].tolist(), served, valid_days=valid_days)
