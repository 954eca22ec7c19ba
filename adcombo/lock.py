"""One run at a time per data folder, for commands that write it (`run`, `demo`, `import`).

Two runs on one folder race for the DuckDB file and the output folders (one died with
`FileNotFoundError: …scores/top_k.tmp -> …scores/top_k`). A command holds an OS file lock on
`<home>/.run.lock` while it works; the OS drops the lock when the process ends, however it ends
(SIGKILL included), so a lock is never left behind. Beside it, `.run.json` says which run holds
it, so a second command can say so and exit at once instead of waiting. Runs launched from the
UI are ordered by Dagster's run queue (adcombo/instance.py); the CLI also refuses to start while
one of those is in progress.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

from filelock import FileLock, Timeout

LOCK_NAME = ".run.lock"
INFO_NAME = ".run.json"


class RunInProgress(RuntimeError):
    """Another run works on this data folder. The message is one line for people."""


def in_progress_message(run_id: str | None, started_at: float | None, pid: int | None = None) -> str:
    when = dt.datetime.fromtimestamp(started_at, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC") if started_at else "?"
    who = f"run {run_id}" if run_id else "a run that is starting"
    return (f"a run is already in progress ({who}, started at {when}" + (f", pid {pid}" if pid else "") + "): "
            "wait for it to finish, or follow it in the UI (`adcombo ui`, Runs)")


class FolderLock:
    """Held by this process while a command writes the data folder; re-entrant in one process."""

    def __init__(self, home: str | os.PathLike):
        home = Path(home)
        home.mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(str(home / LOCK_NAME), is_singleton=True)
        self._info = home / INFO_NAME

    def acquire(self) -> None:
        try:
            self._lock.acquire(blocking=False)
        except Timeout:
            raise RunInProgress(self._holder()) from None
        if self._lock.lock_counter == 1:
            self.record(None)

    def release(self) -> None:
        if self._lock.lock_counter == 1:
            self._info.unlink(missing_ok=True)
        self._lock.release()

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()

    def record(self, run_id: str | None) -> None:
        """Say which run holds the folder now (the run id is known before the run starts)."""
        tmp = self._info.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps({"run_id": run_id, "started_at": dt.datetime.now(dt.timezone.utc).timestamp(),
                                   "pid": os.getpid()}), encoding="utf-8")
        os.replace(tmp, self._info)

    def _holder(self) -> str:
        try:
            info = json.loads(self._info.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            info = {}
        return in_progress_message(info.get("run_id"), info.get("started_at"), info.get("pid"))
