"""What the live-accuracy history says about training: the change day (CHANGE_MIN_DAYS flagged days
in a row) and the training window planned from it, on a DuckDB warehouse file."""

import datetime as dt

import pandas as pd

from monitoring.live_accuracy import ALL
from monitoring.live_history import (CHANGE_MIN_DAYS, HISTORY_SCHEMA, HISTORY_TABLE, change_day, read_history,
                                     training_plan)
from warehouse.duckdb_warehouse import DuckDBWarehouse

START = dt.date(2025, 6, 1)


def history(statuses: str, start: dt.date = START, skip: tuple[int, ...] = ()) -> pd.DataFrame:
    """One 'all' row per day: o = ok, w = warn, e = error; days in `skip` were not measured."""
    rows = []
    for i, s in enumerate(statuses):
        if i in skip:
            continue
        rows.append({"date": start + dt.timedelta(days=i), "model_version": "v1", "source": ALL, "creatives": 10,
                     "impressions": 1000, "calibration": 1.0, "spearman": 0.5,
                     "status": {"o": "ok", "w": "warn", "e": "error"}[s]})
    return pd.DataFrame(rows)


def day(i: int) -> dt.date:
    return START + dt.timedelta(days=i)


def test_a_change_is_the_first_day_of_the_latest_run_of_flagged_days():
    assert CHANGE_MIN_DAYS == 2
    assert change_day(None) is None and change_day(history("")) is None
    assert change_day(history("ooooo")) is None
    assert change_day(history("oowoe")) is None  # single flagged days: noise, not a change
    assert change_day(history("oowwo")) == day(2)  # ok again after the run: the change stays
    assert change_day(history("oweeo")) == day(1)  # warn and error both count
    assert change_day(history("wwooeeeo")) == day(4)  # the latest run
    # a day that was not measured breaks the run: two flagged days a week apart are not a change
    assert change_day(history("owowo", skip=(2,))) is None
    assert change_day(history("owwo", skip=(2,))) is None


def test_a_day_measured_under_two_models_counts_with_the_worse_status():
    h = history("ooo")
    second = h.iloc[[1, 2]].assign(model_version="v2", status="warn", impressions=10)
    assert change_day(pd.concat([h, second], ignore_index=True)) == day(1)


def _warehouse(tmp_path, statuses: str | None) -> DuckDBWarehouse:
    """raw.ads and 20 days of raw.ad_daily_performance (4 ad groups, 3 ads each), and the history."""
    wh = DuckDBWarehouse(str(tmp_path / "warehouse.duckdb"))
    ads = pd.DataFrame([{"ad_id": f"g{g}-a{a}", "ad_group_id": f"g{g}"} for g in range(4) for a in range(3)])
    perf = pd.DataFrame([{"date": day(d), "ad_id": ad, "impressions": 100, "clicks": 3}
                         for d in range(20) for ad in ads.ad_id])
    wh.replace_table("raw.ads", ads)
    wh.replace_table("raw.ad_daily_performance", perf)
    if statuses is not None:
        wh.ensure_table(HISTORY_TABLE, HISTORY_SCHEMA, partition_field="date")
        frame = history(statuses, start=day(20 - len(statuses)))
        frame = frame.reindex(columns=[c for c, _ in HISTORY_SCHEMA])
        wh.merge(HISTORY_TABLE, frame, keys=["date", "model_version", "source"], scope=None)
    return wh


def test_training_starts_at_the_change_and_plans_its_split_on_those_days_alone(tmp_path):
    with _warehouse(tmp_path, "oooooowwwo") as wh:  # days 10..19 measured; flagged from day 16
        assert change_day(read_history(wh)) == day(16)
        start, plan = training_plan(wh, valid_days=1)
    assert start == day(16)
    assert plan.first_day == day(16) and plan.last_day == day(19) and plan.days == 4


def test_without_a_change_training_uses_all_history(tmp_path):
    for statuses in (None, "ooowoooowo"):  # no live accuracy yet; single flagged days
        path = tmp_path / str(statuses)
        path.mkdir()
        with _warehouse(path, statuses) as wh:
            start, plan = training_plan(wh, valid_days=1)
        assert start is None and plan.first_day == day(0) and plan.last_day == day(19) and plan.days == 20
