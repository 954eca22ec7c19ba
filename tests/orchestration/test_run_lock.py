"""One run at a time per data folder from the command line: a second `adcombo run` exits at
once, naming the run in progress, whether that run holds the folder from another command or was
launched from the UI; the lock goes with its process, SIGKILL included."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from dagster import DagsterRunStatus

from adcombo.instance import ensure_instance, open_instance
from adcombo.lock import FolderLock

ADCOMBO = str(Path(sys.executable).with_name("adcombo"))
SLOW_RUN = Path(__file__).with_name("_slow_location.py")
# Another command holding the folder while its run 1234abcd-... works.
HOLDER = """
import sys, time
from adcombo.lock import FolderLock
lock = FolderLock(sys.argv[1]); lock.acquire(); lock.record("1234abcd-0000-4000-8000-000000000000")
print("held", flush=True); time.sleep(600)
"""


def _adcombo_run(home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "ADCOMBO_WORLD": "tiny"}
    return subprocess.run([ADCOMBO, "run", "--home", str(home)], env=env, capture_output=True, text=True, timeout=120)


def test_a_second_run_exits_at_once_naming_the_run_that_holds_the_folder(tmp_path):
    home = tmp_path / "home"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(home)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        out = _adcombo_run(home)
        assert out.returncode == 1, out.stdout + out.stderr
        message = out.stderr.strip().splitlines()[-1]
        assert message.startswith("adcombo: a run is already in progress (run 1234abcd-0000-4000-8000-000000000000, "
                                  "started at 20") and f"pid {holder.pid}" in message
        assert not (home / "warehouse.duckdb").exists()  # nothing was touched
        # The lock belongs to the process: killed, it is free again.
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=10)
        with FolderLock(home):
            pass
    finally:
        if holder.poll() is None:
            holder.kill()


def test_a_run_launched_elsewhere_and_in_progress_is_named_too(tmp_path):
    home, markers = tmp_path / "home", tmp_path / "markers"
    markers.mkdir()
    env = {**os.environ, "DAGSTER_HOME": ensure_instance(home), "ADCOMBO_TEST_MARKER_DIR": str(markers)}
    # A run in progress on the folder's instance that holds no file lock (as a UI run does).
    proc = subprocess.Popen([sys.executable, str(SLOW_RUN)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while not list(markers.glob("*.pid")) and time.time() < deadline:
            time.sleep(0.3)
        run_id = next(markers.glob("*.pid")).stem
        out = _adcombo_run(home)
        assert out.returncode == 1, out.stdout + out.stderr
        assert f"a run is already in progress (run {run_id}, started at" in out.stderr
        with open_instance(home) as instance:
            assert instance.get_run_by_id(run_id).status == DagsterRunStatus.STARTED  # left alone: it is alive
    finally:
        proc.kill()
        proc.wait(timeout=10)
