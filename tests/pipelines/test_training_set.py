import datetime as dt

import apache_beam as beam
import numpy as np
import pandas as pd
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that

from pipelines import training_set
from transforms.features import featurize_served_ad
from transforms.tokenizer import load_processor


def test_training_examples_sum_days_per_split_and_use_the_shared_features(tiny_snapshot, tiny_world):
    valid_from = tiny_world.end_date - dt.timedelta(days=2)
    perf = pd.read_parquet(tiny_snapshot["raw.ad_daily_performance"])
    perf["split"] = np.where(pd.to_datetime(perf["date"]).dt.date >= valid_from, "valid", "train")
    expected = {
        (r.ad_id, r.split): (int(r.impressions), int(r.clicks))
        for r in perf.groupby(["ad_id", "split"], as_index=False)[["impressions", "clicks"]].sum().itertuples()
        if r.impressions > 0
    }
    sp = load_processor(tiny_snapshot["tokenizer"])
    ads = {ad["ad_id"]: ad for ad in tiny_world.ads()}

    def check(examples):
        got = {(e["ad_id"], e["split"]): (e["impressions"], e["clicks"]) for e in examples}
        assert got == expected
        for e in examples:
            want = featurize_served_ad(ads[e["ad_id"]], sp)
            assert np.asarray(e["features"], dtype=np.float32).tobytes() == want.tobytes()

    with TestPipeline(runner="FnApiRunner") as p:
        examples = training_set.build(
            p, tiny_snapshot["raw.ads"], tiny_snapshot["raw.ad_daily_performance"], tiny_snapshot["tokenizer"], valid_from
        )
        assert_that(examples, check)


def test_run_writes_parquet(tiny_snapshot, tiny_world, tmp_path):
    out = tmp_path / "ts" / "part"
    training_set.run(
        [
            "--runner=FnApiRunner",
            f"--ads={tiny_snapshot['raw.ads']}",
            f"--performance={tiny_snapshot['raw.ad_daily_performance']}",
            f"--tokenizer={tiny_snapshot['tokenizer']}",
            f"--valid_from={(tiny_world.end_date - dt.timedelta(days=2)).isoformat()}",
            f"--output={out}",
        ]
    )
    df = pd.read_parquet(tmp_path / "ts")
    assert set(df["split"]) == {"train", "valid"}
    assert (df["clicks"] <= df["impressions"]).all()
    assert len(df.loc[0, "features"]) > 50
