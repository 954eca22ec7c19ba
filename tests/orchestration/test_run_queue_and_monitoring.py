"""The product's instance under the real Dagster webserver and daemon (what `adcombo ui` starts):
UI-launched runs wait in the queue one at a time, also behind a CLI run; runs whose process is
killed with SIGKILL end FAILED through run monitoring; the alert sensors, evaluated by the
daemon, post the run failures and a WARN check of a successful run to a local webhook."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
from _alert_receiver import Receiver
from _dagster_processes import launch_job, wait_for, webserver_and_daemon
from dagster import DagsterEventType, DagsterRunStatus
from dagster._core.scheduler.instigation import InstigatorType

from adcombo.instance import ensure_instance, open_instance
from adcombo.run_launcher import run_process

LOCATION = Path(__file__).with_name("_slow_location.py")


def _sensors_started(instance) -> int:
    states = instance.all_instigator_state(instigator_type=InstigatorType.SENSOR)
    return sum(1 for s in states if s.instigator_data is not None and s.instigator_data.cursor)


def test_runs_queue_one_at_a_time_killed_runs_end_failed_and_alerts_go_out(tmp_path):
    home, markers, logs = tmp_path / "home", tmp_path / "markers", tmp_path / "logs"
    markers.mkdir()
    logs.mkdir()
    dagster_home = ensure_instance(home)
    receiver = Receiver()
    env = {**os.environ, "DAGSTER_HOME": dagster_home, "ADCOMBO_TEST_WEBHOOK": receiver.url,
           "ADCOMBO_TEST_MARKER_DIR": str(markers)}
    cli = None
    try:
        with webserver_and_daemon(["-f", str(LOCATION)], env, logs) as url, open_instance(home) as instance:
            def status(run_id):
                return instance.get_run_by_id(run_id).status

            wait_for(lambda: _sensors_started(instance) == 2, 90, "the daemon ticked both alert sensors")

            # A run executed in process, as `adcombo run` does, is in progress ...
            cli = subprocess.Popen([sys.executable, str(LOCATION)], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            cli_run = wait_for(lambda: next(markers.glob("*.pid"), None), 60, "the CLI run reached its slow step").stem
            # ... so two runs launched from the UI wait in the queue instead of racing it.
            quick, slow = launch_job(url, "quick_job"), launch_job(url, "slow_job")
            wait_for(lambda: status(quick) == DagsterRunStatus.QUEUED, 10, "the UI run was queued")
            try:
                # more than two passes of the daemon's queue (every 5 s)
                wait_for(lambda: status(quick) != DagsterRunStatus.QUEUED, 12, "", every=1)
                raise AssertionError("a UI run started while the CLI run was in progress")
            except TimeoutError:
                pass
            assert status(slow) == DagsterRunStatus.QUEUED

            # The CLI process dies: run monitoring marks its run failed, and the queue moves on,
            # one run at a time.
            os.kill(cli.pid, signal.SIGKILL)
            cli.wait(timeout=10)
            wait_for(lambda: status(cli_run) == DagsterRunStatus.FAILURE, 90, "the killed CLI run ended FAILED")
            wait_for(lambda: status(quick) == DagsterRunStatus.SUCCESS, 90, "the first queued run succeeded")
            slow_marker = markers / f"{slow}.pid"
            wait_for(slow_marker.exists, 90, "the second queued run started")
            assert instance.get_run_record_by_id(slow).start_time >= instance.get_run_record_by_id(quick).end_time

            # The daemon's sensors sent the CLI run's failure and the WARN check of the successful run.
            wait_for(lambda: receiver.of_kind("run_failure") and receiver.of_kind("check_failure"),
                     60, "the alerts arrived")
            [failure] = receiver.of_kind("run_failure")
            assert failure["run_id"] == cli_run and "is gone: it was killed or crashed" in failure["text"]
            [check] = receiver.of_kind("check_failure")
            assert (check["run_id"], check["check"], check["severity"]) == (quick, "quick_asset_drifts", "WARN")

            # The UI run's worker is killed together with the code server that started it (which
            # would otherwise notice its child's death itself): run monitoring marks it failed.
            worker = int(slow_marker.read_text())
            assert run_process(instance, slow).pid == worker
            psutil.Process(worker).parent().kill()
            os.kill(worker, signal.SIGKILL)
            wait_for(lambda: status(slow) == DagsterRunStatus.FAILURE, 90, "the killed UI run ended FAILED")
            failed = instance.get_records_for_run(slow, of_type=DagsterEventType.RUN_FAILURE).records
            assert "is gone: it was killed or crashed" in failed[0].event_log_entry.dagster_event.message
    finally:
        if cli is not None and cli.poll() is None:
            cli.kill()
        receiver.close()
