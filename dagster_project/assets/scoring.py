"""Scoring: every valid combination of every ad group through the production model; top K kept.

Locally the Beam job reads the Parquet snapshot and writes Parquet shards that this asset loads
into DuckDB. With BigQuery (production) the job reads the raw tables and writes
serving.top_combinations and serving.unscored_ad_groups itself: the asset passes names and reads
back counts and job metrics.

The creative insights come from the same job (docs/insights.md): a diverse top-K, and
serving.asset_values, serving.explanations and serving.selections as the settings ask; the
materialisation shows the explanation of the best combination of a few ad groups (table and
waterfall) and the weakest assets across ad groups.
"""

import datetime as dt
import glob
import os
import shutil
import time

from dagster import AssetExecutionContext, Config, Failure, MaterializeResult, MetadataValue, asset
from pydantic import Field

from dagster_project.metadata import rounded, table
from dagster_project.resources import BeamRunnerResource, LocalPaths, ModelStoreResource, WarehouseResource
from warehouse.schemas import (ALL_SCORES_TABLE, ASSET_VALUES_TABLE, EXPLANATIONS_TABLE, SELECTIONS_TABLE,
                               TOP_COMBINATIONS_TABLE, UNSCORED_TABLE)

GROUP = "scoring"
EXPLAINED_AT_LEAST = 20  # a run explains at least this many ad groups (all of them when fewer)
SHOWN_EXPLANATIONS = 3  # ad groups whose explanation the materialisation shows
WEAKEST_SHOWN = 20


