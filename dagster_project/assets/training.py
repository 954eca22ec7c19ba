"""From raw tables to a model bundle: snapshot, tokenizer, training set (Beam), LightGBM."""


import datetime as dt
import os
import shutil
import time

from dagster import AssetExecutionContext, Config, MaterializeResult, MetadataValue, asset
from pydantic import Field

from dagster_project.resources import BeamRunnerResource, LocalPaths, WarehouseResource
from warehouse.schemas import RAW_SCHEMAS

GROUP = "training"


@asset(
    group_name=GROUP,
    deps=["raw_ads", "raw_ad_daily_performance", "raw_asset_pools"],
    compute_kind="parquet",
    description="Consistent Parquet snapshot of the raw tables: the input of every Beam pipeline.",
)
def warehouse_snapshot(context: AssetExecutionContext, warehouse: WarehouseResource, paths: LocalPaths):
    counts = {}
    with warehouse.open() as wh:
        for table in RAW_SCHEMAS:
            counts[table] = wh.export_parquet(table, paths.snapshot(table))
            context.log.info(f"{table}: {counts[table]:,} rows → {paths.snapshot(table)}")
    return MaterializeResult(
        metadata={f"rows {t}": n for t, n in counts.items()}
        | {"folder": MetadataValue.path(paths.path("snapshots"))}
    )


@asset(
    group_name=GROUP,
    deps=["warehouse_snapshot"],
    compute_kind="sentencepiece",
    description="SentencePiece unigram tokenizer trained on the advertiser corpus (ads and pools).",
)
def tokenizer(context: AssetExecutionContext, paths: LocalPaths):
    import pyarrow.parquet as pq

    from transforms.tokenizer import load_processor, model_sha256, train_sentencepiece

    ads = pq.read_table(paths.snapshot("raw.ads")).to_pandas()
    pools = pq.read_table(paths.snapshot("raw.asset_pools")).to_pandas()
    text_columns = ["headline_1", "headline_2", "headline_3", "description_1", "description_2"]
    texts = [t for col in text_columns for t in ads[col].dropna()] + list(pools["text"].dropna())
    started = time.perf_counter()
    os.makedirs(os.path.dirname(paths.tokenizer), exist_ok=True)
    train_sentencepiece(texts, paths.tokenizer)
    sp = load_processor(paths.tokenizer)
    return MaterializeResult(
        metadata={
            "texts": len(texts),
            "unique_texts": len(set(texts)),
            "vocab_size": sp.get_piece_size(),
            "seconds": round(time.perf_counter() - started, 2),
            "sha256": model_sha256(paths.tokenizer),
            "path": MetadataValue.path(paths.tokenizer),
        }
    )


class TrainingSetConfig(Config):
    valid_days: int = Field(default=7, description="the most recent days form the validation split")


@asset(
    group_name=GROUP,
    deps=["warehouse_snapshot", "tokenizer"],
    compute_kind="beam",
    description="Training examples (Beam): features of each served ad, clicks and impressions per split.",
)
def training_set(
    context: AssetExecutionContext, config: TrainingSetConfig, paths: LocalPaths, beam_runner: BeamRunnerResource
):
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from pipelines import training_set as pipeline
    from pipelines.options import metrics_summary

    perf_path = paths.snapshot("raw.ad_daily_performance")
    last_day = pc.max(pq.read_table(perf_path, columns=["date"])["date"]).as_py()
    if last_day is None:
        raise ValueError("raw.ad_daily_performance is empty: ingest performance before training")
    valid_from = last_day - dt.timedelta(days=config.valid_days - 1)
    out_dir, tmp_dir = paths.training_set_dir, paths.training_set_dir + ".tmp"
    shutil.rmtree(tmp_dir, ignore_errors=True)
    started = time.perf_counter()
    inputs = {"ads": paths.snapshot("raw.ads"), "performance": perf_path, "tokenizer": paths.tokenizer}
    output = os.path.join(tmp_dir, "part")
    if not beam_runner.is_local:
        # Dataflow workers cannot see this disk: stage the inputs to gs:// and fetch the shards back.
        from pipelines.storage import delete_matching, join, upload

        stage = paths.remote("runs", context.run_id)
        inputs = {k: upload(v, join(stage, os.path.basename(v))) for k, v in inputs.items()}
        output = join(stage, "training_set", "part")
        delete_matching(output + "*")
    result = pipeline.run(
        beam_runner.flags(workers=1)
        + [f"--{k}={v}" for k, v in inputs.items()]
        + [f"--valid_from={valid_from.isoformat()}", f"--output={output}"]
    )
    beam_metrics = metrics_summary(result)
    if not beam_runner.is_local:
        from pipelines.storage import download_matching

        download_matching(output + "*", tmp_dir)
    # Swap the finished folder in: the model never reads a half-written training set.
    shutil.rmtree(out_dir, ignore_errors=True)
    os.replace(tmp_dir, out_dir)
    table = pq.read_table(out_dir, columns=["split", "impressions", "clicks"]).to_pandas()
    by_split = table.groupby("split").agg(examples=("clicks", "size"), impressions=("impressions", "sum"), clicks=("clicks", "sum"))
    elapsed = time.perf_counter() - started
    context.log.info(f"training set: {len(table):,} examples in {elapsed:.1f}s")
    return MaterializeResult(
        metadata={
            "examples": len(table),
            "valid_from": valid_from.isoformat(),
            "seconds": round(elapsed, 2),
            "splits": MetadataValue.md(by_split.reset_index().to_markdown(index=False)),
            "beam_metrics": MetadataValue.json(beam_metrics),
            "path": MetadataValue.path(out_dir),
        }
    )
