"""Dagster model assets: ctr_model → blocking check → production_model (promotion)."""
import datetime as dt
import os
import shutil

import pytest
from dagster import materialize

from dagster_project.assets.model import ctr_model, production_model
from dagster_project.checks.model_checks import ctr_model_not_worse_than_production
from dagster_project.resources import LocalPaths, ModelStoreResource, WarehouseResource
from models.asset_effects import ASSET_PRIOR_SD, PRIOR_SD_GRID


@pytest.fixture(scope="module")
def home(tiny_snapshot, tiny_world, tmp_path_factory):
    import pandas as pd

    from pipelines import training_set

    home = tmp_path_factory.mktemp("home")
    paths = LocalPaths(home=str(home))
    os.makedirs(os.path.dirname(paths.tokenizer))
    shutil.copyfile(tiny_snapshot["tokenizer"], paths.tokenizer)
    with WarehouseResource(duckdb_path=str(home / "warehouse.duckdb")).open() as wh:
        wh.replace_table("raw.ads", pd.read_parquet(tiny_snapshot["raw.ads"]))  # texts of the history effects
    training_set.run([
        "--runner=FnApiRunner", f"--ads={tiny_snapshot['raw.ads']}",
        f"--performance={tiny_snapshot['raw.ad_daily_performance']}", f"--tokenizer={paths.tokenizer}",
        f"--valid_from={(tiny_world.end_date - dt.timedelta(days=2)).isoformat()}",
        f"--output={os.path.join(paths.training_set_dir, 'part')}",
    ])
    return paths


def _store(paths):
    return ModelStoreResource(root=paths.path("models"))


def _run(paths):
    return materialize([ctr_model, production_model, ctr_model_not_worse_than_production],
                       resources={"paths": paths, "model_store": _store(paths),
                                  "warehouse": WarehouseResource(duckdb_path=paths.path("warehouse.duckdb"))},
                       raise_on_error=False)


def _current(paths):
    return _store(paths).store().current()


def test_promotes_only_after_the_check(home):
    result = _run(home)
    assert result.success
    check = result.get_asset_check_evaluations()[0]
    assert check.passed and check.metadata["reason"].value == "no production model yet"
    meta = result.asset_materializations_for_node("ctr_model")[0].metadata
    assert meta["calibration_plot"].value.startswith("![calibration](data:image/png;base64,")
    first = meta["version"].value
    assert os.path.exists(os.path.join(home.path("models", "bundles"), first, "feature_importance.png"))
    # every ad group of the tiny world has served history: each gets per-asset effects
    assert meta["ad_groups_with_history_effects"].value == 12
    assert meta["assets_with_history_effects"].value > 12 * 5
    assert len(meta["strongest_history_effects"].value.records) == 10
    # the shape: a linear base written as trees plus residual stumps, the slots' scales of the effects
    assert meta["linear_trees"].value > 0 and meta["residual_stumps"].value >= 0
    assert meta["linear_trees"].value + meta["residual_stumps"].value == meta["num_trees"].value
    assert list(meta["slot_scales"].value) == ["H1", "H2", "H3", "D1", "D2"]
    assert meta["asset_prior_sd"].value in PRIOR_SD_GRID + (ASSET_PRIOR_SD,)
    assert _current(home) == first

    # Same data, deterministic training: not worse either way, promoted again.
    result = _run(home)
    check = result.get_asset_check_evaluations()[0]
    assert result.success and check.passed
    # compared alone and as it scores combinations not served (with the history effects)
    assert check.metadata["relative_change_%"].value == 0
    assert check.metadata["relative_change_with_history_effects_%"].value == 0
    assert check.metadata["candidate_logloss_with_history_effects"].value > 0
    assert _current(home) != first


def test_a_worse_model_is_not_promoted(home, monkeypatch):
    import models.train as train

    current = _current(home)
    # A crippled candidate: a linear base penalised to nothing and a single tiny stump.
    monkeypatch.setattr(train, "LINEAR_L2_GRID", (1e9,))
    monkeypatch.setattr(train, "LINEAR_L2_WITHOUT_GROUPS", 1e9)
    monkeypatch.setattr(train, "NUM_BOOST_ROUND", 1)
    monkeypatch.setitem(train.DEFAULT_PARAMS, "learning_rate", 0.001)
    result = _run(home)
    check = result.get_asset_check_evaluations()[0]
    assert not check.passed
    assert check.metadata["candidate_logloss"].value > check.metadata["production_logloss"].value
    assert not result.asset_materializations_for_node("production_model")
    assert _current(home) == current


def test_the_verdict_gates_on_the_booster_and_reports_the_whole_model():
    from dagster_project.checks.model_checks import verdict

    def way(text_only, effects):
        return {"text_only": {"logloss": text_only}, "with_history_effects": effects and {"logloss": effects}}

    production = way(0.1000, 0.0900)
    assert verdict(way(0.1000, 0.0900), production)[0]
    assert verdict(way(0.1001, 0.0901), production)[0]  # within the tolerance
    assert not verdict(way(0.1050, 0.0890), production)[0]  # worse booster
    passed, meta = verdict(way(0.0990, 0.0950), production)  # reported, not deciding
    assert passed and meta["relative_change_with_history_effects_%"] > 5 and meta["relative_change_%"] < 0
    # no history effects to report (no ad texts, or every validation group new)
    passed, meta = verdict(way(0.0990, None), production)
    assert passed and "relative_change_with_history_effects_%" not in meta


def test_validation_report_needs_the_ad_texts_for_the_history_effects(home):
    from models.fit import read_training_set, validation_report
    from models.store import ModelStore

    store = ModelStore(home.path("models"))
    bundle = store.load(store.current())
    train, valid = read_training_set(home.training_files())
    with WarehouseResource(duckdb_path=home.path("warehouse.duckdb")).open() as wh:
        ads = wh.query("SELECT * FROM `raw.ads`").to_dict("records")
    with_texts = validation_report(bundle.booster, train, valid, ads, bundle.manifest["metrics"]["asset_effects"])
    assert with_texts["with_history_effects"]["rows"] == len(valid)  # every tiny group served several ads
    assert with_texts["text_only"]["rows"] == len(valid)
    without = validation_report(bundle.booster, train, valid, [], None)
    assert without["with_history_effects"] is None and without["text_only"] == with_texts["text_only"]
