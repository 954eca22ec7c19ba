"""Scoring: every valid combination of every ad group through the production model; top K kept."""


import glob
import os
import shutil
import time

from dagster import AssetExecutionContext, Config, Failure, MaterializeResult, MetadataValue, asset
from pydantic import Field

from dagster_project.resources import BeamRunnerResource, DataflowResource, LocalPaths, WarehouseResource
from warehouse.schemas import TOP_COMBINATIONS_TABLE

GROUP = "scoring"


class ScoringConfig(Config):
    top_k: int = Field(default=5, description="combinations kept per ad group")


@asset(
    group_name=GROUP,
    deps=["production_model", "warehouse_snapshot"],
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
    dataflow: DataflowResource,
):
    import pandas as pd

    from pipelines import score as pipeline
    from pipelines.options import metrics_summary

    bundle = paths.current_bundle()
    out_dir = paths.path("scores", "top_k")
    tmp_dir = out_dir + ".tmp"
    shutil.rmtree(tmp_dir, ignore_errors=True)
    context.log.info(f"scoring with bundle {bundle} on the {beam_runner.resolved_profile()} profile")
    started = time.perf_counter()
    inputs = {
        "pools": paths.snapshot("raw.asset_pools"),
        "ads": paths.snapshot("raw.ads"),
        "bundle": bundle,
        "top_k": config.top_k,
    }
    if beam_runner.is_local:
        result = pipeline.run(
            beam_runner.flags()
            + [f"--{k}={v}" for k, v in inputs.items()]
            + [f"--output={os.path.join(tmp_dir, 'part')}"]
        )
        beam_metrics, job_metadata = metrics_summary(result), {}
    else:
        beam_metrics, job_metadata = _score_remotely(context, inputs, tmp_dir, paths, beam_runner, dataflow)
    elapsed = time.perf_counter() - started
    shutil.rmtree(out_dir, ignore_errors=True)
    os.replace(tmp_dir, out_dir)
    files = sorted(glob.glob(os.path.join(out_dir, "*.parquet")))
    top = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True) if files else pd.DataFrame()
    top = top.sort_values(["ad_group_id", "rank"]).reset_index(drop=True)
    top["scored_at"] = pd.Timestamp.now(tz="UTC")
    with warehouse.open() as wh:
        wh.replace_table(TOP_COMBINATIONS_TABLE, top)
    scored = int(beam_metrics.get("combinations_scored", 0))
    if not scored and len(top):  # a template launch reports no Beam metrics here; the rows say it
        scored = int(top.groupby("ad_group_id")["n_combinations"].first().sum())
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
            "ad_groups_unscored": int(beam_metrics.get("ad_groups_unscored", 0)),
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
            **job_metadata,
        }
    )


def _score_remotely(context, inputs: dict, local_out: str, paths: LocalPaths, beam_runner, dataflow):
    """Run the scoring pipeline on Dataflow: stage inputs to gs://, launch (Flex Template, or a
    direct submission without one), follow the job to a terminal state, fetch the top-K shards.

    Returns (Beam metrics, job metadata). A failed or cancelled job fails the step with the job's
    own error, and its id and console link in the failure's metadata.
    """
    from pipelines import score as pipeline
    from pipelines.dataflow_jobs import DataflowJobError, JobStatus, console_url
    from pipelines.options import metrics_summary
    from pipelines.storage import delete_matching, download_matching, join, upload

    stage = paths.remote("runs", context.run_id)
    version = os.path.basename(inputs["bundle"].rstrip("/"))
    params = {
        "pools": upload(inputs["pools"], join(stage, "raw__asset_pools.parquet")),
        "ads": upload(inputs["ads"], join(stage, "raw__ads.parquet")),
        "bundle": upload(inputs["bundle"], paths.remote("models", "bundles", version)),
        "output": join(stage, "top_k", "part"),
        "top_k": inputs["top_k"],
    }
    delete_matching(params["output"] + "*")  # a retried step must not read an earlier attempt's shards
    metrics = {}
    if dataflow.template:
        jobs = dataflow.jobs()
        if dataflow.sdk_container_image:
            params.update(sdk_container_image=dataflow.sdk_container_image, sdk_location="container")
        job_id = jobs.launch(f"adcombo-score-{context.run_id[:8]}", dataflow.template, params, dataflow.environment())
        context.log.info(f"Dataflow job {job_id}: {console_url(dataflow.project, dataflow.region, job_id)}")
        try:
            status = jobs.wait(job_id, poll_seconds=dataflow.poll_seconds,
                               on_poll=lambda st: context.log.info(f"Dataflow job {st.job_id}: {st.state}"))
        except DataflowJobError as exc:
            raise Failure(description=str(exc), metadata={
                "dataflow_job_id": exc.status.job_id, "final_state": exc.status.state,
                "console_url": MetadataValue.url(exc.status.console_url)}) from None
    else:
        result = pipeline.run(beam_runner.flags() + [f"--{k}={v}" for k, v in params.items()], wait=False)
        job_id = result.job_id()
        url = console_url(dataflow.project, dataflow.region, job_id)
        context.log.info(f"Dataflow job {job_id}: {url}")
        try:
            state = str(result.wait_until_finish())
        except Exception as exc:  # Beam raises DataflowRuntimeException on FAILED / CANCELLED
            raise Failure(description=f"Dataflow job {job_id} failed: {exc} ({url})",
                          metadata={"dataflow_job_id": job_id, "final_state": str(result.state),
                                    "console_url": MetadataValue.url(url)}) from None
        status = JobStatus(job_id, state if state.startswith("JOB_STATE") else f"JOB_STATE_{state}", url, polls=1)
        if not status.succeeded:
            raise Failure(description=f"Dataflow job {job_id} ended {status.state} ({url})",
                          metadata={"dataflow_job_id": job_id, "final_state": status.state, "console_url": MetadataValue.url(url)})
        metrics = metrics_summary(result)
    shards = download_matching(params["output"] + "*", local_out)
    context.log.info(f"Dataflow job {status.job_id} {status.state}: fetched {len(shards)} top-K shards")
    return metrics, {
        "dataflow_job_id": status.job_id,
        "console_url": MetadataValue.url(status.console_url),
        "final_state": status.state,
        "polls": status.polls,
    }
