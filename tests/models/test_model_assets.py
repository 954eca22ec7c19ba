"""Dagster model assets: ctr_model → blocking check → production_model (promotion)."""
import datetime as dt
import os
import shutil

import numpy as np
import pytest
from dagster import materialize

from dagster_project.assets.model import ctr_model, production_model
from dagster_project.checks.model_checks import ctr_model_not_worse_than_production
from dagster_project.resources import LocalPaths, ModelStoreResource, WarehouseResource
from models.asset_effects import ASSET_PRIOR_SD, PRIOR_SD_GRID
from models.term_weights import PRIOR_SD as TERM_PRIOR_SD
from transforms.features import term_count


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
    # the lexicon's terms as this market reads them: a count, and the ones read most differently
    assert meta["term_weights"].value > 0 and 0 < len(meta["terms_read_differently"].value.records) <= 10
    # twelve ad groups are too few to choose how far a term may depart: the fixed prior
    assert meta["term_prior_sd"].value == TERM_PRIOR_SD
    assert _current(home) == first

    # Same data, deterministic training: not worse either way, promoted again.
    result = _run(home)
    check = result.get_asset_check_evaluations()[0]
    assert result.success and check.passed
    # compared alone and as it scores combinations not served (with the history effects)
    assert check.metadata["relative_change_%"].value == 0
    assert check.metadata["relative_change_with_history_effects_%"].value == 0
    assert check.metadata["candidate_logloss_with_history_effects"].value > 0
    assert check.metadata["paired_z_with_history_effects"].value == 0
    assert check.metadata["paired_ad_groups"].value == 12
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


def test_the_verdict_refuses_a_worse_booster_or_worse_history_effects():
    from models.promotion import MIN_PAIRED_GROUPS, verdict

    def result(text_only, effects=0.09, z=None, groups=MIN_PAIRED_GROUPS):
        return {"candidate": {"text_only": {"logloss": text_only}, "with_history_effects": {"logloss": effects}},
                "current": {"text_only": {"logloss": 0.1}, "with_history_effects": {"logloss": 0.09}},
                **({"paired": {"z": z, "ad_groups": groups}} if z is not None else {})}

    assert verdict(result(0.1000))[0] and verdict(result(0.1001, 0.09009))[0]  # equal, within the tolerance
    assert not verdict(result(0.1050))[0]  # worse booster
    assert not verdict(result(0.0990, effects=0.0950))[0]  # better booster, worse with its effects
    # with the effects +0.056%: inside the tolerance, but significantly worse paired per ad group
    passed, meta = verdict(result(0.0990, effects=0.09005, z=-4.0))
    assert not passed and meta["paired_z_with_history_effects"] == -4.0
    assert verdict(result(0.0990, effects=0.09005, z=-2.0))[0]  # within noise
    assert verdict(result(0.0990, effects=0.09005, z=-4.0, groups=MIN_PAIRED_GROUPS - 1))[0]  # too few groups
    assert verdict(result(0.0990, effects=0.090005, z=-4.0))[0]  # significant, but +0.0056% does not matter


def test_paired_z_sees_what_a_difference_of_log_losses_hides():
    from models.fit import paired_loglik_z

    rng = np.random.default_rng(3)
    groups = np.repeat(np.arange(60), 5).astype(str)
    truth = -3 + rng.normal(0, 0.3, len(groups))
    imp = rng.integers(500, 3000, len(groups))
    clk = rng.binomial(imp, 1 / (1 + np.exp(-truth)))
    worse = truth + 0.1 * rng.choice([-1, 1], len(groups))  # a small error on every row
    z, n = paired_loglik_z(worse, truth, imp, clk, groups)
    assert n == 60 and z < -3
    assert paired_loglik_z(truth, worse, imp, clk, groups)[0] == pytest.approx(-z)
    assert paired_loglik_z(truth, truth, imp, clk, groups) == (0.0, 60)
    skipped = worse.copy()
    skipped[groups == "0"] = np.nan  # rows either model cannot predict are left out
    assert paired_loglik_z(skipped, truth, imp, clk, groups)[1] == 59


def _bundle_and_rows(home):
    """The production bundle, the training set's rows with its features and raw.ads."""
    from models.fit import model_features, read_training_set
    from models.store import ModelStore
    from transforms.tokenizer import load_processor

    if _current(home) is None:  # run alone: a model on this data first
        assert _run(home).success
    store = ModelStore(home.path("models"))
    bundle = store.load(store.current())
    train, valid = read_training_set(home.training_files())
    with WarehouseResource(duckdb_path=home.path("warehouse.duckdb")).open() as wh:
        ads = wh.query("SELECT * FROM `raw.ads`").to_dict("records")
    by_id, sp = {str(a["ad_id"]): a for a in ads}, load_processor(bundle.tokenizer_path)
    return bundle, *(model_features(p, by_id, sp, bundle.term_weights) for p in (train, valid)), ads


