"""Score drift compares like with like: the scoring run's sample of valid pool combinations against
the same kind of sample that `ctr_model` stored in the bundle when the model was trained.

Everything goes through the product's assets (warehouse_snapshot, tokenizer, training_set,
ctr_model, production_model and its check, drift_report) on a data folder whose raw tables hold a
simulated world, and a real bundle written by the product's bundle code.
"""

import dataclasses
import json
import os

import numpy as np
import pandas as pd
import pytest
from dagster import materialize

from admedia.world import World, WorldConfig
from dagster_project.assets.model import ctr_model, production_model
from dagster_project.assets.monitoring import drift_report
from dagster_project.assets.training import tokenizer, training_set, warehouse_snapshot
from dagster_project.checks.model_checks import ctr_model_not_worse_than_production
from dagster_project.resources import BeamRunnerResource, LocalPaths, ModelStoreResource, WarehouseResource
from warehouse.schemas import to_frame


def _resources(home) -> dict:
    paths = LocalPaths(home=str(home))
    return {"paths": paths, "warehouse": WarehouseResource(duckdb_path=paths.path("warehouse.duckdb")),
            "model_store": ModelStoreResource(root=paths.path("models")),
            "beam_runner": BeamRunnerResource(workers=1)}


def _load_world(res: dict, world: World, pools: list[dict] | None = None) -> None:
    """The raw tables as ingestion leaves them (served ads, their delivery, the pools)."""
    _load(res, {"raw.ads": world.ads(),
                "raw.ad_daily_performance": world.daily_performance(world.start_date, world.end_date),
                "raw.asset_pools": world.asset_pools() if pools is None else pools})


def _load(res: dict, tables: dict[str, list[dict]]) -> None:
    with res["warehouse"].open() as wh:
        for name, rows in tables.items():
            wh.replace_table(name, to_frame(name, rows))


def _set_pools(res: dict, pools: list[dict]) -> None:
    with res["warehouse"].open() as wh:
        wh.replace_table("raw.asset_pools", to_frame("raw.asset_pools", pools))


def _train(res: dict) -> str:
    """Snapshot, tokenizer, training set, ctr_model, its check and the promotion: the bundle in force."""
    result = materialize([warehouse_snapshot, tokenizer, training_set, ctr_model, production_model,
                          ctr_model_not_worse_than_production], resources=res)
    assert result.success
    return result.asset_materializations_for_node("production_model")[0].metadata["version"].value


def _drift(res: dict):
    """(status, check passed, summary written by drift_report) of a drift_report materialisation."""
    result = materialize([drift_report], resources=res, raise_on_error=False)
    check = result.get_asset_check_evaluations()[0]
    with open(res["paths"].path("monitoring", "drift_latest.json"), encoding="utf-8") as f:
        summary = json.load(f)
    return summary["status"], check.passed, summary


def test_a_stable_world_whose_served_ads_are_the_advertisers_picks_is_not_score_drift(tmp_path_factory):
    """The demo world with only the 2 best of each ad group's 8 served ads kept (by CTR over the
    history), as accounts keep their winners; delivery and pools unchanged, nothing drifts. Its
    served ads are a selected population unlike any sample of the pools: compared with them (before
    score references) the scores "drifted" with PSI 0.356, KS 0.236, p 2e-21, a blocking error
    (docs/monitoring.md). Compared with the pools' sample at training, nothing."""
    from bench.score_drift import selected_tables

    res = _resources(tmp_path_factory.mktemp("selected"))
    _load(res, selected_tables(World.generate(WorldConfig.preset("demo"))))
    _train(res)
    status, passed, summary = _drift(res)
    assert status != "error", summary["reasons"]
    assert not any(r.startswith("score PSI") for r in summary["reasons"]), summary["reasons"]
    assert summary["score_reference"] == "pools at training" and summary["score_psi"] == 0


@pytest.fixture(scope="module")
def config():
    return WorldConfig.preset("tiny", n_ad_groups=40)


@pytest.fixture(scope="module")
def trained(config, tmp_path_factory):
    """A model trained on the 40-group tiny world with a fifth of its ad groups' pools held back,
    as if those ad groups got their pools after the model was trained."""
    world = World.generate(config)
    pools = world.asset_pools()
    groups = sorted({p["ad_group_id"] for p in pools})
    later = set(groups[::5])
    at_training = [p for p in pools if p["ad_group_id"] not in later]
    res = _resources(tmp_path_factory.mktemp("home"))
    _load_world(res, world, at_training)
    version = _train(res)
    return res, world, at_training, later, version


def test_the_bundle_carries_the_reference_the_scoring_run_samples_alike(trained):
    from models.bundle import load_bundle
    from models.scoring import ScoringModel, pool_inputs
    from monitoring.report import SAMPLE_MAX_GROUPS, SAMPLE_PER_GROUP, SAMPLE_SEED, sample_published_scores
    from transforms.features import feature_spec
    from warehouse.base import frame_rows

    res, world, at_training, later, version = trained
    _set_pools(res, at_training)
    store = res["model_store"].store()
    bundle = load_bundle(store.local_path(version), feature_spec())
    assert bundle.score_reference_sample == {"per_group": SAMPLE_PER_GROUP, "max_groups": SAMPLE_MAX_GROUPS,
                                             "seed": SAMPLE_SEED}
    reference = bundle.score_reference()
    assert reference["ad_group_id"].nunique() == 40 - len(later) and not set(reference["ad_group_id"]) & later
    # exactly what the scoring side samples from the same pools with the loaded bundle
    with res["warehouse"].open() as wh:
        ads = frame_rows(wh.query("SELECT * FROM `raw.ads`"))
        pools = frame_rows(wh.query("SELECT * FROM `raw.asset_pools`"))
    now = sample_published_scores(ScoringModel.from_bundle(bundle), pool_inputs(pools, ads))
    pd.testing.assert_frame_equal(now.reset_index(drop=True), reference.reset_index(drop=True), check_dtype=False)

    status, passed, summary = _drift(res)
    assert summary["score_reference"] == "pools at training" and summary["notes"] == []
    assert summary["score_psi"] == 0 and summary["score_ks_pvalue"] == 1
    assert summary["reference_scores"] == summary["sample_scores"] == len(reference)


