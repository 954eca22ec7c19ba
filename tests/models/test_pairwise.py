"""Pair-table scoring is exact: equal to Booster.predict on every combination, top-K = brute force."""

import numpy as np
import pytest

from models.pairwise import PairwiseScorer, check_decomposable, position_owners
from models.topk import top_k_indices
from transforms.combinations import build_ad_group_combinations
from transforms.features import COMBINATION_FEATURE_NAMES

from _scoring_testlib import DEEP, brute, vary  # fixtures: conftest.py


def test_structure_check_is_per_path_not_per_tree(unconstrained_booster):
    """Trees whose branches read different pairs (h1-h2 on one side, h1-d1 on the other) are fine."""
    import lightgbm as lgb

    from models.train import DEFAULT_PARAMS, interaction_groups

    rng = np.random.default_rng(0)
    X = rng.normal(size=(6000, len(COMBINATION_FEATURE_NAMES))).astype(np.float32)
    col = COMBINATION_FEATURE_NAMES.index
    a, b, c = X[:, col("h1__n_chars")], X[:, col("h2__n_chars")], X[:, col("d1__n_chars")]
    logit = 1.5 * a + np.where(a > 0, 2 * b, 2 * c)
    y = (rng.random(len(X)) < 1 / (1 + np.exp(-logit))).astype(float)
    params = {**DEFAULT_PARAMS, **DEEP, "interaction_constraints": interaction_groups(COMBINATION_FEATURE_NAMES)}
    booster = lgb.train(params, lgb.Dataset(X, y, feature_name=COMBINATION_FEATURE_NAMES), num_boost_round=20)
    check = check_decomposable(booster)
    assert check.ok, check.reason
    assert check.n_trees == booster.num_trees() == 20
    assert {(0, 1), (0, 3)} <= check.pairs_read
    owners = position_owners(booster.feature_name())
    per_tree = []
    for t in booster.dump_model()["tree_info"]:
        seen, stack = set(), [t["tree_structure"]]
        while stack:
            node = stack.pop()
            if "split_feature" in node:
                seen |= owners[node["split_feature"]]
                stack += [node["left_child"], node["right_child"]]
        per_tree.append(len(seen))
    assert max(per_tree) > 2  # a whole tree reads three positions; each path only two
    # ...and the pair tables reproduce it exactly (a pure function of the features' owners).
    bad = check_decomposable(unconstrained_booster)
    assert not bad.ok and "positions" in bad.reason


def test_position_owners_from_names():
    assert position_owners(["h1__n_chars", "d2__width", "h1_d2__jaccard", "h2_h3__x", "total_width"]) == [
        frozenset({0}), frozenset({4}), frozenset({0, 4}), frozenset({1, 2}), frozenset()]


@pytest.mark.parametrize("k", [1, 5, 40])
def test_every_score_and_top_k_equal_booster_predict(constrained_booster, pools, sp, k, caplog):
    scorer = PairwiseScorer(constrained_booster, verify_every=3)
    rng = np.random.default_rng(k)
    n_pairwise = 0
    for keyword, assets in pools:
        g = build_ad_group_combinations(keyword, vary(assets, rng), sp)
        if not len(g):
            continue
        want = brute(constrained_booster, g)
        got = scorer.score(g, k, keep_all=True, seed=int(rng.integers(1 << 30)))
        n_pairwise += got.method == "pairwise"
        np.testing.assert_allclose(got.all_raw, want, rtol=0, atol=1e-9)
        top = top_k_indices(want, k)
        np.testing.assert_array_equal(got.top_rows, top)
        np.testing.assert_array_equal(got.top_raw, want[top])  # published scores: Booster.predict's own
        assert got.n_scored == len(g)
        assert got.model_rows <= len(g)
        if len(g) > 5000:
            assert got.method == "pairwise" and got.model_rows < len(g) / 5
    assert n_pairwise >= len(pools) // 2  # the rest are pools so pinned that rows < probes
    assert "differ from Booster.predict" not in caplog.text


@pytest.mark.parametrize("force_predict", [False, True])
def test_asset_history_effects_are_added_exactly_on_both_paths(constrained_booster, pools, sp, force_predict):
    """Effects are a per-position term: pair tables stay exact and top-K is brute force of the sum."""
    from models.asset_effects import combination_effects

    scorer = PairwiseScorer(constrained_booster, force_predict=force_predict)
    rng = np.random.default_rng(11)
    keyword, assets = max(pools, key=lambda p: len(p[1]))
    g = build_ad_group_combinations(keyword, assets, sp)
    # a different value per position: an asset's effect may depend on its slot
    effects = tuple(rng.normal(0, 0.3, len(g.headline_ids if p < 3 else g.description_ids)) for p in range(5))
    want = brute(constrained_booster, g) + combination_effects(effects, g.combos)
    got = scorer.score(g, 5, keep_all=True, effects=effects)
    assert got.method == ("predict" if force_predict else "pairwise")
    np.testing.assert_allclose(got.all_raw, want, rtol=0, atol=1e-9)
    top = top_k_indices(want, 5)
    np.testing.assert_array_equal(got.top_rows, top)
    np.testing.assert_allclose(got.top_raw, want[top], rtol=0, atol=1e-12)
    plain = scorer.score(g, 5)
    assert not np.array_equal(plain.top_rows, got.top_rows)  # the effects moved the ranking


