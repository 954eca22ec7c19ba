"""Start the Dagster webserver and daemon as `adcombo ui` does, on a data folder's instance, and
stop everything they started (each in its own process group: code servers and run workers too)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import requests

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # whatever the group still holds (code servers, run workers)
    except ProcessLookupError:
        pass


@contextmanager
def webserver_and_daemon(target: list[str], env: dict, log_dir: Path, start_timeout: float = 120):
    """`target`: the workspace arguments (`-m module` or `-f file`). Yields the webserver's URL."""
    port = free_port()
    procs = []
    try:
        for name, cmd in (
            ("webserver", [str(BIN / "dagster-webserver"), *target, "-h", "127.0.0.1", "-p", str(port)]),
            ("daemon", [str(BIN / "dagster-daemon"), "run", *target]),
        ):
            log = open(log_dir / f"{name}.log", "wb")
            procs.append(subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + start_timeout
        while True:
            try:
                if requests.get(f"{url}/server_info", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            for p in procs:
                if p.poll() is not None:
                    raise RuntimeError(f"{p.args[0]} exited during start-up: see {log_dir}")
            if time.time() > deadline:
                raise TimeoutError(f"dagster-webserver did not answer within {start_timeout} s")
            time.sleep(0.5)
        yield url
    finally:
        for p in procs:
            _stop(p)


def graphql(url: str, query: str, variables: dict | None = None) -> dict:
    response = requests.post(f"{url}/graphql", json={"query": query, "variables": variables or {}}, timeout=30)
    response.raise_for_status()
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


LOCATIONS = """
query { workspaceOrError { ... on Workspace { locationEntries { name
  locationOrLoadError { __typename ... on RepositoryLocation { repositories { name } }
                        ... on PythonError { message } } } } } }
"""

LAUNCH = """
mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId } }
  ... on PythonError { message } ... on InvalidSubsetError { message }
  ... on RunConfigValidationInvalid { errors { message } } } }
"""


def launch_job(url: str, job: str, extra: dict | None = None, selector: dict | None = None) -> str:
    """Launch a job as the UI's Materialize / Launch button does; returns the run id. `selector`
    adds to the job selector (e.g. an assetSelection), `extra` to the execution params."""
    entry = graphql(url, LOCATIONS)["workspaceOrError"]["locationEntries"][0]
    location = entry["locationOrLoadError"]
    assert location["__typename"] == "RepositoryLocation", location
    params = {
        "selector": {"repositoryLocationName": entry["name"], "repositoryName": location["repositories"][0]["name"],
                     "jobName": job, **(selector or {})},
        "mode": "default",
        **(extra or {}),
    }
    launched = graphql(url, LAUNCH, {"params": params})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    return launched["run"]["runId"]


def wait_for(predicate, seconds: float, what: str, every: float = 0.5):
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(f"{what}: not within {seconds} s")
