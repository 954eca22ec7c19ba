"""Beam pipeline: warehouse snapshot (Parquet) → training examples (Parquet).

One example per served ad and split: impressions and clicks summed over the split's days (the
model weighs each example by its impressions), with the ad's combination features from the shared
pure functions the scoring path uses (featurize_assets + combination_features), every lexicon
match counted 1: the model learns its term weights from these rows and recomputes their features
with them (models.fit.model_features), so the bundle's features are the scoring path's. Served ads
are grouped by ad group and each distinct text of an ad group is tokenised and featurised once.

The split follows a plan (models.split.plan_split, chosen from what the history has):
`--split_method=last_days --valid_from=DAY` (days from DAY on validate: the model is judged on the
future), or `--split_method=held_out_ad_groups --holdout_below=N` (one day or one aggregated period:
every row of the ad groups whose hash is <= N validates). Inputs are Parquet files or BigQuery
tables (`bq://PROJECT.DATASET.TABLE`, read by the job itself).

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

from models.split import METHODS, SplitPlan
from pipelines.io import read_rows
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
        parser.add_argument("--split_method", choices=METHODS, default=None,
                            help="validation split (models.split): last_days (default) or held_out_ad_groups")
        parser.add_argument("--valid_from", help="last_days: first validation day, YYYY-MM-DD")
        parser.add_argument("--holdout_salt", default=None, help="held_out_ad_groups: hash salt")
        parser.add_argument("--holdout_below", type=int, default=None,
                            help="held_out_ad_groups: ad groups whose hash is <= this validate")
        parser.add_argument("--train_from", default="",
                            help="first day of delivery used at all, YYYY-MM-DD (default: every day)")


BY_AD_GROUP = "by_ad_group"  # a performance row whose split its ad's group decides (after the join)


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
    """(ad_id, {ads: [featurised ad], perf: [(split, imp, clk)]}) → one example per split; a split
    left to the ad group (held_out_ad_groups) is decided here, where the ad's group is known."""

    def __init__(self, plan: SplitPlan | None = None):
        self.plan = plan
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
            if split == BY_AD_GROUP:
                split = self.plan.split_of_group(ad["ad_group_id"])
            self.examples.inc()
            yield {
                "ad_id": ad_id,
                "ad_group_id": ad["ad_group_id"],
                "split": split,
                "impressions": int(impressions),
                "clicks": int(clicks),
                "features": ad["features"].tolist(),
            }


def _on_or_after(row: dict, first_day: str) -> bool:
    return not first_day or str(row["date"])[:10] >= first_day  # ISO dates compare as text


def _plan(split: SplitPlan | dt.date) -> SplitPlan:
    if isinstance(split, SplitPlan):
        return split
    return SplitPlan("last_days", "given as a first validation day", valid_from=split)


def build(pipeline: beam.Pipeline, ads_path: str, perf_path: str, tokenizer: str, split: SplitPlan | dt.date,
          train_from: dt.date | None = None):
    """The pipeline graph up to the example records (no sink), for tests and `run`.

    split: a models.split.SplitPlan, or the first validation day (a last_days plan). Delivery before
    `train_from` is left out: after a change in the market it teaches rules that no longer hold.
    """
    plan = _plan(split)
    ads = (
        pipeline
        | "ReadAds" >> read_rows(ads_path)
        # An ad group's served ads share their pool's texts: featurise them together, once,
        # before each ad meets its per-split performance.
        | "KeyByAdGroup" >> beam.Map(lambda ad: (str(ad["ad_group_id"]), ad))
        | "GroupAdGroup" >> beam.GroupByKey()
        | "Featurise" >> beam.ParDo(FeaturizeAdGroupAds(tokenizer))
    )
    perf = (
        pipeline
        | "ReadPerformance" >> read_rows(perf_path)
        | "SinceTrainFrom" >> beam.Filter(_on_or_after, train_from.isoformat() if train_from else "")
        | "KeyBySplit" >> beam.Map(
            lambda r: ((r["ad_id"], plan.split_of_day(r["date"]) or BY_AD_GROUP),
                       (int(r["impressions"]), int(r["clicks"])))
        )
        | "SumDays" >> beam.CombinePerKey(lambda values: tuple(map(sum, zip(*values))) or (0, 0))
        | "KeyPerfByAd" >> beam.Map(lambda kv: (kv[0][0], (kv[0][1], kv[1])))
    )
    return (
        {"ads": ads, "perf": perf}
        | "JoinAdsPerformance" >> beam.CoGroupByKey()
        | "Examples" >> beam.ParDo(JoinExamples(plan))
    )


def plan_of(opts: "TrainingSetOptions") -> SplitPlan:
    """The split plan the flags describe (models.split.SplitPlan.to_flags wrote them)."""
    try:
        return SplitPlan.from_flags(opts.split_method, opts.valid_from, opts.holdout_salt, opts.holdout_below)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None


def run(argv=None, wait: bool = True):
    options = pipeline_options(argv)
    opts, io = options.view_as(TrainingSetOptions), options.view_as(SnapshotOptions)
    require(io, ("ads", "performance", "output"))
    require(opts, ("tokenizer",))
    plan = plan_of(opts)
    pipeline = beam.Pipeline(options=options)
    (
        build(pipeline, io.ads, io.performance, opts.tokenizer, plan,
              dt.date.fromisoformat(opts.train_from) if opts.train_from else None)
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
