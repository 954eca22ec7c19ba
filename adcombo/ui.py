"""`adcombo ui`: the Dagster webserver and daemon on this code location and data folder.

Started as two documented commands (`dagster-webserver`, `dagster-daemon run`) rather than the
superseded `dagster dev`. The daemon runs the sensors (alerts), takes runs off the queue one at
a time and fails runs whose process died. Each is started in its own process group, so on Ctrl-C
or SIGTERM everything they started (code servers, run workers) is stopped with them. On Linux each
also gets SIGTERM from the kernel if `adcombo ui` itself dies without cleaning up (SIGKILL, OOM
killer), so no webserver is left holding the port.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import typer

from adcombo.common import HOME, load_settings

TARGET = ["-m", "dagster_project.definitions"]
STOP_GRACE_SECONDS = 20


class _Stop(Exception):
    pass


def _raise_stop(signum, frame):
    raise _Stop(signal.Signals(signum).name)


def _terminate_with_parent() -> None:
    """In the child before exec: ask the kernel for SIGTERM when the parent dies (Linux prctl
    PR_SET_PDEATHSIG). Elsewhere nothing: Ctrl-C and SIGTERM still stop everything."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def start(env: dict, host: str, port: int, log_level: str = "warning") -> list[subprocess.Popen]:
    bin_dir = Path(sys.executable).parent
    commands = [
        [str(bin_dir / "dagster-webserver"), *TARGET, "-h", host, "-p", str(port),
         "--dagster-log-level", log_level, "--log-level", log_level, "--code-server-log-level", log_level],
        [str(bin_dir / "dagster-daemon"), "run", *TARGET, "--log-level", log_level,
         "--code-server-log-level", log_level],
    ]
    return [subprocess.Popen(cmd, env=env, start_new_session=True, preexec_fn=_terminate_with_parent)
            for cmd in commands]


def stop(procs: list[subprocess.Popen]) -> None:
    """SIGTERM to each process group, then SIGKILL to whatever is left after the grace period."""
    for p in procs:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.time() + STOP_GRACE_SECONDS
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            pass
    for p in procs:
        try:
            os.killpg(p.pid, signal.SIGKILL)  # code servers and run workers still in the group
        except ProcessLookupError:
            pass
        p.wait()


def ui(
    home: Optional[Path] = HOME,
    port: int = typer.Option(3000),
    host: str = typer.Option("127.0.0.1"),
    verbose: bool = typer.Option(False, "--verbose", help="Dagster's own log lines (info level)"),
):
    """Open the Dagster UI and its daemon (sensors, run queue, run monitoring); Ctrl-C stops both."""
    from adcombo.instance import ensure_instance
    from adcombo.runs import child_env

    settings = load_settings(home)
    ensure_instance(settings.home)
    previous = {s: signal.signal(s, _raise_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    procs = []
    try:
        procs = start(child_env(settings), host, port, "info" if verbose else "warning")
        typer.echo(f"Dagster UI on http://{host}:{port}, data folder {settings.home} (Ctrl-C stops it)")
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
        failed = next(p for p in procs if p.poll() is not None)
        typer.echo(f"adcombo: {Path(failed.args[0]).name} exited with status {failed.returncode}; stopping the UI",
                   err=True)
        code = 1
    except _Stop as stop_signal:
        typer.echo(f"stopping the Dagster UI ({stop_signal})")
        code = 0
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        stop(procs)
    raise typer.Exit(code)
