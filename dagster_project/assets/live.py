"""Live accuracy: what the model predicted when it published, against what was then delivered.

    top_combinations, ab_assignments ─▶ prediction_log  (monitoring.prediction_log, appended)
    prediction_log, raw_ad_daily_performance, raw_creative_performance
        ─▶ live_accuracy  (monitoring.live_accuracy, one row per day, model version and source)
             └─ check live_accuracy_within_bounds: WARN / ERROR → alert webhook, retraining

The maths is monitoring.live_accuracy; thresholds and reading the plot: docs/monitoring.md.
"""

import datetime as dt

from dagster import (AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetExecutionContext, MaterializeResult,
                     MetadataValue, asset)

from dagster_project.assets.experiments import ASSIGNMENTS_TABLE, DELIVERY_TABLE, latest_experiment
from dagster_project.metadata import rounded, table
from dagster_project.resources import ModelStoreResource, WarehouseResource
from monitoring.live_history import HISTORY_SCHEMA, HISTORY_TABLE, as_dates, last_performance_day, read_history
from warehouse.base import frame_rows
from warehouse.schemas import TOP_COMBINATIONS_TABLE

GROUP = "monitoring"
CHECK = "live_accuracy_within_bounds"
LOG_CHECK = "production_arm_is_the_published_score"
# Days measured again on every run: the schedule restates the last 3 days of performance.
RECOMPUTE_DAYS = 3
PLOT_DAYS = 90
def _num(value, digits: int = 4):
    """A figure for metadata: a rounded Python float, or None (empty) when it is not defined."""
    import math

    value = float(value)
    return rounded(value, digits) if math.isfinite(value) else None


# ---- the prediction log -------------------------------------------------------------------------


@asset(
    group_name=GROUP,
    deps=["top_combinations", "ab_assignments"],
    kinds={"python"},
    check_specs=[AssetCheckSpec(LOG_CHECK, asset="prediction_log",
                                description="Each logged prediction of a production arm equals the score its "
                                            "experiment published (same model version): the log records what "
                                            "was published, not a recomputation.")],
    description="Predicted CTR of every live creative (served ads, arms of the running experiment) by the model "
                "that just published the scores, with the first day it applies → monitoring.prediction_log "
                "(appended).",
)
def prediction_log(context: AssetExecutionContext, warehouse: WarehouseResource, model_store: ModelStoreResource):
    import pandas as pd

    from models.scoring import ScoringModel
    from monitoring.prediction_log import (EXPERIMENT, PREDICTION_LOG_SCHEMA, PREDICTION_LOG_TABLE, live_creatives,
                                           prediction_batch)
    from transforms.features import feature_spec

    with warehouse.open() as wh:
        version = wh.query(f"SELECT MAX(model_version) AS v FROM `{TOP_COMBINATIONS_TABLE}`")["v"].iloc[0]
        last = last_performance_day(wh)
        ads = frame_rows(wh.query("SELECT * FROM `raw.ads`"))
        arms = []
        if wh.table_exists(ASSIGNMENTS_TABLE):
            arms = frame_rows(latest_experiment(wh))
    if pd.isna(version) or last is None:
        raise ValueError("nothing published yet: materialise top_combinations first")
    valid_from = last + dt.timedelta(days=1)  # scores published today apply from today on
    model = ScoringModel.from_bundle(model_store.store().load(str(version), feature_spec()))
    creatives = live_creatives(ads, arms)
    batch = prediction_batch(model, creatives, valid_from, dt.datetime.now(dt.timezone.utc))
    with warehouse.open() as wh:  # appended: a batch is never rewritten
        wh.ensure_table(PREDICTION_LOG_TABLE, PREDICTION_LOG_SCHEMA, partition_field="valid_from")
        wh.merge(PREDICTION_LOG_TABLE, batch, keys=["valid_from", "predicted_at", "source", "creative_id"], scope=None)
    by_source = batch.groupby(["source", "arm"], as_index=False).agg(
        creatives=("creative_id", "size"), mean_predicted_ctr=("predicted_ctr", "mean"))
    context.log.info(f"prediction log: {len(batch):,} creatives predicted by {version}, valid from {valid_from}")
    # The production arm of an experiment assigned by this model must carry its published score.
    published = {(a["tracking_id"]): a["predicted_ctr"] for a in arms
                 if a.get("arm") == "production" and a.get("model_version") == version and a.get("predicted_ctr")}
    logged = batch[(batch.source == EXPERIMENT) & batch.creative_id.isin(published)]
    diffs = [abs(p - published[c]) / published[c] for c, p in zip(logged.creative_id, logged.predicted_ctr)]
    worst = max(diffs, default=0.0)
    check = AssetCheckResult(check_name=LOG_CHECK, passed=bool(worst <= 1e-6), severity=AssetCheckSeverity.ERROR,
                             metadata={"production_arms_compared": len(diffs), "max_relative_difference": float(worst)})
    return MaterializeResult(
        metadata={"model_version": str(version), "valid_from": valid_from.isoformat(), "creatives": len(batch),
                  "by_source": table(by_source), "table": PREDICTION_LOG_TABLE},
        check_results=[check])


