"""Schedules of the adcombo code location, built from the settings.

`daily_ingestion` (API source only) runs every morning: yesterday's partition of the three raw
assets, plus the previous RESTATEMENT_DAYS days of performance again, because platforms revise
recent days' clicks (invalid-click filtering) and a partition reload replaces the old numbers.
"""

import datetime as dt

from dagster import (AssetKey, AssetSelection, DefaultScheduleStatus, RunRequest, ScheduleEvaluationContext,
                     define_asset_job, schedule)

from dagster_project.assets.ingestion import RAW_ASSETS, daily_partitions

RESTATEMENT_DAYS = 3


def build_schedules(settings) -> list:
    if settings.source != "api":
        return []
    partitions = daily_partitions(settings)
    raw_ingestion_job = define_asset_job("raw_ingestion", selection=AssetSelection.assets(*RAW_ASSETS),
                                         partitions_def=partitions)

    @schedule(job=raw_ingestion_job, cron_schedule="0 6 * * *", execution_timezone="Asia/Tokyo",
              name="daily_ingestion",
              default_status=DefaultScheduleStatus.RUNNING if settings.automation else DefaultScheduleStatus.STOPPED)
    def daily_ingestion(context: ScheduleEvaluationContext):
        keys = partitions.get_partition_keys(current_time=context.scheduled_execution_time)
        if not keys:
            return
        last = keys[-1]
        yield RunRequest(run_key=f"{last}", partition_key=last)
        day = dt.date.fromisoformat(last)
        first = dt.date.fromisoformat(partitions.get_first_partition_key())
        for back in range(1, RESTATEMENT_DAYS + 1):
            key = day - dt.timedelta(days=back)
            if key < first:
                break
            yield RunRequest(run_key=f"{last}:restate:{key}", partition_key=key.isoformat(),
                             asset_selection=[AssetKey("raw_ad_daily_performance")])

    return [daily_ingestion]
