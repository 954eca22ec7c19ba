"""Drift between the training inputs and each scoring run, with a blocking check.

The check fails with ERROR (blocking the experiment assets downstream) when the scored pools no
longer look like what the model was trained on, and with WARN for smaller shifts. Thresholds are
in monitoring/drift.py and docs/monitoring.md.
"""

import datetime as dt
import glob
import json
import os

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    asset,
)

from dagster_project.plots import figure_markdown, new_figure
from dagster_project.resources import LocalPaths, WarehouseResource

GROUP = "monitoring"
SAMPLE_AD_GROUPS = 300
SAMPLE_PER_AD_GROUP = 20
HISTORY_TABLE = "monitoring.drift_runs"


def _training_scores(paths: LocalPaths, model, ads_by_id: dict):
    """Served ads of the training set, scored as production would publish them."""
    import numpy as np
    import pandas as pd

    from monitoring.report import served_ad_scores

    files = sorted(glob.glob(os.path.join(paths.training_set_dir, "*.parquet")))
    if not files:
        return np.empty(0)
    df = pd.concat([pd.read_parquet(f, columns=["ad_id", "features"]) for f in files], ignore_index=True)
    df = df[df["ad_id"].astype(str).isin(ads_by_id)]
    X = np.stack(df["features"].to_numpy()).astype(np.float32) if len(df) else np.empty((0, 0), np.float32)
    return served_ad_scores(model, X, [ads_by_id[str(a)] for a in df["ad_id"]]) if len(df) else np.empty(0)


@asset(
    group_name=GROUP,
    deps=["top_combinations", "training_set"],
    compute_kind="python",
    check_specs=[AssetCheckSpec("input_drift", asset="drift_report", blocking=True,
                                description="ERROR blocks the experiment downstream; WARN only reports.")],
    description="Feature, coverage and score drift of this scoring run against the training set.",
)
def drift_report(context: AssetExecutionContext, paths: LocalPaths, warehouse: WarehouseResource):
    import pandas as pd
    import pyarrow.parquet as pq

    from models.bundle import load_bundle
    from models.scoring import ScoringModel, pool_inputs
    from monitoring.report import build_report, sample_published_scores
    from transforms.combinations import ad_group_keywords
    from transforms.features import feature_spec

    bundle = load_bundle(paths.current_bundle(), feature_spec())
    model = ScoringModel.from_bundle(bundle)
    sp = model.sp
    ads = pq.read_table(paths.snapshot("raw.ads")).to_pandas()
    pools = pq.read_table(paths.snapshot("raw.asset_pools")).to_pandas()
    ad_rows = ads.astype(object).where(ads.notna(), None).to_dict("records")
    pool_rows = pools.astype(object).where(pools.notna(), None).to_dict("records")
    keywords = {ag: kw for ag, (kw, _) in ad_group_keywords(ad_rows).items()}
    text_cols = ["headline_1", "headline_2", "headline_3", "description_1", "description_2"]
    train_pairs = [(t, kw) for col in text_cols for t, kw in zip(ads[col].fillna(""), ads["keyword"].fillna(""))]
    score_pairs = [(t, keywords.get(ag, "")) for t, ag in zip(pools["text"].fillna(""), pools["ad_group_id"])]
    sample = sample_published_scores(model, pool_inputs(pool_rows, ad_rows), SAMPLE_PER_AD_GROUP, SAMPLE_AD_GROUPS)
    report = build_report(
        train_pairs, score_pairs, sp, _training_scores(paths, model, {str(a["ad_id"]): a for a in ad_rows}),
        sample["score"].to_numpy(),
    )
    status = report.status
    now = dt.datetime.now(dt.timezone.utc)
    summary = {
        "checked_at": now.isoformat(), "model_version": bundle.version, "status": status,
        "reasons": report.reasons, "feature_error_share": report.error_share,
        "oov_train": report.oov_train, "oov_score": report.oov_score,
        "empty_train": report.empty_train, "empty_score": report.empty_score,
        "score_psi": report.score_psi, "score_ks": report.score_ks,
        "top_features": report.top_features(),
    }
    os.makedirs(paths.path("monitoring"), exist_ok=True)
    with open(paths.path("monitoring", "drift_latest.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2, ensure_ascii=False)
    history_row = pd.DataFrame([{k: summary[k] for k in (
        "checked_at", "model_version", "status", "feature_error_share", "oov_score", "score_psi", "score_ks")}])
    with warehouse.open() as wh:
        history = wh.query(f"SELECT * FROM `{HISTORY_TABLE}`") if wh.table_exists(HISTORY_TABLE) else None
        history = pd.concat([history, history_row], ignore_index=True) if history is not None else history_row
        wh.replace_table(HISTORY_TABLE, history)
    context.log.info(f"drift {status}: " + ("; ".join(report.reasons) or "inputs match the training set"))

    top = pd.DataFrame(report.top_features())
    fig, ax = new_figure()
    ax.barh(top["feature"][::-1], top["psi"][::-1], color=["#c0392b" if s == "error" else "#e67e22" if s == "warn" else "#7f8c8d" for s in top["severity"][::-1]])
    ax.axvline(0.1, ls="--", c="#e67e22", lw=1)
    ax.axvline(0.25, ls="--", c="#c0392b", lw=1)
    ax.set_xlabel("PSI (training → this run)")
    severity = {"error": AssetCheckSeverity.ERROR, "warn": AssetCheckSeverity.WARN}.get(status)
    check = AssetCheckResult(
        check_name="input_drift", passed=status == "ok",
        severity=severity or AssetCheckSeverity.WARN,
        metadata={"status": status, "reasons": "; ".join(report.reasons) or "none",
                  "feature_error_share": report.error_share, "score_psi": report.score_psi},
    )
    return MaterializeResult(
        metadata={
            "status": status,
            "reasons": MetadataValue.md("\n".join(f"- {r}" for r in report.reasons) or "none"),
            "oov_rate": report.oov_score,
            "empty_text_rate": report.empty_score,
            "score_psi": report.score_psi,
            "score_ks": report.score_ks,
            "score_ks_pvalue": report.score_ks_pvalue,
            "features_at_error": int(sum(f.severity == "error" for f in report.features)),
            "top_features": MetadataValue.md(top.to_markdown(index=False, floatfmt=".3f")),
            "psi_plot": figure_markdown(fig, "PSI per feature"),
            "history": MetadataValue.md(history.tail(10).to_markdown(index=False, floatfmt=".3f")),
        },
        check_results=[check],
    )
