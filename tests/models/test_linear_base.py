"""The linear base: binned features, sign constraints, and its exact LightGBM form."""
import lightgbm as lgb
import numpy as np
import pytest

from models.linear_base import (MAX_BINS, Binning, ad_weights, between_ad_variance, booster_tree_blocks,
                                fit_linear_base, repetition_mask, to_booster)
from models.pairwise import check_decomposable

NAMES = ["h1__n_chars", "h1__has_price", "h2__n_chars", "h1_h2__jaccard", "h1_h2__width_sum"]


def data(seed=0, n_groups=150, per=8, repetition=-0.8):
    rng = np.random.default_rng(seed)
    n = n_groups * per
    X = np.column_stack([
        rng.integers(5, 30, n),  # few distinct values: one bin each
        rng.integers(0, 2, n),
        rng.integers(5, 30, n),
        rng.random(n),  # continuous: quantile bins
        rng.normal(40, 8, n),
    ]).astype(np.float32)
    groups = np.repeat([f"g{i:03d}" for i in range(n_groups)], per)
    logit = (np.repeat(rng.normal(-3.0, 0.3, n_groups), per) + 0.02 * X[:, 0] + 0.25 * X[:, 1]
             - 0.01 * X[:, 2] + repetition * X[:, 3])
    imp = rng.integers(4000, 9000, n)
    clk = rng.binomial(imp, 1 / (1 + np.exp(-logit)))
    return X, imp, clk, groups


def test_binning_keeps_few_values_apart_and_cuts_many_into_quantiles():
    X, *_ = data()
    b = Binning.fit(X)
    assert len(b.values[1]) == 2 and np.allclose(b.values[1], [0, 1])
    assert len(b.values[0]) == 25  # 5..29, every value its own bin
    assert len(b.values[3]) == MAX_BINS and np.all(np.diff(b.thresholds[3]) > 0)
    R = b.transform(X)
    np.testing.assert_array_equal(R[:, 0], X[:, 0])  # exact where a value has its own bin
    assert np.max(np.abs(R[:, 3] - X[:, 3])) < 0.05  # continuous: the bin's mean
    # out of the training range: the outer bins
    far = b.transform(np.array([[0, 0, 100, -5, 1e6]], dtype=np.float32))[0]
    assert far[0] == 5 and far[2] == 29 and far[3] == b.values[3][0] and far[4] == b.values[4][-1]


def test_recovers_effects_and_repetition_can_only_lower_the_score():
    X, imp, clk, g = data()
    base = fit_linear_base(X, imp, clk, g, l2=1.0, feature_names=NAMES)
    assert base.coef[0] == pytest.approx(0.02, abs=0.01) and base.coef[1] == pytest.approx(0.25, abs=0.05)
    assert base.coef[3] == pytest.approx(-0.8, abs=0.15)
    assert list(repetition_mask(NAMES)) == [False, False, False, True, False]
    # Repetition that "helps" in the data is not believed: the coefficient stops at zero.
    X2, imp2, clk2, g2 = data(repetition=+0.5)
    assert fit_linear_base(X2, imp2, clk2, g2, l2=1.0, feature_names=NAMES).coef[3] == 0.0
    # A heavier penalty shrinks.
    strong = fit_linear_base(X, imp, clk, g, l2=1e4, feature_names=NAMES)
    assert abs(strong.coef[1]) < abs(base.coef[1])


def test_a_rule_that_rises_and_falls_over_a_width_is_learnt_in_its_bins():
    # Too short says too little, at the limit risks truncation: no straight line fits that.
    X, imp, _, g = data(seed=4, n_groups=300)
    rng = np.random.default_rng(4)

    def rule(width):
        return np.select([width < 10, width < 14, width <= 24], [-0.25, -0.10, 0.04], -0.06)

    logit = np.repeat(rng.normal(-3.0, 0.3, 300), 8) + rule(X[:, 0]) + 0.25 * X[:, 1]
    clk = rng.binomial(imp, 1 / (1 + np.exp(-logit)))
    base = fit_linear_base(X, imp, clk, g, l2=1.0, feature_names=NAMES)
    assert 0 in base.deviations and 1 not in base.deviations  # two values: a line is every shape
    grid = np.zeros((25, X.shape[1]), dtype=np.float32)
    widths = grid[:, 0] = np.arange(5, 30)
    learnt, truth = base.raw(grid), rule(widths)
    learnt, truth = learnt - learnt.mean(), truth - truth.mean()
    middle = learnt[(widths >= 14) & (widths <= 24)].mean()
    assert learnt[widths < 10].mean() < middle - 0.15 and learnt[widths > 24].mean() < middle - 0.01
    # much closer than the best straight line through the truth itself
    line = np.polyval(np.polyfit(widths, truth, 1), widths)
    rms = lambda e: float(np.sqrt(np.mean(e * e)))  # noqa: E731
    assert rms(learnt - truth) < 0.6 * rms(line - truth)


def test_shrinkage_follows_the_number_of_served_ads_not_the_days():
    X, imp, clk, g = data(seed=3, n_groups=300)
    many = fit_linear_base(X, imp, clk, g, l2=300.0, feature_names=NAMES)
    few = fit_linear_base(X[:240], imp[:240], clk[:240], g[:240], l2=300.0, feature_names=NAMES)
    assert abs(few.coef[1]) < 0.6 * abs(many.coef[1])  # 30 ad groups: pulled towards no effect
    # the same served ads over four times the days: the same pull (the ads are the evidence)
    longer = fit_linear_base(X, imp * 4, clk * 4, g, l2=300.0, feature_names=NAMES)
    assert longer.coef[1] == pytest.approx(many.coef[1], rel=0.05)


