import os
import re

import numpy as np
import pytest

from _transforms_testlib import make_pool, sp, sp_model_path  # noqa: F401 (fixtures)
from transforms import features
from transforms.combinations import build_ad_group_combinations, enumerate_combinations
from transforms.features import (ASSET_FEATURE_NAMES, COMBINATION_FEATURE_NAMES, PAIR_FEATURES, AssetBlock,
                                 combination_features, feature_spec, featurize_assets,
                                 featurize_served_ad)


def asset_row(sp, text, keyword=""):
    feats = featurize_assets([text], keyword, sp).feats[0]
    return dict(zip(ASSET_FEATURE_NAMES, feats.tolist()))


def test_names_and_spec():
    assert len(set(COMBINATION_FEATURE_NAMES)) == len(COMBINATION_FEATURE_NAMES)
    assert len(COMBINATION_FEATURE_NAMES) == 5 * len(ASSET_FEATURE_NAMES) + 10 * len(PAIR_FEATURES)
    spec = feature_spec()
    assert spec["names"] == COMBINATION_FEATURE_NAMES
    assert re.fullmatch(r"[0-9a-f]{64}", spec["fingerprint"])
    assert feature_spec() == spec


def test_the_fingerprint_follows_the_lexicons_without_a_version_bump(monkeypatch):
    # Adding a word changes feature values, not names: a bundle trained before must be refused.
    before = feature_spec()
    monkeypatch.setitem(features.LEXICONS, "urgency", (*features.LEXICONS["urgency"], "大特価"))
    after = feature_spec()
    assert after["version"] == before["version"] and after["names"] == before["names"]
    assert after["fingerprint"] != before["fingerprint"]


def test_the_fingerprint_is_the_same_in_every_process():
    # Beam workers, the Dagster run and the bundle's writer are different processes (hash seeds).
    import subprocess
    import sys
    code = "from transforms.features import feature_spec; print(feature_spec()['fingerprint'])"
    prints = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")}
    assert prints == {feature_spec()["fingerprint"] + "\n"}


def test_matrix_shape_and_dtype(sp):
    h = featurize_assets(["【公式】格安SIM", "今だけ半額", "送料無料"], "格安SIM", sp)
    d = featurize_assets(["詳しくはこちら", "満足度No.1"], "格安SIM", sp)
    assert h.feats.dtype == np.float32 and h.feats.shape == (3, len(ASSET_FEATURE_NAMES))
    X = combination_features(h, d, enumerate_combinations([""] * 3, [""] * 2))
    assert X.dtype == np.float32 and X.shape == (12, len(COMBINATION_FEATURE_NAMES))
    assert np.isfinite(X).all()


def test_asset_features_on_japanese_text(sp):
    r = asset_row(sp, "【期間限定】月額１,９８０円！最大５０％ＯＦＦ！", keyword="格安 SIM")
    assert r["has_price"] == 1 and r["has_percent"] == 1 and r["has_bracket"] == 1
    assert r["n_exclamation"] == 2 and r["has_number"] == 1 and r["has_question"] == 0
    assert r["lex_urgency"] == 1  # 期間限定 counted once, not also as 限定
    assert r["lex_discount"] == 2  # 最大 + off
    assert r["keyword_match"] == 0 and r["keyword_token_share"] == 0
    r = asset_row(sp, "格安ＳＩＭなら送料無料、今すぐ申し込み", keyword="格安SIM")
    assert r["keyword_match"] == 1 and r["keyword_token_share"] == 1
    assert r["lex_free_shipping"] == 1 and r["lex_free"] == 1 and r["lex_cta"] == 2
    assert asset_row(sp, "¥500から")["has_price"] == 1
    assert asset_row(sp, "3万円キャッシュバック")["has_price"] == 1
    assert asset_row(sp, "100円")["lex_free"] == 0
    assert asset_row(sp, "ｶﾀｶﾅ")["n_katakana"] == 4
    hashed = [v for k, v in asset_row(sp, "送料無料でお届け").items() if k.startswith("tok_hash_")]
    assert sum(hashed) == pytest.approx(1.0)
    e = asset_row(sp, "")
    assert e["is_empty"] == 1 and e["n_tokens"] == 0 and sum(e.values()) == 1


