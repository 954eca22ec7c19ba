"""The automation conditions, evaluated by Dagster itself (`evaluate_automation_conditions`, what the
automation sensor runs) on the product's definitions and the product's kind of instance (SQLite,
run-sharded, under a temporary data folder, as `adcombo.runs.instance` builds it).

What happened is recorded the way runs record it (materializations and check evaluations, in the
graph's order: parents before children, as inside one run), so each test is about the conditions
alone; tests/orchestration/test_automation_loop.py runs the real assets day by day.
"""

import datetime as dt
import shutil
from zoneinfo import ZoneInfo

import pytest
from dagster import (AssetCheckEvaluation, AssetCheckKey, AssetCheckSeverity, AssetKey, AssetMaterialization,
                     DefaultScheduleStatus, DefaultSensorStatus, evaluate_automation_conditions)

from dagster_project.definitions import build_definitions
from dagster_project.settings import Settings

TZ = ZoneInfo("Asia/Tokyo")
FIRST = dt.date(2025, 6, 21)  # the tiny world's first day
FLOW = {"warehouse_snapshot", "top_combinations", "drift_report", "prediction_log", "raw_creative_performance",
        "experiment_results", "live_accuracy"}
RETRAIN = {"tokenizer", "training_set", "ctr_model"}
RAW = ("raw_ads", "raw_ad_daily_performance", "raw_asset_pools")


class Loop:
    """The product's definitions on a simulated day, its instance, and the automation cursor."""

    def __init__(self, home, today: dt.date, **settings):
        from adcombo.runs import instance

        self.home, self.extra = home, settings
        self.instance = instance(self.settings(today))
        self.cursor = None
        self.at(today)

    def settings(self, today: dt.date) -> Settings:
        return Settings.load(home=self.home, world="tiny", today=today, **self.extra)

    def at(self, today: dt.date):
        self.today, self.defs = today, build_definitions(self.settings(today))
        self.graph = self.defs.resolve_asset_graph()

    def record(self, names, failed_checks: dict | None = None):
        """Materialisations of `names` (parents first, as in one run), and their checks' results:
        passed unless named in failed_checks {check name: severity}."""
        failed_checks = failed_checks or {}
        for key in self.graph.toposorted_asset_keys:
            name = key.to_user_string()
            if name not in names:
                continue
            if name in RAW:  # the day's partition (the schedule's run)
                day = (self.today - dt.timedelta(days=1)).isoformat()
                self.instance.report_runless_asset_event(AssetMaterialization(key, partition=day))
            else:
                self.instance.report_runless_asset_event(AssetMaterialization(key))
            for check in self.graph.get(key).check_keys:
                severity = failed_checks.get(check.name)
                self.instance.report_runless_asset_event(AssetCheckEvaluation(
                    asset_key=key, check_name=check.name, passed=severity is None,
                    severity=severity or AssetCheckSeverity.ERROR))

    def tick(self, hour: int = 7, minute: int = 0) -> set[str]:
        when = dt.datetime(self.today.year, self.today.month, self.today.day, hour, minute, tzinfo=TZ)
        result = evaluate_automation_conditions(self.defs, self.instance, evaluation_time=when, cursor=self.cursor)
        self.cursor = result.cursor
        return {r.key.to_user_string() for r in result.results if isinstance(r.key, AssetKey) and r.true_subset.size}

    def next_day(self):
        self.at(self.today + dt.timedelta(days=1))


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A data folder after a first full materialisation (every raw partition, every asset, checks
    passed) and the automation's first evaluation, which requests nothing; copied by each test."""
    home = tmp_path_factory.mktemp("base") / "home"
    lp = Loop(home, FIRST + dt.timedelta(days=4))  # a Wednesday
    for day in range(4):
        for name in RAW:
            lp.instance.report_runless_asset_event(
                AssetMaterialization(AssetKey(name), partition=(FIRST + dt.timedelta(days=day)).isoformat()))
    lp.record({k.to_user_string() for k in lp.graph.materializable_asset_keys} - set(RAW))
    assert lp.tick(6) == set()
    lp.instance.dispose()
    return home, lp.cursor


@pytest.fixture
def loop(base, tmp_path):
    home, cursor = base
    shutil.copytree(home, tmp_path / "home")
    lp = Loop(tmp_path / "home", FIRST + dt.timedelta(days=4))
    lp.cursor = cursor
    yield lp
    lp.instance.dispose()


def test_a_new_days_partition_flows_downstream_and_nothing_else_runs(loop):
    loop.next_day()
    loop.record(RAW)  # the schedule ingested yesterday
    assert loop.tick() == FLOW  # retraining, promotion and a new experiment are not due
    loop.record(FLOW)
    assert loop.tick(7, 5) == set()
    assert loop.tick(8) == set()  # nothing new: nothing runs, however often the sensor ticks


def test_no_new_data_means_no_run(loop):
    for hour in (7, 9, 12, 18):
        assert loop.tick(hour) == set()


