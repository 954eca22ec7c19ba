"""The simulator's clock, day by day, through the product's own automation.

Each simulated day T builds the definitions of that day's settings (ADCOMBO_TODAY=T: the simulator
reports the days before T and the raw partitions end the day before), then lets Dagster decide:
the `daily_ingestion` schedule is evaluated at 06:00 (Asia/Tokyo) of T, and the assets' automation
conditions (`dagster.evaluate_automation_conditions`, what the automation sensor evaluates) at
06:05, 06:10, … until nothing is due. Every requested run is executed on the data folder's
instance, so the UI shows the days' runs and their evaluations afterwards. Nothing here chooses
what runs: ingestion, scoring, measuring, retraining and promotion happen because the schedule
and the conditions (dagster_project/automation.py) say so.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable
from zoneinfo import ZoneInfo

from dagster_project.settings import Settings

TZ = ZoneInfo("Asia/Tokyo")
MAX_TICKS = 8  # automation ticks per day; a day needs 2-4 (flow, retraining, new experiment)
# Assets whose first run waits for the first day's delivery (an experiment has none before it).
AFTER_FIRST_DELIVERY = ("raw_creative_performance", "experiment_results")
# The day's line is the output; a failed step is named there with its error's first line (the
# stack trace stays in the run's logs, in the UI). --verbose shows Dagster's own lines.
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
VERBOSE = {"loggers": {"console": {"config": {"log_level": "DEBUG"}}}}
# The promotion gate (dagster_project/checks/model_checks.py): when it refuses a candidate, the
# blocking check fails its step by design; that is the guard working, not a failed run.
PROMOTION_CHECK = "ctr_model_not_worse_than_production"


def _quiet_evaluations() -> None:
    """One line per day is the output: the evaluator's per-asset lines stay out of it."""
    logging.getLogger("dagster.automation_condition_tester").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*include_sources.*")


@dataclass
class DayResult:
    today: dt.date
    runs: list[str] = field(default_factory=list)  # what each run materialised, and how it ended
    failed: list[str] = field(default_factory=list)  # the runs that failed
    refused: list[str] = field(default_factory=list)  # candidates the promotion check kept out
    production_before: str | None = None
    production_after: str | None = None
    seconds: float = 0.0

    @property
    def promoted(self) -> bool:
        return self.production_after != self.production_before


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ)


def _execute(defs, instance, keys, partition_key: str | None = None, tags: dict | None = None, job_name=None,
             verbose: bool = False):
    job = defs.resolve_job_def(job_name) if job_name else defs.resolve_implicit_global_asset_job_def()
    return job.execute_in_process(instance=instance, asset_selection=keys, partition_key=partition_key,
                                  tags=tags or {}, run_config=VERBOSE if verbose else QUIET, raise_on_error=False)


def _names(keys) -> str:
    return ", ".join(sorted(k.to_user_string() for k in keys))


def _first_line(text: str) -> str:
    return next((line.strip() for line in (text or "").splitlines() if line.strip()), "")


def _step_error(event) -> str:
    error = event.event_specific_data.error
    while error is not None and error.cause is not None and "Error occurred while executing" in error.message:
        error = error.cause  # Dagster's wrapper → the asset's own error
    return f"{event.step_key}: {_first_line(error.message if error else event.message)}"


def _refusal(run) -> str | None:
    """'candidate V refused by the promotion check (validation log loss +x%, +y% with history
    effects (paired z -z) against production)' when the run's promotion check refused its
    candidate, else None."""
    from dagster import DagsterEventType

    for e in run.all_events:
        if e.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = e.event_specific_data
            if evaluation.check_name == PROMOTION_CHECK and not evaluation.passed:
                meta = {k: getattr(v, "value", v) for k, v in evaluation.metadata.items()}
                change = meta.get("relative_change_%")
                with_effects = meta.get("relative_change_with_history_effects_%")
                z = meta.get("paired_z_with_history_effects")
                why = (f"validation log loss {change:+.2f}%"
                       + (f", {with_effects:+.2f}% with history effects" if with_effects is not None else "")
                       + (f" (paired z {z:+.1f})" if z is not None else "") + " against production")
                return (f"candidate {meta.get('candidate')} refused by the promotion check"
                        + (f" ({why})" if change is not None else ""))
    return None


