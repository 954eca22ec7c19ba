"""Scoring: every valid combination of every ad group through the production model; top K kept."""


import glob
import os
import shutil
import time

from dagster import AssetExecutionContext, Config, MaterializeResult, MetadataValue, asset
from pydantic import Field

from dagster_project.resources import BeamRunnerResource, LocalPaths, WarehouseResource
from warehouse.schemas import TOP_COMBINATIONS_TABLE

GROUP = "scoring"


class ScoringConfig(Config):
    top_k: int = Field(default=5, description="combinations kept per ad group")


@asset(
    group_name=GROUP,
    deps=["ctr_model", "warehouse_snapshot"],
    compute_kind="beam",
    description="Best K combinations per ad group (Beam: enumerate, featurise, predict, top-K) → serving.top_combinations",
)
def top_combinations(
    context: AssetExecutionContext,
    config: ScoringConfig,
    paths: LocalPaths,
    beam_runner: BeamRunnerResource,
    warehouse: WarehouseResource,
):
    import pandas as pd

    from pipelines import score as pipeline
    from pipelines.options import metrics_summary

    bundle = paths.current_bundle()
    out_dir = paths.path("scores", "top_k")
    tmp_dir = out_dir + ".tmp"
    shutil.rmtree(tmp_dir, ignore_errors=True)
    context.log.info(f"scoring with bundle {bundle} on {beam_runner.runner} ({beam_runner.workers} workers)")
    started = time.perf_counter()
    result = pipeline.run(
        beam_runner.flags()
        + [
            f"--pools={paths.snapshot('raw.asset_pools')}",
            f"--ads={paths.snapshot('raw.ads')}",
            f"--bundle={bundle}",
            f"--output={os.path.join(tmp_dir, 'part')}",
            f"--top_k={config.top_k}",
        ]
    )
    elapsed = time.perf_counter() - started
    beam_metrics = metrics_summary(result)
    shutil.rmtree(out_dir, ignore_errors=True)
    os.replace(tmp_dir, out_dir)
    files = sorted(glob.glob(os.path.join(out_dir, "*.parquet")))
    top = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True) if files else pd.DataFrame()
    top = top.sort_values(["ad_group_id", "rank"]).reset_index(drop=True)
    top["scored_at"] = pd.Timestamp.now(tz="UTC")
    with warehouse.open() as wh:
        wh.replace_table(TOP_COMBINATIONS_TABLE, top)
    scored = int(beam_metrics.get("combinations_scored", 0))
    rate = scored / max(elapsed, 1e-9)
    context.log.info(
        f"scored {scored:,} combinations of {top['ad_group_id'].nunique():,} ad groups in {elapsed:.1f}s "
        f"({rate:,.0f}/s); {len(top):,} rows → {TOP_COMBINATIONS_TABLE}"
    )
    preview = top[top["rank"] <= 3].head(9)[
        ["ad_group_id", "rank", "headline_1", "headline_2", "headline_3", "description_1", "description_2", "score"]
    ]
    return MaterializeResult(
        metadata={
            "ad_groups": int(top["ad_group_id"].nunique()) if len(top) else 0,
            "combinations_scored": scored,
            "combinations_rejected": int(beam_metrics.get("combinations_rejected", 0)),
            "seconds": round(elapsed, 2),
            "combinations_per_second": round(rate),
            "model_version": os.path.basename(bundle),
            "rows": len(top),
            "table": TOP_COMBINATIONS_TABLE,
            "beam_metrics": MetadataValue.json(beam_metrics),
            "preview": MetadataValue.md(preview.to_markdown(index=False, floatfmt=".4f")),
        }
    )
