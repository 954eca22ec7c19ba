"""Beam pipeline: warehouse snapshot (Parquet) → training examples (Parquet).

One example per served ad and split: impressions and clicks summed over the split's days (the
model weighs each example by its impressions), with the ad's combination features from the shared
pure functions the scoring path uses (featurize_assets + combination_features). Served ads are
grouped by ad group and each distinct text of an ad group is tokenised and featurised once. Days
from `--valid_from` on are the validation split, so the model is judged on the future.

    python -m pipelines.training_set --ads ads.parquet --performance perf.parquet \
        --tokenizer spm.model --valid_from 2026-11-01 --output out/training_set
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Iterable

import apache_beam as beam
import pyarrow as pa
from apache_beam.metrics import Metrics
from apache_beam.options.pipeline_options import PipelineOptions

from pipelines.options import SnapshotOptions, pipeline_options, require
from transforms.dofns import local_copy
from transforms.features import featurize_served_ads
from transforms.tokenizer import load_processor

TRAINING_SCHEMA = pa.schema(
    [
        ("ad_id", pa.string()),
        ("ad_group_id", pa.string()),
        ("split", pa.string()),
        ("impressions", pa.int64()),
        ("clicks", pa.int64()),
        ("features", pa.list_(pa.float32())),
    ]
)


class TrainingSetOptions(PipelineOptions):
    @classmethod
    def _add_argparse_args(cls, parser):
        parser.add_argument("--tokenizer", help="SentencePiece model file")
        parser.add_argument("--valid_from", help="first validation day, YYYY-MM-DD")


def _as_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def split_of(row: dict, valid_from: dt.date) -> str:
    return "valid" if _as_date(row["date"]) >= valid_from else "train"


class FeaturizeAdGroupAds(beam.DoFn):
    """(ad_group_id, [raw.ads rows]) → (ad_id, row + "features"); each distinct text featurised once."""

    def __init__(self, tokenizer_path: str):
        self._tokenizer_path = tokenizer_path
        self._sp = None
        self.ads = Metrics.counter("adcombo", "served_ads_featurized")
        self.texts = Metrics.counter("adcombo", "distinct_texts_featurized")

    def setup(self):
        # Once per DoFn instance (worker), never per element; a gs:// model is copied locally once.
        self._sp = load_processor(local_copy(self._tokenizer_path))

    def process(self, element):
        _, ads = element
        ads = sorted(ads, key=lambda a: str(a["ad_id"]))  # deterministic whatever the shuffle order
        X = featurize_served_ads(ads, self._sp)
        self.ads.inc(len(ads))
        self.texts.inc(len({(c < 3, a.get(k) or "") for a in ads
                            for c, k in enumerate(("headline_1", "headline_2", "headline_3",
                                                   "description_1", "description_2"))}))
        for ad, x in zip(ads, X):
            yield ad["ad_id"], {**ad, "features": x}


class JoinExamples(beam.DoFn):
    """(ad_id, {ads: [featurised ad], perf: [(split, imp, clk)]}) → one example per split."""

    def __init__(self):
        self.orphans = Metrics.counter("adcombo", "performance_rows_without_ad")
        self.unserved = Metrics.counter("adcombo", "ads_without_performance")
        self.examples = Metrics.counter("adcombo", "training_examples")

    def process(self, element) -> Iterable[dict]:
        ad_id, grouped = element
        ads, perf = list(grouped["ads"]), list(grouped["perf"])
        if not ads:
            self.orphans.inc(len(perf))
            logging.warning("performance for unknown ad %s skipped (%d splits)", ad_id, len(perf))
            return
        if not perf:
            self.unserved.inc()
            return
        ad = ads[0]
        for split, (impressions, clicks) in perf:
            if impressions <= 0:
                continue
            self.examples.inc()
            yield {
                "ad_id": ad_id,
                "ad_group_id": ad["ad_group_id"],
                "split": split,
                "impressions": int(impressions),
                "clicks": int(clicks),
                "features": ad["features"].tolist(),
            }


def build(pipeline: beam.Pipeline, ads_path: str, perf_path: str, tokenizer: str, valid_from: dt.date):
    """The pipeline graph up to the example records (no sink), for tests and `run`."""
    ads = (
        pipeline
        | "ReadAds" >> beam.io.ReadFromParquet(ads_path)
        # An ad group's served ads share their pool's texts: featurise them together, once,
        # before each ad meets its per-split performance.
        | "KeyByAdGroup" >> beam.Map(lambda ad: (str(ad["ad_group_id"]), ad))
        | "GroupAdGroup" >> beam.GroupByKey()
        | "Featurise" >> beam.ParDo(FeaturizeAdGroupAds(tokenizer))
    )
    perf = (
        pipeline
        | "ReadPerformance" >> beam.io.ReadFromParquet(perf_path)
        | "KeyBySplit" >> beam.Map(
            lambda r: ((r["ad_id"], split_of(r, valid_from)), (int(r["impressions"]), int(r["clicks"])))
        )
        | "SumDays" >> beam.CombinePerKey(lambda values: tuple(map(sum, zip(*values))) or (0, 0))
        | "KeyPerfByAd" >> beam.Map(lambda kv: (kv[0][0], (kv[0][1], kv[1])))
    )
    return (
        {"ads": ads, "perf": perf}
        | "JoinAdsPerformance" >> beam.CoGroupByKey()
        | "Examples" >> beam.ParDo(JoinExamples())
    )


def run(argv=None, wait: bool = True):
    options = pipeline_options(argv)
    opts, io = options.view_as(TrainingSetOptions), options.view_as(SnapshotOptions)
    require(io, ("ads", "performance", "output"))
    require(opts, ("tokenizer", "valid_from"))
    pipeline = beam.Pipeline(options=options)
    (
        build(pipeline, io.ads, io.performance, opts.tokenizer, dt.date.fromisoformat(opts.valid_from))
        | "Write" >> beam.io.WriteToParquet(
            io.output, TRAINING_SCHEMA, file_name_suffix=".parquet"
        )
    )
    result = pipeline.run()
    if wait:
        result.wait_until_finish()
    return result


if __name__ == "__main__":
    logging.getLogger().setLevel(logging.INFO)
    run()
