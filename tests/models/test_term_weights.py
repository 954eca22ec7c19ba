"""The lexicon's term weights (models.term_weights) are learnt from delivery and read by features."""
import numpy as np
import pandas as pd

from models.term_weights import PRIOR_SD, PRIOR_SD_GRID, SLOTS, learn_term_weights, prior_note, term_weight_rows

# Two urgency terms the market reads differently: 今だけ works as urgency (weight 1), 本日限定 does
# not (weight 0); 満足度 is social proof (weight 1). Other texts say nothing a lexicon knows.
TEXTS = ["今だけ安心の品", "本日限定の品", "満足度の高い品", "普通の品です", "丁寧な品です"]
TRUE_WEIGHT = {"今だけ安心の品": ("urgency", 1.0), "本日限定の品": ("urgency", 0.0), "満足度の高い品": ("social_proof", 1.0)}
SLOT_COEF = {"urgency": (0.40, 0.30, 0.25, 0.20, 0.15), "social_proof": (0.30, 0.25, 0.20, 0.15, 0.10)}


def _delivery(n_groups=300, ads_per_group=8, seed=0, texts=TEXTS, true_weight=TRUE_WEIGHT):
    rng = np.random.default_rng(seed)
    ads, rows = {}, []
    for g in range(n_groups):
        level = rng.normal(-3.4, 0.3)
        for i in range(ads_per_group):
            chosen = [texts[j] for j in rng.choice(len(texts), size=5)]
            logit = level + sum(SLOT_COEF[true_weight[t][0]][p] * true_weight[t][1]
                                for p, t in enumerate(chosen) if t in true_weight)
            impressions = 20_000
            clicks = rng.binomial(impressions, 1 / (1 + np.exp(-logit)))
            ad_id = f"g{g}-{i}"
            ads[ad_id] = dict(zip(SLOTS, chosen))
            rows.append({"ad_id": ad_id, "ad_group_id": f"g{g}", "impressions": impressions, "clicks": clicks})
    return ads, pd.DataFrame(rows)


def test_a_term_the_market_does_not_read_as_its_category_gets_a_low_weight():
    """Only the weights relative to their category's other terms matter (the linear base refits the
    category's coefficients on the weighted counts): the fit settles where the category's
    coefficient is half the true one and 今だけ weighs twice, which scores alike."""
    ads, rows = _delivery()
    w = learn_term_weights(ads, rows)
    assert w["urgency"]["本日限定"] < 0.2 * w["urgency"]["今だけ"]
    assert 0.8 < w["social_proof"]["満足度"] < 1.2  # alone in its category: its weight stays near 1
    top = term_weight_rows(w, 2)
    assert list(top["term"])[0] in ("本日限定", "今だけ") and len(top) == 2


def test_rows_without_log_odds_are_skipped_and_a_plain_market_has_no_weights():
    ads, rows = _delivery(n_groups=40)
    # no clicks, clicks on every impression, an ad raw.ads does not know: no log-odds to fit
    extra = pd.DataFrame([{"ad_id": "g0-0", "ad_group_id": "g0", "impressions": 10, "clicks": 10},
                          {"ad_id": "g0-1", "ad_group_id": "g0", "impressions": 10, "clicks": 0},
                          {"ad_id": "gone", "ad_group_id": "g0", "impressions": 100, "clicks": 3},
                          {"ad_id": "g1-0", "ad_group_id": None, "impressions": 100, "clicks": 3}])
    assert learn_term_weights(ads, pd.concat([rows, extra], ignore_index=True)) == learn_term_weights(ads, rows)
    plain, plain_rows = _delivery(n_groups=20, texts=["普通の品です", "丁寧な品です", "良い品です"])
    assert learn_term_weights(plain, plain_rows) == {}
    assert learn_term_weights(ads, rows.iloc[:0]) == {}
    assert term_weight_rows({}, 5).empty
    # a weight within 0.05 of 1 reads as the lexicon does: not a term read differently
    near = term_weight_rows({"urgency": {"今だけ": 0.97, "限定": 1.5}, "cta": {"こちら": 1.0, "予約": 0.9}})
    assert list(near["term"]) == ["限定", "予約"]


def test_the_prior_follows_what_held_out_ad_groups_say():
    """Where the market's terms depart from their category, the held-out ad groups choose the
    loosest prior; where every term reads as the lexicon says, the tightest, so that the weights
    stay at 1 instead of chasing noise. Too few ad groups to tell: the fixed PRIOR_SD."""
    info: dict = {}
    learn_term_weights(*_delivery(), info=info)
    assert info == {"prior_sd": max(PRIOR_SD_GRID), "prior_sd_learnt": True}
    alike = {**TRUE_WEIGHT, "本日限定の品": ("urgency", 1.0)}
    w = learn_term_weights(*_delivery(true_weight=alike), info=info)
    assert info == {"prior_sd": min(PRIOR_SD_GRID), "prior_sd_learnt": True}
    assert all(abs(v - 1) < 0.01 for v in w["urgency"].values())
    learn_term_weights(*_delivery(n_groups=15), info=info)
    assert info == {"prior_sd": PRIOR_SD, "prior_sd_learnt": False}
    assert learn_term_weights(*_delivery(n_groups=15), prior_sd=0.5) == learn_term_weights(*_delivery(n_groups=15))


def test_the_log_says_how_the_prior_came_about():
    # ctr_model's and the evaluation's log lines word it alike
    assert prior_note({"prior_sd": 0.25, "prior_sd_learnt": True}) == ", prior sd 0.25 (chosen by held-out ad groups)"
    assert prior_note({"prior_sd": 0.5, "prior_sd_learnt": False}) == ", prior sd 0.5 (too few ad groups to choose)"
    assert prior_note({"prior_sd": 0.125, "prior_sd_learnt": False}, given=True) == ", prior sd 0.125 (given)"
    assert prior_note({}) == ""  # no served ad matched the lexicon: no weights, no prior
