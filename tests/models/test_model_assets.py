"""Dagster model assets: ctr_model → blocking check → production_model (promotion)."""
import datetime as dt
import os
import shutil

import pytest
from dagster import materialize

from dagster_project.assets.model import ctr_model, production_model
from dagster_project.checks.model_checks import ctr_model_not_worse_than_production
from dagster_project.resources import LocalPaths


@pytest.fixture(scope="module")
def home(tiny_snapshot, tiny_world, tmp_path_factory):
    from pipelines import training_set

    home = tmp_path_factory.mktemp("home")
    paths = LocalPaths(home=str(home))
    os.makedirs(os.path.dirname(paths.tokenizer))
    shutil.copyfile(tiny_snapshot["tokenizer"], paths.tokenizer)
    os.makedirs(os.path.dirname(paths.snapshot("raw.ads")))
    shutil.copyfile(tiny_snapshot["raw.ads"], paths.snapshot("raw.ads"))  # texts of the history effects
    training_set.run([
        "--runner=FnApiRunner", f"--ads={tiny_snapshot['raw.ads']}",
        f"--performance={tiny_snapshot['raw.ad_daily_performance']}", f"--tokenizer={paths.tokenizer}",
        f"--valid_from={(tiny_world.end_date - dt.timedelta(days=2)).isoformat()}",
        f"--output={os.path.join(paths.training_set_dir, 'part')}",
    ])
    return paths


def _run(paths):
    return materialize([ctr_model, production_model, ctr_model_not_worse_than_production],
                       resources={"paths": paths}, raise_on_error=False)


def test_promotes_only_after_the_check(home):
    result = _run(home)
    assert result.success
    check = result.get_asset_check_evaluations()[0]
    assert check.passed and check.metadata["reason"].value == "no production model yet"
    meta = result.asset_materializations_for_node("ctr_model")[0].metadata
    assert meta["calibration_plot"].value.startswith("![calibration](data:image/png;base64,")
    first = meta["version"].value
    assert os.path.exists(os.path.join(home.bundles_dir, first, "feature_importance.png"))
    # every ad group of the tiny world has served history: each gets per-asset effects
    assert meta["ad_groups_with_history_effects"].value == 12
    assert meta["assets_with_history_effects"].value > 12 * 5
    assert meta["strongest_history_effects"].value.count("\n") == 11  # header, rule, 10 assets
    assert os.path.basename(home.current_bundle()) == first

    # Same data, deterministic training: not worse, promoted again.
    result = _run(home)
    assert result.success and result.get_asset_check_evaluations()[0].passed
    assert os.path.basename(home.current_bundle()) != first


def test_a_worse_model_is_not_promoted(home, monkeypatch):
    import models.train as train

    current = os.path.basename(home.current_bundle())
    # A crippled candidate: a single tiny tree barely better than the average.
    monkeypatch.setattr(train, "NUM_BOOST_ROUND", 1)
    monkeypatch.setitem(train.DEFAULT_PARAMS, "learning_rate", 0.001)
    result = _run(home)
    check = result.get_asset_check_evaluations()[0]
    assert not check.passed
    assert check.metadata["candidate_logloss"].value > check.metadata["production_logloss"].value
    assert not result.asset_materializations_for_node("production_model")
    assert os.path.basename(home.current_bundle()) == current
