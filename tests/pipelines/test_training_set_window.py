"""--train_from: the training set leaves out the delivery before a change (live accuracy's window)."""

import datetime as dt

import pandas as pd
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that

from pipelines import training_set


def test_days_before_train_from_are_left_out(tiny_snapshot, tiny_world):
    train_from = tiny_world.start_date + dt.timedelta(days=5)
    valid_from = tiny_world.end_date - dt.timedelta(days=1)
    perf = pd.read_parquet(tiny_snapshot["raw.ad_daily_performance"])
    perf["date"] = pd.to_datetime(perf["date"]).dt.date
    kept = perf[perf["date"] >= train_from].assign(split=lambda f: ["valid" if d >= valid_from else "train"
                                                                    for d in f["date"]])
    expected = {(r.ad_id, r.split): (int(r.impressions), int(r.clicks)) for r in
                kept.groupby(["ad_id", "split"], as_index=False)[["impressions", "clicks"]].sum().itertuples()
                if r.impressions > 0}
    assert sum(i for i, _ in expected.values()) < perf["impressions"].sum()  # something was left out

    def check(examples):
        assert {(e["ad_id"], e["split"]): (e["impressions"], e["clicks"]) for e in examples} == expected

    with TestPipeline(runner="FnApiRunner") as p:
        examples = training_set.build(p, tiny_snapshot["raw.ads"], tiny_snapshot["raw.ad_daily_performance"],
                                      tiny_snapshot["tokenizer"], valid_from, train_from=train_from)
        assert_that(examples, check)
