"""A small code location for tests of the run queue, run monitoring and alerts.

Loaded by `dagster-webserver -f` / `dagster-daemon run -f`, and run as a script it executes
`slow_job` in process on $DAGSTER_HOME's instance, as the CLI executes its runs. The slow step
writes `<run id>.pid` (its process id) into $ADCOMBO_TEST_MARKER_DIR, then waits to be killed.
"""

import os
import time

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    DagsterInstance,
    Definitions,
    asset,
    asset_check,
    define_asset_job,
    in_process_executor,
)

from dagster_project.sensors import build_sensors


@asset
def slow_asset(context):
    marker = os.path.join(os.environ["ADCOMBO_TEST_MARKER_DIR"], f"{context.run_id}.pid")
    with open(marker + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.replace(marker + ".tmp", marker)
    time.sleep(600)


@asset
def quick_asset():
    return 1


@asset_check(asset=quick_asset)
def quick_asset_drifts():
    return AssetCheckResult(passed=False, severity=AssetCheckSeverity.WARN, description="PSI 0.12")


slow_job = define_asset_job("slow_job", [slow_asset])
quick_job = define_asset_job("quick_job", [quick_asset])

defs = Definitions(
    assets=[slow_asset, quick_asset],
    asset_checks=[quick_asset_drifts],
    jobs=[slow_job, quick_job],
    sensors=build_sensors(os.environ.get("ADCOMBO_TEST_WEBHOOK"), minimum_interval_seconds=2),
    executor=in_process_executor,
)

if __name__ == "__main__":
    with DagsterInstance.get() as instance:
        defs.resolve_job_def("slow_job").execute_in_process(instance=instance)
