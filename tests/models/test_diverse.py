"""Diverse top-K equals the greedy definition over brute-force scores, on both scoring paths."""

import numpy as np
import pytest

from _scoring_testlib import brute_diverse, brute_scores, random_effects, vary  # fixtures: conftest.py
from models.insight_options import InsightOptions
from models.pairwise import PairwiseScorer
from models.topk import top_k_indices
from transforms.combinations import build_ad_group_combinations


@pytest.mark.parametrize("force_predict", [False, True])
@pytest.mark.parametrize("min_diff", [2, 3, 5])
def test_diverse_top_k_equals_brute_force(constrained_booster, pools, sp, min_diff, force_predict):
    scorer = PairwiseScorer(constrained_booster, force_predict=force_predict, verify_every=2)
    rng = np.random.default_rng(min_diff)
    checked = 0
    for keyword, assets in pools[:6]:
        g = build_ad_group_combinations(keyword, vary(assets, rng), sp)
        if not len(g):
            continue
        effects = random_effects(g, rng) if checked % 2 else None
        raw = brute_scores(constrained_booster, g, effects)
        want = brute_diverse(raw, g.combos, 6, min_diff)
        got = scorer.score(g, 6, effects=effects, insights=InsightOptions(min_diff=min_diff))
        np.testing.assert_array_equal(got.top_rows, want)
        np.testing.assert_allclose(got.top_raw, raw[want], rtol=0, atol=1e-12)
        assert got.min_diff == min_diff
        combos = g.rows(got.top_rows)
        for a in range(len(combos)):
            for b in range(a):
                assert (combos[a] != combos[b]).sum() >= min_diff
        assert got.top_rows[0] == top_k_indices(raw, 1)[0]  # the first is the plain best
        checked += 1
    assert checked >= 4


def test_min_diff_5_returns_fewer_when_the_pool_runs_out(constrained_booster, pools, sp):
    """Combinations that differ everywhere need a new D1 and a new D2 each: four descriptions
    allow at most four. Fewer than K come back, the same ones as brute force."""
    keyword, assets = max(pools, key=lambda p: sum(a["asset_type"] == "DESCRIPTION" for a in p[1]))
    g = build_ad_group_combinations(keyword, [dict(a, pinned_field="") for a in assets], sp)
    raw = brute_scores(constrained_booster, g)
    want = brute_diverse(raw, g.combos, 10, 5)
    got = PairwiseScorer(constrained_booster).score(g, 10, insights=InsightOptions(min_diff=5))
    assert len(want) < 10
    np.testing.assert_array_equal(got.top_rows, want)


def test_extra_passes_when_the_buffer_runs_out(constrained_booster, pools, sp, monkeypatch):
    """A tiny buffer and tiny blocks force further passes over the blocks; same answer."""
    import models.tables as tables

    monkeypatch.setattr(InsightOptions, "diverse_buffer", staticmethod(lambda k: 3))
    monkeypatch.setattr(tables, "BLOCK_CELLS", 97)
    rng = np.random.default_rng(5)
    for force_predict in (False, True):
        scorer = PairwiseScorer(constrained_booster, force_predict=force_predict)
        keyword, assets = pools[2]
        g = build_ad_group_combinations(keyword, assets, sp)
        effects = random_effects(g, rng)
        raw = brute_scores(constrained_booster, g, effects)
        for min_diff in (2, 4):
            want = brute_diverse(raw, g.combos, 5, min_diff)
            got = scorer.score(g, 5, effects=effects, insights=InsightOptions(min_diff=min_diff))
            assert got.passes > 1
            np.testing.assert_array_equal(got.top_rows, want)
            np.testing.assert_allclose(got.top_raw, raw[want], rtol=0, atol=1e-12)


def test_ties_among_twins_go_to_the_lower_row(constrained_booster, pools, sp):
    keyword, assets = max(pools, key=lambda p: len(p[1]))
    heads = [a for a in assets if a["asset_type"] == "HEADLINE"]
    twins = [dict(a, asset_id=a["asset_id"] + "-twin") for a in heads[:6]]  # exact ties everywhere
    g = build_ad_group_combinations(keyword, [dict(a, pinned_field="") for a in assets] + twins, sp)
    raw = brute_scores(constrained_booster, g)
    for min_diff in (2, 3):
        got = PairwiseScorer(constrained_booster).score(g, 8, insights=InsightOptions(min_diff=min_diff))
        np.testing.assert_array_equal(got.top_rows, brute_diverse(raw, g.combos, 8, min_diff))


def test_min_diff_below_two_is_the_plain_top_k(constrained_booster, pools, sp):
    keyword, assets = pools[0]
    g = build_ad_group_combinations(keyword, assets, sp)
    plain = PairwiseScorer(constrained_booster).score(g, 7)
    for m in (0, 1):
        got = PairwiseScorer(constrained_booster).score(g, 7, insights=InsightOptions(min_diff=m))
        np.testing.assert_array_equal(got.top_rows, plain.top_rows)
    with pytest.raises(ValueError, match="min_diff must be between 0 and 5"):
        InsightOptions(min_diff=6)
