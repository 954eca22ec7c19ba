"""A world whose pools moved to a new industry trips the drift report; an unshifted one does not.

Each world goes through what the jobs do: a tokenizer trained on its served ads and pools, a
model trained on its served ads, then the drift report of served-ad texts against pool texts.
"""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from admedia.world import World, WorldConfig
from models.scoring import ScoringModel, pool_inputs
from monitoring.report import build_report, sample_published_scores

TEXT_COLS = ["headline_1", "headline_2", "headline_3", "description_1", "description_2"]


def _report(world: World, tmp_path):
    from models.train import train_ctr_model
    from transforms.features import COMBINATION_FEATURE_NAMES, featurize_served_ad
    from transforms.tokenizer import load_processor, train_sentencepiece

    ads, pools = world.ads(), world.asset_pools()
    texts = [a["text"] for a in pools] + [ad[c] for ad in ads for c in TEXT_COLS]
    sp = load_processor(train_sentencepiece(texts, str(tmp_path / "tokenizer.model")))

    # The model: served ads' daily delivery, last three days for validation (as tests/conftest.py).
    perf = pd.DataFrame(world.daily_performance(world.start_date, world.end_date))
    perf["valid"] = pd.to_datetime(perf["date"]) >= pd.Timestamp(world.end_date) - pd.Timedelta(days=2)
    sums = perf.groupby(["ad_id", "valid"], as_index=False)[["impressions", "clicks"]].sum()
    sums = sums[sums.impressions > 0]
    by_id = {ad["ad_id"]: ad for ad in ads}
    X = np.stack([featurize_served_ad(by_id[a], sp) for a in sums.ad_id])
    v = sums.valid.to_numpy()
    imp, clk = sums.impressions.to_numpy(), sums.clicks.to_numpy()
    booster = train_ctr_model(X[~v], imp[~v], clk[~v], X[v], imp[v], clk[v], COMBINATION_FEATURE_NAMES).booster

    # The drift asset's inputs: served ads versus the pools, pools featurised with the ads' keyword.
    keywords = {ad["ad_group_id"]: ad["keyword"] for ad in ads}
    train_pairs = [(ad[c], ad["keyword"]) for c in TEXT_COLS for ad in ads]
    score_pairs = [(a["text"], keywords.get(a["ad_group_id"], "")) for a in pools]
    sample = sample_published_scores(ScoringModel.from_booster(booster, sp), pool_inputs(pools, ads))
    return build_report(train_pairs, score_pairs, sp, booster.predict(X), sample["score"].to_numpy())


@pytest.fixture(scope="module")
def config():
    return WorldConfig.preset("tiny", n_ad_groups=40)


def test_unshifted_world_is_not_an_error(config, tmp_path):
    report = _report(World.generate(config), tmp_path)
    assert report.status != "error", report.reasons
    assert report.error_share < 0.1


def test_shifted_world_is_an_error(config, tmp_path):
    report = _report(World.generate(dataclasses.replace(config, pool_shift=1.0)), tmp_path)
    assert report.status == "error", report.reasons
    assert any("features drifted" in r for r in report.reasons), report.reasons
    drifted = {f["feature"] for f in report.top_features(40) if f["severity"] == "error"}
    assert drifted & {"display_width", "n_chars", "raw_display_width", "width_ratio", "n_tokens"}, drifted
