"""From raw tables to a training set: snapshot, tokenizer, training examples (Beam).

Locally the Beam jobs read a Parquet snapshot of the DuckDB tables; with BigQuery the jobs read
the tables themselves (`bq://` sources) and nothing passes through the orchestrator.
"""

import os
import shutil
import time

from dagster import AssetExecutionContext, Config, Failure, MaterializeResult, MetadataValue, asset
from pydantic import Field

from dagster_project.metadata import table
from dagster_project.resources import BeamRunnerResource, LocalPaths, WarehouseResource
from warehouse.schemas import RAW_SCHEMAS

GROUP = "training"
TEXT_COLUMNS = ("headline_1", "headline_2", "headline_3", "description_1", "description_2")


@asset(
    group_name=GROUP,
    deps=["raw_ads", "raw_ad_daily_performance", "raw_asset_pools"],
    kinds={"parquet"},
    description="The raw tables as the Beam jobs read them: a consistent Parquet snapshot of DuckDB, or "
                "(BigQuery) the tables themselves, counted.",
)
def warehouse_snapshot(context: AssetExecutionContext, warehouse: WarehouseResource, paths: LocalPaths):
    counts = {}
    with warehouse.open() as wh:
        for name in RAW_SCHEMAS:
            if warehouse.is_bigquery:
                counts[name] = wh.row_count(name)  # Dataflow reads the table itself
            else:
                counts[name] = wh.export_parquet(name, paths.snapshot(name))
            context.log.info(f"{name}: {counts[name]:,} rows → {warehouse.beam_source(name, paths)}")
    return MaterializeResult(metadata={f"rows {t}": n for t, n in counts.items()}
                             | {"read_by_beam_from": MetadataValue.json(
                                 {t: warehouse.beam_source(t, paths) for t in RAW_SCHEMAS})})


@asset(
    group_name=GROUP,
    deps=["warehouse_snapshot"],
    kinds={"sentencepiece"},
    description="SentencePiece unigram tokenizer trained on the advertiser corpus (ads and pools).",
)
def tokenizer(context: AssetExecutionContext, paths: LocalPaths, warehouse: WarehouseResource):
    from transforms.tokenizer import load_processor, model_sha256, train_sentencepiece

    union = " UNION ALL ".join(f"SELECT {c} AS text FROM `raw.ads`" for c in TEXT_COLUMNS)
    with warehouse.open() as wh:
        texts = wh.query(f"SELECT text FROM ({union} UNION ALL SELECT text FROM `raw.asset_pools`) "
                         "WHERE text IS NOT NULL AND text != ''")["text"].tolist()
    started = time.perf_counter()
    os.makedirs(os.path.dirname(paths.tokenizer), exist_ok=True)
    train_sentencepiece(texts, paths.tokenizer)
    sp = load_processor(paths.tokenizer)
    context.log.info(f"tokenizer: {sp.get_piece_size():,} pieces from {len(texts):,} texts")
    return MaterializeResult(metadata={
        "texts": len(texts), "unique_texts": len(set(texts)), "vocab_size": sp.get_piece_size(),
        "seconds": round(time.perf_counter() - started, 1), "sha256": model_sha256(paths.tokenizer),
        "path": MetadataValue.path(paths.tokenizer)})


class TrainingSetConfig(Config):
    valid_days: int = Field(default=7, description="at most this many of the most recent days validate (with few "
                            "days a share of them; with one day or one period, held-out ad groups: models.split)")


@asset(
    group_name=GROUP,
    deps=["warehouse_snapshot", "tokenizer"],
    kinds={"beam"},
    description="Training examples (Beam): features of each served ad, clicks and impressions per split.",
)
def training_set(context: AssetExecutionContext, config: TrainingSetConfig, paths: LocalPaths,
                 beam_runner: BeamRunnerResource, warehouse: WarehouseResource):
    import pyarrow.parquet as pq

    from pipelines import training_set as pipeline
    from pipelines.options import metrics_summary

    from monitoring.live_history import training_plan
    from models.split import SplitError

    try:
        with warehouse.open() as wh:  # small queries: what the history has decides the split
            # after a change that live accuracy saw, only the days since (docs/monitoring.md)
            train_from, plan = training_plan(wh, config.valid_days)
    except SplitError as exc:
        raise Failure(description=str(exc), allow_retries=False) from None
    if train_from:
        context.log.info(f"training on the days since the change live accuracy saw on {train_from}")
    context.log.info(f"validation split: {plan.method} ({plan.reason})")
    started = time.perf_counter()
    tokenizer_uri = paths.tokenizer
    out_dir = paths.training_set_location()
    if not paths.remote_stages:
        tmp_dir = out_dir + ".tmp"
        shutil.rmtree(tmp_dir, ignore_errors=True)
        output = os.path.join(tmp_dir, "part")
    else:
        # Dataflow workers read BigQuery and the staged tokenizer, and write the examples to gs://.
        from pipelines.storage import delete_matching, join, upload

        tokenizer_uri = upload(paths.tokenizer, paths.remote("runs", context.run_id, "tokenizer.model"))
        output = join(out_dir, "part")
        delete_matching(output + "*")
    result = pipeline.run(
        beam_runner.flags(workers=1)
        + [f"--ads={warehouse.beam_source('raw.ads', paths)}",
           f"--performance={warehouse.beam_source('raw.ad_daily_performance', paths)}",
           f"--tokenizer={tokenizer_uri}", f"--output={output}", *plan.to_flags()]
        + ([f"--train_from={train_from.isoformat()}"] if train_from else [])
    )
    beam_metrics = metrics_summary(result)
    # The plan travels with the examples: the model records how it was validated.
    paths.write_training_split(plan.to_metadata(), tmp_dir if not paths.remote_stages else out_dir)
    if not paths.remote_stages:
        # Swap the finished folder in: the model never reads a half-written training set.
        shutil.rmtree(out_dir, ignore_errors=True)
        os.replace(tmp_dir, out_dir)
        splits = pq.read_table(out_dir, columns=["split", "impressions", "clicks"]).to_pandas() \
            .groupby("split").agg(examples=("clicks", "size"), impressions=("impressions", "sum"),
                                  clicks=("clicks", "sum")).reset_index()
        examples = int(splits["examples"].sum())
    else:
        splits = None
        examples = int(beam_metrics.get("training_examples", 0))
    elapsed = time.perf_counter() - started
    context.log.info(f"training set: {examples:,} examples in {elapsed:.1f}s")
    return MaterializeResult(metadata={
        "examples": examples, "split": MetadataValue.json(plan.to_metadata()), "seconds": round(elapsed, 1),
        "train_from": train_from.isoformat() if train_from else "all history",
        **({"splits": table(splits)} if splits is not None else {}),
        "beam_metrics": MetadataValue.json(beam_metrics), "path": MetadataValue.path(out_dir)})


ASSETS = [warehouse_snapshot, tokenizer, training_set]
