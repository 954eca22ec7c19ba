"""The scoring asset on the production profile, against a fake Dataflow API and the local BigQuery
emulator: the job reads and writes BigQuery itself, the asset passes names and reads back counts.

The fake job, on reaching DONE, writes top-K and unscored rows into the emulator's tables as the
real job's WriteToBigQuery would. Nothing is downloaded to the orchestrator.
"""

import os

import pandas as pd
import pytest
from _fake_dataflow import FakeDataflow
from dagster import DagsterInstance, materialize

from dagster_project.assets.scoring import UNSCORED_TABLE, build_assets
from dagster_project.resources import BeamRunnerResource, LocalPaths, ModelStoreResource, WarehouseResource
from dagster_project.settings import Settings
from pipelines.dataflow_jobs import DataflowJobs
from warehouse.schemas import TOP_COMBINATIONS_TABLE

PROJECT = "adcombo-test"
FAKE = {}


class FakeDataflowApi(FakeDataflow):
    """On DONE the job has written BigQuery: its top-K and unscored tables."""

    def __init__(self, states, errors=(), wh=None):
        super().__init__(states, errors, job_id="2026-11-27_03_04_05-42")
        self.wh = wh

    def on_done(self):
        params = self.launched[-1]["launch_parameter"]["parameters"]
        assert params["output_table"] == f"{PROJECT}:{TOP_COMBINATIONS_TABLE}"
        top = pd.DataFrame([{"ad_group_id": "ag1", "rank": r, "h1_asset_id": "h1", "h2_asset_id": "h2",
                             "h3_asset_id": "h3", "d1_asset_id": "d1", "d2_asset_id": "d2", "headline_1": "A",
                             "headline_2": "B", "headline_3": "C", "description_1": "D", "description_2": "E",
                             "score": 0.05 - r / 1000, "raw_score": -3.0, "model_version": "v1",
                             "n_combinations": 32760} for r in (1, 2)])
        self.wh.replace_table(TOP_COMBINATIONS_TABLE, top)
        self.wh.replace_table(UNSCORED_TABLE, pd.DataFrame([{"ad_group_id": "ag9", "model_version": "v1",
                                                             "reason": "too few valid headlines: 1 of 1 usable, 3 needed"}]))


class FakeBeamRunner(BeamRunnerResource):
    def jobs(self):
        api = FAKE["api"]
        return DataflowJobs(self.project, self.region, templates_client=api, jobs_client=api, messages_client=api)


@pytest.fixture
def stores(tmp_path):
    """The data folder, and a folder standing in for gs:// (Beam's FileSystems treat both alike)."""
    home, gcs = tmp_path / "home", tmp_path / "gcs"
    bundle = gcs / "models" / "bundles" / "v1"
    bundle.mkdir(parents=True)
    (bundle / "manifest.json").write_text("{}")
    (gcs / "models" / "CURRENT").write_text("v1\n")
    home.mkdir()
    return home, gcs


def run(stores, bq_emulator_url, states, errors=()):
    from warehouse.bigquery_warehouse import BigQueryWarehouse

    home, gcs = stores
    wh = BigQueryWarehouse(project=PROJECT, api_endpoint=bq_emulator_url, staging="stream")
    FAKE["api"] = FakeDataflowApi(states, errors, wh)
    resources = {
        "paths": LocalPaths(home=str(home), remote_root=str(gcs), remote_stages=True),
        "beam_runner": FakeBeamRunner(profile="dataflow", project="proj", template="gs://b/t.json",
                                      sdk_container_image="img:1", poll_seconds=0),
        "warehouse": WarehouseResource(backend="bigquery", bigquery_project=PROJECT,
                                       bigquery_endpoint=bq_emulator_url, bigquery_staging="stream"),
        "model_store": ModelStoreResource(root=str(gcs / "models")),
    }
    assets = build_assets(Settings.load(home=home))
    return materialize(assets, resources=resources, instance=DagsterInstance.ephemeral(), raise_on_error=False)


def test_the_job_reads_and_writes_bigquery_and_the_asset_reads_back_counts(stores, bq_emulator_url):
    result = run(stores, bq_emulator_url, ["JOB_STATE_PENDING", "JOB_STATE_RUNNING", "JOB_STATE_DONE"])
    assert result.success
    meta = result.asset_materializations_for_node("top_combinations")[0].metadata
    assert meta["dataflow_job_id"].value == "2026-11-27_03_04_05-42"
    assert meta["final_state"].value == "JOB_STATE_DONE"
    assert "asia-northeast1/2026-11-27_03_04_05-42" in meta["console_url"].value
    assert meta["combinations_scored"].value == 32760 and meta["rows"].value == 2
    assert meta["ad_groups_unscored"].value == 1
    params = FAKE["api"].launched[0]["launch_parameter"]["parameters"]
    assert params["sdk_location"] == "container" and params["top_k"] == "5"
    # names only: BigQuery tables in and out, the bundle where the model store keeps it
    assert params["pools"] == f"bq://{PROJECT}.raw.asset_pools" and params["ads"] == f"bq://{PROJECT}.raw.ads"
    assert params["unscored_table"] == f"{PROJECT}:{UNSCORED_TABLE}"
    assert params["bundle"] == str(stores[1] / "models" / "bundles" / "v1")
    assert not any(k in params for k in ("output", "unscored_output", "all_scores_output"))
    home = stores[0]
    assert not os.path.exists(home / "scores") and not os.path.exists(home / "snapshots")  # nothing downloaded


@pytest.mark.parametrize("final", ["JOB_STATE_FAILED", "JOB_STATE_CANCELLED"])
def test_failed_or_cancelled_job_fails_the_step_with_the_jobs_error(stores, bq_emulator_url, final):
    result = run(stores, bq_emulator_url, ["JOB_STATE_RUNNING", final], errors=["Workflow failed. Causes: S02: worker OOM"])
    assert not result.success
    failure = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"][0]
    text = str(failure.event_specific_data.error)
    assert final in text and "worker OOM" in text
