import csv
import io

import numpy as np
import pandas as pd

from experiments.analysis import arm_results, two_proportion_p_value, wilson_interval
from experiments.export import GOOGLE_ADS_EDITOR_COLUMNS, google_ads_editor_rows, to_csv


def test_google_ads_editor_csv_pins_every_position_and_labels_the_tracking_id():
    a = {"ad_group_id": "ag1", "arm": "production", "tracking_id": "adc-1", "headline_1": "【公式】A",
         "headline_2": "B", "headline_3": "C", "description_1": "D", "description_2": "E"}
    text = to_csv(google_ads_editor_rows([a], {"ag1": "cmp1"}, "https://example.com"), GOOGLE_ADS_EDITOR_COLUMNS)
    row = next(csv.DictReader(io.StringIO(text)))
    assert row["Campaign"] == "cmp1" and row["Headline 1"] == "【公式】A"
    assert (row["Headline 1 position"], row["Headline 3 position"], row["Description 2 position"]) == ("1", "3", "2")
    assert row["Labels"].split(";")[0] == "adc-1"


def test_wilson_interval_contains_the_rate():
    low, high = wilson_interval(50, 1000)
    assert low < 0.05 < high and 0.03 < low and high < 0.07


def test_arm_results_detect_a_real_lift_and_not_a_null_one():
    rng = np.random.default_rng(1)
    rows = []
    for g in range(200):
        base = rng.uniform(0.02, 0.06)
        for arm, ctr in (("control", base), ("production", base * 1.3), ("challenger", base)):
            imp = int(rng.integers(2000, 4000))
            rows.append({"ad_group_id": f"ag{g}", "arm": arm, "impressions": imp, "clicks": int(rng.binomial(imp, ctr))})
    res = arm_results(pd.DataFrame(rows)).set_index("arm")
    assert res.loc["production", "significant"] and res.loc["production", "lift_low"] > 0.15
    assert not res.loc["challenger", "significant"]
    assert res.loc["control", "impressions"] > 0 and np.isnan(res.loc["control"].get("lift", np.nan))
    assert two_proportion_p_value(130, 1000, 100, 1000) < 0.05
