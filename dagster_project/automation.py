"""When each asset runs by itself: Dagster declarative automation, in one table.

    daily_ingestion schedule (06:00 Asia/Tokyo) ─▶ yesterday's raw partitions
        └▶ eager: warehouse_snapshot ─▶ top_combinations (current model) ─▶ drift_report, prediction_log
        └▶ the day's delivery: raw_creative_performance ─▶ experiment_results; live_accuracy (+ its check)
    retraining (tokenizer, training_set ─▶ ctr_model): on the cadence ADCOMBO_RETRAIN_CRON, or when
        the live_accuracy check fails on a new day's measurement, or when input_drift starts failing;
        at most once a day
    production_model: after a new ctr_model whose blocking check passed ─▶ top_combinations again
    ab_assignments (a new experiment) ─▶ experiment_launch: after a new production model, in the run
        that scores the pools with it (and checks the new scores' drift)

Nothing here runs blindly on a clock except ingestion and the retraining cadence: every other
asset waits for its inputs to change. The conditions are attached to the asset definitions
(`with_automation`), so the UI shows each one, evaluated; the sensor that evaluates them
(`adcombo_automation`) and the schedule start running when ADCOMBO_AUTOMATION is true and can be
switched on or off in the UI either way. docs/monitoring.md, "Automation".
"""

from __future__ import annotations

from dagster import (AssetSelection, AutomationCondition, AutomationConditionSensorDefinition, DefaultSensorStatus,
                     map_asset_specs)

from dagster_project.assets.ingestion import TIMEZONE  # the market's days, as the raw partitions

SENSOR = "adcombo_automation"
LIVE_CHECK_ASSET = "live_accuracy"
DRIFT_ASSET = "drift_report"


def _eager_without(*ignored: str) -> AutomationCondition:
    """eager(), except that updates of `ignored` parents do not trigger a run."""
    if not ignored:
        return AutomationCondition.eager()
    return AutomationCondition.eager().replace(
        "any_deps_updated", AutomationCondition.any_deps_updated().ignore(AssetSelection.assets(*ignored)))


def _check_failed_on(asset: str) -> AutomationCondition:
    return AutomationCondition.asset_matches(asset, AutomationCondition.any_checks_match(AutomationCondition.check_failed()))


def retrain_condition(cron: str) -> AutomationCondition:
    """Retrain on the cadence (a due cadence waits until it can run), or at once when a new
    live-accuracy measurement fails its check, or when the input-drift check starts failing (once:
    retraining on the same inputs would not fix it); at most once a day (a failure on a day that
    already retrained waits for the next day's measurement, not for midnight), and never while an
    input is missing or being written."""
    live_failed = (AutomationCondition.asset_matches(LIVE_CHECK_ASSET, AutomationCondition.newly_updated())
                   & _check_failed_on(LIVE_CHECK_ASSET)).with_label("live_accuracy failed on a new measurement")
    drift_failed = _check_failed_on(DRIFT_ASSET).newly_true().with_label("input_drift started failing")
    cadence = (AutomationCondition.cron_tick_passed(cron, TIMEZONE).since_last_handled()
               .with_label(f"cadence {cron} ({TIMEZONE})"))
    retrained_today = (AutomationCondition.newly_updated()
                       .since(AutomationCondition.cron_tick_passed("0 0 * * *", TIMEZONE))
                       .with_label("already retrained today"))
    return ((cadence | live_failed | drift_failed)
            & ~retrained_today
            & ~AutomationCondition.any_deps_missing()
            & ~AutomationCondition.any_deps_in_progress()
            & ~AutomationCondition.in_progress()).with_label("retrain")


def after_update_of(asset: str, label: str, checks=None) -> AutomationCondition:
    """Run once after `asset` was updated, when every input is there and `checks` hold (default:
    the blocking checks of the inputs passed)."""
    checks = checks or AutomationCondition.all_deps_match(
        AutomationCondition.all_checks_match(AutomationCondition.check_passed(), blocking_only=True))
    return (AutomationCondition.asset_matches(asset, AutomationCondition.newly_updated()).since_last_handled()
            & ~AutomationCondition.any_deps_missing()
            & ~AutomationCondition.any_deps_in_progress()
            & ~AutomationCondition.in_progress()
            & checks).with_label(label)


def automation_conditions(settings) -> dict[str, AutomationCondition]:
    """{asset name: condition}. Raw assets have none: the daily_ingestion schedule fetches them
    (yesterday plus restated days)."""
    retrain = retrain_condition(settings.retrain_cron)
    # the day's delivery of the experiment's creatives comes with the day's partition (a creative
    # launched today has delivered nothing yet: a launch alone fetches nothing)
    daily_delivery = (AutomationCondition.asset_matches("raw_ad_daily_performance", AutomationCondition.newly_updated())
                      .since_last_handled()
                      & ~AutomationCondition.any_deps_missing() & ~AutomationCondition.in_progress()
                      ).with_label("a new day of delivery")
    return {
        "warehouse_snapshot": AutomationCondition.eager(),
        "tokenizer": retrain,
        "training_set": retrain,
        "ctr_model": AutomationCondition.eager(),
        # the blocking comparison check must have passed on the new candidate (not only be requested):
        # a refused candidate is never promoted (its own run's check step fails, by design; the
        # day-by-day demo reports it as a refusal, not as a failed run)
        "production_model": after_update_of("ctr_model", "a new candidate passed its check"),
        "top_combinations": AutomationCondition.eager(),
        "drift_report": AutomationCondition.eager(),
        "prediction_log": AutomationCondition.eager(),
        # once the promotion is done: with the new model's scores and their drift report, which run
        # with it (eager) and whose blocking check stops it there, as in any run
        "ab_assignments": after_update_of("production_model", "a new production model",
                                          AutomationCondition.all_deps_blocking_checks_passed()),
        "experiment_launch": AutomationCondition.eager(),
        "raw_creative_performance": daily_delivery,
        # a new experiment has no delivery yet: its results wait for the next day's delivery
        "experiment_results": _eager_without("ab_assignments"),
        # measured once per new day of delivery; a new prediction batch alone measures nothing new
        "live_accuracy": _eager_without("prediction_log"),
    }


def with_automation(assets: list, settings) -> list:
    """The asset definitions with their automation conditions attached."""
    conditions = automation_conditions(settings)

    def attach(spec):
        condition = conditions.get(spec.key.to_user_string())
        return spec.replace_attributes(automation_condition=condition) if condition is not None else spec

    return list(map_asset_specs(attach, assets))


def build_automation_sensor(settings) -> AutomationConditionSensorDefinition:
    return AutomationConditionSensorDefinition(
        SENSOR, target=AssetSelection.all(), minimum_interval_seconds=60,
        default_status=DefaultSensorStatus.RUNNING if settings.automation else DefaultSensorStatus.STOPPED,
        description="Evaluates every asset's automation condition (dagster_project/automation.py) and launches "
                    "what is due: the day's flow after ingestion, retraining when live accuracy or input drift "
                    "call for it or on the cadence, a new experiment after a new production model.")