def test_the_model_reads_the_lexicon_with_the_term_weights_it_learnt(home):
    """ctr_model learns one weight per lexicon term from the delivery, trains on the training set's
    features recomputed with them and ships them: its validation metrics are those of the rows
    read with its weights, not of the training set's plain counts."""
    from models.fit import arrays, read_training_set
    from models.train import evaluate

    bundle, _, valid, _ = _bundle_and_rows(home)
    plain = read_training_set(home.training_files())[1]
    terms = term_count(bundle.term_weights)
    assert terms and bundle.manifest["term_weights"]["terms"] == terms
    X, imp, clk, _ = arrays(valid)
    assert not np.array_equal(X, arrays(plain)[0])  # the weights change some lex_* counts
    recorded = bundle.manifest["metrics"]["valid"]["logloss"]
    assert evaluate(bundle.booster.predict(X), imp, clk)["logloss"] == pytest.approx(recorded, rel=1e-9)
    assert evaluate(bundle.booster.predict(arrays(plain)[0]), imp, clk)["logloss"] != pytest.approx(recorded, rel=1e-9)


def test_validation_report_needs_the_ad_texts_for_the_history_effects(home):
    from models.fit import validation_report

    bundle, train, valid, ads = _bundle_and_rows(home)
    with_texts = validation_report(bundle.booster, train, valid, ads, bundle.manifest["metrics"]["asset_effects"])
    assert with_texts["with_history_effects"]["rows"] == len(valid)  # every tiny group served several ads
    assert with_texts["text_only"]["rows"] == len(valid)
    without = validation_report(bundle.booster, train, valid, [], None)
    assert without["with_history_effects"] is None and without["text_only"] == with_texts["text_only"]


def test_a_candidate_whose_history_effects_are_broken_is_not_promoted(home, monkeypatch):
    import models.fit as fit
    import models.promotion as promotion

    if _current(home) is None:  # run alone: a production model on this data first
        assert _run(home).success
    current = _current(home)
    fitted_effects = fit.history_effects

    def broken(*args, **kwargs):  # the same booster; its effects' prior unshrunk, slot scales upside down
        out = fitted_effects(*args, **kwargs)
        kwargs.get("priors", args[4] if len(args) > 4 else {}).update(prior_sd=5.0, slot_scales=[0.1, 0.1, 0.1, 0.1, 3.0])
        return out

    monkeypatch.setattr(fit, "history_effects", broken)
    result = _run(home)
    check = result.get_asset_check_evaluations()[0]
    assert not check.passed
    assert check.metadata["relative_change_%"].value == 0  # the booster alone cannot tell
    assert check.metadata["relative_change_with_history_effects_%"].value > 100 * promotion.LOGLOSS_TOLERANCE
    assert not result.asset_materializations_for_node("production_model")
    assert _current(home) == current


def test_without_every_served_ad_in_raw_ads_the_terms_count_alike(home):
    """Features can only be recomputed from an ad's texts: a training set whose ads raw.ads lost
    is trained on as it is (no term weights, no asset effects beside the text rules), and says so."""
    from models.fit import fit_ctr_model, read_training_set

    train, valid = read_training_set(home.training_files())
    with WarehouseResource(duckdb_path=home.path("warehouse.duckdb")).open() as wh:
        ads = wh.query("SELECT * FROM `raw.ads`").to_dict("records")
    lines = []
    lost_train = [a for a in ads if str(a["ad_id"]) != str(train["ad_id"].iloc[0])]
    assert fit_ctr_model(train, valid, lost_train, home.tokenizer, progress=lines.append).term_weights == {}
    assert any("the lexicon's terms count alike" in line for line in lines)
    orphan = valid.copy()
    orphan.loc[orphan.index[0], "ad_id"] = "no-such-ad"  # a validation row raw.ads does not know
    lines.clear()
    assert fit_ctr_model(train, orphan, ads, home.tokenizer, progress=lines.append).term_weights == {}
    assert any("validation rows have no ad" in line for line in lines)
    assert fit_ctr_model(train, valid, ads, home.tokenizer).term_weights  # all there: weights learnt


def test_the_check_when_raw_ads_lost_an_ad_of_the_training_set(home, tiny_bundle):
    """A model's term weights need each training row's ad texts. When raw.ads lost one since: a
    production model with weights is not comparable (passed, with the reason); a candidate with
    weights cannot be measured (the check fails, saying what to rebuild); neither crashes it."""
    from dagster_project.checks.model_checks import compare_on_validation
    from models.bundle import load_bundle, save_bundle
    from models.fit import read_training_set

    bundle, _, _, ads = _bundle_and_rows(home)
    store = _store(home).store()
    tiny = load_bundle(tiny_bundle)  # the same model saved without its weights: a bundle that has none
    plain = os.path.basename(save_bundle(store.build_dir(), tiny.booster.model_to_string(), tiny.tokenizer_path,
                                         tiny.manifest["feature_spec"], tiny.manifest["metrics"], {},
                                         "plain000", version="20260101T000000000-plain"))
    assert bundle.term_weights and not load_bundle(os.path.join(store.build_dir(), plain)).term_weights
    train, _ = read_training_set(home.training_files())
    lost = [a for a in ads if str(a["ad_id"]) != str(train["ad_id"].iloc[0])]
    result = compare_on_validation(store, plain, bundle.version, home.training_files(), lost)
    assert result["current"] is None and "not comparable" in result["reason"] and "raw.ads" in result["reason"]
    assert result["candidate"]["text_only"]["rows"] > 0  # the candidate is still measured
    with pytest.raises(ValueError, match="no ad in raw.ads.*rebuild the training set"):
        compare_on_validation(store, bundle.version, plain, home.training_files(), lost)