def test_retraining_follows_a_failed_live_accuracy_measurement_once(loop):
    loop.next_day()
    loop.record(RAW)
    assert loop.tick() == FLOW
    loop.record(FLOW, failed_checks={"live_accuracy_within_bounds": AssetCheckSeverity.ERROR})
    retrain = loop.tick(7, 5)
    assert RETRAIN <= retrain and "production_model" not in retrain  # promotion waits for the check
    loop.record(retrain)
    ticks = []  # the sensor's next ticks, each tick's requests recorded as one run would
    for minute in (10, 15, 20, 25, 30):
        ticks.append(loop.tick(7, minute))
        loop.record(ticks[-1])
    assert ticks[-1] == set() and not set().union(*ticks) & (RETRAIN | {"experiment_results", "live_accuracy"})

    def first(name):
        return next(i for i, t in enumerate(ticks) if name in t)

    # promoted once its blocking check passed; the pools scored again with it; then a new experiment
    # for it, with or after those scores and their drift report (whose blocking check stops it there,
    # as in any run), launched; its arms' predictions logged with or after it. No results yet.
    assert first("production_model") <= first("top_combinations") <= first("ab_assignments")
    assert first("production_model") < first("ab_assignments") == first("experiment_launch")
    assert first("drift_report") <= first("ab_assignments")
    assert any("prediction_log" in t for t in ticks[first("ab_assignments"):])
    assert sum("ab_assignments" in t for t in ticks) == 1
    assert not loop.tick(8) & RETRAIN  # the same failed measurement does not retrain again


def test_a_passing_measurement_does_not_retrain(loop):
    loop.next_day()
    loop.record(RAW)
    loop.record(loop.tick())
    assert loop.tick(7, 5) == set()


def test_a_refused_candidate_is_not_promoted(loop):
    loop.next_day()
    loop.record(RAW)
    loop.record(loop.tick(), failed_checks={"live_accuracy_within_bounds": AssetCheckSeverity.WARN})
    assert loop.tick(7, 5) == RETRAIN
    loop.record(RETRAIN, failed_checks={"ctr_model_not_worse_than_production": AssetCheckSeverity.ERROR})
    assert "production_model" not in loop.tick(7, 10) | loop.tick(7, 15)


def test_retraining_at_most_once_a_day(loop):
    loop.next_day()
    loop.record(RAW)
    loop.record(loop.tick(), failed_checks={"live_accuracy_within_bounds": AssetCheckSeverity.ERROR})
    loop.record(loop.tick(7, 5))  # retrained
    # the same day, delivery is restated and measured again, still failing: no second retraining
    loop.record({"raw_ad_daily_performance"})
    loop.record(loop.tick(9), failed_checks={"live_accuracy_within_bounds": AssetCheckSeverity.ERROR})
    assert not loop.tick(9, 5) & RETRAIN
    assert not loop.tick(23, 55) & RETRAIN
    # no request waits for midnight: the next day's measurement decides
    loop.next_day()
    assert loop.tick(0, 10) == set()
    loop.record(RAW)
    loop.record(loop.tick(), failed_checks={"live_accuracy_within_bounds": AssetCheckSeverity.ERROR})
    assert loop.tick(7, 5) >= RETRAIN


def test_input_drift_retrains_when_it_starts_failing_not_every_day(loop):
    loop.next_day()
    loop.record(RAW)
    loop.record(loop.tick(), failed_checks={"input_drift": AssetCheckSeverity.ERROR})
    assert loop.tick(7, 5) >= RETRAIN
    loop.record(RETRAIN)
    loop.next_day()
    loop.record(RAW)
    loop.record(loop.tick(), failed_checks={"input_drift": AssetCheckSeverity.ERROR})  # still drifting
    assert not loop.tick(7, 5) & RETRAIN


def test_the_cadence_retrains_on_its_day(loop):
    # FIRST + 4 is a Wednesday; the default cadence is Mondays 05:00 (Asia/Tokyo)
    while loop.today.weekday() != 6:
        loop.next_day()
        loop.record(RAW)
        requested = loop.tick()
        assert requested == FLOW, loop.today
        loop.record(requested)
        assert loop.tick(7, 5) == set()  # the sensor's next tick: nothing more that day
    loop.next_day()
    assert loop.tick(4) == set()  # Monday before 05:00
    loop.record(RAW)
    assert loop.tick(7) == FLOW | RETRAIN  # the cadence is due, with the day's data


def test_automation_is_switchable_and_off_by_default_locally(tmp_path):
    local = build_definitions(Settings.load(home=tmp_path, world="tiny"))
    sensor = local.resolve_sensor_def("adcombo_automation")
    assert sensor.default_status == DefaultSensorStatus.STOPPED
    assert local.resolve_schedule_def("daily_ingestion").default_status == DefaultScheduleStatus.STOPPED
    on = build_definitions(Settings.load(home=tmp_path, world="tiny", automation=True))
    assert on.resolve_sensor_def("adcombo_automation").default_status == DefaultSensorStatus.RUNNING
    assert on.resolve_schedule_def("daily_ingestion").default_status == DefaultScheduleStatus.RUNNING
    # every asset but the scheduled raw ones and the on-demand evaluation carries its condition,
    # visible in the UI
    graph = on.resolve_asset_graph()
    without = {k.to_user_string() for k in graph.materializable_asset_keys if graph.get(k).automation_condition is None}
    assert without == set(RAW) | {"model_evaluation"}
    assert AssetCheckKey(AssetKey("live_accuracy"), "live_accuracy_within_bounds") in graph.asset_check_keys