# ---- live accuracy ------------------------------------------------------------------------------


def _delivery(wh, since: dt.date, with_experiments: bool):
    import pandas as pd

    from monitoring.prediction_log import EXPERIMENT, SERVED_AD

    frames = [wh.query("SELECT date, ad_id AS creative_id, impressions, clicks FROM `raw.ad_daily_performance` "
                       "WHERE date >= @since", {"since": since}).assign(source=SERVED_AD)]
    if with_experiments and wh.table_exists(DELIVERY_TABLE):
        frames.append(wh.query(f"SELECT date, tracking_id AS creative_id, impressions, clicks FROM `{DELIVERY_TABLE}` "
                               "WHERE date >= @since", {"since": since}).assign(source=EXPERIMENT))
    return as_dates(pd.concat(frames, ignore_index=True))


def _predictions_in_force_from(wh, since: dt.date):
    """Log rows of every batch that can be in force on `since` or later."""
    from monitoring.prediction_log import PREDICTION_LOG_TABLE

    import pandas as pd

    first = wh.query(f"SELECT MAX(valid_from) AS d FROM `{PREDICTION_LOG_TABLE}` WHERE valid_from <= @since",
                     {"since": since})["d"].iloc[0]
    first = since if pd.isna(first) else pd.Timestamp(first).date()
    frame = wh.query(f"SELECT * FROM `{PREDICTION_LOG_TABLE}` WHERE valid_from >= @first", {"first": first})
    return as_dates(frame, "valid_from")


