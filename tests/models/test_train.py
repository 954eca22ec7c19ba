"""Training internals: ad-group offsets, the baked-in intercept, decomposability, baselines."""
import numpy as np
import pytest

from models.asset_effects import ASSET_PRIOR_SD, PRIOR_SD_GRID
from models.baselines import AssetMeanCTR, LogisticCTR
from models.train import (evaluate, evaluate_with_offsets, fit_group_offsets, interaction_groups,
                          shift_booster, train_ctr_model)

NAMES = ["h1__a", "h1__b", "h2__a", "h2__b", "h1_h2__sim"]


def grouped(n_groups, per_group, seed):
    """Ads whose CTR = group level (invisible to features) + text effect of h1__a, h2__a, pair."""
    rng = np.random.default_rng(seed)
    n = n_groups * per_group
    X = rng.normal(size=(n, len(NAMES))).astype(np.float32)
    groups = np.repeat([f"g{i:03d}" for i in range(n_groups)], per_group)
    level = np.repeat(rng.normal(-3.2, 0.4, n_groups), per_group)
    logit = level + 0.3 * X[:, 0] - 0.2 * X[:, 2] - 0.15 * X[:, 4]
    imp = rng.integers(3000, 8000, size=n)
    clk = rng.binomial(imp, 1 / (1 + np.exp(-logit)))
    return X, imp, clk, groups, logit


def test_fit_group_offsets_recovers_levels():
    rng = np.random.default_rng(0)
    groups = np.repeat(["a", "b", "c"], 50)
    true = {"a": -3.0, "b": -2.5, "c": -3.5}
    imp = np.full(150, 20000)
    raw = rng.normal(0, 0.2, 150)
    clk = rng.binomial(imp, 1 / (1 + np.exp(-(raw + np.array([true[g] for g in groups])))))
    got = fit_group_offsets(raw, imp, clk, groups, prior_mean=-3.0, prior_sd=10.0)
    for g in true:
        assert got[g] == pytest.approx(true[g], abs=0.03)


def test_group_offsets_make_the_trees_learn_text_effects():
    tr, va = grouped(120, 8, 1), grouped(120, 8, 1)
    Xv, imp_v, _, gv, logit_v = va
    rng = np.random.default_rng(2)
    clk_v = rng.binomial(imp_v, 1 / (1 + np.exp(-logit_v)))
    result = train_ctr_model(*tr[:3], Xv, imp_v, clk_v, NAMES, groups_train=tr[3], groups_valid=gv,
                             params={"num_leaves": 4, "learning_rate": 0.1})
    raw = result.booster.predict(Xv, raw_score=True)
    text = logit_v - np.repeat(logit_v.reshape(120, 8).mean(1), 8)  # within-group truth
    assert np.corrcoef(raw - np.repeat(raw.reshape(120, 8).mean(1), 8), text)[0, 1] > 0.9
    # The intercept is baked in: the raw score is the log-odds of an average ad group.
    assert 0.8 < result.metrics["valid"]["calibration"] < 1.25
    m = result.metrics["valid_with_group_offsets"]
    assert m["logloss"] < result.metrics["valid"]["logloss"]


def test_interaction_constraints_keep_the_model_a_sum_of_position_and_pair_terms():
    X, imp, clk, g, _ = grouped(60, 8, 3)
    result = train_ctr_model(X, imp, clk, X, imp, clk, NAMES, groups_train=g, groups_valid=g,
                             params={"num_leaves": 15})
    assert interaction_groups(NAMES) == [[0, 1], [2, 3], [0, 1, 2, 3, 4]]
    trees = result.booster.dump_model()["tree_info"]

    def used(node, acc):
        if "split_feature" in node:
            acc.add(node["split_feature"])
            used(node["left_child"], acc)
            used(node["right_child"], acc)
        return acc

    for t in trees:
        feats = used(t["tree_structure"], set())
        assert feats <= {0, 1} or feats <= {2, 3} or feats <= {0, 1, 2, 3, 4}


def test_shift_booster_adds_a_constant():
    X, imp, clk, g, _ = grouped(20, 8, 4)
    b = train_ctr_model(X, imp, clk, X, imp, clk, NAMES, num_boost_round=5).booster
    shifted = shift_booster(b, 0.25)
    np.testing.assert_allclose(shifted.predict(X, raw_score=True), b.predict(X, raw_score=True) + 0.25, atol=1e-12)


def test_evaluate_with_offsets_uses_each_groups_history():
    X, imp, clk, g, _ = grouped(30, 8, 5)
    b = train_ctr_model(X, imp, clk, X, imp, clk, NAMES, num_boost_round=20).booster
    with_hist = evaluate_with_offsets(b, (X, imp, clk, g), (X, imp, clk, g))
    plain = evaluate(b.predict(X), imp, clk)
    assert with_hist["logloss"] < plain["logloss"]


