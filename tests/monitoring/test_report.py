import numpy as np
import pandas as pd

from models.bundle import load_bundle
from models.scoring import ScoringModel, pool_inputs
from monitoring.report import build_report, sample_published_scores
from transforms.features import feature_spec
from transforms.tokenizer import load_processor


def pairs_of(world):
    ads = pd.DataFrame(world.ads())
    cols = ["headline_1", "headline_2", "headline_3", "description_1", "description_2"]
    train = [(t, k) for c in cols for t, k in zip(ads[c], ads["keyword"])]
    kw = ads.groupby("ad_group_id")["keyword"].first().to_dict()
    pools = [(a["text"], kw.get(a["ad_group_id"], "")) for a in world.asset_pools()]
    return train, pools


def shifted(pairs, seed=0):
    """A new industry with its own vocabulary and longer texts than anything in training."""
    rng = np.random.default_rng(seed)
    words = ["ドローン空撮", "量子セキュリティ", "宇宙旅行保険", "Quantum", "Orbital", "ニューロテック", "藻類バイオ燃料"]
    out = []
    for i, _ in enumerate(pairs):
        w = rng.choice(words, 4)
        out.append((f"{w[0]}と{w[1]}の{w[2]}、{w[3]}で未来の暮らしを再設計するソリューション群", "宇宙旅行保険"))
    return out


def scores(bundle, sp, world, n=10):
    model = ScoringModel.from_bundle(bundle)
    return sample_published_scores(model, pool_inputs(world.asset_pools(), world.ads()), per_group=n)["score"].to_numpy()


def test_same_world_is_ok_and_a_shifted_one_is_an_error(tiny_world, tiny_bundle):
    bundle = load_bundle(tiny_bundle, feature_spec())
    sp = load_processor(bundle.tokenizer_path)
    train, pools = pairs_of(tiny_world)
    s = scores(bundle, sp, tiny_world)
    same = build_report(train, pools, sp, s, s[::-1])
    assert same.status in ("ok", "warn"), same.reasons
    assert same.error_share < 0.1
    moved = build_report(train, shifted(pools), sp, s, s)
    assert moved.status == "error"
    assert any("features drifted" in r for r in moved.reasons)
    assert moved.top_features(3)[0]["psi"] > 0.25


def test_an_unchanged_ad_group_contributes_the_same_scores_whatever_comes_or_goes_beside_it(tiny_world, tiny_bundle):
    """The sample is keyed by ad group id, not by place in the list: a bundle's score reference and
    a later run's sample differ only where the pools did (adding ad groups used to redraw all)."""
    model = ScoringModel.from_bundle(load_bundle(tiny_bundle, feature_spec()))
    pools = pool_inputs(tiny_world.asset_pools(), tiny_world.ads())
    gone = pools[0].ad_group_id
    for max_groups in (len(pools), 8):  # every ad group sampled, or some of them
        full = sample_published_scores(model, pools, per_group=5, max_groups=max_groups)
        fewer = sample_published_scores(model, pools[1:], per_group=5, max_groups=max_groups)
        shared = sorted((set(full["ad_group_id"]) & set(fewer["ad_group_id"])) - {gone})
        assert len(shared) >= max_groups - 1
        a = full[full["ad_group_id"].isin(shared)].reset_index(drop=True)
        b = fewer[fewer["ad_group_id"].isin(shared)].reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b)
        assert len(set(full["ad_group_id"]) ^ set(fewer["ad_group_id"])) <= 2