def test_the_booster_is_exactly_the_fitted_model_and_decomposes():
    X, imp, clk, g = data()
    base = fit_linear_base(X, imp, clk, g, l2=1.0, feature_names=NAMES)
    booster = to_booster(base, NAMES)
    rng = np.random.default_rng(5)
    new = np.column_stack([rng.integers(0, 40, 500), rng.integers(0, 2, 500), rng.integers(0, 40, 500),
                           rng.random(500) * 1.2 - 0.1, rng.normal(40, 20, 500)]).astype(np.float32)
    for rows in (X, new):
        np.testing.assert_allclose(booster.predict(rows, raw_score=True), base.raw(rows), atol=1e-9)
    trees = booster.dump_model()["tree_info"]
    assert base.deviations  # the shaped features' trees hold line + deviation
    assert len(trees) == len(set(np.flatnonzero(base.coef).tolist()) | set(base.deviations))

    def features(node, acc):
        if "split_feature" in node:
            acc.add(node["split_feature"])
            features(node["left_child"], acc)
            features(node["right_child"], acc)
        return acc

    assert all(len(features(t["tree_structure"], set())) == 1 for t in trees)
    assert max(t["num_leaves"] for t in trees) <= MAX_BINS
    assert check_decomposable(booster, NAMES).ok


def test_extra_trees_are_appended_and_add_up():
    X, imp, clk, g = data()
    base = fit_linear_base(X, imp, clk, g, l2=1.0, feature_names=NAMES)
    y = (clk / imp > np.median(clk / imp)).astype(float)
    stumps = lgb.train({"objective": "binary", "num_leaves": 2, "verbosity": -1}, lgb.Dataset(X, y, feature_name=NAMES), 7)
    both = to_booster(base, NAMES, booster_tree_blocks(stumps))
    np.testing.assert_allclose(both.predict(X, raw_score=True),
                               base.raw(X) + stumps.predict(X, raw_score=True), atol=1e-9)
    assert both.num_trees() == len(set(np.flatnonzero(base.coef).tolist()) | set(base.deviations)) + 7
    # the model text round-trips through LightGBM's own writer
    again = lgb.Booster(model_str=both.model_to_string())
    np.testing.assert_array_equal(again.predict(X, raw_score=True), both.predict(X, raw_score=True))


def test_nothing_learnt_is_a_constant():
    X, imp, clk, g = data()
    base = fit_linear_base(X[:, :0], imp, clk, g, l2=1.0, feature_names=[])
    booster = to_booster(base, NAMES)
    assert np.allclose(booster.predict(X, raw_score=True), base.intercept)


def scattered(seed, tau=0.3, n_groups=150, per=8):
    """Served ads whose log-odds scatter by tau around the rule (hidden quality), impressions
    spread over two orders of magnitude as in real accounts."""
    rng = np.random.default_rng(seed)
    n = n_groups * per
    X = np.column_stack([rng.integers(5, 30, n), rng.integers(0, 2, n)]).astype(np.float32)
    groups = np.repeat([f"g{i:03d}" for i in range(n_groups)], per)
    logit = np.repeat(rng.normal(-3.0, 0.3, n_groups), per) + 0.25 * X[:, 1] + rng.normal(0, tau, n)
    imp = np.round(rng.lognormal(np.log(3000), 1.5, n)).astype(np.int64) + 50
    return X, imp, rng.binomial(imp, 1 / (1 + np.exp(-logit))), groups


def test_the_between_ad_variance_is_measured_from_the_scatter():
    rng = np.random.default_rng(0)
    n, p = rng.integers(1000, 50000, 4000), np.full(4000, 0.03)
    plain = rng.binomial(n, p)
    assert between_ad_variance(n, plain, p) < 0.002
    logit = np.log(p / (1 - p)) + rng.normal(0, 0.2, len(n))
    assert between_ad_variance(n, rng.binomial(n, 1 / (1 + np.exp(-logit))), p) == pytest.approx(0.04, rel=0.25)
    # weights: 1 without scatter, and an ad's information stops growing with its impressions
    assert np.all(ad_weights(n, p, 0.0) == 1.0)
    info = n * ad_weights(n, p, 0.04)
    assert info.max() < 1 / (0.04 * 0.03 * 0.97) and np.all(np.diff(info[np.argsort(n)]) >= 0)


def test_the_largest_ads_do_not_drown_the_rest_when_ads_scatter():
    # A few ads with most of the impressions each carry their own scatter: weighted by impressions
    # alone they decide the coefficient; capped by the between-ad variance, every ad counts.
    errors, measured = {"capped": [], "impressions": []}, []
    for seed in range(12):
        X, imp, clk, g = scattered(seed, tau=0.3)
        capped = fit_linear_base(X, imp, clk, g, l2=1.0, feature_names=NAMES[:2])
        plain = fit_linear_base(X, imp, clk, g, l2=1.0, feature_names=NAMES[:2], between_ad_var=0.0)
        assert plain.between_ad_var == 0.0
        measured.append(capped.between_ad_var)
        errors["capped"].append(capped.coef[1] - 0.25)
        errors["impressions"].append(plain.coef[1] - 0.25)
    # tau^2 measured from the fits (0.09 in truth; one plain fit alone sees a fifth of it)
    assert np.mean(measured) == pytest.approx(0.09, rel=0.3) and min(measured) > 0.03
    rms = {k: float(np.sqrt(np.mean(np.square(v)))) for k, v in errors.items()}
    assert rms["capped"] < 0.7 * rms["impressions"], rms