def test_baselines():
    ads = [{"ad_group_id": "g", "headline_1": "A", "headline_2": "B", "headline_3": "", "description_1": "D",
            "description_2": "E"},
           {"ad_group_id": "g", "headline_1": "A", "headline_2": "C", "headline_3": "B", "description_1": "E",
            "description_2": "D"}]
    am = AssetMeanCTR().fit(ads, [1000, 1000], [10, 30])
    assert am.text_ctr("g", "A") == pytest.approx(0.02) and am.text_ctr("g", "C") == pytest.approx(0.03)
    assert am.text_ctr("g", "unseen") == pytest.approx(0.02) and am.text_ctr("other", "A") == pytest.approx(0.02)
    scores = am.predict_combinations("g", ["A", "B", "C"], ["D", "E"], np.array([[0, 1, 2, 0, 1], [2, 1, 0, 0, 1]]))
    assert scores[0] == pytest.approx(scores[1])
    X, imp, clk, _, _ = grouped(20, 8, 6)
    lr = LogisticCTR().fit(X, imp, clk)
    p = lr.predict(X)
    assert p.shape == (len(X),) and 0.8 < evaluate(p, imp, clk)["calibration"] < 1.25


def test_held_out_ad_groups_choose_the_penalty_and_the_stumps_then_all_groups_are_refitted():
    from models.evaluate import is_holdout
    from models.train import LINEAR_L2_GRID, NUM_BOOST_ROUND, is_early_stopping_group

    tr = grouped(150, 8, 5)
    va = grouped(150, 8, 6)
    va = (va[0], va[1], np.random.default_rng(7).binomial(va[1], 1 / (1 + np.exp(-va[4]))), va[3])
    held = {g for g in tr[3] if is_early_stopping_group(g)}
    assert 15 < len(held) < 50 and held == {g for g in tr[3] if is_early_stopping_group(g)}
    assert held != {g for g in tr[3] if is_holdout(g, 0.2)}  # not the evaluation's holdout
    result = train_ctr_model(*tr[:3], *va[:3], NAMES, groups_train=tr[3], groups_valid=va[3])
    early = result.metrics["early_stopping"]
    assert early["method"] == "held-out ad groups" and early["ad_groups"] == len(held)
    assert early["linear_l2"] in LINEAR_L2_GRID and set(early["linear_logloss"]) == {str(x) for x in LINEAR_L2_GRID}
    assert early["linear_logloss"][str(early["linear_l2"])] == min(early["linear_logloss"].values())
    # The stumps stopped before the cap, and the refit on every group kept exactly that many.
    assert 0 <= early["best_iteration"] < NUM_BOOST_ROUND
    assert result.metrics["residual_stumps"] == early["best_iteration"]
    assert result.booster.num_trees() == result.metrics["linear_trees"] + early["best_iteration"]
    # Without groups there is nothing to hold out: the stumps stop on the validation rows.
    plain = train_ctr_model(*tr[:3], *va[:3], NAMES)
    assert plain.metrics["early_stopping"]["method"] == "validation rows"
    # Neither groups nor validation rows: nothing tells how many stumps, so the linear base alone.
    alone = train_ctr_model(*tr[:3], va[0][:0], va[1][:0], va[2][:0], NAMES)
    assert alone.metrics["early_stopping"]["method"] == "no validation rows: no stumps"
    assert alone.metrics["residual_stumps"] == 0 and alone.booster.num_trees() == alone.metrics["linear_trees"]


def test_no_stumps_when_the_linear_base_already_explains_the_text():
    """Binary features with linear effects: the base is the truth, stumps only chase noise."""
    rng = np.random.default_rng(11)
    n_groups, per = 200, 8
    n = n_groups * per
    X = rng.integers(0, 2, size=(n, len(NAMES))).astype(np.float32)
    groups = np.repeat([f"g{i:03d}" for i in range(n_groups)], per)
    logit = np.repeat(rng.normal(-3.2, 0.3, n_groups), per) + 0.3 * X[:, 0] - 0.2 * X[:, 2] - 0.15 * X[:, 4]
    imp = rng.integers(3000, 8000, size=n)
    clk = rng.binomial(imp, 1 / (1 + np.exp(-logit)))
    result = train_ctr_model(X, imp, clk, X[:0], imp[:0], clk[:0], NAMES, groups_train=groups, groups_valid=groups[:0])
    assert result.metrics["residual_stumps"] <= 50
    raw = result.booster.predict(np.eye(len(NAMES), dtype=np.float32), raw_score=True)
    zero = result.booster.predict(np.zeros((1, len(NAMES)), dtype=np.float32), raw_score=True)[0]
    np.testing.assert_allclose(raw - zero, [0.3, 0.0, -0.2, 0.0, -0.15], atol=0.05)
    assert result.metrics["valid"] == {} and "valid_with_group_offsets" not in result.metrics