def test_ties_break_by_enumeration_order(constrained_booster, pools, sp):
    keyword, assets = max(pools, key=lambda p: len(p[1]))
    heads = [a for a in assets if a["asset_type"] == "HEADLINE"]
    # Every headline text twice: each combination has exact twins in brute force.
    twins = [dict(a, asset_id=a["asset_id"] + "-twin") for a in heads[:6]]
    g = build_ad_group_combinations(keyword, [dict(a, pinned_field="") for a in assets] + twins, sp)
    want = brute(constrained_booster, g)
    top = top_k_indices(want, 60)
    assert len(np.unique(want[top])) < len(top)  # there are ties among the best
    got = PairwiseScorer(constrained_booster).score(g, 60)
    assert got.method == "pairwise"
    np.testing.assert_array_equal(got.top_rows, top)


def test_non_decomposable_model_falls_back_to_exact_blocks(unconstrained_booster, pools, sp):
    scorer = PairwiseScorer(unconstrained_booster)
    assert not scorer.decomposable
    keyword, assets = pools[0]
    g = build_ad_group_combinations(keyword, assets, sp)
    got = scorer.score(g, 5, keep_all=True)
    want = brute(unconstrained_booster, g)
    assert got.method == "predict" and got.model_rows == len(g)
    np.testing.assert_array_equal(got.all_raw, want)
    np.testing.assert_array_equal(got.top_rows, top_k_indices(want, 5))


def test_a_wrong_table_is_caught_and_the_group_rescored(constrained_booster, pools, sp, monkeypatch):
    scorer = PairwiseScorer(constrained_booster)
    keyword, assets = pools[1]
    g = build_ad_group_combinations(keyword, assets, sp)
    from models.tables import PairTables

    real = PairTables.block
    monkeypatch.setattr(PairTables, "block", lambda *a, **kw: real(*a, **kw) + 1e-6)
    got = scorer.score(g, 5)
    want = brute(constrained_booster, g)
    assert got.method == "predict"
    np.testing.assert_array_equal(got.top_rows, top_k_indices(want, 5))


def test_empty_group_scores_nothing(constrained_booster, sp):
    assets = [{"asset_id": f"h{i}", "asset_type": "HEADLINE", "text": "あ" * 16, "pinned_field": ""} for i in range(4)]
    assets += [{"asset_id": f"d{i}", "asset_type": "DESCRIPTION", "text": "説明文です", "pinned_field": ""} for i in range(2)]
    g = build_ad_group_combinations("k", assets, sp)
    got = PairwiseScorer(constrained_booster).score(g, 5)
    assert got.n_scored == 0 and len(got.top_rows) == 0


def test_trees_grouped_by_positions_stay_exact(constrained_booster, pools, sp, monkeypatch):
    """Every tree group (one per set of positions read, unmerged) probed on its own positions."""
    import models.pairwise as pw

    monkeypatch.setattr(pw, "merge_tree_groups", lambda by_set: by_set)
    scorer = PairwiseScorer(constrained_booster)
    assert len(scorer.tree_groups) > 3
    assert sum(b.num_trees() for _, b in scorer.tree_groups) == constrained_booster.num_trees()
    whole = PairwiseScorer(constrained_booster, split_trees=False)
    assert len(whole.tree_groups) == 1
    for keyword, assets in pools[:4]:
        g = build_ad_group_combinations(keyword, assets, sp)
        want = brute(constrained_booster, g)
        for s in (scorer, whole):
            got = s.score(g, 5, keep_all=True)
            np.testing.assert_allclose(got.all_raw, want, rtol=0, atol=1e-9)
            np.testing.assert_array_equal(got.top_rows, top_k_indices(want, 5))


def test_merge_keeps_every_tree_once():
    from models.pairwise import merge_tree_groups

    by_set = {frozenset({0, 1}): [0, 5], frozenset({0}): [1], frozenset({0, 1, 3}): [2], frozenset(): [3],
              frozenset({3, 4}): list(range(6, 200))}
    merged = merge_tree_groups(by_set)
    assert sorted(t for ts in merged.values() for t in ts) == [0, 1, 2, 3] + list(range(5, 200))
    assert all(set().union(*[k for k, v in by_set.items() if t in v]) <= key
               for key, ts in merged.items() for t in ts)


@pytest.mark.parametrize("force_predict", [False, True])
def test_blockwise_pass_equals_brute_force(constrained_booster, pools, sp, force_predict, monkeypatch):
    """Big pools are scored in blocks of headline triples (bounded memory); blocks of a few rows
    give the same scores and top-K as one block."""
    import models.tables as tables

    monkeypatch.setattr(tables, "BLOCK_CELLS", 53)
    scorer = PairwiseScorer(constrained_booster, force_predict=force_predict)
    rng = np.random.default_rng(23)
    for keyword, assets in pools[:5]:
        g = build_ad_group_combinations(keyword, vary(assets, rng), sp)
        if not len(g):
            continue
        want = brute(constrained_booster, g)
        got = scorer.score(g, 9, keep_all=True)
        assert len(list(tables.triple_blocks(len(g.triples), len(g.pairs)))) > 1
        np.testing.assert_allclose(got.all_raw, want, rtol=0, atol=1e-9)
        np.testing.assert_array_equal(got.top_rows, top_k_indices(want, 9))
        np.testing.assert_allclose(got.top_raw, want[got.top_rows], rtol=0, atol=1e-12)
