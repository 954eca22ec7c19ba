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
    description="Best K combinations per ad group (Beam: enumerate, featurise, exact pair-table scoring, top-K) "
    "→ serving.top_combinations",
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
    cores = beam_runner.cores()
    rate_per_core = rate / cores if cores else None
    n_groups = int(beam_metrics.get("ad_groups_scored", top["ad_group_id"].nunique() if len(top) else 0))
    context.log.info(
        f"scored {scored:,} combinations of {n_groups:,} ad groups in {elapsed:.1f}s "
        f"({rate:,.0f}/s" + (f", {rate_per_core:,.0f}/s per core" if cores else "") + f"); "
        f"{len(top):,} rows → {TOP_COMBINATIONS_TABLE}"
    )
    preview = top[top["rank"] <= 3].head(9)[
        ["ad_group_id", "rank", "headline_1", "headline_2", "headline_3", "description_1", "description_2", "score"]
    ]
    per_core = {"combinations_per_second_per_core": round(rate_per_core)} if rate_per_core else {}
    return MaterializeResult(
        metadata={
            **per_core,
            "ad_groups": n_groups,
            "ad_groups_read": int(beam_metrics.get("ad_groups", 0)),
            "ad_groups_without_valid_combination": int(beam_metrics.get("ad_groups_without_valid_combination", 0)),
            "combinations_scored": scored,
            "combinations_rejected": int(beam_metrics.get("combinations_rejected", 0)),
            # per ad group: enumerate + featurise, then score (pair tables or Booster.predict blocks)
            "featurize_ms_mean": round(float(beam_metrics.get("featurize_ms_mean", 0.0)), 2),
            "block_latency_ms_mean": round(float(beam_metrics.get("score_block_ms_mean", 0.0)), 2),
            "block_latency_ms_max": int(beam_metrics.get("score_block_ms_max", 0)),
            "ad_groups_pair_tables": int(beam_metrics.get("ad_groups_pairwise", 0)),
            "ad_groups_predict_blocks": int(beam_metrics.get("ad_groups_predict", 0)),
            "model_rows": int(beam_metrics.get("model_rows", 0)),
            "seconds": round(elapsed, 2),
            "combinations_per_second": round(rate),
            "runner_profile": beam_runner.resolved_profile(),
            "model_version": os.path.basename(bundle),
            "rows": len(top),
            "table": TOP_COMBINATIONS_TABLE,
            "beam_metrics": MetadataValue.json(beam_metrics),
            "preview": MetadataValue.md(preview.to_markdown(index=False, floatfmt=".4f")),
        }
    )