def test_new_ad_groups_from_the_same_world_are_not_drift(trained):
    """A fifth more ad groups since training, none of them different in kind: ok, while the served
    ads (the comparison before references) are a population unlike the pools."""
    res, world, _, later, _ = trained
    _set_pools(res, world.asset_pools())
    status, passed, summary = _drift(res)
    assert status == "ok" and passed, summary["reasons"]
    assert summary["score_reference"] == "pools at training"
    assert summary["sample_scores"] > summary["reference_scores"]


def test_an_older_model_on_shifted_pools_is_flagged_by_features_and_scores(trained, config):
    """The pools moved to a new industry after the model was trained (the `shifted` world's pools,
    with the same served history): both the per-asset features and the scores drift."""
    res, world, _, _, _ = trained
    shifted = World.generate(dataclasses.replace(config, pool_shift=1.0))
    assert shifted.ads() == world.ads()
    _set_pools(res, shifted.asset_pools())
    status, passed, summary = _drift(res)
    assert status == "error" and not passed
    assert any("features drifted" in r for r in summary["reasons"]), summary["reasons"]
    assert any(r.startswith("score PSI") for r in summary["reasons"]), summary["reasons"]
    assert summary["score_psi"] > 0.25 and summary["score_ks_pvalue"] < 0.01


def test_a_model_trained_beside_shifted_pools_is_still_flagged_by_features(config, tmp_path_factory):
    """Trained in the same run as the shifted pools arrived, the two score samples coincide (no
    score drift can show), and the features still stop the run: the served texts are not the pools'."""
    world = World.generate(dataclasses.replace(config, pool_shift=1.0))
    res = _resources(tmp_path_factory.mktemp("shifted"))
    _load_world(res, world)
    _train(res)
    status, passed, summary = _drift(res)
    assert status == "error" and not passed
    assert any("features drifted" in r for r in summary["reasons"]), summary["reasons"]
    assert summary["score_psi"] == 0


def test_a_bundle_without_a_reference_falls_back_with_a_note(trained, tmp_path):
    """A bundle written before references (here: the same bundle without its reference file) is
    scored and its drift reported as before: against its served ads, with a note to retrain."""
    import shutil

    from models.bundle import MANIFEST_FILE, SCORE_REFERENCE_FILE, load_bundle
    from transforms.features import feature_spec

    res, world, _, _, version = trained
    _set_pools(res, world.asset_pools())
    store = res["model_store"].store()
    older = tmp_path / "models"
    shutil.copytree(res["paths"].path("models"), older)
    folder = older / "bundles" / version
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    del manifest["score_reference"], manifest["files"][SCORE_REFERENCE_FILE]
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest))
    os.remove(folder / SCORE_REFERENCE_FILE)
    assert not load_bundle(str(folder), feature_spec()).has_score_reference
    status, passed, summary = _drift({**res, "model_store": ModelStoreResource(root=str(older))})
    assert summary["score_reference"] == "served ads"
    assert summary["notes"] and "retrain" in summary["notes"][0]
    assert summary["reference_scores"] == len(world.ads()) and np.isfinite(summary["score_psi"])
    assert store.current() == version


def test_the_drift_history_of_a_folder_written_by_older_code_gains_its_new_columns(trained):
    """monitoring.drift_runs as code before this one made it (no score reference, no p-value): the
    next drift report keeps its rows and records both for itself."""
    from dagster_project.assets.monitoring import HISTORY_SCHEMA, HISTORY_TABLE

    res, world, _, _, _ = trained
    _set_pools(res, world.asset_pools())
    old = HISTORY_SCHEMA[:7]
    assert [c for c, _ in old][-1] == "score_ks" and len(HISTORY_SCHEMA) > len(old)
    with res["warehouse"].open() as wh:
        wh.replace_table(HISTORY_TABLE, pd.DataFrame({"checked_at": [pd.Timestamp("2025-01-01", tz="UTC")],
                                                      "model_version": ["older"], "status": ["ok"],
                                                      "feature_error_share": [0.0], "oov_score": [0.0],
                                                      "score_psi": [0.0], "score_ks": [0.0]}))
    _, _, summary = _drift(res)
    with res["warehouse"].open() as wh:
        rows = wh.query(f"SELECT model_version, score_reference, score_ks_pvalue FROM `{HISTORY_TABLE}` "
                        "ORDER BY checked_at")
    assert rows["model_version"].tolist()[0] == "older" and len(rows) >= 2
    assert pd.isna(rows["score_reference"][0]) and pd.isna(rows["score_ks_pvalue"][0])
    assert rows["score_reference"].iloc[-1] == summary["score_reference"] == "pools at training"
    assert rows["score_ks_pvalue"].iloc[-1] == pytest.approx(summary["score_ks_pvalue"])
