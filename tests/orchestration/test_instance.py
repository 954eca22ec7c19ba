"""The data folder's Dagster instance as adcombo writes it: storage, run queue, run monitoring."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from dagster import DagsterRunStatus, QueuedRunCoordinator

from adcombo.instance import DATABASES, LEGACY_CONTENT, ensure_instance, open_instance
from adcombo.run_launcher import LocalRunLauncher, fail_dead_runs, run_process

SLOW_RUN = Path(__file__).with_name("_slow_location.py")


def test_the_instance_lives_in_the_data_folder_queues_runs_one_at_a_time_and_monitors_them(tmp_path):
    home = tmp_path / "home"
    dagster_home = ensure_instance(home)
    assert dagster_home == str(home.resolve() / "dagster")
    # The databases exist before any process opens the instance (processes started together
    # would race to create them).
    assert all((Path(dagster_home) / db).exists() for db in DATABASES)
    with open_instance(home) as instance:
        assert instance.root_directory == dagster_home
        # The same run-sharded SQLite storage as Dagster's default, under the data folder.
        assert instance.event_log_storage.is_run_sharded
        assert (Path(dagster_home) / "history" / "runs.db").exists()
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 1
        assert isinstance(instance.run_launcher, LocalRunLauncher)
        assert instance.run_launcher.supports_check_run_worker_health
        assert instance.run_monitoring_enabled and instance.run_monitoring_max_resume_run_attempts == 0
        assert not instance.telemetry_enabled and not instance.nux_enabled  # no newsletter dialog over the UI


def test_the_file_is_rewritten_when_it_is_adcombos_and_left_alone_when_it_is_the_users(tmp_path):
    config = tmp_path / "home" / "dagster" / "dagster.yaml"
    config.parent.mkdir(parents=True)
    config.write_text(LEGACY_CONTENT)  # what earlier versions wrote
    ensure_instance(tmp_path / "home")
    written = config.read_text()
    assert "QueuedRunCoordinator" in written and "run_monitoring" in written
    before = config.stat().st_mtime_ns
    ensure_instance(tmp_path / "home")
    assert config.stat().st_mtime_ns == before  # unchanged content is not rewritten
    own = "telemetry:\n  enabled: false\nstorage:\n  postgres: {}\n"
    config.write_text(own)
    ensure_instance(tmp_path / "home")
    assert config.read_text() == own


def _start_cli_run(dagster_home: str, marker: Path) -> subprocess.Popen:
    """A run executed in process, as `adcombo run` does, that stays in its slow step."""
    env = {**os.environ, "DAGSTER_HOME": dagster_home, "ADCOMBO_TEST_MARKER_DIR": str(marker)}
    return subprocess.Popen([sys.executable, str(SLOW_RUN)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_for(predicate, seconds, what):
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise TimeoutError(f"{what} within {seconds} s")


def test_a_cli_run_killed_with_sigkill_ends_failed_not_started_forever(tmp_path):
    home, markers = tmp_path / "home", tmp_path / "markers"
    markers.mkdir()
    dagster_home = ensure_instance(home)
    proc = _start_cli_run(dagster_home, markers)
    try:
        with open_instance(home) as instance:
            run_file = _wait_for(lambda: next(markers.glob("*.pid"), None), 60, "the run reached its slow step")
            run_id = run_file.stem
            assert instance.get_run_by_id(run_id).status == DagsterRunStatus.STARTED
            # The run recorded the process that executes it, and it is alive: nothing is failed.
            assert run_process(instance, run_id).pid == proc.pid == int(run_file.read_text())
            assert fail_dead_runs(instance) == []
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            assert instance.get_run_by_id(run_id).status == DagsterRunStatus.STARTED  # Dagster alone: forever
            health = instance.run_launcher.check_run_worker_health(instance.get_run_by_id(run_id))
            assert health.status.value == "FAILED" and str(proc.pid) in health.msg
            assert fail_dead_runs(instance) == [run_id]
            run = instance.get_run_by_id(run_id)
            assert run.status == DagsterRunStatus.FAILURE
            assert fail_dead_runs(instance) == []
    finally:
        if proc.poll() is None:
            proc.kill()
