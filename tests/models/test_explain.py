"""Explanations: the terms add up to the published score, in a gauge that does not depend on how
the tables were built."""

import json

import numpy as np
import pytest

from _scoring_testlib import brute_scores, random_effects, vary  # fixtures: conftest.py
from models.explain import centre, explain
from models.insight_options import InsightOptions
from models.insights import build_insights
from models.pairwise import PairwiseScorer
from models.tables import PAIRS, PairTables, pair_support, same_kind
from transforms.combinations import build_ad_group_combinations


def test_terms_add_up_to_the_published_score(constrained_booster, pools, sp):
    scorer = PairwiseScorer(constrained_booster)
    rng = np.random.default_rng(2)
    n = 0
    for keyword, assets in pools:
        g = build_ad_group_combinations(keyword, vary(assets, rng), sp)
        if not len(g):
            continue
        effects = random_effects(g, rng, 0.2) if n % 2 else None
        opts = InsightOptions(explain_ranks=(1, 2, 3, 40))
        scored = scorer.score(g, 3, effects=effects, insights=opts)
        assert scored.method == "pairwise"  # even tiny pinned pools: explanations need the tables
        ins = build_insights(g, scored, opts, "ag-x", effects)
        raw = brute_scores(constrained_booster, g, effects)
        assert [e["rank"] for e in ins.explanations] == [1, 2, 3][:len(scored.top_rows)]
        assert any("rank 40 not explained" in note for note in ins.notes)
        for e in ins.explanations:
            row = scored.top_rows[e["rank"] - 1]
            assert e["raw_score"] == raw[row]  # the published score, Booster.predict's own
            assert abs(sum(t["value"] for t in e["terms"]) - e["raw_score"]) <= 1e-9
            kinds = [t["kind"] for t in e["terms"]]
            assert kinds == ["constant"] + ["position"] * 5 + ["pair"] * 10 + ["history"] * (5 if effects else 0)
            ids = g.row_asset_ids(row)
            assert [t["asset_ids"][0] for t in e["terms"] if t["kind"] == "position"] == list(ids)
            pair = next(t for t in e["terms"] if t["positions"] == ["h2", "d1"])
            assert pair["asset_ids"] == [ids[1], ids[3]]
            assert pair["texts"][0] == g.headline_texts[g.headline_ids.index(ids[1])]
            json.dumps(e, ensure_ascii=False)  # JSON as published
        n += 1
    assert n >= 8


def test_centred_gauge_properties(constrained_booster, pools, sp):
    """Pair terms have zero row and column sums over the pairs that can occur, position terms zero
    mean over a slot's allowed assets, and the constant is the pool's average text-model score."""
    rng = np.random.default_rng(4)
    for keyword, assets in pools[:6]:
        g = build_ad_group_combinations(keyword, vary(assets, rng), sp)
        if not len(g):
            continue
        scored = PairwiseScorer(constrained_booster).score(g, 1, insights=InsightOptions(keep_tables=True))
        c = centre(scored.tables)
        for p in range(5):
            assert abs(c.single[p][scored.tables.cands[p]].mean()) < 1e-12
        for i, j in PAIRS:
            a, b = pair_support(scored.tables.cands[i], scored.tables.cands[j], same_kind(i, j))
            r = np.zeros_like(c.pair[i, j])
            r[a, b] = c.pair[i, j][a, b]
            assert np.abs(r.sum(axis=1)).max() < 1e-9 and np.abs(r.sum(axis=0)).max() < 1e-9
        raw = brute_scores(constrained_booster, g)
        assert c.constant == pytest.approx(raw.mean(), abs=1e-9)


def test_centred_terms_do_not_depend_on_the_tables_gauge(constrained_booster, pools, sp):
    """Moving any function of one position between a position table and a pair table, or constants
    between tables, changes no score; the centred terms must not change either."""
    keyword, assets = pools[3]
    g = build_ad_group_combinations(keyword, assets, sp)
    t = PairwiseScorer(constrained_booster).score(g, 1, insights=InsightOptions(keep_tables=True)).tables
    rng = np.random.default_rng(8)
    single = [s.copy() for s in t.single]
    pair = {key: m.copy() for key, m in t.pair.items()}
    constant = t.constant
    for i, j in PAIRS:
        f, h = rng.normal(size=len(single[i])), rng.normal(size=len(single[j]))
        pair[i, j] += f[:, None] + h[None, :] + 0.7
        single[i] -= f
        single[j] -= h
        constant -= 0.7
        if same_kind(i, j):  # never-read diagonal entries may hold anything
            d = np.arange(min(pair[i, j].shape))
            pair[i, j][d, d] = rng.normal(size=len(d)) * 100
    moved = PairTables(constant, single, pair, t.cands, t.effects)
    np.testing.assert_allclose(moved.block(g.triples, g.pairs), t.block(g.triples, g.pairs), rtol=0, atol=1e-9)
    a, b = centre(t), centre(moved)
    assert a.constant == pytest.approx(b.constant, abs=1e-9)
    for p in range(5):
        np.testing.assert_allclose(a.single[p][t.cands[p]], b.single[p][t.cands[p]], rtol=0, atol=1e-9)
    for i, j in PAIRS:
        s, u = pair_support(t.cands[i], t.cands[j], same_kind(i, j))
        np.testing.assert_allclose(a.pair[i, j][s, u], b.pair[i, j][s, u], rtol=0, atol=1e-9)
    e1 = explain(g, a, g.rows([0])[0], 0.0)
    e2 = explain(g, b, g.rows([0])[0], 0.0)
    assert [x["value"] for x in e1["terms"]] == pytest.approx([x["value"] for x in e2["terms"]], abs=1e-9)


def test_no_explanation_without_tables(unconstrained_booster, pools, sp):
    keyword, assets = pools[0]
    g = build_ad_group_combinations(keyword, assets, sp)
    opts = InsightOptions(explain_ranks=(1,))
    scored = PairwiseScorer(unconstrained_booster).score(g, 1, insights=opts)
    ins = build_insights(g, scored, opts, "ag")
    assert ins.explanations == [] and "does not decompose" in ins.notes[0]
