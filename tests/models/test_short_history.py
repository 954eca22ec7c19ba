"""Short histories: one day (or one aggregated period) trains, validates on other ad groups, and
leans on the shared text rules: per-asset history effects shrink with the evidence."""
import numpy as np
import pandas as pd
import pytest

from admedia.world import World, WorldConfig
from models.asset_effects import asset_effects
from models.evaluate import is_holdout
from models.split import HELD_OUT_AD_GROUPS, history_days, plan_split, served_ads
from models.train import train_ctr_model
from transforms.features import COMBINATION_FEATURE_NAMES, featurize_served_ads
from transforms.tokenizer import load_processor, train_sentencepiece

COLS = ("headline_1", "headline_2", "headline_3", "description_1", "description_2")


def _fit(world, tmp_path, name):
    ads = world.ads()
    perf = pd.DataFrame(world.daily_performance(world.start_date, world.end_date))
    plan = plan_split(history_days(perf), served_ads(perf, pd.DataFrame(ads)))
    by_id = {a["ad_id"]: a for a in ads}
    sums = perf.groupby("ad_id", as_index=False)[["impressions", "clicks"]].sum()
    sums = sums[sums.impressions > 0].sort_values("ad_id").reset_index(drop=True)
    groups = np.array([by_id[a]["ad_group_id"] for a in sums.ad_id])
    # one period: the plan's held-out ad groups; longer: the same kind of split, for comparison
    valid = np.array([plan.split_of_group(g) == "valid" if plan.method == HELD_OUT_AD_GROUPS
                      else is_holdout(g, 0.2) for g in groups])
    tok = train_sentencepiece([a[c] for a in ads for c in COLS] + [p["text"] for p in world.asset_pools()],
                              str(tmp_path / f"{name}.model"))
    X = featurize_served_ads([by_id[a] for a in sums.ad_id], load_processor(tok))
    imp, clk = sums.impressions.to_numpy(), sums.clicks.to_numpy()
    result = train_ctr_model(X[~valid], imp[~valid], clk[~valid], X[valid], imp[valid], clk[valid],
                             COMBINATION_FEATURE_NAMES, groups_train=groups[~valid], groups_valid=groups[valid])
    effects = asset_effects([by_id[a] for a in sums.ad_id], result.booster.predict(X, raw_score=True), imp, clk)
    return plan, result, effects


def test_one_day_trains_on_held_out_ad_groups_and_leans_on_the_text_rules(tmp_path):
    one_day = World.generate(WorldConfig.preset("small", days=1))
    month = World.generate(WorldConfig.preset("small", days=28))
    plan, result, effects = _fit(one_day, tmp_path, "day")
    assert plan.method == HELD_OUT_AD_GROUPS
    m = result.metrics
    assert m["valid"]["rows"] > 0 and 0.5 < m["valid_with_group_offsets"]["calibration"] < 2.0
    assert m["linear_trees"] > 0  # the shared text rules were learnt from one day
    _, _, month_effects = _fit(month, tmp_path, "month")
    # Same ads, 1/28 of the delivery: the assets' own history moves their scores far less.
    assert effects.effect.abs().mean() < 0.5 * month_effects.effect.abs().mean()
