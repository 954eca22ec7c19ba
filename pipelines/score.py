"""Beam pipeline: score every valid combination of every ad group, keep the best K.

An element is one ad group (its pool), never one combination: per-element overhead would
dominate at hundreds of millions of rows. After grouping, a Reshuffle breaks fusion so a
distributed runner spreads ad groups over workers; each worker scores an ad group with
RunInference (models.handler, model loaded once per worker), which calls models.scoring.score_pool:
enumerate the valid combinations (kept factored as headline triples x description pairs),
featurise every asset once, exact pair tables when the model decomposes into position-pair terms
(models.pairwise), Booster.predict blocks otherwise, per-asset history effects, top K. Ad groups
that cannot be scored go to a side output with their reason. See docs/scoring.md.

The creative insights come from the same pass (docs/insights.md; pipelines.insight_outputs):
--min_diff M makes the top-K diverse (any two kept combinations differ in >= M positions), and
asset values, explanations and 15 + 4 selections are written when their outputs are named.

    python -m pipelines.score --pools asset_pools.parquet --ads ads.parquet \
        --bundle models/bundles/<version> --output out/top_k --top_k 5 \
        [--min_diff 2] [--asset_values_output out/assets/part] \
        [--explanations_output out/explanations/part --explain_every 100] \
        [--selections_output out/selections/part] \
        [--all_scores_output out/all/part] [--runner_profile dataflow ...]
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Iterable, NamedTuple

import apache_beam as beam
import numpy as np
import pyarrow as pa
from apache_beam.metrics import Metrics
from apache_beam.ml.inference.base import KeyedModelHandler, RunInference
from apache_beam.options.pipeline_options import PipelineOptions, TestOptions

from models.bundle import check_bundle
from models.handler import LightGBMBundleHandler
from models.insight_options import InsightOptions
from models.scoring import PoolInput
from models.staging import is_remote, local_bundle
from pipelines.insight_outputs import OUTPUTS as INSIGHT_OUTPUTS
from pipelines.insight_outputs import InsightTables, bigquery_table_schema, insight_options
from pipelines.io import bigquery_schema, read_rows
from pipelines.options import SnapshotOptions, pipeline_options, require
from transforms.combinations import pick_keyword
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
        ("scored_at", pa.timestamp("us", tz="UTC")),
    ]
)


UNSCORED_TAG = "unscored"
UNSCORED_SCHEMA = pa.schema([("ad_group_id", pa.string()), ("reason", pa.string()), ("model_version", pa.string())])

ALL_SCORES_TAG = "all_scores"
ALL_SCORES_SCHEMA = pa.schema(
    [
        ("ad_group_id", pa.string()),
        ("row", pa.int32()),  # enumeration order within the ad group
        ("h1_asset_id", pa.string()),
        ("h2_asset_id", pa.string()),
        ("h3_asset_id", pa.string()),
        ("d1_asset_id", pa.string()),
        ("d2_asset_id", pa.string()),
        ("raw_score", pa.float64()),
    ]
)


class ScoreOptions(PipelineOptions):
    @classmethod
    def _add_argparse_args(cls, parser):
        parser.add_argument("--bundle", help="model bundle directory")
        parser.add_argument("--top_k", type=int, default=5, help="combinations kept per ad group")
        parser.add_argument("--all_scores_output", default="",
                            help="also write every combination's raw score as Parquet shards under "
                                 "this prefix (off by default: hundreds of millions of rows)")
        parser.add_argument("--output_table", default="",
                            help="also (or instead of --output) load the top-K rows into this BigQuery "
                                 "table, PROJECT:DATASET.TABLE, with file loads (WRITE_TRUNCATE)")
        parser.add_argument("--unscored_output", default="",
                            help="Parquet prefix for ad groups that could not be scored, with the reason")
        parser.add_argument("--unscored_table", default="",
                            help="BigQuery table PROJECT:DATASET.TABLE for ad groups that could not be scored")
        parser.add_argument("--all_scores_table", default="",
                            help="BigQuery table PROJECT:DATASET.TABLE for every combination's raw score")
        parser.add_argument("--scored_at", default="",
                            help="timestamp recorded on every row (ISO 8601; default: when the job is built)")
        parser.add_argument("--scoring_method", default="auto", choices=("auto", "predict"),
                            help="auto: exact pair tables when the model decomposes, Booster.predict "
                                 "blocks otherwise; predict: always Booster.predict blocks")
        # Creative insights, from the same pass (docs/insights.md).
        parser.add_argument("--min_diff", type=int, default=0,
                            help="diverse top-K: any two kept combinations of an ad group differ in at least "
                                 "this many of the 5 positions (exact greedy; 0 or 1: the plain top-K)")
        parser.add_argument("--explain_every", type=int, default=100,
                            help="explanations: the best combination of 1 ad group in N (a stable hash of the "
                                 "ad group id picks them; 1: every ad group)")
        for name, what in (("asset_values", "what each asset is worth, one row per asset"),
                           ("explanations", "the named terms of the explained combinations, one row per term"),
                           ("selections", "which 15 + 4 to submit, for pools larger than a responsive search ad")):
            parser.add_argument(f"--{name}_output", default="", help=f"Parquet prefix: {what}")
            parser.add_argument(f"--{name}_table", default="", help=f"BigQuery table PROJECT:DATASET.TABLE: {what}")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class SelectTopK(beam.DoFn):
    """(ad_group_id, PredictionResult(PoolInput, PoolScores)) -> the K best rows, best first.

    An ad group that could not be scored goes to UNSCORED_TAG as {ad_group_id, reason}. With
    all_scores=True, also one Arrow table of every score per ad group on ALL_SCORES_TAG.
    """

    def __init__(self, all_scores: bool = False, scored_at: dt.datetime | None = None):
        self.all_scores = all_scores
        self.scored_at = scored_at or dt.datetime.now(dt.timezone.utc)
        self.kept = Metrics.counter("adcombo", "top_rows")
        self.ad_groups = Metrics.counter("adcombo", "ad_groups_scored")

    def process(self, element) -> Iterable[dict]:
        ad_group_id, result = element
        out = result.inference
        if not out.ok:
            yield beam.pvalue.TaggedOutput(UNSCORED_TAG, {"ad_group_id": ad_group_id, "reason": out.reason,
                                                          "model_version": result.model_id})
            return
        block, scored = out.group, out.scored
        self.ad_groups.inc()
        combos = block.rows(scored.top_rows)
        for rank, (c, raw) in enumerate(zip(combos, scored.top_raw), start=1):
            h1, h2, h3, d1, d2 = (int(v) for v in c)
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
                "score": float(_sigmoid(raw)),
                "raw_score": float(raw),
                "model_version": result.model_id,
                "n_combinations": int(scored.n_scored),
                "scored_at": self.scored_at,
            }
        if self.all_scores and scored.all_raw is not None:
            yield beam.pvalue.TaggedOutput(ALL_SCORES_TAG, _all_scores_table(ad_group_id, block, scored.all_raw))


def _all_scores_table(ad_group_id: str, block, raw: np.ndarray) -> pa.Table:
    n = len(raw)
    combos = block.combos
    h_ids = pa.array(block.headline_ids, pa.string())
    d_ids = pa.array(block.description_ids, pa.string())
    cols = [pa.array([ad_group_id] * n, pa.string()), pa.array(np.arange(n, dtype=np.int32))]
    cols += [h_ids.take(pa.array(combos[:, i])) for i in range(3)]
    cols += [d_ids.take(pa.array(combos[:, 3 + j])) for j in range(2)]
    cols.append(pa.array(raw, pa.float64()))
    return pa.Table.from_arrays(cols, schema=ALL_SCORES_SCHEMA)


def _ad_group_meta(ad: dict):
    return ad["ad_group_id"], (ad.get("keyword") or "", ad.get("industry") or "")


def _assemble(element) -> tuple[str, PoolInput]:
    ad_group_id, grouped = element
    assets = sorted(grouped["assets"], key=lambda a: (a["asset_type"], a["asset_id"]))
    keyword, industry = pick_keyword(grouped["meta"])  # the one rule, shared with every consumer
    return ad_group_id, PoolInput(ad_group_id, keyword, tuple(assets), industry)


class ScoreOutputs(NamedTuple):
    rows: beam.PCollection  # TOP_K_SCHEMA dicts
    all_scores: beam.PCollection | None  # pa.Table per ad group, when asked for
    manifest: dict
    unscored: beam.PCollection | None = None  # UNSCORED_SCHEMA dicts
    # pa.Tables (models.insight_rows schemas), when the insights ask for them
    insights: dict[str, beam.PCollection] | None = None


def build_outputs(pipeline: beam.Pipeline, pools_path: str, ads_path: str, bundle_path: str,
                  top_k: int, all_scores: bool = False, scoring_method: str = "auto",
                  validate: bool = True, scored_at: dt.datetime | None = None,
                  insights: InsightOptions | None = None) -> ScoreOutputs:
    """The scoring graph. validate=False skips checking that inputs exist at construction time
    (an offline Dataflow dry run cannot list gs:// paths); the bundle is always checked.

    insights: what else to take from the same pass (pipelines.insight_outputs.insight_options):
    with min_diff >= 2 the top-K rows are the diverse top-K; asset values, explanations and
    selections come back as PCollections of Arrow tables in ScoreOutputs.insights."""
    # Fail before any work, with the reason (a gs:// bundle is copied locally to be checked; an
    # offline dry run cannot read it, and workers check it again when they load it).
    if validate or not is_remote(bundle_path):
        manifest = check_bundle(local_bundle(bundle_path), feature_spec())
    else:
        manifest = {"version": "unchecked (dry run)"}
    if top_k < 1:
        raise ValueError(f"--top_k must be at least 1, got {top_k}")
    assets = (
        pipeline
        | "ReadPools" >> read_rows(pools_path, validate)
        | "KeyAssets" >> beam.Map(lambda a: (a["ad_group_id"], a))
    )
    meta = (
        pipeline
        | "ReadAds" >> read_rows(ads_path, validate)
        | "AdGroupMeta" >> beam.Map(_ad_group_meta)
    )
    handler = LightGBMBundleHandler(
        bundle_path, top_k=top_k, keep_all_scores=all_scores,
        force_predict=scoring_method == "predict", insights=insights,
        # one ad group per call: an ad group is already a block of up to 32,760 combinations
        min_batch_size=1, max_batch_size=1,
    )
    predicted = (
        {"assets": assets, "meta": meta}
        | "GroupPools" >> beam.CoGroupByKey()
        | "OnlyWithPools" >> beam.Filter(lambda kv: len(kv[1]["assets"]) > 0)
        | "Assemble" >> beam.Map(_assemble)
        # Fusion break: spread ad groups over workers before the expensive fan-out.
        | "SpreadAdGroups" >> beam.Reshuffle()
        | "Predict" >> RunInference(KeyedModelHandler(handler))
    )
    scored = predicted | "TopK" >> beam.ParDo(SelectTopK(all_scores, scored_at)).with_outputs(
        ALL_SCORES_TAG, UNSCORED_TAG, main="top")
    tables = None
    if insights is not None and (insights.asset_values or insights.explain_ranks or insights.select):
        # The same PredictionResults as TopK (fused with it): no second model pass.
        tagged = predicted | "InsightTables" >> beam.ParDo(InsightTables(insights.select)).with_outputs(
            *(o.tag for o in INSIGHT_OUTPUTS))
        wanted = {"asset_values": insights.asset_values, "explanations": bool(insights.explain_ranks),
                  "selections": insights.select}
        tables = {o.tag: tagged[o.tag] for o in INSIGHT_OUTPUTS if wanted[o.tag]}
    return ScoreOutputs(scored.top, scored[ALL_SCORES_TAG] if all_scores else None, manifest,
                        scored[UNSCORED_TAG], tables)


def build(pipeline: beam.Pipeline, pools_path: str, ads_path: str, bundle_path: str, top_k: int):
    """(top-K rows PCollection, bundle manifest): the default scoring graph."""
    out = build_outputs(pipeline, pools_path, ads_path, bundle_path, top_k)
    return out.rows, out.manifest


def _write_bigquery(rows: beam.PCollection, label: str, table: str, schema: pa.Schema | dict) -> None:
    """File loads, not streaming inserts: one atomic load job per run (WRITE_TRUNCATE), no per-row quota.
    schema: an Arrow schema of flat columns, or a BigQuery table schema dict (REPEATED columns)."""
    (rows
     | f"{label}Json" >> beam.Map(_json_row)
     | label >> beam.io.WriteToBigQuery(
            table, schema=schema if isinstance(schema, dict) else bigquery_schema(schema),
            method=beam.io.WriteToBigQuery.Method.FILE_LOADS,
            write_disposition=beam.io.BigQueryDisposition.WRITE_TRUNCATE,
            create_disposition=beam.io.BigQueryDisposition.CREATE_IF_NEEDED))


def _json_row(row: dict) -> dict:
    """JSON-ready: timestamps as ISO text, NaN as null (JSON has no NaN)."""
    return {k: v.isoformat() if isinstance(v, dt.datetime) else None if isinstance(v, float) and v != v else v
            for k, v in row.items()}


def build_pipeline(argv=None) -> tuple[beam.Pipeline, dict]:
    """The whole scoring job (reads, scoring, writes) from command-line flags, not yet run.

    Inputs are Parquet files or `bq://` tables; each output goes to Parquet shards (--output,
    --unscored_output, --all_scores_output, --asset_values_output, --explanations_output,
    --selections_output) and/or BigQuery tables (--output_table, --unscored_table,
    --all_scores_table, --asset_values_table, --explanations_table, --selections_table), written by
    the job itself.
    """
    options = pipeline_options(argv)
    opts, io = options.view_as(ScoreOptions), options.view_as(SnapshotOptions)
    require(io, ("pools", "ads"))
    require(opts, ("bundle",))
    if not io.output and not opts.output_table:
        raise SystemExit("missing required flags: --output or --output_table")
    if not 0 <= opts.min_diff <= 5:
        raise SystemExit(f"--min_diff must be between 0 and 5 (positions that must differ), got {opts.min_diff}")
    if opts.explain_every < 1:
        raise SystemExit(f"--explain_every must be at least 1 (1: every ad group), got {opts.explain_every}")
    sinks = {o.tag: (getattr(opts, f"{o.tag}_output"), getattr(opts, f"{o.tag}_table")) for o in INSIGHT_OUTPUTS}
    insights = insight_options(opts.min_diff, asset_values=any(sinks["asset_values"]),
                               explain_every=opts.explain_every if any(sinks["explanations"]) else 0,
                               select=any(sinks["selections"]))
    scored_at = dt.datetime.fromisoformat(opts.scored_at) if opts.scored_at else dt.datetime.now(dt.timezone.utc)
    if scored_at.tzinfo is None:
        scored_at = scored_at.replace(tzinfo=dt.timezone.utc)
    pipeline = beam.Pipeline(options=options)
    out = build_outputs(pipeline, io.pools, io.ads, opts.bundle, opts.top_k,
                        all_scores=bool(opts.all_scores_output or opts.all_scores_table),
                        scoring_method=opts.scoring_method,
                        validate=not options.view_as(TestOptions).dry_run, scored_at=scored_at, insights=insights)
    if io.output:
        out.rows | "Write" >> beam.io.WriteToParquet(io.output, TOP_K_SCHEMA, file_name_suffix=".parquet")
    if opts.output_table:
        _write_bigquery(out.rows, "WriteBigQuery", opts.output_table, TOP_K_SCHEMA)
    if opts.unscored_output:
        out.unscored | "WriteUnscored" >> beam.io.WriteToParquet(
            opts.unscored_output, UNSCORED_SCHEMA, file_name_suffix=".parquet")
    if opts.unscored_table:
        _write_bigquery(out.unscored, "WriteUnscoredBigQuery", opts.unscored_table, UNSCORED_SCHEMA)
    if opts.all_scores_output:
        out.all_scores | "WriteAllScores" >> beam.io.WriteToParquetBatched(
            opts.all_scores_output, ALL_SCORES_SCHEMA, file_name_suffix=".parquet")
    if opts.all_scores_table:
        rows = out.all_scores | "AllScoresRows" >> beam.FlatMap(lambda t: t.to_pylist())
        _write_bigquery(rows, "WriteAllScoresBigQuery", opts.all_scores_table, ALL_SCORES_SCHEMA)
    for o in INSIGHT_OUTPUTS:
        prefix, table = sinks[o.tag]
        if prefix:
            out.insights[o.tag] | f"Write{o.label}" >> beam.io.WriteToParquetBatched(
                prefix, o.schema, file_name_suffix=".parquet")
        if table:
            rows = out.insights[o.tag] | f"{o.label}Rows" >> beam.FlatMap(lambda t: t.to_pylist())
            _write_bigquery(rows, f"Write{o.label}BigQuery", table, bigquery_table_schema(o.schema))
    logging.info("scoring with model %s (top %d per ad group%s)", out.manifest["version"], opts.top_k,
                 f", any two differing in at least {opts.min_diff} positions" if opts.min_diff >= 2 else "")
    return pipeline, out.manifest


def run(argv=None, wait: bool = True):
    pipeline, _ = build_pipeline(argv)
    result = pipeline.run()
    if wait:
        result.wait_until_finish()
    return result


if __name__ == "__main__":
    from pipelines.options import relay_progress

    logging.getLogger().setLevel(logging.INFO)
    with relay_progress(logging.getLogger("adcombo.score").info):
        run()