def test_rows_do_not_depend_on_block_contents(sp):
    a = featurize_assets(["今だけ半額", "送料無料"], "SIM", sp)
    b = featurize_assets(["送料無料", "x", "今だけ半額"], "SIM", sp)
    assert a.feats[0].tobytes() == b.feats[2].tobytes()


def test_pair_features(sp):
    h = featurize_assets(["今だけ50%OFF", "今だけ50%OFF", "送料無料"], "", sp)
    d = featurize_assets(["最大50%OFFで今だけ", "こちら"], "", sp)
    X = combination_features(h, d, np.array([[0, 1, 2, 0, 1]], dtype=np.int32))[0]
    f = dict(zip(COMBINATION_FEATURE_NAMES, X.tolist()))
    assert f["h1_h2__jaccard"] == 1 and f["h1_h2__shared_number"] == 1
    assert f["h1_h3__shared_number"] == 0 and f["h1_d1__shared_number"] == 1
    assert 0 < f["h1_d1__jaccard"] < 1
    # AssetBlocks built without number sets still work
    bare = AssetBlock(feats=h.feats, token_sets=h.token_sets)
    X2 = combination_features(bare, d, np.array([[0, 1, 2, 0, 1]], dtype=np.int32))[0]
    assert X2[COMBINATION_FEATURE_NAMES.index("h1_h2__shared_number")] == 0


def positions_read(name):
    """Combination positions (0..4) a feature column declares it reads, from its name."""
    prefix = name.split("__")[0]
    return [("h1", "h2", "h3", "d1", "d2").index(p) for p in prefix.split("_")]


def test_every_column_reads_one_position_or_one_pair(sp):
    """Decomposability: each column is a function of the positions in its name and nothing else."""
    assets = make_pool()
    g = build_ad_group_combinations("格安SIM", assets, sp)
    assert len(g) == 32760
    by_positions = {}
    for col, name in enumerate(COMBINATION_FEATURE_NAMES):
        pos = tuple(positions_read(name))
        assert 1 <= len(pos) <= 2, name
        by_positions.setdefault(pos, []).append(col)
    assert len(by_positions) == 5 + 10
    for pos, cols in by_positions.items():
        _, inverse = np.unique(g.combos[:, list(pos)], axis=0, return_inverse=True)
        inverse = inverse.ravel()
        vals = g.X[:, cols]
        first = np.zeros((inverse.max() + 1, len(cols)), dtype=vals.dtype)
        first[inverse] = vals  # one representative row per group of equal assets
        bad = (vals != first[inverse]).any(axis=0)
        assert not bad.any(), [COMBINATION_FEATURE_NAMES[c] for c in np.array(cols)[bad]]


def test_changing_h3_leaves_other_features_unchanged(sp):
    h = featurize_assets(["【公式】格安SIM", "今だけ半額", "送料無料", "満足度No.1の格安SIM"], "格安SIM", sp)
    d = featurize_assets(["詳しくはこちら。月額1,980円", "累計50万人が利用"], "格安SIM", sp)
    X = combination_features(h, d, np.array([[0, 1, 2, 0, 1], [0, 1, 3, 0, 1]], dtype=np.int32))
    touches_h3 = np.array([2 in positions_read(n) for n in COMBINATION_FEATURE_NAMES])
    assert (X[0, ~touches_h3] == X[1, ~touches_h3]).all()
    assert (X[0, touches_h3] != X[1, touches_h3]).any()


# A market that reads 今すぐ as no urgency and 申し込み as twice a call to action (models.term_weights).
WEIGHTS = {"urgency": {"今すぐ": 0.0, "今だけ": 1.5}, "cta": {"申し込み": 2.0}}


