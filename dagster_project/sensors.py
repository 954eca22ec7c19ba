"""Alerts: a failed run, or a failed asset check (WARN or ERROR), posts to a Slack-compatible
incoming webhook.

`build_sensors(alert_webhook_url)` makes the sensors; the URL comes from the settings (it is a
secret: never logged, and kept out of error messages). Without a URL the sensors skip and say
so. The payload is Slack's incoming-webhook shape (`{"text": ...}`) plus structured fields for
other receivers.

Failed checks are found through the runs that ended (success, failure or cancel) and then the
check evaluations of each such run. That works on every kind of event log, including the
run-sharded SQLite storage under the data folder, where a query for check evaluations across
runs by storage id is not possible; and it covers WARN checks in runs that succeed.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from dagster import (
    DagsterEventType,
    DagsterInstance,
    DefaultSensorStatus,
    RunFailureSensorContext,
    RunStatusChangeRecordsFilter,
    SensorEvaluationContext,
    SkipReason,
    run_failure_sensor,
    sensor,
)

NO_WEBHOOK = "no alert webhook configured (ADCOMBO_ALERT_WEBHOOK_URL): nothing sent"
# Runs that ended: their check evaluations are final.
RUN_END_EVENTS = (DagsterEventType.RUN_SUCCESS, DagsterEventType.RUN_FAILURE, DagsterEventType.RUN_CANCELED)
RUNS_PER_TICK = 100


class AlertDeliveryError(RuntimeError):
    """The webhook did not take an alert. The message never carries the URL."""


class _RedactWebhook(logging.Filter):
    """urllib3 logs each request's path at DEBUG; a Slack webhook's path is its secret."""

    def __init__(self, url: str):
        super().__init__()
        parts = urlsplit(url)
        self.secret = parts.path + (f"?{parts.query}" if parts.query else "")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.secret and self.secret in message:
            record.msg, record.args = message.replace(self.secret, "/<alert webhook path>"), ()
        return True


_redacting: set[str] = set()


def _redact_from_logs(url: str) -> None:
    if url not in _redacting:
        logging.getLogger("urllib3.connectionpool").addFilter(_RedactWebhook(url))
        _redacting.add(url)


def post_alert(url: str, text: str, fields: dict) -> None:
    """POST one alert, retried with backoff; raises AlertDeliveryError without the URL."""
    import requests
    from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

    @retry(stop=stop_after_attempt(3), wait=wait_exponential(multiplier=0.5, max=5), reraise=True,
           retry=retry_if_exception_type(requests.RequestException))
    def send():
        response = requests.post(url, json={"text": text, **fields}, timeout=10)
        response.raise_for_status()

    _redact_from_logs(url)
    try:
        send()
    except requests.HTTPError as exc:
        # requests' message names the URL (a Slack webhook URL is the secret itself).
        raise AlertDeliveryError(
            f"the alert webhook answered HTTP {exc.response.status_code} three times: check the webhook"
        ) from None
    except requests.RequestException as exc:
        raise AlertDeliveryError(
            f"the alert webhook could not be reached ({type(exc).__name__}) in three tries: check the network and URL"
        ) from None


def ended_runs_after(instance: DagsterInstance, after_storage_id: int | None, limit: int = RUNS_PER_TICK):
    """(storage id, run id) of the runs that ended after a storage id, oldest first.

    Run-end events are mirrored in the event log's index, whose storage ids are global even on
    the run-sharded SQLite storage, so one integer orders all three kinds of end."""
    found, bound = [], None
    for event_type in RUN_END_EVENTS:
        result = instance.fetch_run_status_changes(
            RunStatusChangeRecordsFilter(event_type=event_type, after_storage_id=after_storage_id),
            limit=limit, ascending=True,
        )
        found += [(r.storage_id, r.event_log_entry.run_id) for r in result.records]
        if result.has_more and result.records:
            # Beyond this id, this kind may have ends not fetched yet: stop there this tick.
            bound = min(bound or result.records[-1].storage_id, result.records[-1].storage_id)
    return sorted(e for e in found if bound is None or e[0] <= bound)


def latest_run_end_id(instance: DagsterInstance) -> int:
    latest = 0
    for event_type in RUN_END_EVENTS:
        records = instance.fetch_run_status_changes(event_type, limit=1, ascending=False).records
        if records:
            latest = max(latest, records[0].storage_id)
    return latest


def failed_checks(instance: DagsterInstance, run_id: str) -> list[dict]:
    """The check evaluations of one run that did not pass, as alert fields."""
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION).records
    out = []
    for record in records:
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        if evaluation.passed:
            continue
        out.append({
            "kind": "check_failure",
            "asset": evaluation.asset_key.to_user_string(),
            "check": evaluation.check_name,
            "severity": evaluation.severity.value,
            "run_id": run_id,
            "description": evaluation.description or "",
        })
    return out


def check_alert_text(fields: dict) -> str:
    text = (f"adcombo check {fields['check']} on {fields['asset']} failed ({fields['severity']}) "
            f"in run {fields['run_id']}")
    return text + (f": {fields['description']}" if fields["description"] else "")


def build_sensors(alert_webhook_url: str | None, minimum_interval_seconds: int = 30) -> list:
    """The alert sensors, posting to `alert_webhook_url` (None or empty: they skip)."""
    url = alert_webhook_url or ""

    # Every code location's runs, and runs executed in process by the CLI (they have no code
    # location): one instance per data folder, one product on it.
    @run_failure_sensor(name="alert_on_run_failure", default_status=DefaultSensorStatus.RUNNING,
                        minimum_interval_seconds=minimum_interval_seconds, monitor_all_code_locations=True)
    def alert_on_run_failure(context: RunFailureSensorContext):
        if not url:
            return SkipReason(NO_WEBHOOK)
        run = context.dagster_run
        error = context.failure_event.message or "run failed"
        steps = [event.step_key for event in context.get_step_failure_events()]
        text = (f"adcombo run {run.run_id} of {run.job_name} failed"
                + (f" in {', '.join(steps)}" if steps else "") + f": {error}")
        post_alert(url, text, {"kind": "run_failure", "run_id": run.run_id, "job": run.job_name, "steps": steps})

    @sensor(name="alert_on_check_failure", default_status=DefaultSensorStatus.RUNNING,
            minimum_interval_seconds=minimum_interval_seconds,
            description="Posts every failed asset check (WARN or ERROR) of runs that ended to the alert webhook.")
    def alert_on_check_failure(context: SensorEvaluationContext):
        if not url:
            return SkipReason(NO_WEBHOOK)
        if context.cursor is None:
            # First evaluation: start from now instead of replaying history as alerts.
            context.update_cursor(str(latest_run_end_id(context.instance)))
            return SkipReason("started: alerts cover runs that end from now on")
        ended = ended_runs_after(context.instance, int(context.cursor))
        if not ended:
            return SkipReason("no run ended since the last evaluation")
        sent = 0
        for _, run_id in ended:
            for fields in failed_checks(context.instance, run_id):
                # On a delivery error the tick fails and the cursor stays: the next tick sends again.
                post_alert(url, check_alert_text(fields), fields)
                sent += 1
        context.update_cursor(str(ended[-1][0]))
        if not sent:
            return SkipReason(f"{len(ended)} run(s) ended, every check passed")

    return [alert_on_run_failure, alert_on_check_failure]