def explain_every_for(explain_every: int, ad_groups: int) -> int:
    """The sample rate of a run: the setting's 1 in N, lowered for small runs so that at least
    EXPLAINED_AT_LEAST ad groups are explained (every one below that); 0 stays off."""
    if explain_every <= 0:
        return 0
    return max(1, min(explain_every, ad_groups // EXPLAINED_AT_LEAST))


def _load_shards(wh, table_name: str, folder: str, schema) -> int:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = sorted(glob.glob(os.path.join(folder, "*.parquet")))
    frame = (pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True) if files
             else pa.Table.from_pylist([], schema=schema).to_pandas())
    if "rank" in frame:
        frame = frame.sort_values(["ad_group_id", "rank"]).reset_index(drop=True)
    return wh.replace_table(table_name, frame)


def _run(context, beam_runner: BeamRunnerResource, flags: list[str], params: dict) -> tuple[dict, dict]:
    """(Beam metrics, job metadata) of the scoring job on the configured runner."""
    from pipelines import score as pipeline
    from pipelines.dataflow_jobs import DataflowJobError, run_on_dataflow
    from pipelines.options import metrics_summary, relay_progress

    if beam_runner.is_local:
        with relay_progress(context.log.info):
            result = pipeline.run(flags + [f"--{k}={v}" for k, v in params.items()])
        return metrics_summary(result), {}
    dataflow = beam_runner.dataflow
    if beam_runner.template and dataflow.sdk_container_image:
        params = {**params, "sdk_container_image": dataflow.sdk_container_image, "sdk_location": "container"}
    try:
        status, metrics = run_on_dataflow(
            pipeline.run, flags, params, jobs=beam_runner.jobs(), template=beam_runner.template,
            environment=dataflow.environment(), job_name=f"adcombo-score-{context.run_id[:8]}",
            poll_seconds=beam_runner.poll_seconds,
            on_poll=lambda st: context.log.info(f"Dataflow job {st.job_id}: {st.state} ({st.console_url})"))
    except DataflowJobError as exc:
        raise Failure(description=str(exc), metadata={
            "dataflow_job_id": exc.status.job_id, "final_state": exc.status.state,
            "console_url": MetadataValue.url(exc.status.console_url)}) from None
    return metrics, {"dataflow_job_id": status.job_id, "console_url": MetadataValue.url(status.console_url),
                     "final_state": status.state, "polls": status.polls}


def build_assets(settings) -> list:
    class ScoringConfig(Config):
        top_k: int = Field(default=settings.top_k, description="combinations kept per ad group")
        all_scores: bool = Field(default=False, description="also keep every combination's score "
                                 f"({ALL_SCORES_TABLE}; hundreds of millions of rows at scale)")
        min_diff: int = Field(default=settings.top_min_diff, ge=0, le=5,
                              description="diverse top-K: kept combinations differ in at least this many positions")
        asset_values: bool = Field(default=settings.asset_values, description=f"what each asset is worth → "
                                   f"{ASSET_VALUES_TABLE}")
        explain_every: int = Field(default=settings.explain_every, ge=0, description="explain the best combination "
                                   f"of 1 ad group in N (at least {EXPLAINED_AT_LEAST} ad groups) → "
                                   f"{EXPLANATIONS_TABLE}; 0: none")
        select_submission: bool = Field(default=settings.select_submission, description="which 15 + 4 to submit "
                                        f"for pools larger than an RSA → {SELECTIONS_TABLE}")

    @asset(
        group_name=GROUP,
        deps=["production_model", "warehouse_snapshot"],
        kinds={"beam"},
        description=f"Best K combinations per ad group (Beam: enumerate, featurise, exact pair-table scoring, "
                    f"top-K) → {TOP_COMBINATIONS_TABLE}; ad groups that cannot be scored → {UNSCORED_TABLE}",
    )
    def top_combinations(context: AssetExecutionContext, config: ScoringConfig, paths: LocalPaths,
                         beam_runner: BeamRunnerResource, warehouse: WarehouseResource,
                         model_store: ModelStoreResource):
        from models.insight_rows import ASSET_VALUES_SCHEMA, EXPLANATIONS_SCHEMA, SELECTIONS_SCHEMA
        from pipelines.score import ALL_SCORES_SCHEMA, TOP_K_SCHEMA, UNSCORED_SCHEMA

        store = model_store.store()
        version = store.require_current()
        # Dataflow workers read the store's own copy (gs://); a local runner reads a local one.
        bundle = store.local_path(version) if beam_runner.is_local else store.uri(version)
        params = {"pools": warehouse.beam_source("raw.asset_pools", paths),
                  "ads": warehouse.beam_source("raw.ads", paths), "bundle": bundle, "top_k": config.top_k,
                  "scored_at": dt.datetime.now(dt.timezone.utc).isoformat()}
        outputs = {"top": ("output", "output_table", TOP_COMBINATIONS_TABLE, TOP_K_SCHEMA),
                   "unscored": ("unscored_output", "unscored_table", UNSCORED_TABLE, UNSCORED_SCHEMA)}
        if config.all_scores:
            outputs["all"] = ("all_scores_output", "all_scores_table", ALL_SCORES_TABLE, ALL_SCORES_SCHEMA)
        # Creative insights from the same pass (docs/insights.md).
        params["min_diff"] = config.min_diff
        explain_every = config.explain_every
        with warehouse.open() as wh:  # a small run explains more (the job itself fails on missing pools)
            if wh.table_exists("raw.asset_pools"):
                ad_groups = wh.query("SELECT COUNT(DISTINCT ad_group_id) AS n FROM `raw.asset_pools`")["n"].iloc[0]
                explain_every = explain_every_for(config.explain_every, int(ad_groups))
        insights = {"asset_values": (config.asset_values, ASSET_VALUES_TABLE, ASSET_VALUES_SCHEMA),
                    "explanations": (explain_every > 0, EXPLANATIONS_TABLE, EXPLANATIONS_SCHEMA),
                    "selections": (config.select_submission, SELECTIONS_TABLE, SELECTIONS_SCHEMA)}
        for name, (wanted, table_name, schema) in insights.items():
            if wanted:
                outputs[name] = (f"{name}_output", f"{name}_table", table_name, schema)
        if explain_every:
            params["explain_every"] = explain_every
        folders = {}
        for name, (file_flag, table_flag, table_name, _) in outputs.items():
            if warehouse.is_bigquery:
                params[table_flag] = warehouse.beam_table(table_name)  # the job writes BigQuery itself
            else:
                folders[name] = paths.path("scores", name)
                shutil.rmtree(folders[name] + ".tmp", ignore_errors=True)
                params[file_flag] = os.path.join(folders[name] + ".tmp", "part")
        context.log.info(f"scoring with model {version} on the {beam_runner.profile} runner, top {config.top_k}"
                         + (f" (any two differing in at least {config.min_diff} positions)" if config.min_diff >= 2 else "")
                         + (f"; explaining the best combination of 1 ad group in {explain_every}" if explain_every else ""))
        started = time.perf_counter()
        beam_metrics, job_metadata = _run(context, beam_runner, beam_runner.flags(), params)
        elapsed = time.perf_counter() - started
        with warehouse.open() as wh:
            for name, folder in folders.items():  # swap finished outputs in, then load them
                shutil.rmtree(folder, ignore_errors=True)
                os.replace(folder + ".tmp", folder)
                _load_shards(wh, outputs[name][2], folder, outputs[name][3])
            if not warehouse.is_bigquery:  # an insight turned off: no rows left from an earlier run
                for name, (wanted, table_name, schema) in insights.items():
                    if name not in outputs:
                        wh.replace_table(table_name, schema.empty_table().to_pandas())
            counts = wh.query(f"SELECT COUNT(*) AS rows, COUNT(DISTINCT ad_group_id) AS ad_groups, "
                              f"MAX(model_version) AS model_version FROM `{TOP_COMBINATIONS_TABLE}`").iloc[0]
            sizes = wh.query(f"SELECT SUM(n) AS n FROM (SELECT MAX(n_combinations) AS n "
                             f"FROM `{TOP_COMBINATIONS_TABLE}` GROUP BY ad_group_id)")["n"].iloc[0]
            unscored = wh.query(f"SELECT ad_group_id, reason FROM `{UNSCORED_TABLE}` ORDER BY ad_group_id")
            preview = wh.query(
                "SELECT ad_group_id, rank, headline_1, headline_2, headline_3, description_1, description_2, "
                f"score * 100 AS ctr_percent FROM `{TOP_COMBINATIONS_TABLE}` WHERE rank <= 3 "
                "ORDER BY ad_group_id, rank LIMIT 9")
            insight_metadata = _insight_metadata(wh, {name for name in insights if name in outputs})
        scored = int(beam_metrics.get("combinations_scored") or sizes or 0)
        rate = scored / max(elapsed, 1e-9)
        cores = beam_runner.cores()
        context.log.info(
            f"scored {scored:,} combinations of {int(counts['ad_groups']):,} ad groups in {elapsed:.1f}s "
            f"({rate:,.0f}/s" + (f", {rate / cores:,.0f}/s per core" if cores else "") + f"); "
            f"{len(unscored):,} ad groups could not be scored")
        for r in unscored.head(20).itertuples():
            context.log.warning(f"ad group {r.ad_group_id} not scored: {r.reason}")
        return MaterializeResult(metadata={
            "ad_groups": int(counts["ad_groups"]),
            "ad_groups_unscored": len(unscored),
            "unscored_ad_groups": table(unscored),
            "combinations_scored": scored,
            "combinations_rejected": int(beam_metrics.get("combinations_rejected", 0)),
            "seconds": round(elapsed, 1),
            "combinations_per_second": int(round(rate)),
            **({"combinations_per_second_per_core": int(round(rate / cores))} if cores else {}),
            # per ad group: enumerate + featurise, then score (pair tables or Booster.predict blocks)
            "featurize_ms_mean": rounded(float(beam_metrics.get("featurize_ms_mean", 0.0)), 3),
            "score_ms_mean": rounded(float(beam_metrics.get("score_block_ms_mean", 0.0)), 3),
            "score_ms_max": int(beam_metrics.get("score_block_ms_max", 0)),
            "ad_groups_pair_tables": int(beam_metrics.get("ad_groups_pairwise", 0)),
            "ad_groups_predict_blocks": int(beam_metrics.get("ad_groups_predict", 0)),
            "model_rows": int(beam_metrics.get("model_rows", 0)),
            "runner_profile": beam_runner.profile,
            "model_version": version,
            "rows": int(counts["rows"]),
            "table": TOP_COMBINATIONS_TABLE,
            "beam_metrics": MetadataValue.json(beam_metrics),
            "preview": table(preview),
            "min_diff": config.min_diff,
            **insight_metadata,
            **job_metadata,
        })

    return [top_combinations]


def _insight_metadata(wh, written: set[str]) -> dict:
    """What the UI shows of the insights: the explanation of the best combination of a few ad
    groups (table and waterfall) and the weakest assets across ad groups (docs/insights.md)."""
    from dagster_project.plots import waterfall_plot

    out = {}
    if "explanations" in written and wh.table_exists(EXPLANATIONS_TABLE):
        terms = wh.query(
            "SELECT ad_group_id, rank, term, kind, positions, asset_ids, texts, value, raw_score "
            f"FROM `{EXPLANATIONS_TABLE}` WHERE rank = 1 AND ad_group_id IN (SELECT DISTINCT ad_group_id "
            f"FROM `{EXPLANATIONS_TABLE}` ORDER BY ad_group_id LIMIT {SHOWN_EXPLANATIONS}) ORDER BY ad_group_id, term")
        explained = wh.query(f"SELECT COUNT(DISTINCT ad_group_id) AS n FROM `{EXPLANATIONS_TABLE}`")["n"].iloc[0]
        out["ad_groups_explained"] = int(explained)
        if len(terms):
            out["explanation"] = table(
                terms[["ad_group_id", "rank", "kind", "positions", "texts", "value", "asset_ids"]],
                descriptions={"value": "the term's share of the raw score (log-odds); the terms of an ad "
                                       "group's combination add up to its raw score",
                              "kind": "constant: the ad group's average ad; position: the asset in that slot; "
                                      "pair: what two slots' assets do together; history: the asset's own clicks"})
            out["explanation_waterfall"] = waterfall_plot(terms)
    if "asset_values" in written and wh.table_exists(ASSET_VALUES_TABLE):
        weakest = wh.query(
            "SELECT ad_group_id, asset_id, asset_type, text, label, regret, loss_if_removed, best_slot, top_n_share, "
            f"served_impressions, reason FROM `{ASSET_VALUES_TABLE}` WHERE label != 'keep' "
            f"ORDER BY regret DESC NULLS FIRST, ad_group_id, asset_id LIMIT {WEAKEST_SHOWN}")
        labels = wh.query(f"SELECT label, COUNT(*) AS assets, COUNT(DISTINCT ad_group_id) AS ad_groups "
                          f"FROM `{ASSET_VALUES_TABLE}` GROUP BY label ORDER BY label")
        out["asset_labels"] = table(labels)
        out["weakest_assets"] = table(weakest, descriptions={
            "regret": "best ad overall minus the best ad using this asset (empty: it cannot be shown)",
            "loss_if_removed": "best ad overall minus the best ad without it"})
    if "selections" in written:  # no pool larger than an RSA: BigQuery may have no table at all
        out["ad_groups_selected"] = 0
        if wh.table_exists(SELECTIONS_TABLE):
            selections = wh.query(
                "SELECT ad_group_id, method, selected_expected_ctr, random_expected_ctr, pool_expected_ctr, "
                f"current_expected_ctr, selected_best_raw, pool_best_raw FROM `{SELECTIONS_TABLE}` "
                "ORDER BY ad_group_id LIMIT 20")
            out["ad_groups_selected"] = int(wh.query(f"SELECT COUNT(*) AS n FROM `{SELECTIONS_TABLE}`")["n"].iloc[0])
            if len(selections):
                out["selections"] = table(selections)
    return out
