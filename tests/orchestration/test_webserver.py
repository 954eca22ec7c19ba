"""Start the Dagster webserver and daemon on this code location and the data folder's own instance
(as `adcombo ui` does) and materialise an asset through the GraphQL API: the same interface the
UI's "Materialize" button uses. The run is queued and the daemon starts it, as for a user."""

import os

import duckdb

from _dagster_processes import graphql, launch_job, wait_for, webserver_and_daemon
from adcombo.instance import ensure_instance

RUN = """
query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }
"""


def test_materialise_an_asset_through_the_ui_api(tmp_path):
    home = tmp_path / "home"
    env = {**os.environ, "ADCOMBO_HOME": str(home), "ADCOMBO_WORLD": "tiny", "DAGSTER_HOME": ensure_instance(home)}
    with webserver_and_daemon(["-m", "dagster_project.definitions"], env, tmp_path) as url:
        # Raw assets are daily-partitioned: the UI launches one partition (the world's last day).
        run_id = launch_job(url, "__ASSET_JOB", selector={"assetSelection": [{"path": ["raw_asset_pools"]}]},
                            extra={"executionMetadata": {"tags": [{"key": "dagster/partition", "value": "2025-06-30"}]}})

        def finished():
            status = graphql(url, RUN, {"id": run_id})["runOrError"]["status"]
            return status if status in ("SUCCESS", "FAILURE", "CANCELED") else None

        status = wait_for(finished, 180, "the queued run finished", every=1)
        assert status == "SUCCESS", (tmp_path / "daemon.log").read_text()[-2000:]
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    assert con.execute("SELECT COUNT(*) FROM raw.asset_pools").fetchone()[0] > 0
    con.close()
