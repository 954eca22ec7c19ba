"""Beam pipeline: score every valid combination of every ad group, keep the best K.

An element is one ad group (its pool), never one combination: per-element overhead would
dominate at hundreds of millions of rows. After grouping, a Reshuffle breaks fusion so a
distributed runner spreads ad groups over workers; each worker enumerates the valid
combinations, featurises every asset once, scores the block with the bundle's booster
(RunInference, model loaded once per worker) and keeps the top K.

    python -m pipelines.score --pools asset_pools.parquet --ads ads.parquet \
        --bundle models/bundles/<version> --output out/top_k --top_k 5
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Iterable

import apache_beam as beam
import numpy as np
import pyarrow as pa
from apache_beam.metrics import Metrics
from apache_beam.ml.inference.base import KeyedModelHandler, RunInference
from apache_beam.options.pipeline_options import PipelineOptions

from models.bundle import TOKENIZER_FILE, check_bundle
from models.handler import LightGBMBundleHandler
from models.topk import top_k_indices
from pipelines.options import SnapshotOptions, pipeline_options, require
from transforms.dofns import EnumerateAndFeaturize
from transforms.features import feature_spec

TOP_K_SCHEMA = pa.schema(
    [
        ("ad_group_id", pa.string()),
        ("rank", pa.int64()),
        ("h1_asset_id", pa.string()),
        ("h2_asset_id", pa.string()),
        ("h3_asset_id", pa.string()),
        ("d1_asset_id", pa.string()),
        ("d2_asset_id", pa.string()),
        ("headline_1", pa.string()),
        ("headline_2", pa.string()),
        ("headline_3", pa.string()),
        ("description_1", pa.string()),
        ("description_2", pa.string()),
        ("score", pa.float64()),
        ("raw_score", pa.float64()),
        ("model_version", pa.string()),
        ("n_combinations", pa.int64()),
    ]
)


class ScoreOptions(PipelineOptions):
    @classmethod
    def _add_argparse_args(cls, parser):
        parser.add_argument("--bundle", help="model bundle directory")
        parser.add_argument("--top_k", type=int, default=5, help="combinations kept per ad group")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class SelectTopK(beam.DoFn):
    """(ad_group_id, PredictionResult(block, raw scores)) → the K best rows, best first."""

    def __init__(self, k: int):
        self.k = k
        self.scored = Metrics.counter("adcombo", "combinations_scored")
        self.kept = Metrics.counter("adcombo", "top_rows")

    def process(self, element) -> Iterable[dict]:
        ad_group_id, result = element
        block, raw = result.example, np.asarray(result.inference, dtype=np.float64)
        self.scored.inc(len(raw))
        for rank, i in enumerate(top_k_indices(raw, self.k), start=1):
            h1, h2, h3, d1, d2 = (int(v) for v in block.combos[i])
            self.kept.inc()
            yield {
                "ad_group_id": ad_group_id,
                "rank": rank,
                "h1_asset_id": block.headline_ids[h1],
                "h2_asset_id": block.headline_ids[h2],
                "h3_asset_id": block.headline_ids[h3],
                "d1_asset_id": block.description_ids[d1],
                "d2_asset_id": block.description_ids[d2],
                "headline_1": block.headline_texts[h1],
                "headline_2": block.headline_texts[h2],
                "headline_3": block.headline_texts[h3],
                "description_1": block.description_texts[d1],
                "description_2": block.description_texts[d2],
                "score": float(_sigmoid(raw[i])),
                "raw_score": float(raw[i]),
                "model_version": result.model_id,
                "n_combinations": int(len(raw)),
            }


def _ad_group_meta(ad: dict):
    return ad["ad_group_id"], (ad.get("keyword") or "", ad.get("industry") or "")


def _assemble(element):
    ad_group_id, grouped = element
    assets = sorted(grouped["assets"], key=lambda a: (a["asset_type"], a["asset_id"]))
    meta = sorted(set(grouped["meta"]))  # deterministic if an ad group's ads disagree
    keyword, industry = meta[0] if meta else ("", "")
    return ad_group_id, {"keyword": keyword, "industry": industry, "assets": assets}


def build(pipeline: beam.Pipeline, pools_path: str, ads_path: str, bundle_path: str, top_k: int):
    manifest = check_bundle(bundle_path, feature_spec())  # fail before any work, with the reason
    tokenizer = f"{bundle_path.rstrip('/')}/{TOKENIZER_FILE}"
    assets = (
        pipeline
        | "ReadPools" >> beam.io.ReadFromParquet(pools_path)
        | "KeyAssets" >> beam.Map(lambda a: (a["ad_group_id"], a))
    )
    meta = (
        pipeline
        | "ReadAds" >> beam.io.ReadFromParquet(ads_path)
        | "AdGroupMeta" >> beam.Map(_ad_group_meta)
    )
    return (
        {"assets": assets, "meta": meta}
        | "GroupPools" >> beam.CoGroupByKey()
        | "OnlyWithPools" >> beam.Filter(lambda kv: len(kv[1]["assets"]) > 0)
        | "Assemble" >> beam.Map(_assemble)
        # Fusion break: spread ad groups over workers before the expensive fan-out.
        | "SpreadAdGroups" >> beam.Reshuffle()
        | "EnumerateAndFeaturize" >> beam.ParDo(EnumerateAndFeaturize(tokenizer))
        | "Predict" >> RunInference(
            KeyedModelHandler(LightGBMBundleHandler(bundle_path, max_batch_size=1))
        )
        | "TopK" >> beam.ParDo(SelectTopK(top_k))
    ), manifest


def run(argv=None, wait: bool = True):
    options = pipeline_options(argv)
    opts, io = options.view_as(ScoreOptions), options.view_as(SnapshotOptions)
    require(io, ("pools", "ads", "output"))
    require(opts, ("bundle",))
    pipeline = beam.Pipeline(options=options)
    rows, manifest = build(pipeline, io.pools, io.ads, opts.bundle, opts.top_k)
    rows | "Write" >> beam.io.WriteToParquet(io.output, TOP_K_SCHEMA, file_name_suffix=".parquet")
    logging.info("scoring with model %s (top %d per ad group)", manifest["version"], opts.top_k)
    result = pipeline.run()
    if wait:
        result.wait_until_finish()
    return result


if __name__ == "__main__":
    logging.getLogger().setLevel(logging.INFO)
    run()
