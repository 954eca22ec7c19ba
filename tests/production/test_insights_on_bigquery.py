"""The scoring asset's insights on the production profile (fake Dataflow API, local BigQuery
emulator): the job is told to write the three insight tables itself, every flag it gets is a
declared Flex Template parameter, and the asset's metadata reads the explanation and the weakest
assets back from BigQuery."""

import json
from pathlib import Path

import pandas as pd
import pytest
from _fake_dataflow import FakeDataflow
from dagster import DagsterInstance, materialize

from dagster_project.assets.scoring import UNSCORED_TABLE, build_assets, explain_every_for
from dagster_project.resources import BeamRunnerResource, LocalPaths, ModelStoreResource, WarehouseResource
from dagster_project.settings import Settings
from pipelines.dataflow_jobs import DataflowJobs
from warehouse.schemas import ASSET_VALUES_TABLE, EXPLANATIONS_TABLE, TOP_COMBINATIONS_TABLE

PROJECT = "adcombo-insights"
ROOT = Path(__file__).resolve().parents[2]
FAKE = {}


def _term(rank, term, kind, positions, ids, texts, value, raw=-2.5):
    return {"ad_group_id": "ag1", "rank": rank, "raw_score": raw, "term": term, "kind": kind, "positions": positions,
            "asset_ids": ids, "texts": texts, "value": value, "model_version": "v1"}


class FakeJob(FakeDataflow):
    """On DONE the job has written BigQuery: top-K, unscored, asset values and explanations."""

    def __init__(self, states, wh):
        super().__init__(states, job_id="2026-11-29_01_02_03-7")
        self.wh = wh

    def on_done(self):
        self.wh.replace_table(TOP_COMBINATIONS_TABLE, pd.DataFrame([{
            "ad_group_id": "ag1", "rank": 1, "h1_asset_id": "h1", "h2_asset_id": "h2", "h3_asset_id": "h3",
            "d1_asset_id": "d1", "d2_asset_id": "d2", "headline_1": "【公式】A", "headline_2": "B", "headline_3": "C",
            "description_1": "D", "description_2": "E", "score": 0.0759, "raw_score": -2.5, "model_version": "v1",
            "n_combinations": 32760}]))
        self.wh.replace_table(UNSCORED_TABLE, pd.DataFrame([{"ad_group_id": "ag9", "reason": "r", "model_version": "v1"}]))
        self.wh.replace_table(EXPLANATIONS_TABLE, pd.DataFrame([
            _term(1, 0, "constant", "", "", "", -3.0), _term(1, 1, "position", "h1", "h1", "【公式】A", 0.3),
            _term(1, 2, "pair", "h1,h2", "h1,h2", "【公式】A / B", 0.15), _term(1, 3, "history", "d1", "d1", "D", 0.05)]))
        self.wh.replace_table(ASSET_VALUES_TABLE, pd.DataFrame([
            {"ad_group_id": "ag1", "asset_id": a, "asset_type": "HEADLINE", "text": t, "best_with_raw": b,
             "best_slot": "h1", "regret": -2.5 - b, "loss_if_removed": 0.0, "top_n_share": 0.0, "top_n": 100,
             "history_effect": 0.0, "served_impressions": 10, "label": label, "reason": "x", "model_version": "v1"}
            for a, t, b, label in (("h1", "【公式】A", -2.5, "keep"), ("h4", "弱い見出し", -2.6, "weak"),
                                   ("h5", "使えない見出し", -2.9, "never useful"))]))


class FakeBeamRunner(BeamRunnerResource):
    def jobs(self):
        api = FAKE["api"]
        return DataflowJobs(self.project, self.region, templates_client=api, jobs_client=api, messages_client=api)


def test_the_job_writes_the_insights_and_the_asset_shows_them(tmp_path, bq_emulator_url):
    from warehouse.bigquery_warehouse import BigQueryWarehouse

    home, gcs = tmp_path / "home", tmp_path / "gcs"
    (gcs / "models" / "bundles" / "v1").mkdir(parents=True)
    (gcs / "models" / "CURRENT").write_text("v1\n")
    home.mkdir()
    wh = BigQueryWarehouse(project=PROJECT, api_endpoint=bq_emulator_url, staging="stream")
    FAKE["api"] = FakeJob(["JOB_STATE_RUNNING", "JOB_STATE_DONE"], wh)
    resources = {
        "paths": LocalPaths(home=str(home), remote_root=str(gcs), remote_stages=True),
        "beam_runner": FakeBeamRunner(profile="dataflow", project="proj", template="gs://b/t.json", poll_seconds=0),
        "warehouse": WarehouseResource(backend="bigquery", bigquery_project=PROJECT, bigquery_endpoint=bq_emulator_url,
                                       bigquery_staging="stream"),
        "model_store": ModelStoreResource(root=str(gcs / "models")),
    }
    result = materialize(build_assets(Settings.load(home=home)), resources=resources,
                         instance=DagsterInstance.ephemeral(), raise_on_error=False)
    assert result.success
    params = FAKE["api"].launched[0]["launch_parameter"]["parameters"]
    assert params["min_diff"] == "2" and params["explain_every"] == "100"  # raw.asset_pools absent here
    for name in ("asset_values", "explanations", "selections"):
        assert params[f"{name}_table"] == f"{PROJECT}:serving.{name}" and f"{name}_output" not in params
    declared = {p["name"] for p in json.loads((ROOT / "deploy" / "dataflow" / "metadata.json").read_text())["parameters"]}
    assert set(params) <= declared, f"undeclared template parameters: {sorted(set(params) - declared)}"

    meta = result.asset_materializations_for_node("top_combinations")[0].metadata
    assert meta["ad_groups_explained"].value == 1
    terms = [r.data for r in meta["explanation"].value.records]
    assert [t["kind"] for t in terms] == ["constant", "position", "pair", "history"]
    assert sum(t["value"] for t in terms) == pytest.approx(-2.5)
    assert meta["explanation_waterfall"].value.startswith("![Explanation waterfall](data:image/png;base64,")
    assert [r.data["asset_id"] for r in meta["weakest_assets"].value.records] == ["h5", "h4"]
    assert meta["ad_groups_selected"].value == 0 and "selections" not in meta  # no pool larger than an RSA


def test_small_runs_explain_at_least_20_ad_groups():
    assert explain_every_for(100, 12) == 1 and explain_every_for(100, 10_000) == 100
    assert explain_every_for(100, 1_000) == 50 and explain_every_for(0, 1_000) == 0
    assert explain_every_for(1, 10_000) == 1
