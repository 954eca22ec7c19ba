"""Shapes of real exports: served ads with an empty H3 and D2, and Google Ads customizers."""

import numpy as np

from _transforms_testlib import make_pool, sp, sp_model_path  # noqa: F401 (fixtures)
from models.asset_effects import AssetEffects, asset_effects
from transforms.combinations import Pool, build_ad_group_combinations, valid_assets
from transforms.features import (ASSET_FEATURE_NAMES, COMBINATION_FEATURE_NAMES, featurize_assets,
                                 featurize_served_ad, featurize_served_ads)
from transforms.text import DESCRIPTION_MAX_WIDTH, HEADLINE_MAX_WIDTH


def _cols(position: str) -> np.ndarray:
    """Columns that read `position` (alone or in a pair)."""
    return np.array([position in name.split("__")[0].split("_") for name in COMBINATION_FEATURE_NAMES])


def test_customizer_features_read_the_default_text(sp):
    plain = featurize_assets(["学習塾なら【公式】", "お近くの教室で無料体験"], "学習塾", sp)
    custom = featurize_assets(["{KeyWord:学習塾}なら【公式】", "{LOCATION(City):お近く}の教室で無料体験"], "学習塾", sp)
    assert custom.feats.tobytes() == plain.feats.tobytes()
    assert custom.token_sets == plain.token_sets
    row = dict(zip(ASSET_FEATURE_NAMES, custom.feats[0]))
    assert row["keyword_match"] == 1.0 and row["raw_display_width"] == 6 + 12


def test_width_limits_count_defaults_and_countdowns():
    heads = ["{KeyWord:英会話スクール}なら【公式】",      # 36 wide as written, 26 counted: valid
             "{KeyWord:" + "あ" * 16 + "}",            # a 32-wide default: over the limit
             '{COUNTDOWN("2025/07/01 00:00:00","ja")}',  # a countdown alone is a headline
             "セール終了まで" + "あ" * 4 + '{COUNTDOWN("2025/07/01 00:00:00","ja")}']  # 22 + 10 > 30
    assert valid_assets(heads, HEADLINE_MAX_WIDTH).tolist() == [True, False, True, False]
    desc = "{=商品.説明:" + "い" * 45 + "}"  # 90 wide
    assert valid_assets([desc, desc + "。"], DESCRIPTION_MAX_WIDTH).tolist() == [True, False]


def test_pool_keeps_the_original_syntax(sp):
    assets = make_pool(n_h=4, n_d=2)
    assets[0]["text"] = "{KeyWord:格安SIM}なら【公式】"
    g = build_ad_group_combinations("格安SIM", assets, sp)
    assert len(g) == 4 * 3 * 2 * 2
    assert "{KeyWord:格安SIM}なら【公式】" in g.headline_texts  # what an export writes back
    assert "{KeyWord:格安SIM}なら【公式】" in Pool.from_assets(assets).headline_texts


def test_served_ad_with_empty_h3_and_d2(sp):
    """An empty D2 is featurised like an empty H3: its own columns say 'empty', every other column
    is the same as for the ad with any D2, and the ad still has a row."""
    ad = {"ad_id": "a", "ad_group_id": "g", "keyword": "格安SIM", "headline_1": "【公式】格安SIM",
          "headline_2": "今だけ半額", "headline_3": "", "description_1": "月額1,980円から。", "description_2": ""}
    full = {**ad, "headline_3": "送料無料", "description_2": "累計50万人が利用"}
    x_empty, x_full = featurize_served_ad(ad, sp), featurize_served_ad(full, sp)
    d2, h3 = _cols("d2"), _cols("h3")
    assert (x_empty[~(d2 | h3)] == x_full[~(d2 | h3)]).all()
    a = len(ASSET_FEATURE_NAMES)
    d2_own = slice(4 * a, 5 * a)
    assert x_empty[d2_own][ASSET_FEATURE_NAMES.index("is_empty")] == 1.0
    assert x_empty[d2_own][ASSET_FEATURE_NAMES.index("n_chars")] == 0.0
    # the grouped path gives the same bytes (D1 text and the empty D2 share nothing)
    both = featurize_served_ads([ad, full], sp)
    assert both[0].tobytes() == x_empty.tobytes() and both[1].tobytes() == x_full.tobytes()


def test_history_effects_skip_empty_positions():
    ads = [{"ad_group_id": "g", "headline_1": "A", "headline_2": "B", "headline_3": "", "description_1": "X",
            "description_2": ""},
           {"ad_group_id": "g", "headline_1": "A", "headline_2": "C", "headline_3": "",
            "description_1": "{KeyWord:Y}", "description_2": ""}]
    table = asset_effects(ads, np.full(2, -3.0), np.array([1000, 1000]), np.array([20, 60]))
    assert set(zip(table.kind, table.text)) == {("H", "A"), ("H", "B"), ("H", "C"), ("D", "X"), ("D", "Y")}
    effects = AssetEffects(table)
    # the ad with more clicks lifts its own assets; the shared A is not credited either way
    e = {(k, t): v for k, t, v in zip(table.kind, table.text, table.effect)}
    assert e[("H", "C")] > e[("H", "B")] and e[("D", "Y")] > e[("D", "X")]
    assert effects.for_ads(ads).shape == (2,)


def test_a_text_repeated_in_a_pool_is_used_once(sp):
    """Copy-pasted pools repeat texts under new asset ids (37 of the default world's 1,000 pools
    do). Google Ads refuses an ad that repeats a text, and two combinations differing only in the
    copy are one ad: one copy is enumerated, a pinned one before the first in pool order."""
    assets = make_pool(n_h=4, n_d=3)
    by_id = {a["asset_id"]: a for a in assets}
    by_id["D02"]["text"] = by_id["D00"]["text"].replace(" ", "\u3000") + " "  # the same once normalised
    g = build_ad_group_combinations("格安SIM", assets, sp)
    ids = [g.row_asset_ids(i) for i in range(len(g))]
    assert len(g) == 4 * 3 * 2 * 2 * 1 and not any("D02" in row for row in ids)
    assert any("D00" in row for row in ids)

    by_id["D02"]["pinned_field"] = "DESCRIPTION_2"  # the pinned copy is the one kept
    g = build_ad_group_combinations("格安SIM", assets, sp)
    rows = [g.row_asset_ids(i) for i in range(len(g))]
    assert rows and all(r[4] == "D02" and "D00" not in r for r in rows)


def test_why_a_repeated_text_is_never_shown(sp):
    from models.asset_values import _unusable_reason
    from transforms.combinations import unscorable_reason

    assets = make_pool(n_h=3, n_d=2)
    by_id = {a["asset_id"]: a for a in assets}
    by_id["H02"]["text"] = by_id["H01"]["text"]
    g = build_ad_group_combinations("格安SIM", assets, sp)
    assert len(g) == 0
    assert unscorable_reason(g) == "too few valid headlines: 2 of 3 usable, 3 needed (1 repeating another's text)"
    assert _unusable_reason(g, "HEADLINE", g.headline_ids.index("H02")).startswith("same text as H01, which is used instead")