def _record(result: "DayResult", what: str, run) -> None:
    failures = [e for e in run.all_events if e.is_step_failure]
    refusal = _refusal(run)
    if refusal and all(e.step_key.endswith(PROMOTION_CHECK) for e in failures):
        result.refused.append(refusal)
        result.runs.append(what + " (candidate refused by the promotion check)")
        return
    result.runs.append(what + ("" if run.success else
                               f" (failed: {'; '.join(map(_step_error, failures)) or 'see the UI'})"))
    if not run.success:
        result.failed.append(result.runs[-1])


def start(settings: Settings, instance, echo: Callable[[str], None], verbose: bool = False) -> bool:
    """The state before the first simulated day: every raw partition so far (one run), then every
    other asset except those that wait for the first delivery; the automation takes over from there."""
    from dagster import AssetKey
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    from dagster_project.assets.ingestion import RAW_ASSETS, daily_partitions
    from dagster_project.definitions import build_definitions, run_asset_keys

    defs = build_definitions(settings)
    keys = daily_partitions(settings).get_partition_keys()
    raw = [AssetKey(k) for k in RAW_ASSETS]
    echo(f"history: {len(keys)} days {keys[0]} .. {keys[-1]}; training, scoring, experiment")
    tags = {ASSET_PARTITION_RANGE_START_TAG: keys[0], ASSET_PARTITION_RANGE_END_TAG: keys[-1]}
    # every asset `adcombo run` materialises (not the on-demand evaluation), but the raw ones
    rest = [k for k in run_asset_keys(defs) if k not in raw and k.to_user_string() not in AFTER_FIRST_DELIVERY]
    for selection, run_tags in ((raw, tags), (rest, {})):
        run = _execute(defs, instance, selection, tags=run_tags, verbose=verbose)
        if not run.success:
            for e in run.all_events:
                if e.is_step_failure:
                    echo(f"  FAILED {_step_error(e)}")
            return False
    return True


def run_day(today: dt.date, settings_of: Callable[[dt.date], Settings], instance, cursor, verbose: bool = False):
    """One simulated day: the schedule's runs, then automation ticks until none is due.
    Returns (automation cursor, DayResult)."""
    from dagster import AssetKey, build_schedule_context, evaluate_automation_conditions

    from dagster_project.definitions import build_definitions

    _quiet_evaluations()
    started = time.perf_counter()
    settings = settings_of(today)
    defs = build_definitions(settings)
    store = defs.resources["model_store"].store()
    result = DayResult(today, production_before=store.current())
    tags = {"adcombo/simulated_day": today.isoformat()}
    for schedule in defs.schedules:
        # a context manager: the context opens its own instance, which must be closed with it
        with build_schedule_context(instance=instance, scheduled_execution_time=at(today, 6),
                                    repository_def=defs.get_repository_def()) as context:
            data = schedule.evaluate_tick(context)
        for request in data.run_requests or []:
            # no asset selection: every asset of the schedule's job (the three raw assets)
            run = _execute(defs, instance, request.asset_selection, partition_key=request.partition_key,
                           tags={**tags, **request.tags}, job_name=schedule.job_name, verbose=verbose)
            _record(result, f"ingestion of {request.partition_key}", run)
    for tick in range(MAX_TICKS):
        evaluation = evaluate_automation_conditions(defs, instance, evaluation_time=at(today, 6, 5 * (tick + 1)),
                                                    cursor=cursor)
        cursor = evaluation.cursor
        keys = [r.key for r in evaluation.results if isinstance(r.key, AssetKey) and r.true_subset.size]
        if not keys:
            break
        run = _execute(defs, instance, keys, tags={**tags, "dagster/from_automation_condition": "true"},
                       verbose=verbose)
        _record(result, _names(keys), run)
    result.production_after = store.current()
    result.seconds = time.perf_counter() - started
    return cursor, result


def first_cursor(settings: Settings, instance, day: dt.date):
    """The automation's first evaluation (it requests nothing: conditions start from here)."""
    from dagster import evaluate_automation_conditions

    from dagster_project.definitions import build_definitions

    _quiet_evaluations()
    return evaluate_automation_conditions(build_definitions(settings), instance, evaluation_time=at(day, 5)).cursor
