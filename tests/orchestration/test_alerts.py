"""Alert sensors on the product's own Dagster instance (the run-sharded SQLite storage that
`adcombo.instance` writes under the data folder), evaluated tick by tick as the daemon does,
against a local HTTP receiver standing in for a Slack webhook. The real daemon evaluating them
is in test_run_queue_and_monitoring.py."""

import logging

import pytest
from _alert_receiver import SECRET_PATH, Receiver
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    Definitions,
    SensorEvaluationContext,
    asset,
    asset_check,
    build_sensor_context,
    materialize,
)

from adcombo.instance import open_instance
from dagster_project.sensors import AlertDeliveryError, build_sensors


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def instance(tmp_path):
    with open_instance(tmp_path / "home") as inst:
        # The kind of storage the product runs on; an ephemeral instance would hide the bug.
        assert inst.is_persistent and inst.event_log_storage.is_run_sharded
        yield inst


@asset
def scored_things():
    return 1


@asset_check(asset=scored_things)
def scores_look_sane():
    return AssetCheckResult(passed=False, severity=AssetCheckSeverity.ERROR, description="PSI 0.40 above 0.25")


@asset
def drifting_things():
    return 1


@asset_check(asset=drifting_things)
def inputs_drift_a_little():
    # WARN: the run succeeds; only an alert tells anyone.
    return AssetCheckResult(passed=False, severity=AssetCheckSeverity.WARN, metadata={"psi": 0.12})


@asset_check(asset=drifting_things)
def rows_arrived():
    return AssetCheckResult(passed=True)


@asset
def broken_asset():
    raise RuntimeError("warehouse unreachable")


ASSETS = [scored_things, scores_look_sane, drifting_things, inputs_drift_a_little, rows_arrived, broken_asset]


class Ticks:
    """Evaluates one sensor tick after tick, carrying its cursor as the daemon does."""

    def __init__(self, sensor, instance, repository_def):
        self.sensor, self.instance, self.repository_def, self.cursor = sensor, instance, repository_def, None

    def tick(self):
        context: SensorEvaluationContext = build_sensor_context(
            instance=self.instance, cursor=self.cursor, repository_def=self.repository_def)
        data = self.sensor.evaluate_tick(context)
        self.cursor = data.cursor if data.cursor is not None else self.cursor
        return data


def _sensors(url):
    sensors = {s.name: s for s in build_sensors(url)}
    repo = Definitions(assets=ASSETS[:5], sensors=list(sensors.values())).get_repository_def()
    return sensors, repo


def test_failed_checks_of_both_severities_reach_the_webhook_on_the_products_instance(receiver, instance):
    sensors, repo = _sensors(receiver.url)
    checks = Ticks(sensors["alert_on_check_failure"], instance, repo)
    assert "from now on" in checks.tick().skip_message  # history is not replayed
    result = materialize(ASSETS[:5], instance=instance)
    assert result.success  # neither failed check fails the run
    checks.tick()
    alerts = {a["check"]: a for a in receiver.of_kind("check_failure")}
    assert set(alerts) == {"scores_look_sane", "inputs_drift_a_little"}
    assert alerts["scores_look_sane"]["severity"] == "ERROR" and alerts["inputs_drift_a_little"]["severity"] == "WARN"
    assert alerts["inputs_drift_a_little"]["asset"] == "drifting_things"
    assert all(a["run_id"] == result.run_id and result.run_id in a["text"] for a in alerts.values())
    assert "PSI 0.40 above 0.25" in alerts["scores_look_sane"]["text"]
    # The cursor moved: the next tick sends nothing again.
    assert "no run ended" in checks.tick().skip_message
    assert len(receiver.received) == 2


def test_failed_checks_in_a_failed_run_are_sent_too(receiver, instance):
    sensors, repo = _sensors(receiver.url)
    checks = Ticks(sensors["alert_on_check_failure"], instance, repo)
    checks.tick()

    @asset(deps=[drifting_things])
    def later_broken():
        raise RuntimeError("boom")

    result = materialize([drifting_things, inputs_drift_a_little, later_broken], instance=instance, raise_on_error=False)
    assert not result.success
    checks.tick()
    assert [a["check"] for a in receiver.of_kind("check_failure")] == ["inputs_drift_a_little"]


def test_run_failure_reaches_the_webhook_on_the_products_instance(receiver, instance):
    sensors, repo = _sensors(receiver.url)
    failures = Ticks(sensors["alert_on_run_failure"], instance, repo)
    failures.tick()  # starts from now
    result = materialize([broken_asset], instance=instance, raise_on_error=False)
    assert not result.success
    failures.tick()
    alerts = receiver.of_kind("run_failure")
    assert len(alerts) == 1 and alerts[0]["run_id"] == result.run_id
    assert "broken_asset" in alerts[0]["text"] and alerts[0]["steps"] == ["broken_asset"]
    failures.tick()
    assert len(receiver.of_kind("run_failure")) == 1


def test_an_unreachable_webhook_fails_the_tick_without_showing_the_url_and_sends_later(receiver, instance, caplog):
    caplog.set_level(logging.DEBUG)
    sensors, repo = _sensors(receiver.url)
    checks = Ticks(sensors["alert_on_check_failure"], instance, repo)
    checks.tick()
    materialize(ASSETS[:3], instance=instance)
    receiver.status = 500
    with pytest.raises(Exception) as failed:
        checks.tick()
    error = failed.value
    chain = []
    while error is not None:  # the error and everything chained to it
        chain.append(error)
        error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
    assert any(isinstance(e, AlertDeliveryError) and "HTTP 500" in str(e) for e in chain)
    assert all(SECRET_PATH not in str(e) for e in chain)
    assert SECRET_PATH not in caplog.text
    # The cursor did not move: once the webhook answers, the alert goes out.
    receiver.status = 200
    checks.tick()
    assert [a["check"] for a in receiver.of_kind("check_failure")] == ["scores_look_sane"]


def test_without_a_webhook_the_sensors_skip_and_say_why(instance):
    sensors, repo = _sensors(None)
    data = Ticks(sensors["alert_on_check_failure"], instance, repo).tick()
    assert "no alert webhook configured" in data.skip_message
