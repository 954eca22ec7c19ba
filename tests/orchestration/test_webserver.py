"""Start the Dagster webserver on this code location and materialise an asset through its
GraphQL API: the same interface the UI's "Materialize" button uses."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
import requests

WEBSERVER = str(Path(sys.executable).with_name("dagster-webserver"))

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

RUN = """
query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def webserver(tmp_path):
    home, dagster_home = tmp_path / "home", tmp_path / "dagster"
    dagster_home.mkdir()
    # Runs launched from the UI start at once (no daemon needed in a test).
    (dagster_home / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\n"
        "run_coordinator:\n  module: dagster._core.run_coordinator\n  class: DefaultRunCoordinator\n"
    )
    env = {**os.environ, "ADCOMBO_HOME": str(home), "ADCOMBO_WORLD": "tiny", "DAGSTER_HOME": str(dagster_home)}
    port = _free_port()
    proc = subprocess.Popen(
        [WEBSERVER, "-m", "dagster_project.definitions", "-h", "127.0.0.1", "-p", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if requests.get(f"{url}/server_info", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if proc.poll() is not None:
                raise RuntimeError("dagster-webserver exited during start-up")
            time.sleep(0.5)
        else:
            raise TimeoutError("dagster-webserver did not answer within 120 s")
        yield url, home
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _graphql(url, query, variables=None):
    response = requests.post(f"{url}/graphql", json={"query": query, "variables": variables or {}}, timeout=30)
    response.raise_for_status()
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def test_materialise_an_asset_through_the_ui_api(webserver):
    url, home = webserver
    entries = _graphql(url, LOCATIONS)["workspaceOrError"]["locationEntries"]
    location = entries[0]["locationOrLoadError"]
    assert location["__typename"] == "RepositoryLocation", location
    params = {
        "selector": {
            "repositoryLocationName": entries[0]["name"],
            "repositoryName": location["repositories"][0]["name"],
            "jobName": "__ASSET_JOB",
            "assetSelection": [{"path": ["raw_asset_pools"]}],
        },
        "mode": "default",
        # Raw assets are daily-partitioned: the UI launches one partition (the world's last day).
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": "2025-06-30"}]},
    }
    launched = _graphql(url, LAUNCH, {"params": params})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    deadline, status = time.time() + 180, None
    while time.time() < deadline:
        status = _graphql(url, RUN, {"id": run_id})["runOrError"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(1)
    assert status == "SUCCESS"
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    assert con.execute("SELECT COUNT(*) FROM raw.asset_pools").fetchone()[0] > 0
    con.close()
