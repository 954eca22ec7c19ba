"""Alert sensors against a local HTTP receiver standing in for a Slack webhook."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    DagsterEventType,
    DagsterInstance,
    asset,
    asset_check,
    build_run_status_sensor_context,
    build_sensor_context,
    materialize,
)

from dagster_project.sensors import build_sensors

SENSORS = {}


@pytest.fixture
def receiver():
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    alert_on_run_failure, alert_on_check_failure = build_sensors(f"http://127.0.0.1:{server.server_port}/hooks/adcombo")
    SENSORS.update(run=alert_on_run_failure, check=alert_on_check_failure)
    yield received
    server.shutdown()
    server.server_close()


@asset
def scored_things():
    return 1


@asset_check(asset=scored_things)
def scores_look_sane():
    return AssetCheckResult(passed=False, severity=AssetCheckSeverity.ERROR, metadata={"psi": 0.4})


@asset
def broken_asset():
    raise RuntimeError("warehouse unreachable")


def test_failed_check_reaches_the_webhook_with_asset_check_and_run(receiver):
    instance = DagsterInstance.ephemeral()
    context = build_sensor_context(instance=instance)
    SENSORS['check'](context)  # initialises the cursor: history is not replayed
    result = materialize([scored_things, scores_look_sane], instance=instance, raise_on_error=False)
    context = build_sensor_context(instance=instance, cursor=context.cursor)
    SENSORS['check'](context)
    assert len(receiver) == 1
    alert = receiver[0]
    assert alert["asset"] == "scored_things" and alert["check"] == "scores_look_sane"
    assert alert["severity"] == "ERROR" and alert["run_id"] == result.run_id
    assert result.run_id in alert["text"] and "scores_look_sane" in alert["text"]
    # The cursor moved: evaluating again sends nothing new.
    SENSORS['check'](build_sensor_context(instance=instance, cursor=context.cursor))
    assert len(receiver) == 1


def test_run_failure_reaches_the_webhook(receiver):
    instance = DagsterInstance.ephemeral()
    result = materialize([broken_asset], instance=instance, raise_on_error=False)
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    failure = instance.get_records_for_run(result.run_id, of_type=DagsterEventType.RUN_FAILURE).records[0]
    context = build_run_status_sensor_context(
        sensor_name="alert_on_run_failure",
        dagster_event=failure.event_log_entry.dagster_event,
        dagster_instance=instance,
        dagster_run=run,
    ).for_run_failure()
    SENSORS['run'](context)
    assert len(receiver) == 1
    assert receiver[0]["kind"] == "run_failure" and receiver[0]["run_id"] == result.run_id
    assert "broken_asset" in receiver[0]["text"]


def test_without_a_webhook_the_sensor_skips():
    instance = DagsterInstance.ephemeral()
    context = build_sensor_context(instance=instance)
    _, check = build_sensors(None)
    assert check(context) is not None
