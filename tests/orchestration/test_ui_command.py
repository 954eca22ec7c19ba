"""`adcombo ui` starts the webserver and the daemon without deprecated commands, and on SIGTERM
stops everything it started: webserver, daemon, their code servers."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import requests
from _dagster_processes import free_port, wait_for

ADCOMBO = str(Path(sys.executable).with_name("adcombo"))


def _start_ui(home: Path, port: int, out) -> subprocess.Popen:
    """`adcombo ui` as typed, on the tiny world."""
    return subprocess.Popen([ADCOMBO, "ui", "--home", str(home), "--port", str(port)],
                            env={**os.environ, "ADCOMBO_WORLD": "tiny"}, stdout=out, stderr=subprocess.STDOUT)


def _kill(procs) -> None:
    """Whatever a failed test left running."""
    for p in procs:
        try:
            p.kill()
        except (ProcessLookupError, psutil.NoSuchProcess):
            pass


def test_ui_starts_the_webserver_and_daemon_and_sigterm_stops_all_of_it(tmp_path):
    port = free_port()
    log = tmp_path / "ui.log"
    with log.open("wb") as out:
        proc = _start_ui(tmp_path / "home", port, out)
    started = []
    try:
        def serving():
            try:
                return requests.get(f"http://127.0.0.1:{port}/server_info", timeout=2).ok
            except requests.ConnectionError:
                assert proc.poll() is None, log.read_text()
                return False

        wait_for(serving, 120, "the webserver answered")
        # the daemon and the code servers (one each for the webserver and the daemon)
        wait_for(lambda: len(psutil.Process(proc.pid).children(recursive=True)) >= 4, 60, "all processes started")
        started = psutil.Process(proc.pid).children(recursive=True)
        names = " ".join(" ".join(p.cmdline()) for p in started)
        assert "dagster-webserver" in names and "dagster-daemon" in names and "dagster dev" not in names
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        gone, alive = psutil.wait_procs(started, timeout=10)
        assert alive == [], [" ".join(p.cmdline()) for p in alive]
        text = log.read_text()
        assert "SupersessionWarning" not in text and "dev_command" not in text
        assert "dagster.code_server" not in text, text  # Dagster's own info lines only with --verbose
        assert f"Dagster UI on http://127.0.0.1:{port}" in text and "stopping the Dagster UI (SIGTERM)" in text
    finally:
        _kill([proc, *started])


def test_ui_killed_outright_leaves_no_webserver_or_daemon_behind(tmp_path):
    proc = _start_ui(tmp_path / "home", free_port(), subprocess.DEVNULL)
    started = []
    try:
        wait_for(lambda: len(psutil.Process(proc.pid).children(recursive=True)) >= 4, 120, "all processes started")
        started = psutil.Process(proc.pid).children(recursive=True)
        proc.kill()  # no handler runs: only the kernel can tell the children (SIGKILL, OOM killer)
        proc.wait(timeout=10)
        gone, alive = psutil.wait_procs(started, timeout=60)
        assert alive == [], [" ".join(p.cmdline()) for p in alive]
    finally:
        _kill([proc, *started])
