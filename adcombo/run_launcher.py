"""Tell whether a run's process is still alive, so that runs whose process died end FAILED.

Dagster's own local launcher (`DefaultRunLauncher`) starts each run in a process of the code
server but cannot tell the run monitor whether that process still lives, so a run killed with
SIGKILL (or by the out-of-memory killer) stays STARTED forever. Every run records the pid of the
process that executes its steps in an engine event ("Started process for run (pid: N)" for
launched runs, "Executing steps in process (pid: N)" for in-process runs such as the CLI's);
`LocalRunLauncher` checks that process. It is only meaningful where runs execute on the
machine that checks, which is the case for the local SQLite instance under the data folder.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from dagster import DagsterEventType, DagsterInstance, DefaultRunLauncher
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus
from dagster._core.storage.dagster_run import DagsterRun, DagsterRunStatus, RunsFilter

# A run that has been STARTED this long without naming its process is taken as dead.
NO_PID_GRACE_SECONDS = 120
# Process start times and event timestamps come from different clocks' roundings.
CLOCK_SLACK_SECONDS = 2.0


@dataclass(frozen=True)
class RunProcess:
    pid: int
    recorded_at: float  # when the run recorded it (a process started later is another one)


def run_process(instance: DagsterInstance, run_id: str) -> RunProcess | None:
    """The process that executes the run's steps: the first engine event that names a pid (later
    ones may name step subprocesses of a multiprocess executor)."""
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.ENGINE_EVENT, limit=100).records
    for record in records:
        data = record.event_log_entry.dagster_event.event_specific_data
        pid = getattr(data, "metadata", {}).get("pid") if data is not None else None
        if pid is not None:
            return RunProcess(int(pid.value), record.event_log_entry.timestamp)
    return None


def process_alive(process: RunProcess) -> bool:
    import psutil

    try:
        p = psutil.Process(process.pid)
        if p.status() == psutil.STATUS_ZOMBIE:  # killed, not yet reaped by its parent
            return False
        return p.create_time() <= process.recorded_at + CLOCK_SLACK_SECONDS  # else: pid reused
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def run_health(instance: DagsterInstance, run: DagsterRun) -> CheckRunHealthResult:
    process = run_process(instance, run.run_id)
    if process is None:
        record = instance.get_run_record_by_id(run.run_id)
        started = record.start_time if record is not None and record.start_time else None
        if started is None or time.time() - started < NO_PID_GRACE_SECONDS:
            return CheckRunHealthResult(WorkerStatus.RUNNING, "starting: no process recorded yet", transient=True)
        return CheckRunHealthResult(WorkerStatus.NOT_FOUND, f"no process recorded for the run in {NO_PID_GRACE_SECONDS} s")
    if process_alive(process):
        return CheckRunHealthResult(WorkerStatus.RUNNING, f"process {process.pid} is running")
    return CheckRunHealthResult(
        WorkerStatus.FAILED, f"the run's process (pid {process.pid}) is gone: it was killed or crashed"
    )


class LocalRunLauncher(DefaultRunLauncher):
    """Dagster's local launcher, plus the worker health check that run monitoring needs."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        return run_health(self._instance, run)


def fail_dead_runs(instance: DagsterInstance) -> list[str]:
    """Mark failed every STARTED run whose process is gone; returns their run ids.

    The daemon's run monitoring does this while `adcombo ui` runs; the CLI calls this before it
    starts a run, so a run killed while no daemon was running does not stay STARTED."""
    failed = []
    for run in instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.STARTED])):
        health = run_health(instance, run)
        if health.status in (WorkerStatus.FAILED, WorkerStatus.NOT_FOUND):
            instance.report_run_failed(run, f"Marked failed by adcombo: {health.msg}.")
            failed.append(run.run_id)
    return failed
