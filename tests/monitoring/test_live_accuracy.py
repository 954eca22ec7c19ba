"""Live accuracy maths on known numbers: calibration, log loss, intervals, rank agreement, which
prediction is in force on a day, and the status rules."""

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from monitoring import live_accuracy as la

D = dt.date(2025, 6, 1)


def day(n: int) -> dt.date:
    return D + dt.timedelta(days=n)


def test_calibration_and_log_loss_on_known_numbers():
    # predicted clicks 100*0.1 + 100*0.2 = 30, observed 5 + 30 = 35
    assert la.calibration([0.1, 0.2], [100, 100], [5, 30]) == pytest.approx(35 / 30)
    # one creative: p = 0.1, 10 impressions, 1 click: -(ln 0.1 + 9 ln 0.9) / 10
    assert la.log_loss([0.1], [10], [1]) == pytest.approx(-(math.log(0.1) + 9 * math.log(0.9)) / 10)
    # the log loss is lowest at the observed CTR
    assert la.log_loss([0.1], [10], [1]) < la.log_loss([0.2], [10], [1])
    assert math.isnan(la.calibration([0.0], [10], [1]))


def test_poisson_interval_is_garwoods():
    low, high = la.poisson_interval(10)
    assert (round(low, 3), round(high, 3)) == (4.795, 18.390)
    assert la.poisson_interval(0)[0] == 0.0 and la.poisson_interval(0)[1] == pytest.approx(3.689, abs=1e-3)


def test_calibration_interval_is_the_poisson_interval_of_the_clicks():
    low, high = la.calibration_interval(10, 10.0)
    assert (low, high) == pytest.approx((0.4795, 1.839), abs=1e-3)
    # 100 times the volume: about a tenth of the width, and it covers the truth
    rng = np.random.default_rng(0)
    covered = 0
    for _ in range(200):
        low, high = la.calibration_interval(rng.poisson(0.8 * 1000), 1000.0)
        covered += low <= 0.8 <= high
        assert high - low < 0.12
    assert 180 <= covered <= 200  # ~95%
    assert np.isnan(la.calibration_interval(3, 0.0)[0])


def test_within_group_spearman_equals_scipy_and_skips_undefined_groups():
    rng = np.random.default_rng(1)
    g = np.repeat(["a", "b", "c", "d"], [6, 5, 2, 4])
    x = rng.random(len(g))
    y = x + rng.normal(0, 0.2, len(g))
    y[g == "d"] = 1.0  # constant: no rank correlation
    rho = la.within_group_spearman(g, x, y)
    for name in ("a", "b"):
        assert rho[name] == pytest.approx(stats.spearmanr(x[g == name], y[g == name]).statistic)
    assert np.isnan(rho["c"]) and np.isnan(rho["d"])  # too small; constant
    two = la.within_group_spearman(g, x, np.column_stack([y, -y]))
    assert two[1]["a"] == pytest.approx(-rho["a"])


def _groups(n_groups=120, per=6, seed=0):
    rng = np.random.default_rng(seed)
    g = np.repeat([f"ag{i:03d}" for i in range(n_groups)], per)
    p = 0.03 * np.exp(rng.normal(0, 0.35, len(g)))
    imp = rng.poisson(3000, len(g))
    return rng, g, p, imp


def test_rank_agreement_matches_expectation_when_the_model_is_right():
    rng, g, p, imp = _groups()
    clicks = rng.binomial(imp, p)
    r = la.rank_agreement(g, p, imp, clicks)
    assert r.groups == 120 and 0.3 < r.spearman < 0.95
    assert r.gap_low < 0.05 and abs(r.gap) < 0.08
    assert la.status(0.95, 1.05, r.gap_low)[0] == la.OK


def test_rank_agreement_gap_when_the_ranking_is_wrong():
    rng, g, p, imp = _groups(seed=2)
    truth = p.copy()
    rng.shuffle(truth)  # the delivered CTRs follow another order than the predictions
    clicks = rng.binomial(imp, truth)
    r = la.rank_agreement(g, p, imp, clicks)
    assert abs(r.spearman) < 0.15 and r.expected > 0.4
    assert r.gap_low > la.RANK_GAP_ERROR
    assert la.status(0.95, 1.05, r.gap_low)[0] == la.ERROR


def test_status_needs_the_whole_interval_outside_a_band():
    assert la.status(0.70, 0.79, float("nan")) == (la.ERROR, ["calibration interval [0.700, 0.790] outside "
                                                               "[0.800, 1.250]"])
    assert la.status(0.82, 0.89, float("nan"))[0] == la.WARN
    assert la.status(0.75, 0.95, float("nan"))[0] == la.OK  # a small sample: could be fine
    assert la.status(1.13, 1.20, float("nan"))[0] == la.WARN
    assert la.status(1.26, 1.40, float("nan"))[0] == la.ERROR
    assert la.status(0.95, 1.05, 0.12)[0] == la.WARN
    level, reasons = la.status(0.85, 0.89, 0.25)
    assert level == la.ERROR and len(reasons) == 2


