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
