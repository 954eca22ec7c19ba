"""Alerts: a run failure or a failed asset check posts to a Slack-compatible webhook.

The webhook URL comes from the settings (ADCOMBO_ALERT_WEBHOOK_URL; a secret: never logged) through
`build_sensors(url)`. Without it the sensors skip. The payload is Slack's incoming-webhook shape
(`{"text": ...}`) plus structured fields for other receivers.
"""

from dagster import (
    DagsterEventType,
    DefaultSensorStatus,
    EventRecordsFilter,
    RunFailureSensorContext,
    SensorEvaluationContext,
    SkipReason,
    run_failure_sensor,
    sensor,
)

WEBHOOK_ENV = "ADCOMBO_ALERT_WEBHOOK_URL"


def post_alert(url: str, text: str, fields: dict) -> bool:
    """POST one alert; returns False when no webhook is configured."""
    import requests
    from tenacity import retry, stop_after_attempt, wait_exponential

    if not url:
        return False

    @retry(stop=stop_after_attempt(3), wait=wait_exponential(multiplier=0.5, max=5), reraise=True)
    def send():
        response = requests.post(url, json={"text": text, **fields}, timeout=10)
        response.raise_for_status()

    send()
    return True


def build_sensors(alert_webhook_url: str | None) -> list:
    url = alert_webhook_url or ""

    @run_failure_sensor(name="alert_on_run_failure", default_status=DefaultSensorStatus.RUNNING, minimum_interval_seconds=30)
    def alert_on_run_failure(context: RunFailureSensorContext):
        run = context.dagster_run
        error = context.failure_event.message or "run failed"
        failed_steps = []
        for event in context.get_step_failure_events():
            failed_steps.append(event.step_key)
        text = (
            f"adcombo run {run.run_id} of {run.job_name} failed"
            + (f" in {', '.join(failed_steps)}" if failed_steps else "")
            + f": {error}"
        )
        if not post_alert(url, text, {"kind": "run_failure", "run_id": run.run_id, "job": run.job_name, "steps": failed_steps}):
            return SkipReason(f"{WEBHOOK_ENV} is not set; run failure not sent")


    @sensor(name="alert_on_check_failure", default_status=DefaultSensorStatus.RUNNING, minimum_interval_seconds=30)
    def alert_on_check_failure(context: SensorEvaluationContext):
        filter_ = EventRecordsFilter(
            event_type=DagsterEventType.ASSET_CHECK_EVALUATION,
            after_cursor=int(context.cursor) if context.cursor else None,
        )
        records = context.instance.get_event_records(filter_, ascending=True, limit=500)
        if context.cursor is None:
            # First evaluation: start from now instead of replaying history as alerts.
            latest = context.instance.get_event_records(
                EventRecordsFilter(event_type=DagsterEventType.ASSET_CHECK_EVALUATION), ascending=False, limit=1
            )
            context.update_cursor(str(latest[0].storage_id if latest else 0))
            return SkipReason("initialised the cursor; alerts start with the next check evaluation")
        if not records:
            return SkipReason("no new check evaluations")
        sent = 0
        for record in records:
            evaluation = record.event_log_entry.dagster_event.event_specific_data
            if evaluation.passed:
                continue
            asset = evaluation.asset_key.to_user_string()
            severity = evaluation.severity.value
            run_id = record.event_log_entry.run_id
            text = f"adcombo check {evaluation.check_name} on {asset} failed ({severity}) in run {run_id}"
            fields = {"kind": "check_failure", "asset": asset, "check": evaluation.check_name, "severity": severity, "run_id": run_id}
            sent += post_alert(url, text, fields)
        context.update_cursor(str(records[-1].storage_id))
        if not sent:
            return SkipReason("no failed checks to send (or no webhook configured)")

    return [alert_on_run_failure, alert_on_check_failure]