def _predictions(rows):
    return pd.DataFrame(rows, columns=["valid_from", "predicted_at", "model_version", "source", "creative_id",
                                       "ad_group_id", "arm", "predicted_ctr"])


def test_the_prediction_in_force_is_the_latest_batch_valid_that_day():
    t = pd.Timestamp("2025-06-01 06:00", tz="UTC")
    preds = _predictions([
        (day(1), t, "v1", "served_ad", "ad1", "ag1", "", 0.01),
        (day(1), t, "v1", "served_ad", "ad2", "ag1", "", 0.02),
        (day(3), t + pd.Timedelta(days=2), "v1", "served_ad", "ad1", "ag1", "", 0.011),
        (day(3), t + pd.Timedelta(days=2), "v1", "served_ad", "ad2", "ag1", "", 0.021),
        # a retrain the same morning: the later batch wins, and it no longer has ad2
        (day(3), t + pd.Timedelta(days=2, hours=1), "v2", "served_ad", "ad1", "ag1", "", 0.05),
        (day(3), t + pd.Timedelta(days=2, hours=1), "v2", "experiment", "adc-x", "ag1", "production", 0.06),
    ])
    delivery = pd.DataFrame({
        "date": [day(0), day(1), day(1), day(2), day(3), day(3), day(3), day(3)],
        "source": ["served_ad"] * 7 + ["experiment"],
        "creative_id": ["ad1", "ad1", "ad2", "ad2", "ad1", "ad2", "ad2", "adc-x"],
        "impressions": [100, 100, 50, 80, 100, 30, 20, 40],
        "clicks": [1, 2, 1, 3, 4, 1, 0, 2]})
    joined, missing = la.in_force(preds, delivery)
    got = {(r.date, r.creative_id): (r.model_version, r.predicted_ctr, r.impressions) for r in joined.itertuples()}
    assert got == {(day(1), "ad1"): ("v1", 0.01, 100), (day(1), "ad2"): ("v1", 0.02, 50),
                   (day(2), "ad2"): ("v1", 0.02, 80), (day(3), "ad1"): ("v2", 0.05, 100),
                   (day(3), "adc-x"): ("v2", 0.06, 40)}
    # day 0 had no batch yet: not measured at all; ad2 on day 3 was delivered without a prediction
    assert missing[["date", "creative_id", "impressions", "clicks"]].values.tolist() == [[day(3), "ad2", 50, 1]]


def test_daily_accuracy_rows_per_day_version_and_source():
    t = pd.Timestamp("2025-06-01 06:00", tz="UTC")
    rows = []
    for g in range(4):
        for k in range(3):
            rows.append((day(1), t, "v1", "served_ad", f"ad{g}{k}", f"ag{g}", "", 0.01 * (k + 1)))
        rows.append((day(1), t, "v1", "experiment", f"adc{g}", f"ag{g}", "production", 0.02))
    preds = _predictions(rows)
    delivery = pd.DataFrame([(day(1), s, c, 1000, int(1000 * p)) for (_, _, _, s, c, _, _, p) in rows],
                            columns=["date", "source", "creative_id", "impressions", "clicks"])
    joined, missing = la.in_force(preds, delivery)
    acc = la.daily_accuracy(joined, missing)
    assert list(acc.columns) == la.ACCURACY_COLUMNS
    assert list(acc["source"]) == ["all", "experiment", "served_ad"]
    everything = acc.iloc[0]
    assert everything["creatives"] == 16 and everything["ad_groups"] == 4
    assert everything["calibration"] == pytest.approx(1.0) and everything["spearman"] == pytest.approx(1.0)
    assert everything["status"] == la.OK and everything["reasons"] == ""
    summary = la.day_summary(acc)
    assert summary.to_dict("records") == [{"date": day(1), "served_creatives": 16, "calibration": pytest.approx(1.0),
                                           "spearman": pytest.approx(1.0), "status": "ok", "model_version": "v1"}]


def test_a_day_is_computed_the_same_alone_or_with_others():
    rng, g, p, imp = _groups(n_groups=30, per=4, seed=3)
    t = pd.Timestamp("2025-06-01", tz="UTC")
    ids = [f"ad{i}" for i in range(len(g))]
    preds = _predictions([(day(1), t, "v1", "served_ad", c, a, "", q) for c, a, q in zip(ids, g, p)])
    frames = [pd.DataFrame({"date": day(d), "source": "served_ad", "creative_id": ids, "impressions": imp,
                            "clicks": rng.binomial(imp, p)}) for d in (1, 2)]
    both = la.daily_accuracy(*la.in_force(preds, pd.concat(frames)))
    alone = la.daily_accuracy(*la.in_force(preds, frames[1]))
    pd.testing.assert_frame_equal(both[both.date == day(2)].reset_index(drop=True), alone.reset_index(drop=True))
