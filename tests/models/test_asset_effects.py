"""Per-asset history effects: recovered from delivery, keyed by normalised text, added per position."""
import numpy as np
import pandas as pd

from models.asset_effects import (EFFECT_COLUMNS, AssetEffects, asset_effects, combination_effects,
                                  fit_asset_residuals)


def test_residuals_find_a_strong_asset_the_model_cannot_see():
    # Ads 0-2 show asset 0 (truly +0.3), ads 3-5 show asset 1 instead; the model (raw) knows nothing.
    rng = np.random.default_rng(0)
    members = [[0, 2], [0, 3], [0, 4], [1, 2], [1, 3], [1, 4]]
    imp = np.full(6, 50000)
    logit = -3 + np.array([0.3 if 0 in m else 0.0 for m in members])
    clk = rng.binomial(imp, 1 / (1 + np.exp(-logit)))
    _, r = fit_asset_residuals(np.zeros(6), imp, clk, members, 5)
    assert r[0] - r[1] > 0.1


def test_no_delivery_means_no_effect_and_the_prior_shrinks_thin_evidence():
    members = [[0, 1], [0, 2]]
    _, r = fit_asset_residuals(np.zeros(2), np.array([0, 0]), np.array([0, 0]), members, 3)
    assert np.allclose(r, 0.0)
    # 10 impressions, 5 clicks: far above the model, but too little to move an asset much
    _, r = fit_asset_residuals(np.full(2, -3.0), np.array([10, 10]), np.array([5, 0]), members, 3)
    assert 0 < r[1] < 0.05


def _ad(group, h, d, h3=""):
    return {"ad_group_id": group, "headline_1": h[0], "headline_2": h[1], "headline_3": h3,
            "description_1": d[0], "description_2": d[1]}


def test_effects_table_keys_normalised_texts_and_skips_an_empty_third_headline():
    ads = [_ad("g1", ["送料無料", "公式サイト"], ["今すぐ購入", "翌日お届け"]),
           _ad("g1", ["ＳＡＬＥ開催中", "公式サイト"], ["今すぐ購入", "翌日お届け"], h3="限定"),
           _ad("g2", ["A", "B"], ["C", "D"])]
    raw = np.full(3, -3.0)
    imp = np.array([100000, 100000, 0])  # g2 never delivered: no rows for it
    clk = np.array([6000, 4000, 0])
    table = asset_effects(ads, raw, imp, clk)
    assert list(table.columns) == EFFECT_COLUMNS
    assert set(table.ad_group_id) == {"g1"}
    keys = set(zip(table.kind, table.text))
    assert ("H", "SALE開催中") in keys and ("H", "限定") in keys and ("H", "") not in keys
    effects = AssetEffects(table)
    per_position = effects.for_pool("g1", ["送料無料", "SALE開催中", "未配信"], ["今すぐ購入", "翌日お届け"])
    h, d = per_position[0], per_position[3]
    assert h[0] > h[1] and h[2] == 0.0  # the better ad's own headline; never served: 0
    by_key = table.set_index(["kind", "text"])["effect"]
    shown = [("H", "送料無料"), ("H", "公式サイト"), ("D", "今すぐ購入"), ("D", "翌日お届け")]
    np.testing.assert_allclose(effects.for_ads([ads[0]]), [by_key.loc[shown].sum()])
    combos = np.array([[0, 1, 2, 0, 1], [1, 0, 2, 1, 0]])
    np.testing.assert_allclose(combination_effects(per_position, combos), [h[0] + h[1] + h[2] + d[0] + d[1]] * 2)


def test_an_empty_lookup_changes_nothing():
    effects = AssetEffects(pd.DataFrame(columns=EFFECT_COLUMNS))
    assert len(effects) == 0 and effects.for_pool("g1", ["a"], ["b"]) is None
