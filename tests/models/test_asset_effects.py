"""Per-asset history effects: recovered from delivery, keyed by normalised text, added per position."""
import numpy as np
import pandas as pd
import pytest

from models.asset_effects import (EFFECT_COLUMNS, AssetEffects, asset_effects, combination_effects,
                                  fit_asset_residuals, slot_scales)


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


def _slotted_history(true_scales, n_groups=200, n_ads=8, seed=0, sd=0.25, impressions=30000):
    """Served ads of random slot orders whose CTR counts each asset's quality times its slot's scale."""
    rng = np.random.default_rng(seed)
    ads, raw, imp, clk = [], [], [], []
    for g in range(n_groups):
        heads = [f"見出し{g}-{i}" for i in range(8)]
        descs = [f"説明文{g}-{i}" for i in range(3)]
        q = {t: rng.normal(0, sd) for t in heads + descs}
        for _ in range(n_ads):
            h = rng.choice(heads, 3, replace=False)
            d = rng.choice(descs, 2, replace=False)
            ad = {"ad_group_id": f"g{g:03d}", "headline_1": h[0], "headline_2": h[1], "headline_3": h[2],
                  "description_1": d[0], "description_2": d[1]}
            z = -3.0 + sum(s * q[t] for s, t in zip(true_scales, [*h, *d]))
            ads.append(ad)
            raw.append(-3.0)
            imp.append(impressions)
            clk.append(rng.binomial(impressions, 1 / (1 + np.exp(-z))))
    return ads, np.array(raw), np.array(imp), np.array(clk)


def test_slot_scales_are_learnt_from_assets_served_in_different_slots():
    from models.asset_effects import position_scales

    truth = (1.5, 1.0, 0.5, 1.3, 0.7)
    ads, raw, imp, clk = _slotted_history(truth)
    got = position_scales(ads, raw, imp, clk, asset_prior_sd=0.25)
    np.testing.assert_allclose(got, truth, atol=0.12)
    # asset_effects learns them itself when not given
    assert slot_scales(asset_effects(ads, raw, imp, clk, asset_prior_sd=0.25)) == pytest.approx(got)
    # descriptions that count less than headlines come back less (not normalised per kind)
    truth = (1.4, 1.2, 1.0, 0.8, 0.6)
    ads, raw, imp, clk = _slotted_history(truth, seed=3)
    np.testing.assert_allclose(position_scales(ads, raw, imp, clk, asset_prior_sd=0.25), truth, atol=0.12)
    # slots that count alike come back alike
    ads, raw, imp, clk = _slotted_history((1.0,) * 5, n_groups=150, seed=1)
    np.testing.assert_allclose(position_scales(ads, raw, imp, clk, asset_prior_sd=0.25), 1.0, atol=0.15)


def test_too_little_history_leaves_the_slots_equal():
    from models.asset_effects import position_scales

    ads, raw, imp, clk = _slotted_history((1.5, 1.0, 0.5, 1.3, 0.7), n_groups=3, n_ads=2)
    assert position_scales(ads, raw, imp, clk).tolist() == [1.0] * 5


def test_scaled_effects_count_an_asset_by_its_slot():
    scales = (1.5, 1.0, 0.5, 1.2, 0.8)
    ads, raw, imp, clk = _slotted_history(scales, n_groups=3, seed=2)
    plain = asset_effects(ads, raw, imp, clk)
    table = asset_effects(ads, raw, imp, clk, scales=scales)
    assert list(table.columns) == EFFECT_COLUMNS
    h, d = table[table.kind == "H"], table[table.kind == "D"]
    for k, s in enumerate(scales[:3]):
        np.testing.assert_allclose(h[f"effect_{k + 1}"], s * h.effect)
    np.testing.assert_allclose(d.effect_1, 1.2 * d.effect)
    np.testing.assert_allclose(d.effect_2, 0.8 * d.effect)
    assert (d.effect_3 == 0).all()
    np.testing.assert_allclose(plain.effect_1, plain.effect)  # 3 ad groups: too few to learn scales
    assert slot_scales(table) == pytest.approx(scales) and slot_scales(plain) == [1.0] * 5
    effects = AssetEffects(table)
    g = ads[0]["ad_group_id"]
    heads = sorted({a[c] for a in ads if a["ad_group_id"] == g for c in ("headline_1", "headline_2", "headline_3")})
    descs = sorted({a[c] for a in ads if a["ad_group_id"] == g for c in ("description_1", "description_2")})
    per_slot = effects.for_pool(g, heads, descs)
    np.testing.assert_allclose(per_slot[0], 3.0 * per_slot[2])  # H1 counts three times H3
    np.testing.assert_allclose(per_slot[3], 1.5 * per_slot[4])
    # a served ad adds each asset's effect in the slot it was shown in
    combos = []
    for a in ads[:5]:
        combos.append([heads.index(a["headline_1"]), heads.index(a["headline_2"]), heads.index(a["headline_3"]),
                       descs.index(a["description_1"]), descs.index(a["description_2"])])
    np.testing.assert_allclose(effects.for_ads(ads[:5]), combination_effects(per_slot, np.array(combos)))