def accuracy_plot(history) -> MetadataValue:
    """Calibration (with its interval and the WARN/ERROR bands) and rank agreement (observed and
    what the model expects) per day; dotted lines where the model version changes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dagster_project.plots import figure_markdown
    from monitoring.live_accuracy import ALL, CALIBRATION_ERROR, CALIBRATION_WARN

    rows = history[history["source"] == ALL].sort_values("date")
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 5), sharex=True)
    colour = {"ok": "#27ae60", "warn": "#e67e22", "error": "#c0392b"}
    top.fill_between(rows["date"], rows["calibration_low"], rows["calibration_high"], color="#3498db", alpha=0.2)
    top.plot(rows["date"], rows["calibration"], color="#2c3e50", lw=1)
    top.scatter(rows["date"], rows["calibration"], c=[colour.get(s, "#7f8c8d") for s in rows["status"]], s=18,
                zorder=3)
    for (lo, hi), c in ((CALIBRATION_WARN, colour["warn"]), (CALIBRATION_ERROR, colour["error"])):
        top.axhline(lo, ls="--", lw=0.8, c=c)
        top.axhline(hi, ls="--", lw=0.8, c=c)
    top.axhline(1.0, lw=0.6, c="#7f8c8d")
    top.set_ylabel("observed / predicted clicks")
    bottom.plot(rows["date"], rows["spearman"], label="Spearman within ad groups", color="#2c3e50")
    bottom.plot(rows["date"], rows["spearman_expected"], label="if the model were right", ls="--", color="#8e44ad")
    bottom.set_ylabel("rank agreement")
    bottom.legend(fontsize=7, loc="lower left")
    versions = rows["model_version"].tolist()
    for i in range(1, len(rows)):
        if versions[i] != versions[i - 1]:
            for ax in (top, bottom):
                ax.axvline(rows["date"].iloc[i], ls=":", c="#7f8c8d", lw=1)
    import matplotlib.dates as mdates

    bottom.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d"))
    bottom.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=10))
    fig.autofmt_xdate()
    top.set_title("Live accuracy (dotted: new model version)")
    return figure_markdown(fig, "live accuracy over time")


def build_assets(settings) -> list:
    with_experiments = settings.source == "api"  # delivery by tracking id needs the API
    deps = ["prediction_log", "raw_ad_daily_performance"] + (["raw_creative_performance"] if with_experiments else [])

    @asset(
        group_name=GROUP,
        deps=deps,
        kinds={"python"},
        check_specs=[AssetCheckSpec(CHECK, asset="live_accuracy",
                                    description="The latest day's calibration and rank agreement are within bounds "
                                                "(WARN / ERROR thresholds: docs/monitoring.md). A failure alerts and "
                                                "starts a retraining.")],
        description="Predicted (prediction log) vs delivered CTR of every creative, per day and model version: "
                    "calibration, log loss, Spearman within ad groups, with intervals → monitoring.live_accuracy.",
    )
    def live_accuracy(context: AssetExecutionContext, warehouse: WarehouseResource):
        import pandas as pd

        from monitoring.live_accuracy import ALL, daily_accuracy, day_summary, in_force
        from monitoring.prediction_log import PREDICTION_LOG_TABLE

        with warehouse.open() as wh:
            if not wh.table_exists(PREDICTION_LOG_TABLE):
                raise ValueError("no prediction log yet: materialise prediction_log first")
            first = pd.Timestamp(wh.query(f"SELECT MIN(valid_from) AS d FROM `{PREDICTION_LOG_TABLE}`")["d"].iloc[0]).date()
            measured = read_history(wh)
            last_measured = measured["date"].max() if measured is not None and len(measured) else None
            since = max(first, last_measured - dt.timedelta(days=RECOMPUTE_DAYS - 1)) if last_measured else first
            predictions = _predictions_in_force_from(wh, since)
            delivery = _delivery(wh, since, with_experiments)
        joined, missing = in_force(predictions, delivery[delivery["date"] >= since])
        accuracy = daily_accuracy(joined, missing)
        now = dt.datetime.now(dt.timezone.utc)
        if len(accuracy):
            with warehouse.open() as wh:  # the recomputed days replaced, older days kept
                wh.ensure_table(HISTORY_TABLE, HISTORY_SCHEMA, partition_field="date")
                wh.merge(HISTORY_TABLE, accuracy.assign(measured_at=now)[[c for c, _ in HISTORY_SCHEMA]],
                         keys=["date", "model_version", "source"],
                         scope=_scope(since, accuracy["date"].max()))
        with warehouse.open() as wh:
            history = read_history(wh)
        if history is None or history.empty:
            context.log.info("live accuracy: no creative delivered under a logged prediction yet")
            return MaterializeResult(
                metadata={"days_measured": 0},
                check_results=[AssetCheckResult(check_name=CHECK, passed=True,
                                                metadata={"reason": "nothing delivered under a prediction yet"})])
        days = day_summary(history)
        latest = days.iloc[-1]
        rows = history[(history["date"] == latest["date"]) & (history["source"] == ALL)]
        main = rows.sort_values("impressions", ascending=False).iloc[0]
        # One line for the days measured now (each day is in the history table and the plot).
        now_measured = days[days["date"] >= since]
        counts = now_measured["status"].value_counts().to_dict()

        def fmt(x):
            return "–" if x is None or x != x else f"{x:.3f}"  # Spearman is undefined on some days

        span = (f"{now_measured['date'].min()} .. {now_measured['date'].max()}: {len(now_measured)} days, "
                + " / ".join(f"{counts.get(k, 0)} {k}" for k in ("ok", "warn", "error"))) if len(now_measured) \
            else "no new day"
        context.log.info(f"live accuracy {span}; latest {latest['date']}: {int(latest['served_creatives']):,} "
                         f"creatives, calibration {fmt(latest['calibration'])}, Spearman {fmt(latest['spearman'])}, "
                         f"{latest['status']} (model {latest['model_version']})")
        status = latest["status"]
        severity = AssetCheckSeverity.ERROR if status == "error" else AssetCheckSeverity.WARN
        check = AssetCheckResult(
            check_name=CHECK, passed=status == "ok", severity=severity,
            metadata={"date": latest["date"].isoformat(), "status": status,
                      "reasons": "; ".join(r for r in rows["reasons"] if r) or "none",
                      "calibration": _num(main["calibration"], 3),
                      "calibration_interval": f"[{main['calibration_low']:.3f}, {main['calibration_high']:.3f}]",
                      "rank_gap_low": _num(main["rank_gap_low"], 3),
                      "spearman": _num(main["spearman"], 3),
                      "spearman_if_right": _num(main["spearman_expected"], 3),
                      "model_version": str(main["model_version"]), "creatives": int(latest["served_creatives"])})
        recent = history[history["date"] >= history["date"].max() - dt.timedelta(days=PLOT_DAYS)]
        shown = recent[["date", "model_version", "source", "creatives", "impressions", "clicks", "calibration",
                        "calibration_low", "calibration_high", "log_loss", "spearman", "spearman_expected",
                        "rank_gap", "status"]].sort_values(["date", "source"], ascending=[False, True])
        return MaterializeResult(
            metadata={"latest_date": latest["date"].isoformat(), "status": status,
                      "calibration": _num(main["calibration"], 3), "log_loss": _num(main["log_loss"]),
                      "spearman": _num(main["spearman"], 3), "model_version": str(main["model_version"]),
                      "days_measured": len(days), "days_recomputed": int((accuracy["source"] == ALL).sum()),
                      "unpredicted_creatives": int(main["unpredicted_creatives"]),
                      "plot": accuracy_plot(recent), "history": table(shown, 3), "table": HISTORY_TABLE},
            check_results=[check])

    return [prediction_log, live_accuracy]


def _scope(lo: dt.date, hi: dt.date):
    from warehouse.sql import Scope

    return Scope(between={"date": (lo, hi)})
