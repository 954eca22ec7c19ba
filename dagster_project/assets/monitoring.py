"""Drift between the training inputs and each scoring run, with a blocking check.

The check fails with ERROR (blocking the experiment assets downstream) when the scored pools no
longer look like what the model was trained on, and with WARN for smaller shifts. Thresholds are
in monitoring/drift.py and docs/monitoring.md.
"""

import datetime as dt
import json
import os

from dagster import (AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetExecutionContext, MaterializeResult,
                     MetadataValue, asset)

from dagster_project.metadata import rounded, table
from dagster_project.plots import psi_plot
from dagster_project.resources import LocalPaths, ModelStoreResource, WarehouseResource
from warehouse.base import frame_rows
from warehouse.schemas import DRIFT_RUNS_TABLE as HISTORY_TABLE

GROUP = "monitoring"
HISTORY_SCHEMA = [("checked_at", "TIMESTAMP"), ("model_version", "STRING"), ("status", "STRING"),
                  ("feature_error_share", "FLOAT64"), ("oov_score", "FLOAT64"), ("score_psi", "FLOAT64"),
                  ("score_ks", "FLOAT64"),
                  # what the scores were compared with (a bundle's pools at training, or its served ads)
                  # and whether the difference was significant: a PSI alone is not the verdict
                  ("score_ks_pvalue", "FLOAT64"), ("score_reference", "STRING")]


@asset(
    group_name=GROUP,
    deps=["top_combinations", "training_set"],
    kinds={"python"},
    check_specs=[AssetCheckSpec("input_drift", asset="drift_report", blocking=True,
                                description="ERROR blocks the experiment downstream; WARN only reports.")],
    description="Feature, coverage and score drift of this scoring run against the training set.",
)
def drift_report(context: AssetExecutionContext, paths: LocalPaths, warehouse: WarehouseResource,
                 model_store: ModelStoreResource):
    import pandas as pd

    from models.fit import read_training_set
    from models.scoring import ScoringModel
    from monitoring.report import bundle_drift_report
    from transforms.features import feature_spec

    store = model_store.store()
    bundle = store.load(store.require_current(), feature_spec())
    model = ScoringModel.from_bundle(bundle)
    with warehouse.open() as wh:
        ad_rows = frame_rows(wh.query("SELECT * FROM `raw.ads`"))
        pool_rows = frame_rows(wh.query("SELECT * FROM `raw.asset_pools`"))
    train, valid = read_training_set(paths.training_files())
    # The scoring run's sample of scores is compared with the bundle's reference, sampled alike when
    # the model was trained; a bundle written before references falls back (the report notes it).
    report = bundle_drift_report(bundle, model, ad_rows, pool_rows, pd.concat([train, valid], ignore_index=True))
    for note in report.notes:
        context.log.warning(note)
    status, now = report.status, dt.datetime.now(dt.timezone.utc)
    summary = {"checked_at": now.isoformat(), "model_version": model.version, "status": status,
               "reasons": report.reasons, "notes": report.notes, "feature_error_share": report.error_share,
               "oov_train": report.oov_train, "oov_score": report.oov_score, "empty_train": report.empty_train,
               "empty_score": report.empty_score, "score_reference": report.score_reference,
               "score_psi": report.score_psi, "score_ks": report.score_ks, "score_ks_pvalue": report.score_ks_pvalue,
               "reference_scores": report.n_reference_scores, "sample_scores": report.n_sample_scores,
               "top_features": report.top_features()}
    os.makedirs(paths.path("monitoring"), exist_ok=True)
    with open(paths.path("monitoring", "drift_latest.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2, ensure_ascii=False)
    row = pd.DataFrame([{"checked_at": now, **{k: summary[k] for k, _ in HISTORY_SCHEMA[1:]}}])
    with warehouse.open() as wh:  # appended: one row per run, never rewritten
        wh.ensure_table(HISTORY_TABLE, HISTORY_SCHEMA)
        wh.merge(HISTORY_TABLE, row, keys=["checked_at", "model_version"], scope=None)
        history = wh.query(f"SELECT * FROM `{HISTORY_TABLE}` ORDER BY checked_at DESC LIMIT 10")
    context.log.info(f"drift {status}: " + ("; ".join(report.reasons) or "inputs match the training set"))
    top = pd.DataFrame(report.top_features())
    severity = {"error": AssetCheckSeverity.ERROR, "warn": AssetCheckSeverity.WARN}.get(status)
    check = AssetCheckResult(
        check_name="input_drift", passed=status == "ok", severity=severity or AssetCheckSeverity.WARN,
        metadata={"status": status, "reasons": "; ".join(report.reasons) or "none",
                  "feature_error_share_%": round(report.error_share * 100, 1),
                  "score_psi": rounded(report.score_psi, 3)})
    return MaterializeResult(
        metadata={
            "status": status,
            "reasons": MetadataValue.md("\n".join(f"- {r}" for r in report.reasons) or "none"),
            "oov_rate_%": round(report.oov_score * 100, 2),
            "empty_text_rate_%": round(report.empty_score * 100, 2),
            "score_psi": rounded(report.score_psi, 3),
            "score_ks": rounded(report.score_ks, 3),
            "score_ks_pvalue": rounded(report.score_ks_pvalue, 3),
            # what the run's sample of scores was compared with, and both sides' sizes
            "score_reference": report.score_reference,
            "score_samples": f"{report.n_reference_scores:,} reference vs {report.n_sample_scores:,} now",
            "features_at_error": int(sum(f.severity == "error" for f in report.features)),
            "top_features": table(top, 3),
            "psi_plot": psi_plot(top),
            "history": table(history, 3),
        },
        check_results=[check],
    )


ASSETS = [drift_report]
