"""Schedules of the adcombo code location (registered by definitions.py).

`daily_ingestion` (API source only) runs every morning: yesterday's partition of the three raw
assets, plus the previous RESTATEMENT_DAYS days of performance again, because platforms revise
recent days' clicks (invalid-click filtering) and a partition reload replaces the old numbers.
"""

import datetime as dt

from dagster import AssetKey, AssetSelection, RunRequest, ScheduleEvaluationContext, define_asset_job, schedule

from dagster_project.assets.ingestion import PARTITIONS, RAW_ASSETS, SETTINGS

RESTATEMENT_DAYS = 3

SCHEDULES: list = []

if SETTINGS.source == "api":
    raw_ingestion_job = define_asset_job("raw_ingestion", selection=AssetSelection.assets(*RAW_ASSETS),
                                         partitions_def=PARTITIONS)

    @schedule(job=raw_ingestion_job, cron_schedule="0 6 * * *", execution_timezone="Asia/Tokyo",
              name="daily_ingestion")
    def daily_ingestion(context: ScheduleEvaluationContext):
        keys = PARTITIONS.get_partition_keys(current_time=context.scheduled_execution_time)
        if not keys:
            return
        last = keys[-1]
        yield RunRequest(run_key=f"{last}", partition_key=last)
        day = dt.date.fromisoformat(last)
        first = dt.date.fromisoformat(PARTITIONS.get_first_partition_key())
        for back in range(1, RESTATEMENT_DAYS + 1):
            key = day - dt.timedelta(days=back)
            if key < first:
                break
            yield RunRequest(run_key=f"{last}:restate:{key}", partition_key=key.isoformat(),
                             asset_selection=[AssetKey("raw_ad_daily_performance")])

    SCHEDULES = [daily_ingestion]
