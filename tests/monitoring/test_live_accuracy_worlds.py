"""Live accuracy on simulated worlds, both ways: a model trained before a concept drift is flagged
after the drift day and not before; on the same world without drift it stays ok throughout.

Library level (no Dagster, no Beam): the shared featurisation, models.fit, the prediction batch as
the prediction_log asset writes it, and the world's own daily delivery of its served ads. The
experiment and the whole automated loop are tested in tests/orchestration/test_automation_loop.py.
"""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from monitoring import live_accuracy as la

TRAIN_DAYS = 10  # days 0..9: the model's history (the last 3 validate)
DRIFT_DAY = 13  # the rules change on day 13 of 20
TREES = 300


def _model(world, tmp_path):
    from models.asset_effects import AssetEffects
    from models.fit import arrays, history_effects
    from models.scoring import ScoringModel
    from models.train import train_ctr_model
    from transforms.features import COMBINATION_FEATURE_NAMES, featurize_served_ads
    from transforms.tokenizer import load_processor, train_sentencepiece

    ads = world.ads()
    texts = [a[c] for a in ads for c in ("headline_1", "headline_2", "headline_3", "description_1",
                                         "description_2")] + [a["text"] for a in world.asset_pools()]
    sp = load_processor(train_sentencepiece(texts, str(tmp_path / "tokenizer.model")))
    X = dict(zip((a["ad_id"] for a in ads), featurize_served_ads(ads, sp)))
    last = world.start_date + dt.timedelta(days=TRAIN_DAYS - 1)
    perf = pd.DataFrame(world.daily_performance(world.start_date, last))
    perf["split"] = np.where(pd.to_datetime(perf["date"]).dt.date > last - dt.timedelta(days=3), "valid", "train")
    ex = perf.groupby(["ad_id", "split"], as_index=False)[["impressions", "clicks"]].sum()
    ex = ex[ex.impressions > 0]
    group = {a["ad_id"]: a["ad_group_id"] for a in ads}
    ex = ex.assign(ad_group_id=ex.ad_id.map(group), features=ex.ad_id.map(X)).sort_values(["split", "ad_id"])
    train, valid = ex[ex.split == "train"], ex[ex.split == "valid"]
    (Xt, it, ct, gt), (Xv, iv, cv, gv) = arrays(train), arrays(valid)
    # The shipped training (ad-group offsets, stumps, history effects) with a fixed number of
    # trees instead of early stopping: the same kind of model, in seconds.
    result = train_ctr_model(Xt, it, ct, Xv, iv, cv, COMBINATION_FEATURE_NAMES, params={"num_threads": 1},
                             groups_train=gt, groups_valid=gv, num_boost_round=TREES)
    effects = history_effects(result.booster, train, valid, ads)
    return ScoringModel.from_booster(result.booster, sp, AssetEffects(effects), "v-test")


def _history(world, model) -> pd.DataFrame:
    """Live accuracy of days TRAIN_DAYS..end for the model trained on the days before."""
    from monitoring.prediction_log import live_creatives, prediction_batch

    first = world.start_date + dt.timedelta(days=TRAIN_DAYS)
    batch = prediction_batch(model, live_creatives(world.ads()), first, pd.Timestamp("2025-01-01", tz="UTC"))
    delivery = pd.DataFrame(world.daily_performance(first, world.end_date))
    delivery = delivery.assign(date=pd.to_datetime(delivery["date"]).dt.date, source="served_ad",
                               creative_id=delivery["ad_id"])
    return la.day_summary(la.daily_accuracy(*la.in_force(batch, delivery)))


@pytest.fixture(scope="module", params=[11, 12])
def worlds(request, tmp_path_factory):
    """(stable world, drifting world, model): the same world with and without a drift on
    DRIFT_DAY; their first DRIFT_DAY days are identical, so one model serves both."""
    from admedia.world import World, WorldConfig

    stable = World.generate(WorldConfig.preset("small", seed=request.param))
    drifting = World.generate(WorldConfig.preset("small", seed=request.param, drift_day=DRIFT_DAY))
    assert stable.daily_performance(stable.start_date, stable.start_date + dt.timedelta(days=TRAIN_DAYS - 1)) == \
        drifting.daily_performance(stable.start_date, stable.start_date + dt.timedelta(days=TRAIN_DAYS - 1))
    return stable, drifting, _model(stable, tmp_path_factory.mktemp("model"))


def test_the_check_trips_after_a_concept_drift_and_not_before(worlds):
    _, world, model = worlds
    days = _history(world, model)
    drift = world.config.drift_date
    before, after = days[days.date < drift], days[days.date >= drift]
    assert len(before) == DRIFT_DAY - TRAIN_DAYS and len(after) == world.config.days - DRIFT_DAY
    assert set(before.status) == {la.OK}, before
    assert set(after.status) <= {la.WARN, la.ERROR}, after
    assert after.calibration.max() < 0.9 < before.calibration.min()


def test_the_check_stays_quiet_on_the_stable_world(worlds):
    world, _, model = worlds
    days = _history(world, model)
    assert len(days) == world.config.days - TRAIN_DAYS
    assert set(days.status) == {la.OK}, days