def test_the_prior_sd_is_learnt_larger_where_assets_differ_more_and_smallest_on_pure_noise():
    from models.asset_effects import PRIOR_SD_GRID, prior_sd, prior_sd_likelihoods

    scales = (1.0,) * 5
    got = {}
    for sd in (0.0, 0.06, 0.2):
        ads, raw, imp, clk = _slotted_history(scales, n_groups=60, seed=3, sd=sd)
        got[sd] = prior_sd(ads, raw, imp, clk, scales)
    assert got[0.0] == PRIOR_SD_GRID[0]  # nothing to find: the tightest prior predicts left-out ads best
    assert 0.05 <= got[0.06] <= 0.1  # 60 groups of 11 assets: their spread is known to about ±30%
    assert got[0.2] >= 0.15
    # asset_effects learns it when not given: effects of strong assets shrink less than under 0.07
    ads, raw, imp, clk = _slotted_history(scales, n_groups=60, seed=3, sd=0.2)
    learnt, fixed = asset_effects(ads, raw, imp, clk, None, scales), asset_effects(ads, raw, imp, clk, 0.07, scales)
    assert learnt.effect.std() > 1.05 * fixed.effect.std()
    # too few ad groups with 3+ served ads: nothing to choose from, the default
    ads, raw, imp, clk = _slotted_history(scales, n_groups=3, sd=0.2)
    assert prior_sd_likelihoods(ads, raw, imp, clk, scales) == {} and prior_sd(ads, raw, imp, clk, scales) == 0.07


def test_the_strongest_effects_are_ranked_by_what_they_move_in_a_slot():
    from models.asset_effects import strongest

    # scales (1.4, 1.0, 0.6 / 0.9, 0.5): a description's larger effect moves less than a headline's
    table = pd.DataFrame({"ad_group_id": ["g"] * 3, "kind": ["H", "D", "H"], "text": ["a", "b", "c"],
                          "effect": [0.10, 0.12, -0.05], "effect_1": [0.14, 0.108, -0.07],
                          "effect_2": [0.10, 0.06, -0.05], "effect_3": [0.06, 0.0, -0.03],
                          "impressions": [1000, 2000, 3000], "ads": [2, 2, 2]})
    top = strongest(table, 2)
    assert top["text"].tolist() == ["a", "b"] and top["in_best_slot"].tolist() == [0.14, 0.108]
    assert strongest(table.iloc[2:], 5)["in_best_slot"].tolist() == [-0.07]  # the sign is kept
    assert strongest(table.iloc[:0]).empty


def test_left_out_predictions_never_read_the_ads_own_history():
    from models.asset_effects import left_out_raw

    def ad(i, group, h, d):
        return {**_ad(group, h, d), "ad_id": f"a{i}"}

    hist = [ad(0, "g1", ["強い", "普通"], ["説明1", "説明2"]), ad(1, "g1", ["強い", "別"], ["説明1", "説明3"]),
            ad(2, "g1", ["弱い", "普通"], ["説明1", "説明2"]), ad(3, "g2", ["X", "Y"], ["Z", "W"])]
    raw, imp = np.full(4, -3.0), np.full(4, 20000)
    clk = np.array([1500, 1400, 700, 900])  # ads showing 強い do better than the model says
    target = [hist[0], hist[2], hist[3]]
    scales = (1.2, 1.0, 0.8, 1.0, 1.0)
    out = left_out_raw(hist, raw, imp, clk, target, np.full(3, -3.0), 0.1, scales)
    # g2 served one ad: nothing else to learn its effects from
    assert np.isnan(out[2]) and np.isfinite(out[:2]).all()
    # ad a0 gets 強い's effect from a1 only: a0's own clicks do not matter
    moved = clk.copy()
    moved[0] = 100
    again = left_out_raw(hist, raw, imp, moved, target, np.full(3, -3.0), 0.1, scales)
    assert again[0] == pytest.approx(out[0]) and again[1] != pytest.approx(out[1])
    # a2's own weak headline is in no other ad: its prediction cannot know it (above its CTR)
    assert 1 / (1 + np.exp(-out[1])) > 700 / 20000
    # the same as fitting the group's other ads directly and scoring a0's slots
    from models.asset_effects import fit_asset_residuals
    others = [hist[1], hist[2]]
    index = {"強い": 0, "普通": 1, "弱い": 2, "別": 5}
    slots = np.array([[index[a["headline_1"]], index[a["headline_2"]], -1, 3, 4 if a["description_2"] == "説明2" else 6]
                      for a in others])
    offset, eff = fit_asset_residuals(raw[1:3], imp[1:3], clk[1:3], (), 7, asset_prior_sd=0.1, scales=scales,
                                      slots=slots)
    # a0 shows 強い (H1), 普通 (H2), 説明1 (D1), 説明2 (D2)
    expected = -3.0 + offset + scales[0] * eff[0] + scales[1] * eff[1] + scales[3] * eff[3] + scales[4] * eff[4]
    assert out[0] == pytest.approx(expected, abs=1e-6)
