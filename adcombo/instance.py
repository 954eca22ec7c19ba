"""The Dagster instance of a data folder: `<home>/dagster/dagster.yaml`.

Every process that touches the data folder (the CLI, the webserver, the daemon, the code
servers) opens the same instance, so runs launched anywhere share one run history and one run
queue. The file is written by `ensure_instance` and rewritten when adcombo's settings for it
change; a file without adcombo's first line is the user's own and is left alone.

What it sets, and why:
- storage: SQLite under the data folder, the same run-sharded kind as Dagster's default (one
  database per run plus an index), at the same paths, so existing run history stays readable;
- the run queue: UI-launched runs wait in Dagster's queue, one at a time, instead of racing
  for the same DuckDB file and output folders (the daemon dequeues them: `adcombo ui` runs it);
- run monitoring with `adcombo.run_launcher.LocalRunLauncher`, which can tell that a run's
  process died: such runs are marked failed instead of staying STARTED forever;
- telemetry and the UI's newsletter dialog off.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

MARKER = "# Written by adcombo (adcombo/instance.py)."
# The file earlier versions of the CLI wrote: replaced, it was never the user's.
LEGACY_CONTENT = "telemetry:\n  enabled: false\n"

MAX_CONCURRENT_RUNS = 1
# How often the daemon looks for runs whose process died (seconds).
MONITORING_POLL_SECONDS = 15
# A run that has not started this long after launch is marked failed.
START_TIMEOUT_SECONDS = 180


def instance_config(dagster_home: str) -> dict:
    """The instance settings for a Dagster home folder (pure: no I/O)."""
    return {
        "telemetry": {"enabled": False},
        "nux": {"enabled": False},  # the UI's newsletter sign-up dialog
        "storage": {"sqlite": {"base_dir": dagster_home}},
        "run_coordinator": {"module": "dagster", "class": "QueuedRunCoordinator"},
        "concurrency": {"runs": {"max_concurrent_runs": MAX_CONCURRENT_RUNS}},
        "run_launcher": {"module": "adcombo.run_launcher", "class": "LocalRunLauncher"},
        "run_monitoring": {
            "enabled": True,
            "start_timeout_seconds": START_TIMEOUT_SECONDS,
            "poll_interval_seconds": MONITORING_POLL_SECONDS,
            # Dagster's local launcher cannot resume a run in a new process: fail it instead.
            "max_resume_run_attempts": 0,
        },
    }


def render(dagster_home: str) -> str:
    header = (
        f"{MARKER} Rewritten by adcombo commands;\n"
        "# to manage this instance yourself, delete the line above and adcombo will leave the file alone.\n"
    )
    return header + yaml.safe_dump(instance_config(dagster_home), sort_keys=False)


# The SQLite databases Dagster creates (with schema migrations) when an instance first opens.
DATABASES = ("history/runs.db", "history/runs/index.db", "schedules/schedules.db")


def ensure_instance(home: str | os.PathLike) -> str:
    """Write the instance settings of the data folder `home` if they are missing or stale, create
    its databases, and return the Dagster home folder (`<home>/dagster`) to use as DAGSTER_HOME.

    The databases are created here, once, because processes started together on a new folder
    (`adcombo ui`: webserver and daemon) would race to create them ("UNIQUE constraint failed:
    alembic_version")."""
    dagster_home = str(Path(home).resolve() / "dagster")
    os.makedirs(dagster_home, exist_ok=True)
    path = os.path.join(dagster_home, "dagster.yaml")
    wanted = render(dagster_home)
    try:
        with open(path, encoding="utf-8") as f:
            current = f.read()
    except FileNotFoundError:
        current = None
    ours = current is None or current.startswith(MARKER) or current == LEGACY_CONTENT
    if ours and current != wanted:
        tmp = f"{path}.tmp.{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(wanted)
        os.replace(tmp, path)  # a process reading it at the same moment sees the old or the new file
    if ours and not all(os.path.exists(os.path.join(dagster_home, db)) for db in DATABASES):
        from dagster import DagsterInstance

        DagsterInstance.from_config(dagster_home).dispose()
    return dagster_home


def open_instance(home: str | os.PathLike):
    """The Dagster instance of a data folder (without reading DAGSTER_HOME)."""
    from dagster import DagsterInstance

    return DagsterInstance.from_config(ensure_instance(home))