def test_validation_on_other_ad_groups_fits_their_offsets_on_their_own_rows():
    """A validation split of whole ad groups (short histories): offsets from the groups' own rows."""
    tr = grouped(120, 8, 8)
    va = grouped(40, 8, 9)
    va_groups = np.char.add("v", va[3].astype(str))
    result = train_ctr_model(*tr[:3], *va[:3], NAMES, groups_train=tr[3], groups_valid=va_groups)
    with_offsets = result.metrics["valid_with_group_offsets"]
    plain = result.metrics["valid"]
    assert with_offsets["logloss"] < plain["logloss"]  # group levels fitted, not guessed
    assert 0.9 < with_offsets["calibration"] < 1.1


def test_the_base_can_learn_beside_the_training_ads_own_asset_effects():
    """With the served ads' texts, the base is fitted beside per-asset effects (backfitting)."""
    rng = np.random.default_rng(12)
    tr = grouped(120, 8, 12)
    texts = [f"見出し{rng.integers(0, 4)}" for _ in range(len(tr[3]))]
    ads = [{"ad_group_id": g, "headline_1": t, "headline_2": "共通", "headline_3": "", "description_1": "説明",
            "description_2": "補足"} for g, t in zip(tr[3], texts)]
    ads[0] = None  # an ad whose texts are unknown shows no asset
    plain = train_ctr_model(*tr[:3], *tr[:3], NAMES, groups_train=tr[3], groups_valid=tr[3], num_boost_round=5)
    backfit = train_ctr_model(*tr[:3], *tr[:3], NAMES, groups_train=tr[3], groups_valid=tr[3], num_boost_round=5,
                              ads_train=ads)
    assert plain.metrics["asset_backfit"] == {"rounds": 0, "slot_scales": None, "prior_sd": None}
    assert backfit.metrics["asset_backfit"]["rounds"] == 2 and len(backfit.metrics["asset_backfit"]["slot_scales"]) == 5
    assert backfit.metrics["asset_backfit"]["prior_sd"] in (*PRIOR_SD_GRID, ASSET_PRIOR_SD)  # learnt, as for the shipped effects
    X = tr[0][:50]
    assert not np.allclose(plain.booster.predict(X, raw_score=True), backfit.booster.predict(X, raw_score=True))
    # the text effects are still learnt
    raw = backfit.booster.predict(np.eye(len(NAMES), dtype=np.float32), raw_score=True)
    zero = backfit.booster.predict(np.zeros((1, len(NAMES)), dtype=np.float32), raw_score=True)[0]
    assert raw[0] - zero > 0.15 and raw[2] - zero < -0.1


def test_the_fits_beside_the_asset_effects_weight_the_ads_with_the_scatter_the_effects_leave():
    """Beside the training ads' own effects, each ad is weighted with the between-ad variance the
    fit without them measured, less what the effects account for: not measured again there (the
    effects are fitted on the same ads and absorb every ad's scatter)."""
    from models.linear_base import fit_linear_base
    from models.asset_effects import effects_variance
    from models.train import _fit_base

    rng = np.random.default_rng(5)
    X, _, _, groups, logit = grouped(100, 8, 13)
    imp = np.round(rng.lognormal(np.log(3000), 1.5, len(X))).astype(np.int64) + 50  # big and small ads
    clk = rng.binomial(imp, 1 / (1 + np.exp(-(logit + rng.normal(0, 0.3, len(X))))))  # each ad scatters
    texts = [f"見出し{rng.integers(0, 6)}" for _ in range(len(imp))]  # assets without a quality of their own
    ads = [{"ad_group_id": g, "headline_1": t, "headline_2": "共通", "headline_3": "", "description_1": "説明",
            "description_2": "補足"} for g, t in zip(groups, texts)]
    alone = fit_linear_base(X, imp, clk, groups, 1.0, NAMES)
    base, margin, scales, sd, tau2 = _fit_base(X, imp, clk, groups, 1.0, NAMES, ads)
    assert tau2 == alone.between_ad_var > 0.03 and np.any(margin != 0)
    explained = effects_variance(ads, sd, scales)
    assert 0 < explained < tau2 and base.between_ad_var == pytest.approx(tau2 - explained)
    # measured beside the effects instead, most of the scatter would have gone
    assert fit_linear_base(X, imp, clk, groups, 1.0, NAMES, margin=margin).between_ad_var < 0.6 * tau2


def test_the_effects_account_for_the_prior_variance_of_the_slots_an_ad_shows():
    from models.asset_effects import effects_variance

    full = {"headline_1": "a", "headline_2": "b", "headline_3": "c", "description_1": "d", "description_2": "e"}
    no_h3 = {**full, "headline_3": ""}
    scales = [1.2, 1.0, 0.8, 1.1, 0.9]
    assert effects_variance([full], 0.1, scales) == pytest.approx(0.01 * sum(s * s for s in scales))
    assert effects_variance([full, no_h3, None], 0.1, scales) == pytest.approx(
        0.01 * (2 * sum(s * s for s in scales) - 0.64) / 3)
