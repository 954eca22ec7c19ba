"""The validation split adapts to the history: days when there are enough, held-out ad groups for
one day or one aggregated period, a one-line error below the minimum."""

import datetime as dt
import json

import pandas as pd
import pytest

from models.split import (HELD_OUT_AD_GROUPS, LAST_DAYS, MIN_AD_GROUPS, MIN_SERVED_ADS, SplitError, SplitPlan,
                          group_hash, history_days, plan_split, served_ads)

END = dt.date(2025, 6, 30)


def _history(n_days, n_groups=6, ads_per_group=4, serve=lambda g, a, d: True):
    """Performance and ads frames: every ad serves every day unless `serve` says otherwise."""
    days = [END - dt.timedelta(days=n_days - 1 - i) for i in range(n_days)]
    ads = pd.DataFrame([{"ad_id": f"g{g}-a{a}", "ad_group_id": f"g{g}"} for g in range(n_groups)
                        for a in range(ads_per_group)])
    perf = pd.DataFrame([{"date": d, "ad_id": f"g{g}-a{a}", "impressions": 100 if serve(g, a, d) else 0}
                         for g in range(n_groups) for a in range(ads_per_group) for d in days])
    return perf, ads


def _plan(n_days, **kw):
    perf, ads = _history(n_days, **kw)
    return plan_split(history_days(perf), served_ads(perf, ads))


@pytest.mark.parametrize("n_days,valid_days", [(60, 7), (30, 7), (14, 3), (7, 1), (5, 1), (2, 1)])
def test_days_split_keeps_a_share_of_the_days(n_days, valid_days):
    plan = _plan(n_days)
    assert plan.method == LAST_DAYS
    assert plan.valid_from == END - dt.timedelta(days=valid_days - 1)
    assert plan.days == n_days and plan.train_examples == plan.valid_examples == 24
    assert plan.to_flags() == ["--split_method=last_days", f"--valid_from={plan.valid_from}"]


def test_one_day_or_one_period_holds_out_ad_groups():
    perf, ads = _history(1, n_groups=10)
    plan = plan_split(history_days(perf), served_ads(perf, ads))
    assert plan.method == HELD_OUT_AD_GROUPS and plan.days == 1
    held = {g for g in ads["ad_group_id"].unique() if plan.split_of_group(g) == "valid"}
    assert len(held) == plan.valid_ad_groups == 2  # 20% of 10
    assert plan.valid_examples == 8 and plan.train_examples == 32
    # the same choice from the flags alone (what a Beam worker sees)
    again = SplitPlan.from_flags(*[f.split("=", 1)[1] for f in plan.to_flags()][:1],
                                 holdout_salt=plan.holdout_salt, holdout_below=plan.holdout_below)
    assert {g for g in ads["ad_group_id"].unique() if again.split_of("2025-06-30", g) == "valid"} == held
    assert plan.split_of_day("2025-06-30") is None
    assert "one day (or one aggregated period)" in plan.reason


def test_days_too_thin_fall_back_to_ad_groups():
    # two days, but on the last one only two ads serve: a day split would validate on 2 ads
    plan = _plan(2, serve=lambda g, a, d: d < END or (g == 0 and a < 2))
    assert plan.method == HELD_OUT_AD_GROUPS
    assert "the last 1 day would leave 24 served ads to train and 2 to validate" in plan.reason


def test_below_the_minimum_one_line_names_it():
    with pytest.raises(SplitError) as exc:
        _plan(5, n_groups=1, ads_per_group=6)
    msg = str(exc.value)
    assert "\n" not in msg
    assert f"6 served ads in 1 ad group over 5 days" in msg
    assert f"at least {MIN_SERVED_ADS} served ads in at least {MIN_AD_GROUPS} ad groups" in msg
    with pytest.raises(SplitError, match="0 served ads in 0 ad groups over 0 days"):
        _plan(3, serve=lambda g, a, d: False)


def test_metadata_records_the_method_and_is_json():
    for plan in (_plan(30), _plan(1)):
        meta = plan.to_metadata()
        json.dumps(meta)
        assert meta["method"] == plan.method and meta["reason"] == plan.reason
        assert ("valid_from" in meta) == (plan.method == LAST_DAYS)
        assert ("holdout_below" in meta) == (plan.method == HELD_OUT_AD_GROUPS)


def test_group_hash_is_stable_and_salted():
    assert group_hash("ag00001") == group_hash("ag00001")
    assert group_hash("ag00001", "validation") != group_hash("ag00001", "other")
    assert 0 <= group_hash("x") < 2**60
    with pytest.raises(ValueError, match="needs --valid_from"):
        SplitPlan.from_flags("last_days")