def test_term_weights_count_each_match_by_its_term(sp):
    text = "今すぐ申し込み、今だけ"
    plain, weighted = asset_row(sp, text), dict(zip(ASSET_FEATURE_NAMES,
                                                    featurize_assets([text], "", sp, WEIGHTS).feats[0].tolist()))
    assert plain["lex_urgency"] == 2 and plain["lex_cta"] == 2  # 今すぐ is urgency and a call to action
    assert weighted["lex_urgency"] == 1.5  # 0 for 今すぐ + 1.5 for 今だけ
    assert weighted["lex_cta"] == 3  # 1 for 今すぐ (no cta weight) + 2 for 申し込み
    assert weighted["n_appeals"] == plain["n_appeals"] == 2  # categories with a match, whatever the weights
    others = [n for n in ASSET_FEATURE_NAMES if n not in ("lex_urgency", "lex_cta")]
    assert [weighted[n] for n in others] == [plain[n] for n in others]
    assert featurize_assets([text], "", sp, {}).feats.tobytes() == featurize_assets([text], "", sp).feats.tobytes()


@pytest.mark.parametrize("weights", [None, WEIGHTS], ids=["plain", "term-weights"])
def test_served_ad_equals_pool_row(sp, weights):
    """No train/serve skew at the pure-function level: served features == scoring row bytes, with
    the model's term weights too."""
    assets = make_pool()
    by_id = {a["asset_id"]: a["text"] for a in assets}
    served_ids = ("H07", "H02", "H11", "D03", "D00")
    ad = {"ad_id": "A1", "keyword": "格安SIM", "headline_1": by_id["H07"], "headline_2": by_id["H02"],
          "headline_3": by_id["H11"], "description_1": by_id["D03"], "description_2": by_id["D00"]}
    served = featurize_served_ad(ad, sp, weights)
    g = build_ad_group_combinations("格安SIM", assets, sp, term_weights=weights)
    rows = [i for i in range(len(g)) if g.row_asset_ids(i) == served_ids]
    assert len(rows) == 1
    assert served.dtype == np.float32 and served.shape == (len(COMBINATION_FEATURE_NAMES),)
    assert served.tobytes() == g.X[rows[0]].tobytes()


def test_new_pair_features(sp):
    from transforms.features import featurize_served_ads  # noqa: F401

    h = featurize_assets(["格安SIMなら今だけ半額", "格安SIMなら今だけ半額!", "送料無料で今すぐ申し込み"], "格安 SIM", sp)
    d = featurize_assets(["ＳＩＭの詳細はこちら。月額1,980円", "満足度No.1"], "格安 SIM", sp)
    X = combination_features(h, d, np.array([[0, 1, 2, 0, 1]], dtype=np.int32))[0]
    f = dict(zip(COMBINATION_FEATURE_NAMES, X.tolist()))
    assert f["h1_h2__char_bigram_jaccard"] == 1  # "!" is not wording
    assert f["h1_h2__shared_appeals"] == 2  # urgency + discount both repeated
    assert f["h1_h2__shared_tokens"] >= 1 and f["h1_h3__shared_appeals"] == 1  # urgency (今すぐ)
    assert f["h1_h2__keyword_coverage"] == 1 and f["h3_d1__keyword_coverage"] == 0.5  # "sim" in d1 only
    assert f["h1_h2__width_sum"] == f["h1__raw_display_width"] + f["h2__raw_display_width"]
    assert f["h1__lex_official"] == 0 and asset_row(sp, "【公式】格安SIM")["lex_official"] == 1


def test_raw_width_counts_full_width_as_submitted(sp):
    r = asset_row(sp, "月額１９８０円")
    assert r["raw_display_width"] == 14 and r["display_width"] == 10


@pytest.mark.parametrize("weights", [None, WEIGHTS], ids=["plain", "term-weights"])
def test_served_ads_batch_equals_one_by_one(sp, weights):
    """The training pipeline featurises an ad group's ads together; bytes equal the per-ad path."""
    from transforms.features import featurize_served_ads

    texts = [t["text"] for t in make_pool()]
    rnd = np.random.default_rng(0)
    ads = []
    for i in range(12):
        h = [texts[j] for j in rnd.choice(len(texts), 5, replace=False)]
        ads.append({"ad_id": f"a{i}", "ad_group_id": f"g{i % 3}", "keyword": "格安SIM" if i % 3 else "",
                    "headline_1": h[0], "headline_2": h[1], "headline_3": "" if i == 4 else h[2],
                    "description_1": h[3], "description_2": h[4]})
    X = featurize_served_ads(ads, sp, weights)
    for ad, row in zip(ads, X):
        assert row.tobytes() == featurize_served_ad(ad, sp, weights).tobytes()
