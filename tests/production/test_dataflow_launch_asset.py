"""The scoring asset on the Dataflow profile, against a fake Dataflow API.

The "gs://" stage root is a local folder here (Beam's FileSystems treats both alike), and the
fake job writes top-K shards into it when it reaches DONE, as the real job would.
"""

import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from _fake_dataflow import FakeDataflow
from dagster import DagsterInstance, materialize

from dagster_project.assets.scoring import top_combinations
from dagster_project.resources import BeamRunnerResource, DataflowResource, LocalPaths, WarehouseResource
from pipelines.dataflow_jobs import DataflowJobs
from pipelines.score import TOP_K_SCHEMA


class FakeDataflowApi(FakeDataflow):
    """The job writes its top-K shard under the output prefix when it reaches DONE."""

    def __init__(self, states, errors=()):
        super().__init__(states, errors, job_id="2026-11-27_03_04_05-42")

    def on_done(self):
        params = self.launched[-1]["launch_parameter"]["parameters"]
        rows = [{"ad_group_id": "ag1", "rank": r, "h1_asset_id": "h1", "h2_asset_id": "h2", "h3_asset_id": "h3",
                 "d1_asset_id": "d1", "d2_asset_id": "d2", "headline_1": "A", "headline_2": "B", "headline_3": "C",
                 "description_1": "D", "description_2": "E", "score": 0.05 - r / 1000, "raw_score": -3.0,
                 "model_version": "v1", "n_combinations": 32760} for r in (1, 2)]
        names = {f.name for f in TOP_K_SCHEMA}
        rows = [{k: v for k, v in r.items() if k in names} for r in rows]
        os.makedirs(os.path.dirname(params["output"]), exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows, schema=TOP_K_SCHEMA), params["output"] + "-00000-of-00001.parquet")


class FakeDataflowResource(DataflowResource):
    def jobs(self):
        api = FAKE["api"]
        return DataflowJobs(self.project, self.region, templates_client=api, jobs_client=api, messages_client=api)


FAKE = {}


@pytest.fixture
def home(tmp_path):
    home = tmp_path / "home"
    (home / "snapshots").mkdir(parents=True)
    for table in ("raw__asset_pools", "raw__ads"):
        pq.write_table(pa.table({"x": [1]}), home / "snapshots" / f"{table}.parquet")
    bundle = home / "models" / "bundles" / "v1"
    bundle.mkdir(parents=True)
    (bundle / "booster.txt").write_text("trees")
    (home / "models" / "CURRENT").write_text("v1\n")
    return home


def run(home, states, errors=()):
    FAKE["api"] = FakeDataflowApi(states, errors)
    stage = home.parent / "gcs"
    resources = {
        "paths": LocalPaths(home=str(home), remote_root=str(stage)),
        "beam_runner": BeamRunnerResource(profile="dataflow"),
        "warehouse": WarehouseResource(duckdb_path=str(home / "warehouse.duckdb")),
        "dataflow": FakeDataflowResource(project="proj", region="asia-northeast1", template="gs://b/t.json",
                                 sdk_container_image="img:1", poll_seconds=0),
    }
    return materialize([top_combinations], resources=resources, instance=DagsterInstance.ephemeral(),
                       raise_on_error=False), stage


def test_running_then_done_records_job_and_loads_the_shards(home):
    result, stage = run(home, ["JOB_STATE_PENDING", "JOB_STATE_RUNNING", "JOB_STATE_DONE"])
    assert result.success
    meta = result.asset_materializations_for_node("top_combinations")[0].metadata
    assert meta["dataflow_job_id"].value == "2026-11-27_03_04_05-42"
    assert meta["final_state"].value == "JOB_STATE_DONE"
    assert "asia-northeast1/2026-11-27_03_04_05-42" in meta["console_url"].value
    assert meta["combinations_scored"].value == 32760 and meta["rows"].value == 2
    launched = FAKE["api"].launched[0]["launch_parameter"]
    assert launched["parameters"]["sdk_location"] == "container" and launched["parameters"]["top_k"] == "5"
    assert launched["parameters"]["bundle"].startswith(str(stage))
    assert os.path.exists(os.path.join(launched["parameters"]["bundle"], "booster.txt"))  # bundle staged
    import duckdb

    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    assert con.execute("SELECT COUNT(*) FROM serving.top_combinations").fetchone()[0] == 2


@pytest.mark.parametrize("final", ["JOB_STATE_FAILED", "JOB_STATE_CANCELLED"])
def test_failed_or_cancelled_job_fails_the_step_with_the_jobs_error(home, final):
    result, _ = run(home, ["JOB_STATE_RUNNING", final], errors=["Workflow failed. Causes: S02: worker OOM"])
    assert not result.success
    failure = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"][0]
    text = str(failure.event_specific_data.error)
    assert final in text and "worker OOM" in text
